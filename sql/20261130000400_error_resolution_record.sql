-- Resolving an error leaves a record: who resolved it (resolved_by), the record's sha256 (beside
-- resolution_ref, its path), and how long an ignore lasts (ignored_until); every status change is kept in
-- ops.error_status_changes (the history `ops errors show` and the resolution record print).
ALTER TABLE ops.agent_errors ADD COLUMN resolved_by text;
-- A new column is all NULL, so every row passes its check at once.
ALTER TABLE ops.agent_errors ADD COLUMN resolution_sha256 text
    CONSTRAINT agent_errors_resolution_sha256_hex CHECK (resolution_sha256 ~ '^[0-9a-f]{64}$');
ALTER TABLE ops.agent_errors ADD COLUMN ignored_until timestamptz;
COMMENT ON COLUMN ops.agent_errors.resolved_by IS
    'Who resolved the error last: a person (`ops resolve --by`, default the login) or fixbot (a merged FixBot pull request '
    'after the quiet period). NULL: never resolved.';
COMMENT ON COLUMN ops.agent_errors.resolution_sha256 IS
    'Lowercase hex SHA-256 of the resolution record''s bytes (the file at resolution_ref) as written.';
COMMENT ON COLUMN ops.agent_errors.ignored_until IS
    'For status ignored: when the ignore ends (NULL: until reopened). An ignored error still counts but never escalates '
    'before this time; after it, the next escalation reopens it.';

CREATE TABLE ops.error_status_changes (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fingerprint    text NOT NULL,
    from_status    text NOT NULL,
    to_status      text NOT NULL,
    changed_at     timestamptz NOT NULL DEFAULT now(),
    actor          text NOT NULL,
    resolution_ref text,
    ignored_until  timestamptz
);
COMMENT ON TABLE ops.error_status_changes IS
    'Every status change of an ops.agent_errors row (resolve, ignore, reopen, acknowledge, and regressions by ingest), '
    'oldest first by id. Written by the trigger tg_agent_errors__50_status_changes only.';
COMMENT ON COLUMN ops.error_status_changes.actor IS
    'Who changed it: the session setting ops.actor (`ops resolve --by`, fixbot), else ingest for a regression, else the login.';
CREATE INDEX error_status_changes_fingerprint_idx ON ops.error_status_changes (fingerprint, id);

CREATE FUNCTION ops_private.tg_agent_errors__status_changes() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
BEGIN
    INSERT INTO ops.error_status_changes (fingerprint, from_status, to_status, actor, resolution_ref, ignored_until)
    VALUES (NEW.fingerprint, OLD.status, NEW.status,
            coalesce(nullif(current_setting('ops.actor', true), ''),
                     CASE WHEN NEW.status = 'regressed' THEN 'ingest' ELSE session_user::text END),
            CASE WHEN NEW.status = 'resolved' THEN NEW.resolution_ref END,
            CASE WHEN NEW.status = 'ignored' THEN NEW.ignored_until END);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ops_private.tg_agent_errors__status_changes() IS
    'AFTER UPDATE per row on ops.agent_errors when the status changed: appends the change to ops.error_status_changes.';

CREATE TRIGGER tg_agent_errors__50_status_changes AFTER UPDATE OF status ON ops.agent_errors
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION ops_private.tg_agent_errors__status_changes();

ALTER TABLE ops.error_status_changes ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON ops.error_status_changes FROM PUBLIC;
REVOKE ALL ON FUNCTION ops_private.tg_agent_errors__status_changes() FROM PUBLIC;
