CREATE TABLE "campaign_recipients" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"org_id" uuid NOT NULL,
	"campaign_id" uuid NOT NULL,
	"patient_id" uuid NOT NULL,
	"topic_id" uuid NOT NULL,
	"channel" text NOT NULL,
	"grant_event_id" uuid NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"state" text DEFAULT 'pending' NOT NULL,
	"message_id" uuid,
	"delivery_id" uuid,
	"enqueued_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "campaign_recipients_state" CHECK ("campaign_recipients"."state" in ('pending', 'enqueued', 'cancelled')),
	CONSTRAINT "campaign_recipients_enqueued" CHECK (("campaign_recipients"."state" = 'enqueued') = ("campaign_recipients"."delivery_id" is not null and "campaign_recipients"."enqueued_at" is not null))
);
--> statement-breakpoint
CREATE TABLE "campaigns" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"org_id" uuid NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"topic_ids" uuid[] NOT NULL,
	"expiring_within_days" integer,
	"granted_before" timestamp with time zone,
	"channels" text[] NOT NULL,
	"throttle_per_minute" integer NOT NULL,
	"scheduled_at" timestamp with time zone,
	"status" text DEFAULT 'draft' NOT NULL,
	"paused_from" text,
	"created_by" uuid NOT NULL,
	"launched_by" uuid,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"launched_at" timestamp with time zone,
	"targeted_at" timestamp with time zone,
	"targeted_count" integer,
	"completed_at" timestamp with time zone,
	"cancelled_at" timestamp with time zone,
	CONSTRAINT "campaigns_org_id_id_key" UNIQUE("org_id","id"),
	CONSTRAINT "campaigns_kind" CHECK ("campaigns"."kind" in ('renewal', 'expiry_reminder')),
	CONSTRAINT "campaigns_status" CHECK ("campaigns"."status" in ('draft', 'scheduled', 'running', 'paused', 'cancelled', 'completed')),
	CONSTRAINT "campaigns_targeting" CHECK ("campaigns"."expiring_within_days" is not null or "campaigns"."granted_before" is not null),
	CONSTRAINT "campaigns_expiring_within" CHECK ("campaigns"."expiring_within_days" is null or "campaigns"."expiring_within_days" between 1 and 365),
	CONSTRAINT "campaigns_throttle" CHECK ("campaigns"."throttle_per_minute" between 1 and 100000),
	CONSTRAINT "campaigns_topics" CHECK (cardinality("campaigns"."topic_ids") between 1 and 50),
	CONSTRAINT "campaigns_channels" CHECK (cardinality("campaigns"."channels") between 1 and 3 and "campaigns"."channels" <@ array['email', 'sms', 'portal']::text[]),
	CONSTRAINT "campaigns_paused_from" CHECK (("campaigns"."status" = 'paused') = ("campaigns"."paused_from" is not null))
);
--> statement-breakpoint
ALTER TABLE "campaign_recipients" ADD CONSTRAINT "campaign_recipients_campaign_fk" FOREIGN KEY ("org_id","campaign_id") REFERENCES "public"."campaigns"("org_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaign_recipients" ADD CONSTRAINT "campaign_recipients_patient_fk" FOREIGN KEY ("org_id","patient_id") REFERENCES "public"."patients"("org_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaign_recipients" ADD CONSTRAINT "campaign_recipients_topic_fk" FOREIGN KEY ("org_id","topic_id") REFERENCES "public"."consent_topics"("org_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaign_recipients" ADD CONSTRAINT "campaign_recipients_message_fk" FOREIGN KEY ("org_id","message_id") REFERENCES "public"."messages"("org_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaign_recipients" ADD CONSTRAINT "campaign_recipients_delivery_fk" FOREIGN KEY ("delivery_id") REFERENCES "public"."deliveries"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaigns" ADD CONSTRAINT "campaigns_org_id_organisations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organisations"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaigns" ADD CONSTRAINT "campaigns_created_by_fk" FOREIGN KEY ("org_id","created_by") REFERENCES "public"."admins"("org_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaigns" ADD CONSTRAINT "campaigns_launched_by_fk" FOREIGN KEY ("org_id","launched_by") REFERENCES "public"."admins"("org_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "campaign_recipients_one_per_topic" ON "campaign_recipients" USING btree ("org_id","campaign_id","patient_id","topic_id");--> statement-breakpoint
CREATE UNIQUE INDEX "campaign_recipients_delivery_key" ON "campaign_recipients" USING btree ("org_id","delivery_id") WHERE "campaign_recipients"."delivery_id" is not null;--> statement-breakpoint
CREATE INDEX "campaign_recipients_pending_idx" ON "campaign_recipients" USING btree ("campaign_id","id") WHERE "campaign_recipients"."state" = 'pending';--> statement-breakpoint
CREATE INDEX "campaign_recipients_enqueued_idx" ON "campaign_recipients" USING btree ("campaign_id","enqueued_at") WHERE "campaign_recipients"."enqueued_at" is not null;--> statement-breakpoint
CREATE INDEX "campaigns_org_created_idx" ON "campaigns" USING btree ("org_id","created_at");--> statement-breakpoint
CREATE INDEX "campaigns_active_idx" ON "campaigns" USING btree ("status","scheduled_at") WHERE "campaigns"."status" in ('scheduled', 'running');