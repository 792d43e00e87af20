CREATE TABLE "outbound_events" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"org_id" uuid NOT NULL,
	"type" text NOT NULL,
	"patient_id" uuid,
	"payload" jsonb NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "patient_preferences" (
	"org_id" uuid NOT NULL,
	"patient_id" uuid NOT NULL,
	"care_channels" jsonb NOT NULL,
	"weekly_cap" integer,
	"quiet_start_minute" integer,
	"quiet_end_minute" integer,
	"time_zone" text NOT NULL,
	"marketing_paused_until" timestamp with time zone,
	"marketing_stopped_at" timestamp with time zone,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "patient_preferences_org_id_patient_id_pk" PRIMARY KEY("org_id","patient_id"),
	CONSTRAINT "patient_preferences_weekly_cap" CHECK ("patient_preferences"."weekly_cap" is null or "patient_preferences"."weekly_cap" between 0 and 100),
	CONSTRAINT "patient_preferences_quiet_hours" CHECK (("patient_preferences"."quiet_start_minute" is null) = ("patient_preferences"."quiet_end_minute" is null) and coalesce("patient_preferences"."quiet_start_minute", 0) between 0 and 1439 and coalesce("patient_preferences"."quiet_end_minute", 0) between 0 and 1439),
	CONSTRAINT "patient_preferences_care_channels" CHECK (jsonb_typeof("patient_preferences"."care_channels") = 'array' and jsonb_array_length("patient_preferences"."care_channels") > 0)
);
--> statement-breakpoint
CREATE TABLE "topic_preferences" (
	"org_id" uuid NOT NULL,
	"patient_id" uuid NOT NULL,
	"topic_id" uuid NOT NULL,
	"channels" jsonb NOT NULL,
	"frequency" text NOT NULL,
	"paused_until" timestamp with time zone,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "topic_preferences_org_id_patient_id_topic_id_pk" PRIMARY KEY("org_id","patient_id","topic_id"),
	CONSTRAINT "topic_preferences_frequency" CHECK ("topic_preferences"."frequency" in ('immediate', 'weekly', 'monthly', 'paused')),
	CONSTRAINT "topic_preferences_paused" CHECK (("topic_preferences"."frequency" = 'paused') = ("topic_preferences"."paused_until" is not null))
);
--> statement-breakpoint
ALTER TABLE "outbound_events" ADD CONSTRAINT "outbound_events_org_id_organisations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organisations"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "patient_preferences" ADD CONSTRAINT "patient_preferences_patient_fk" FOREIGN KEY ("org_id","patient_id") REFERENCES "public"."patients"("org_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "topic_preferences" ADD CONSTRAINT "topic_preferences_patient_fk" FOREIGN KEY ("org_id","patient_id") REFERENCES "public"."patients"("org_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "topic_preferences" ADD CONSTRAINT "topic_preferences_topic_fk" FOREIGN KEY ("org_id","topic_id") REFERENCES "public"."consent_topics"("org_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "outbound_events_org_created_idx" ON "outbound_events" USING btree ("org_id","created_at");