-- An ignored error still counts but never escalates until its ignored_until: a BEFORE INSERT trigger on the
-- outbox skips its escalations (and so its FixBot runs, which follow an inserted escalation). Once the ignore
-- has run out, the next escalation reopens the error and goes out.
CREATE FUNCTION ops_private.tg_escalations__skip_ignored() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    until timestamptz;
BEGIN
    SELECT a.ignored_until INTO until FROM ops.agent_errors a
    WHERE a.fingerprint = NEW.fingerprint AND a.status = 'ignored';
    IF NOT FOUND THEN
        RETURN NEW;  -- not ignored (or a digest, whose fingerprint names its window)
    END IF;
    IF until IS NULL OR until > now() THEN
        RETURN NULL;
    END IF;
    UPDATE ops.agent_errors a SET status = 'open', ignored_until = NULL
    WHERE a.fingerprint = NEW.fingerprint AND a.status = 'ignored';
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION ops_private.tg_escalations__skip_ignored() IS
    'BEFORE INSERT per row on ops.escalations: skips (returns NULL) an escalation of an error that is ignored with no '
    'ignored_until or one still ahead; an ignore that has run out is reopened (status open) and the escalation kept.';

CREATE TRIGGER tg_escalations__10_skip_ignored BEFORE INSERT ON ops.escalations
    FOR EACH ROW EXECUTE FUNCTION ops_private.tg_escalations__skip_ignored();

REVOKE ALL ON FUNCTION ops_private.tg_escalations__skip_ignored() FROM PUBLIC;
