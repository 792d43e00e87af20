CREATE TABLE "admin_invitations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"org_id" uuid NOT NULL,
	"admin_id" uuid NOT NULL,
	"token_hash" text NOT NULL,
	"role" text NOT NULL,
	"invited_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"accepted_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	"pending_password_hash" text,
	"enrol_hash" text,
	CONSTRAINT "admin_invitations_role" CHECK ("admin_invitations"."role" in ('owner', 'compliance', 'marketer', 'support'))
);
--> statement-breakpoint
CREATE TABLE "admin_passkeys" (
	"id" text PRIMARY KEY NOT NULL,
	"org_id" uuid NOT NULL,
	"admin_id" uuid NOT NULL,
	"public_key" "bytea" NOT NULL,
	"counter" bigint DEFAULT 0 NOT NULL,
	"transports" text[] DEFAULT '{}'::text[] NOT NULL,
	"backup_eligible" boolean NOT NULL,
	"backup_state" boolean NOT NULL,
	"aaguid" text NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone,
	CONSTRAINT "admin_passkeys_name_length" CHECK (char_length("admin_passkeys"."name") between 1 and 60),
	CONSTRAINT "admin_passkeys_counter_range" CHECK ("admin_passkeys"."counter" between 0 and 4294967295),
	CONSTRAINT "admin_passkeys_backup_flags" CHECK ("admin_passkeys"."backup_eligible" or not "admin_passkeys"."backup_state")
);
--> statement-breakpoint
CREATE TABLE "admin_password_resets" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"org_id" uuid NOT NULL,
	"admin_id" uuid,
	"code_hmac" text NOT NULL,
	"attempt_hash" text NOT NULL,
	"failed_tries" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"consumed_at" timestamp with time zone,
	CONSTRAINT "admin_password_resets_failed_tries" CHECK ("admin_password_resets"."failed_tries" >= 0)
);
--> statement-breakpoint
CREATE TABLE "admin_sign_in_attempts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"org_id" uuid NOT NULL,
	"admin_id" uuid NOT NULL,
	"attempt_hash" text NOT NULL,
	"failed_tries" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"consumed_at" timestamp with time zone,
	CONSTRAINT "admin_sign_in_attempts_failed_tries" CHECK ("admin_sign_in_attempts"."failed_tries" >= 0)
);
--> statement-breakpoint
CREATE TABLE "admin_totp_factors" (
	"org_id" uuid NOT NULL,
	"admin_id" uuid NOT NULL,
	"secret" jsonb NOT NULL,
	"last_step" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"confirmed_at" timestamp with time zone,
	CONSTRAINT "admin_totp_factors_org_id_admin_id_pk" PRIMARY KEY("org_id","admin_id"),
	CONSTRAINT "admin_totp_factors_last_step" CHECK ("admin_totp_factors"."last_step" >= 0)
);
--> statement-breakpoint
CREATE TABLE "admin_webauthn_challenges" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"org_id" uuid NOT NULL,
	"purpose" text NOT NULL,
	"admin_id" uuid,
	"challenge" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "admin_webauthn_challenges_purpose" CHECK ("admin_webauthn_challenges"."purpose" in ('registration', 'authentication')),
	CONSTRAINT "admin_webauthn_challenges_registration_admin" CHECK ("admin_webauthn_challenges"."purpose" = 'authentication' or "admin_webauthn_challenges"."admin_id" is not null),
	CONSTRAINT "admin_webauthn_challenges_challenge_length" CHECK (char_length("admin_webauthn_challenges"."challenge") >= 43)
);
--> statement-breakpoint
ALTER TABLE "admins" ADD COLUMN "failed_sign_ins" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "admins" ADD COLUMN "locked_until" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "admin_invitations" ADD CONSTRAINT "admin_invitations_org_id_organisations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organisations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "admin_invitations" ADD CONSTRAINT "admin_invitations_admin_fk" FOREIGN KEY ("org_id","admin_id") REFERENCES "public"."admins"("org_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "admin_invitations" ADD CONSTRAINT "admin_invitations_invited_by_fk" FOREIGN KEY ("org_id","invited_by") REFERENCES "public"."admins"("org_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "admin_passkeys" ADD CONSTRAINT "admin_passkeys_org_id_organisations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organisations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "admin_passkeys" ADD CONSTRAINT "admin_passkeys_admin_fk" FOREIGN KEY ("org_id","admin_id") REFERENCES "public"."admins"("org_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "admin_password_resets" ADD CONSTRAINT "admin_password_resets_org_id_organisations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organisations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "admin_password_resets" ADD CONSTRAINT "admin_password_resets_admin_fk" FOREIGN KEY ("org_id","admin_id") REFERENCES "public"."admins"("org_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "admin_sign_in_attempts" ADD CONSTRAINT "admin_sign_in_attempts_org_id_organisations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organisations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "admin_sign_in_attempts" ADD CONSTRAINT "admin_sign_in_attempts_admin_fk" FOREIGN KEY ("org_id","admin_id") REFERENCES "public"."admins"("org_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "admin_totp_factors" ADD CONSTRAINT "admin_totp_factors_org_id_organisations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organisations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "admin_totp_factors" ADD CONSTRAINT "admin_totp_factors_admin_fk" FOREIGN KEY ("org_id","admin_id") REFERENCES "public"."admins"("org_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "admin_webauthn_challenges" ADD CONSTRAINT "admin_webauthn_challenges_org_id_organisations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organisations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "admin_webauthn_challenges" ADD CONSTRAINT "admin_webauthn_challenges_admin_fk" FOREIGN KEY ("org_id","admin_id") REFERENCES "public"."admins"("org_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "admin_invitations_token_key" ON "admin_invitations" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "admin_invitations_admin_idx" ON "admin_invitations" USING btree ("org_id","admin_id");--> statement-breakpoint
CREATE INDEX "admin_passkeys_admin_idx" ON "admin_passkeys" USING btree ("org_id","admin_id");--> statement-breakpoint
CREATE UNIQUE INDEX "admin_password_resets_attempt_key" ON "admin_password_resets" USING btree ("org_id","attempt_hash");--> statement-breakpoint
CREATE INDEX "admin_password_resets_expires_idx" ON "admin_password_resets" USING btree ("expires_at");--> statement-breakpoint
CREATE UNIQUE INDEX "admin_sign_in_attempts_hash_key" ON "admin_sign_in_attempts" USING btree ("org_id","attempt_hash");--> statement-breakpoint
CREATE INDEX "admin_sign_in_attempts_expires_idx" ON "admin_sign_in_attempts" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "admin_webauthn_challenges_expires_idx" ON "admin_webauthn_challenges" USING btree ("expires_at");