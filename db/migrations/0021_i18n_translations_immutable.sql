-- A translation of an authorisation text is evidence, like the version it translates (0006): it may only be added to
-- a published version, and it never changes and is never deleted, so a signed record always shows what was read.
CREATE FUNCTION authorization_text_translations_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NOT EXISTS (SELECT 1 FROM authorization_texts t WHERE t.org_id = NEW.org_id AND t.id = NEW.text_id AND t.status = 'published') THEN
      RAISE EXCEPTION 'authorization_text_translations: only a published text can be translated' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'authorization_text_translations: a translation is immutable' USING ERRCODE = 'insufficient_privilege';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER authorization_text_translations_immutable
  BEFORE INSERT OR UPDATE OR DELETE ON authorization_text_translations
  FOR EACH ROW EXECUTE FUNCTION authorization_text_translations_guard();
