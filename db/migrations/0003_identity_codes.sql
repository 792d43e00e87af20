CREATE TABLE "code_throttles" (
	"org_id" uuid NOT NULL,
	"target_hash" text NOT NULL,
	"consecutive_failures" integer DEFAULT 0 NOT NULL,
	"next_try_at" timestamp with time zone,
	"locked_until" timestamp with time zone,
	CONSTRAINT "code_throttles_org_id_target_hash_pk" PRIMARY KEY("org_id","target_hash")
);
--> statement-breakpoint
CREATE TABLE "rate_limit_counters" (
	"bucket" text NOT NULL,
	"window_start" timestamp with time zone NOT NULL,
	"count" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "rate_limit_counters_bucket_window_start_pk" PRIMARY KEY("bucket","window_start")
);
--> statement-breakpoint
CREATE TABLE "verifications" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"org_id" uuid NOT NULL,
	"purpose" text NOT NULL,
	"target_hash" text NOT NULL,
	"channel" text NOT NULL,
	"contact_point_id" uuid,
	"patient_id" uuid,
	"code_hmac" text NOT NULL,
	"attempt_hash" text NOT NULL,
	"failed_tries" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"consumed_at" timestamp with time zone,
	CONSTRAINT "verifications_failed_tries" CHECK ("verifications"."failed_tries" >= 0)
);
--> statement-breakpoint
ALTER TABLE "organisations" ADD COLUMN "pickup_policy" text DEFAULT 'code' NOT NULL;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "user_agent" text;--> statement-breakpoint
ALTER TABLE "code_throttles" ADD CONSTRAINT "code_throttles_org_id_organisations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organisations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "verifications" ADD CONSTRAINT "verifications_org_id_organisations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organisations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "verifications_target_key" ON "verifications" USING btree ("org_id","target_hash","purpose");--> statement-breakpoint
CREATE INDEX "verifications_attempt_idx" ON "verifications" USING btree ("org_id","attempt_hash");--> statement-breakpoint
ALTER TABLE "organisations" ADD CONSTRAINT "organisations_pickup_policy" CHECK ("organisations"."pickup_policy" in ('code', 'code_dob', 'passkey'));