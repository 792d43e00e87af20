-- The admin audit search (issue 8, part 8) filters one organisation's log by event type, actor or subject and pages
-- by seq. Without these a rare match walks the organisation's whole chain through the primary key. The dashboard's
-- "last verified" reads the newest audit.chain.verified event through the first one.
-- text_pattern_ops so "consent." prefix searches (LIKE 'consent.%') use the index as well as exact names.
CREATE INDEX "audit_events_action_idx" ON "audit_events" ("org_id", "action" text_pattern_ops, "seq");
--> statement-breakpoint
CREATE INDEX "audit_events_actor_idx" ON "audit_events" ("org_id", "actor_id", "seq") WHERE "actor_id" IS NOT NULL;
--> statement-breakpoint
CREATE INDEX "audit_events_subject_idx" ON "audit_events" ("org_id", "subject_id", "seq") WHERE "subject_id" IS NOT NULL;
--> statement-breakpoint
CREATE INDEX "audit_events_patient_detail_idx" ON "audit_events" ("org_id", ("details" ->> 'patientId'), "seq") WHERE "details" ? 'patientId';
