-- Triage of UNKNOWN (issue 13): the ops_triage role, pg_trgm for suggested codes, ops.triage_queue,
-- ops.promote_error (re-code a group, keeping its history, with a 'promote' alias) and the BEFORE INSERT
-- trigger that sends late events of a promoted fingerprint to the group that took it over.

DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'ops_triage') THEN
        CREATE ROLE ops_triage NOLOGIN;
    END IF;
END
$roles$;
GRANT ops_analyst TO ops_triage;

-- pg_trgm ships with Debian's postgresql-15 (contrib is part of the server package) and is one of the
-- extensions Supabase offers; Supabase keeps extensions in the `extensions` schema, so we do too.
CREATE SCHEMA IF NOT EXISTS extensions;
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA extensions;

ALTER TABLE ops.error_aliases ADD COLUMN from_code text;
ALTER TABLE ops.error_aliases ADD COLUMN target_code text;
COMMENT ON COLUMN ops.error_aliases.from_code IS 'promote: the code the old group had (e.g. UNKNOWN.VERCEL); NULL for regroup.';
COMMENT ON COLUMN ops.error_aliases.target_code IS
    'promote: the code late events of the old fingerprint are recorded under (the target group''s code); NULL for regroup.';

CREATE INDEX convergence_findings_guardrail_fingerprint_idx ON ops.convergence_findings (fingerprint)
    WHERE scope LIKE 'guardrail|%';

CREATE FUNCTION ops.triage_queue(source text DEFAULT NULL, max_groups integer DEFAULT 20, suggestions integer DEFAULT 3)
RETURNS TABLE (fingerprint text, code text, source text, phase text, count bigint, first_seen_at timestamptz,
               last_seen_at timestamptz, sample_message text, code_retired boolean, suggested jsonb)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, ops, extensions
BEGIN ATOMIC
    WITH queue AS MATERIALIZED (
        SELECT u.fingerprint, u.code, u.source, u.phase, u.count, u.first_seen_at, u.last_seen_at, u.sample_message,
               u.code_retired, ops.normalize_message(left(u.sample_message, 2000)) AS norm
        FROM ops.unknown_triage u
        WHERE triage_queue.source IS NULL OR u.source = lower(triage_queue.source)
        ORDER BY u.count DESC, u.last_seen_at DESC, u.fingerprint
        LIMIT greatest(triage_queue.max_groups, 0)
    ), neighbours AS MATERIALIZED (
        -- The candidates: the 5 most recently seen groups of every code (agent_errors_code_last_seen_idx),
        -- normalized once; a bounded set, so no trigram index has to be kept on the hot agent_errors rows.
        SELECT n.fingerprint, n.code, n.sample_message, ops.normalize_message(left(n.sample_message, 2000)) AS norm
        FROM ops.failure_modes f
        CROSS JOIN LATERAL (SELECT a.fingerprint, a.code, a.sample_message FROM ops.agent_errors a
                            WHERE a.code = f.code ORDER BY a.last_seen_at DESC LIMIT 5) n
        WHERE f.code NOT LIKE 'UNKNOWN.%'
    )
    SELECT q.fingerprint, q.code, q.source, q.phase, q.count, q.first_seen_at, q.last_seen_at, q.sample_message,
           q.code_retired,
           coalesce((
               SELECT jsonb_agg(jsonb_build_object('code', b.code, 'similarity', round(b.sim::numeric, 3),
                                                   'fingerprint', b.fingerprint, 'sample_message', left(b.sample_message, 500))
                                ORDER BY b.sim DESC, b.code)
               FROM (SELECT d.* FROM (
                         SELECT DISTINCT ON (s.code) s.code, s.sim, s.fingerprint, s.sample_message
                         FROM (SELECT n.code, n.fingerprint, n.sample_message,
                                      extensions.similarity(q.norm, n.norm) AS sim
                               FROM neighbours n) s
                         WHERE s.sim >= 0.1
                         ORDER BY s.code, s.sim DESC, s.fingerprint) d
                     ORDER BY d.sim DESC, d.code
                     LIMIT greatest(triage_queue.suggestions, 0)) b), '[]'::jsonb)
    FROM queue q
    ORDER BY q.count DESC, q.last_seen_at DESC, q.fingerprint;
