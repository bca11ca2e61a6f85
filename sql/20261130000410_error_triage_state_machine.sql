-- Triage as a state machine: ops.set_error_status refuses nonsense transitions (OPD04), and resolve,
-- ignore and reopen are functions of their own (ops resolve / ignore / reopen); ops.find_error resolves a
-- unique fingerprint prefix, as git does for commits.
CREATE FUNCTION ops_private.transition_error(fingerprint text, to_status text, resolution_ref text DEFAULT NULL,
                                             resolution_sha256 text DEFAULT NULL, resolved_by text DEFAULT NULL,
                                             ignored_until timestamptz DEFAULT NULL)
RETURNS SETOF ops.agent_errors
LANGUAGE plpgsql
SET search_path = pg_catalog, ops
AS $$
DECLARE
    current_status text;
    allowed text[];
BEGIN
    SELECT a.status INTO current_status FROM ops.agent_errors a WHERE a.fingerprint = transition_error.fingerprint
    FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no error with fingerprint "%"', transition_error.fingerprint USING ERRCODE = 'OP004',
            HINT = 'List errors with `ops errors list`; a unique prefix of a fingerprint is enough.';
    END IF;
    -- An ignore that has run out is open again (the escalation trigger reopens it too, at the next crossing).
    IF current_status = 'ignored' AND (SELECT a.ignored_until <= now() FROM ops.agent_errors a
                                       WHERE a.fingerprint = transition_error.fingerprint) THEN
        current_status := 'open';
    END IF;
    allowed := CASE to_status
        WHEN 'acknowledged' THEN ARRAY['open', 'regressed']
        WHEN 'resolved' THEN ARRAY['open', 'acknowledged', 'regressed']
        WHEN 'ignored' THEN ARRAY['open', 'acknowledged', 'regressed', 'resolved', 'ignored']
        WHEN 'open' THEN ARRAY['resolved', 'ignored']
    END;
    IF allowed IS NULL THEN
        RAISE EXCEPTION 'status must be open, acknowledged, resolved or ignored, not "%"', to_status
            USING ERRCODE = 'OP001', COLUMN = 'status';
    END IF;
    IF NOT current_status = ANY (allowed) THEN
        RAISE EXCEPTION 'error % is %: it cannot become %', left(transition_error.fingerprint, 12), current_status, to_status
            USING ERRCODE = 'OPD04',
            HINT = CASE to_status
                WHEN 'open' THEN 'Only a resolved or ignored error can be reopened.'
                WHEN 'resolved' THEN 'Only an open, acknowledged or regressed error can be resolved; reopen it first.'
                ELSE 'Only an open or regressed error can be acknowledged.' END;
    END IF;
    RETURN QUERY
    UPDATE ops.agent_errors a
    SET status = to_status,
        resolved_at = CASE WHEN to_status = 'resolved' THEN now() ELSE a.resolved_at END,
        resolved_by = CASE WHEN to_status = 'resolved' THEN transition_error.resolved_by ELSE a.resolved_by END,
        resolution_ref = CASE WHEN to_status = 'resolved' THEN coalesce(transition_error.resolution_ref, a.resolution_ref)
                              ELSE a.resolution_ref END,
        resolution_sha256 = CASE WHEN to_status = 'resolved' AND transition_error.resolution_ref IS NOT NULL
                                 THEN transition_error.resolution_sha256 ELSE a.resolution_sha256 END,
        ignored_until = CASE WHEN to_status = 'ignored' THEN transition_error.ignored_until END
    WHERE a.fingerprint = transition_error.fingerprint
    RETURNING a.*;
END
$$;
COMMENT ON FUNCTION ops_private.transition_error(text, text, text, text, text, timestamptz) IS
    'The triage state machine behind ops.set_error_status, ops.resolve_error, ops.ignore_error and ops.reopen_error: '
    'open/acknowledged/regressed -> resolved; open/regressed -> acknowledged; any -> ignored; resolved/ignored -> open '
    '(an ignore past its ignored_until counts as open). Raises OP004 for an unknown fingerprint, OP001 for an unknown '
    'status, OPD04 for any other transition. resolved_at keeps the last resolution; the record fields change only on '
    'a resolve. Returns the updated row.';

