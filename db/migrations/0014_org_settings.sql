CREATE TABLE "org_dkim_keys" (
	"org_id" uuid PRIMARY KEY NOT NULL,
	"domain" text NOT NULL,
	"selector" text NOT NULL,
	"sealed_private_key" jsonb NOT NULL,
	"dns_record" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "org_dkim_keys_selector" CHECK ("org_dkim_keys"."selector" ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
	CONSTRAINT "org_dkim_keys_domain_lower" CHECK ("org_dkim_keys"."domain" = lower("org_dkim_keys"."domain"))
);
--> statement-breakpoint
ALTER TABLE "organisations" ADD COLUMN "default_quiet_start_minute" integer;--> statement-breakpoint
ALTER TABLE "organisations" ADD COLUMN "default_quiet_end_minute" integer;--> statement-breakpoint
ALTER TABLE "organisations" ADD COLUMN "default_weekly_cap" integer;--> statement-breakpoint
ALTER TABLE "org_dkim_keys" ADD CONSTRAINT "org_dkim_keys_org_id_organisations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organisations"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "organisations" ADD CONSTRAINT "organisations_default_quiet_hours" CHECK (("organisations"."default_quiet_start_minute" is null) = ("organisations"."default_quiet_end_minute" is null) and coalesce("organisations"."default_quiet_start_minute", 0) between 0 and 1439 and coalesce("organisations"."default_quiet_end_minute", 0) between 0 and 1439);--> statement-breakpoint
ALTER TABLE "organisations" ADD CONSTRAINT "organisations_default_weekly_cap" CHECK ("organisations"."default_weekly_cap" is null or "organisations"."default_weekly_cap" between 0 and 100);