-- A published authorisation text is evidence: its content never changes. Only a move from published to retired
-- is allowed, and a draft may change freely until it is published.
CREATE FUNCTION authorization_texts_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.status <> 'draft' THEN
      RAISE EXCEPTION 'authorization_texts: a published text cannot be deleted' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN OLD;
  END IF;
  IF OLD.status = 'draft' THEN
    RETURN NEW;
  END IF;
  IF NEW.elements IS DISTINCT FROM OLD.elements OR NEW.body IS DISTINCT FROM OLD.body
     OR NEW.content_hash IS DISTINCT FROM OLD.content_hash OR NEW.version IS DISTINCT FROM OLD.version
     OR NEW.language IS DISTINCT FROM OLD.language OR NEW.topic_id IS DISTINCT FROM OLD.topic_id
     OR NEW.org_id IS DISTINCT FROM OLD.org_id OR NEW.valid_for_months IS DISTINCT FROM OLD.valid_for_months
     OR NEW.published_at IS DISTINCT FROM OLD.published_at
     OR NOT (NEW.status = OLD.status OR (OLD.status = 'published' AND NEW.status = 'retired')) THEN
    RAISE EXCEPTION 'authorization_texts: a published text is immutable' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER authorization_texts_immutable
  BEFORE UPDATE OR DELETE ON authorization_texts
  FOR EACH ROW EXECUTE FUNCTION authorization_texts_guard();