END;
COMMENT ON FUNCTION ops.triage_queue(text, integer, integer) IS
    'The UNKNOWN queue (ops.unknown_triage: UNKNOWN.<SOURCE> groups and groups whose code left the taxonomy), most '
    'frequent first, at most max_groups (optionally one source), each with up to `suggestions` suggested codes: the '
    'codes of the nearest classified groups by pg_trgm similarity (0..1, trigrams of the normalized first 2000 '
    'characters of the sample messages; at least 0.1), compared against the 5 most recently seen groups of every code. '
    'suggested is a JSON array of {code, similarity, fingerprint, sample_message} (the nearest group of that code), '
    'best first. Read-only; for ops_analyst (`ops triage list`).';

CREATE FUNCTION ops.promote_error(fingerprint text, code text, force boolean DEFAULT false)
RETURNS TABLE (old_fingerprint text, new_fingerprint text, old_code text, new_code text, count bigint,
               events_moved bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
#variable_conflict use_column
DECLARE
    old ops.agent_errors;
    target text;
    prior record;
    moved bigint;
BEGIN
    SELECT a.* INTO old FROM ops.agent_errors a WHERE a.fingerprint = promote_error.fingerprint FOR UPDATE;
    IF NOT FOUND THEN
        SELECT al.target_fingerprint, al.target_code, al.reason INTO prior
        FROM ops.error_aliases al WHERE al.fingerprint = promote_error.fingerprint;
        IF FOUND THEN
            RAISE EXCEPTION 'error "%" was already moved (%) to "%"', promote_error.fingerprint, prior.reason,
                prior.target_fingerprint USING ERRCODE = 'OP004',
                HINT = 'Promote the group it moved to instead.';
        END IF;
        RAISE EXCEPTION 'no error with fingerprint "%"', promote_error.fingerprint USING ERRCODE = 'OP004';
    END IF;
    IF promote_error.code IS NULL OR NOT EXISTS (SELECT FROM ops.failure_modes f WHERE f.code = promote_error.code) THEN
        RAISE EXCEPTION 'unknown code "%"', left(promote_error.code, 200) USING ERRCODE = 'OP001', COLUMN = 'code',
            HINT = 'Promote to a code of ssot/errors/failure_modes.yaml (add it there and run `ops ssot sync` first).';
    END IF;
    IF promote_error.code LIKE 'UNKNOWN.%' THEN
        RAISE EXCEPTION 'cannot promote to "%": an UNKNOWN code is the fallback, not a classification',
            promote_error.code USING ERRCODE = 'OP001', COLUMN = 'code';
    END IF;
    IF promote_error.code = old.code THEN
        RAISE EXCEPTION 'error "%" already has code %', old.fingerprint, old.code USING ERRCODE = 'OP001', COLUMN = 'code';
    END IF;
    IF old.code NOT LIKE 'UNKNOWN.%' AND EXISTS (SELECT FROM ops.failure_modes f WHERE f.code = old.code)
       AND NOT promote_error.force THEN
        RAISE EXCEPTION 'error "%" is classified as %, not UNKNOWN', old.fingerprint, old.code USING ERRCODE = 'OPD04',
            HINT = 'Re-coding a classified error overrides its pattern''s decision: pass force (ops triage promote --force).';
    END IF;

    -- The group an event of this text would have under the new code when a producer names it (no pattern
    -- matched, so the whole message groups): the same fingerprint function as ingest.
    target := ops.error_fingerprint(old.source, old.phase, promote_error.code,
                                    ops.grouping_text(old.sample_message, promote_error.code, NULL), old.top_frame);

    PERFORM set_config('ops.maintenance', 'on', true);  -- lets the append-only trigger pass the event UPDATE
    UPDATE ops.error_events e SET fingerprint = target, code = promote_error.code
    WHERE e.fingerprint = old.fingerprint;
    GET DIAGNOSTICS moved = ROW_COUNT;
    PERFORM set_config('ops.maintenance', 'off', true);
    UPDATE ops_private.event_keys k SET fingerprint = target, code = promote_error.code
    WHERE k.fingerprint = old.fingerprint;

    INSERT INTO ops.agent_errors AS a (
        fingerprint, fingerprint_version, code, source, phase, count, first_seen_at, last_seen_at, status,
        confidence, matched_pattern, sample_message, top_frame, last_event_id, last_run_id, last_correlation_id,
        window_started_at, window_count, regression_count, resolved_at, resolution_ref)
    VALUES (target, ops.current_fingerprint_version(), promote_error.code, old.source, old.phase, old.count,
            old.first_seen_at, old.last_seen_at, old.status, 1.0, NULL, old.sample_message, old.top_frame,
            old.last_event_id, old.last_run_id, old.last_correlation_id, NULL, NULL, old.regression_count,
            old.resolved_at, old.resolution_ref)
    ON CONFLICT (fingerprint) DO UPDATE SET
        count = a.count + excluded.count,
        first_seen_at = least(a.first_seen_at, excluded.first_seen_at),
        last_seen_at = greatest(a.last_seen_at, excluded.last_seen_at);

    -- The old group points to the new one; aliases that pointed at the old group follow it.
    INSERT INTO ops.error_aliases (fingerprint, target_fingerprint, reason, from_version, from_code, target_code)
    VALUES (old.fingerprint, target, 'promote', old.fingerprint_version, old.code, promote_error.code);
    UPDATE ops.error_aliases al
    SET target_fingerprint = target,
        target_code = CASE WHEN al.reason = 'promote' THEN promote_error.code ELSE al.target_code END
    WHERE al.target_fingerprint = old.fingerprint;

    -- Escalations, FixBot runs and guardrail findings follow their group (dedupe keys keep the old
    -- fingerprint: history).
    UPDATE ops.escalations s SET fingerprint = target WHERE s.fingerprint = old.fingerprint;
    UPDATE ops.agent_runs r SET fingerprint = target WHERE r.fingerprint = old.fingerprint;
    UPDATE ops.convergence_findings c SET fingerprint = target
    WHERE c.scope LIKE 'guardrail|%' AND c.fingerprint = old.fingerprint
      AND NOT EXISTS (SELECT FROM ops.convergence_findings t WHERE t.scope = c.scope AND t.fingerprint = target);
    DELETE FROM ops.agent_errors a WHERE a.fingerprint = old.fingerprint;

    RETURN QUERY
    SELECT old.fingerprint, target, old.code, promote_error.code, a.count, moved
    FROM ops.agent_errors a WHERE a.fingerprint = target;
END
$$;
COMMENT ON FUNCTION ops.promote_error(text, text, boolean) IS
    'Triage: re-codes one error group without losing its history. The group moves to the fingerprint its text has '
    'under the new code (ops.error_fingerprint over the whole sample message, as for a producer-named code): its '
    'stored events are re-coded, its count, first/last seen, status and regressions carry over (added to the target '
    'group if one exists), escalations, FixBot runs and guardrail findings follow, and ops.error_aliases records '
    'old -> new (reason promote, from_code, target_code) so late events of the old fingerprint land in the new group '
    '(trigger tg_error_events__15_alias). Writes no escalation. Returns (old_fingerprint, new_fingerprint, old_code, '
    'new_code, count, events_moved). Errors: OP004 no such fingerprint (or it was already moved: the hint says '
    'where); OP001 code unknown, UNKNOWN.*, or the error''s own code; OPD04 the error is classified by a pattern '
    '(not UNKNOWN, code still in the taxonomy) and force is false.';

CREATE FUNCTION ops_private.tg_error_events__alias() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    target_fp text;
    target_cd text;
BEGIN
    SELECT al.target_fingerprint, al.target_code INTO target_fp, target_cd
    FROM ops.error_aliases al WHERE al.fingerprint = NEW.fingerprint AND al.reason = 'promote';
    IF target_fp IS NOT NULL THEN
        NEW.fingerprint := target_fp;
        NEW.code := target_cd;
        IF NEW.event_key IS NOT NULL THEN  -- the key was stored by the prepare trigger under the old group
            UPDATE ops_private.event_keys k SET fingerprint = target_fp, code = target_cd
            WHERE k.event_key = NEW.event_key;
        END IF;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION ops_private.tg_error_events__alias() IS
    'BEFORE INSERT per row on ops.error_events, after tg_error_events__10_prepare: an event whose fingerprint was '
    'promoted (ops.error_aliases, reason promote; one primary-key lookup) is recorded under the target group''s '
    'fingerprint and code, so late events of a promoted error count in the group that took it over.';

CREATE TRIGGER tg_error_events__15_alias BEFORE INSERT ON ops.error_events
    FOR EACH ROW EXECUTE FUNCTION ops_private.tg_error_events__alias();

REVOKE ALL ON FUNCTION ops.triage_queue(text, integer, integer), ops.promote_error(text, text, boolean),
                       ops_private.tg_error_events__alias() FROM PUBLIC;
GRANT USAGE ON SCHEMA ops TO ops_triage;
GRANT EXECUTE ON FUNCTION ops.triage_queue(text, integer, integer) TO ops_analyst;
GRANT EXECUTE ON FUNCTION ops.promote_error(text, text, boolean) TO ops_triage;