CREATE OR REPLACE FUNCTION ops.set_error_status(fingerprint text, status text, resolution_ref text DEFAULT NULL)
RETURNS SETOF ops.agent_errors
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
BEGIN
    RETURN QUERY SELECT * FROM ops_private.transition_error(set_error_status.fingerprint, set_error_status.status,
                                                            set_error_status.resolution_ref);
END
$$;
COMMENT ON FUNCTION ops.set_error_status(text, text, text) IS
    'Triage: sets an error''s status (open, acknowledged, resolved, ignored) through the state machine of '
    'ops_private.transition_error (OPD04 for a transition it refuses, OP004 unknown fingerprint, OP001 unknown status). '
    'resolution_ref points at the resolution record (docs/resolutions/...). A resolved error that occurs again becomes '
    'regressed and escalates. ops.resolve_error also records the record''s sha256 and who resolved it.';

CREATE FUNCTION ops.resolve_error(fingerprint text, resolution_ref text, resolution_sha256 text,
                                  resolved_by text DEFAULT NULL)
RETURNS SETOF ops.agent_errors
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
BEGIN
    IF resolve_error.resolution_ref IS NULL OR resolve_error.resolution_ref !~ '^docs/resolutions/[0-9]{4}/[0-9]{2}/[^/]+\.md$' THEN
        RAISE EXCEPTION 'resolution_ref must be docs/resolutions/YYYY/MM/<name>.md, not "%"', left(resolve_error.resolution_ref, 200)
            USING ERRCODE = 'OP001', COLUMN = 'resolution_ref';
    END IF;
    IF resolve_error.resolution_sha256 IS NULL OR resolve_error.resolution_sha256 !~ '^[0-9a-f]{64}$' THEN
        RAISE EXCEPTION 'resolution_sha256 must be 64 lowercase hex digits' USING ERRCODE = 'OP001',
            COLUMN = 'resolution_sha256';
    END IF;
    PERFORM set_config('ops.actor', coalesce(nullif(btrim(resolve_error.resolved_by), ''), session_user::text), true);
    RETURN QUERY SELECT * FROM ops_private.transition_error(
        resolve_error.fingerprint, 'resolved', resolve_error.resolution_ref, resolve_error.resolution_sha256,
        coalesce(nullif(btrim(resolve_error.resolved_by), ''), session_user::text));
    PERFORM set_config('ops.actor', '', true);
END
$$;
COMMENT ON FUNCTION ops.resolve_error(text, text, text, text) IS
    '`ops resolve`: marks an open, acknowledged or regressed error resolved and records its resolution record: path '
    '(docs/resolutions/YYYY/MM/<name>.md, else OP001), sha256 of the file (64 hex, else OP001) and who resolved it '
    '(default the login). OPD04 for an error in another state, OP004 for an unknown fingerprint. Returns the row.';

CREATE FUNCTION ops.ignore_error(fingerprint text, until timestamptz DEFAULT NULL)
RETURNS SETOF ops.agent_errors
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
BEGIN
    IF ignore_error.until IS NOT NULL AND ignore_error.until <= now() THEN
        RAISE EXCEPTION 'until must be in the future, not %', ignore_error.until USING ERRCODE = 'OP001', COLUMN = 'until';
    END IF;
    RETURN QUERY SELECT * FROM ops_private.transition_error(ignore_error.fingerprint, 'ignored',
                                                            ignored_until => ignore_error.until);
END
$$;
COMMENT ON FUNCTION ops.ignore_error(text, timestamptz) IS
    '`ops ignore`: the error still counts but never escalates until `until` (NULL: until reopened); afterwards it is '
    'open again. Any status may be ignored. OP001 for an until not in the future, OP004 unknown fingerprint. Returns the row.';

CREATE FUNCTION ops.reopen_error(fingerprint text)
RETURNS SETOF ops.agent_errors
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
BEGIN
    RETURN QUERY SELECT * FROM ops_private.transition_error(reopen_error.fingerprint, 'open');
END
$$;
COMMENT ON FUNCTION ops.reopen_error(text) IS
    '`ops reopen`: a resolved or ignored error is open again (OPD04 for any other status, OP004 unknown fingerprint). '
    'The last resolution record stays on the row as history. Returns the row.';

REVOKE ALL ON FUNCTION ops_private.transition_error(text, text, text, text, text, timestamptz),
                       ops.resolve_error(text, text, text, text), ops.ignore_error(text, timestamptz),
                       ops.reopen_error(text) FROM PUBLIC;
