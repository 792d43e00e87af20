-- AV7, AU2: the authorisation ledger only grows. A renewal or revocation is a new row, never an edit.
CREATE FUNCTION authorization_events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'authorization_events is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER authorization_events_append_only
  BEFORE UPDATE OR DELETE ON authorization_events
  FOR EACH ROW EXECUTE FUNCTION authorization_events_refuse_change();
