CREATE TABLE "authorization_texts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"org_id" uuid NOT NULL,
	"topic_id" uuid NOT NULL,
	"version" integer NOT NULL,
	"language" text DEFAULT 'en' NOT NULL,
	"elements" jsonb NOT NULL,
	"body" text,
	"valid_for_months" integer NOT NULL,
	"status" text DEFAULT 'draft' NOT NULL,
	"content_hash" text,
	"published_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "authorization_texts_org_id_id_key" UNIQUE("org_id","id"),
	CONSTRAINT "authorization_texts_status" CHECK ("authorization_texts"."status" in ('draft', 'published', 'retired')),
	CONSTRAINT "authorization_texts_valid_for" CHECK ("authorization_texts"."valid_for_months" between 1 and 120),
	CONSTRAINT "authorization_texts_published_complete" CHECK ("authorization_texts"."status" = 'draft' or ("authorization_texts"."body" is not null and "authorization_texts"."content_hash" is not null and "authorization_texts"."published_at" is not null))
);
--> statement-breakpoint
CREATE TABLE "consent_topics" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"org_id" uuid NOT NULL,
	"key" text NOT NULL,
	"name" text NOT NULL,
	"description" text NOT NULL,
	"remunerated" boolean DEFAULT false NOT NULL,
	"third_party_name" text,
	"retired_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "consent_topics_org_id_id_key" UNIQUE("org_id","id"),
	CONSTRAINT "consent_topics_key_format" CHECK ("consent_topics"."key" ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
	CONSTRAINT "consent_topics_payer" CHECK (not "consent_topics"."remunerated" or "consent_topics"."third_party_name" is not null)
);
--> statement-breakpoint
ALTER TABLE "authorization_texts" ADD CONSTRAINT "authorization_texts_topic_fk" FOREIGN KEY ("org_id","topic_id") REFERENCES "public"."consent_topics"("org_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "consent_topics" ADD CONSTRAINT "consent_topics_org_id_organisations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organisations"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "authorization_texts_version_key" ON "authorization_texts" USING btree ("org_id","topic_id","version","language");--> statement-breakpoint
CREATE UNIQUE INDEX "consent_topics_org_key" ON "consent_topics" USING btree ("org_id","key");