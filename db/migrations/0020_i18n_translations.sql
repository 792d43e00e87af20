CREATE TABLE "authorization_text_translations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"org_id" uuid NOT NULL,
	"text_id" uuid NOT NULL,
	"locale" text NOT NULL,
	"elements" jsonb NOT NULL,
	"body" text NOT NULL,
	"content_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "authorization_text_translations_text_locale_key" UNIQUE("org_id","text_id","locale"),
	CONSTRAINT "authorization_text_translations_org_id_id_key" UNIQUE("org_id","id"),
	CONSTRAINT "authorization_text_translations_locale" CHECK ("authorization_text_translations"."locale" ~ '^[a-z]{2}$')
);
--> statement-breakpoint
CREATE TABLE "consent_topic_translations" (
	"org_id" uuid NOT NULL,
	"topic_id" uuid NOT NULL,
	"locale" text NOT NULL,
	"name" text NOT NULL,
	"description" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "consent_topic_translations_org_id_topic_id_locale_pk" PRIMARY KEY("org_id","topic_id","locale"),
	CONSTRAINT "consent_topic_translations_locale" CHECK ("consent_topic_translations"."locale" ~ '^[a-z]{2}$')
);
--> statement-breakpoint
ALTER TABLE "authorization_text_translations" ADD CONSTRAINT "authorization_text_translations_text_fk" FOREIGN KEY ("org_id","text_id") REFERENCES "public"."authorization_texts"("org_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "consent_topic_translations" ADD CONSTRAINT "consent_topic_translations_topic_fk" FOREIGN KEY ("org_id","topic_id") REFERENCES "public"."consent_topics"("org_id","id") ON DELETE no action ON UPDATE no action;