CREATE TABLE "authorization_events" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"org_id" uuid NOT NULL,
	"patient_id" uuid NOT NULL,
	"topic_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"text_id" uuid NOT NULL,
	"text_hash" text NOT NULL,
	"channels" jsonb NOT NULL,
	"renews_event_id" uuid,
	"expires_at" timestamp with time zone,
	"evidence" jsonb NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	CONSTRAINT "authorization_events_kind" CHECK ("authorization_events"."kind" in ('granted', 'revoked', 'renewed', 'expired')),
	CONSTRAINT "authorization_events_expiry" CHECK ("authorization_events"."kind" not in ('granted', 'renewed') or "authorization_events"."expires_at" is not null),
	CONSTRAINT "authorization_events_renews" CHECK ("authorization_events"."kind" <> 'renewed' or "authorization_events"."renews_event_id" is not null)
);
--> statement-breakpoint
CREATE TABLE "consent_states" (
	"org_id" uuid NOT NULL,
	"patient_id" uuid NOT NULL,
	"topic_id" uuid NOT NULL,
	"status" text NOT NULL,
	"grant_event_id" uuid NOT NULL,
	"text_id" uuid NOT NULL,
	"channels" jsonb NOT NULL,
	"granted_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "consent_states_org_id_patient_id_topic_id_pk" PRIMARY KEY("org_id","patient_id","topic_id"),
	CONSTRAINT "consent_states_status" CHECK ("consent_states"."status" in ('active', 'revoked', 'expired'))
);
--> statement-breakpoint
ALTER TABLE "authorization_events" ADD CONSTRAINT "authorization_events_patient_fk" FOREIGN KEY ("org_id","patient_id") REFERENCES "public"."patients"("org_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "authorization_events" ADD CONSTRAINT "authorization_events_topic_fk" FOREIGN KEY ("org_id","topic_id") REFERENCES "public"."consent_topics"("org_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "authorization_events" ADD CONSTRAINT "authorization_events_text_fk" FOREIGN KEY ("org_id","text_id") REFERENCES "public"."authorization_texts"("org_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "consent_states" ADD CONSTRAINT "consent_states_patient_fk" FOREIGN KEY ("org_id","patient_id") REFERENCES "public"."patients"("org_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "consent_states" ADD CONSTRAINT "consent_states_topic_fk" FOREIGN KEY ("org_id","topic_id") REFERENCES "public"."consent_topics"("org_id","id") ON DELETE no action ON UPDATE no action;