DROP INDEX "deliveries_one_per_channel";--> statement-breakpoint
ALTER TABLE "deliveries" ADD COLUMN "resend_of" uuid;--> statement-breakpoint
ALTER TABLE "deliveries" ADD COLUMN "resend_no" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "deliveries" ADD CONSTRAINT "deliveries_resend_of_fk" FOREIGN KEY ("resend_of") REFERENCES "public"."deliveries"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "deliveries_one_per_channel" ON "deliveries" USING btree ("org_id","message_id","patient_id","channel","resend_no");--> statement-breakpoint
ALTER TABLE "deliveries" ADD CONSTRAINT "deliveries_resend" CHECK (("deliveries"."resend_no" = 0) = ("deliveries"."resend_of" is null) and "deliveries"."resend_no" >= 0);