-- Issue 12, tenth pass: a single-row statement whose group exists under the event's code (a repeated error: every
-- autocommit INSERT and ops.record_error call of a text seen before, a storm's events) updates the group's row by a
-- plain UPDATE with the ON CONFLICT rule's assignments for one event, instead of the eighth pass's INSERT ... VALUES
-- ... ON CONFLICT (speculative insertion, two per-row sub-selects of ops.failure_modes). Every other statement (a new
-- group, a group kept under another code, two rows or more) takes the general upsert, so the eighth pass's second
-- copy of the ON CONFLICT rule is gone (bench/README.md, "(issue 12, tenth pass)"). Same rows and escalations
-- (tests/test_ingest_aggregate_paths.py).

CREATE OR REPLACE FUNCTION ops_private.tg_error_events__aggregate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    fired jsonb;
    ev record;
    fmode record;
    got record;
    known boolean;
    created text[];
    moving record;
    updated boolean := false;
BEGIN
    -- A single-row statement of an existing group (below) updates its row in place, its crossings decided here;
    -- the general upsert (hash aggregate, join back for the sample, sort, unique, ModifyTable) started ~19 % of such
    -- a statement's CPU in plan nodes one row does not need. Whether the statement has one row is read from at most
    -- two rows of the transition table (an init plan), so a 500-row statement pays nothing per row for the test.
    SELECT e.fingerprint, e.fingerprint_version, e.code, e.source, e.phase, e.received_at, e.id, e.confidence,
           e.matched_pattern, e.message, e.top_frame, e.run_id, e.correlation_id,
           (SELECT count(*) FROM (SELECT FROM inserted x LIMIT 2) x) AS rows
    INTO ev
    FROM inserted e
    LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    -- A single-row statement whose group exists under the event's code (a text seen before: every autocommit
    -- INSERT and ops.record_error call of a repeated error, a storm's events) updates that row in place with the
    -- ON CONFLICT rule's assignments below for one event (n = 1), the window length read with the failure mode,
    -- and decides its crossings here. Anything else (a new group, a group kept under another code, two rows or
    -- more) takes the general upsert, so the ON CONFLICT rule exists once and this UPDATE is its one-row
    -- existing-row case (tests/test_ingest_aggregate_paths.py: equal rows and escalations on the same events).
    -- Against the eighth pass's INSERT ... VALUES ... ON CONFLICT: no speculative insertion and no two per-row
    -- sub-selects of ops.failure_modes to start (bench/README.md, "(issue 12, tenth pass)").
    IF ev.rows = 1 THEN
        SELECT f.escalate_destination, f.title, f.severity, f.category, f.runbook, f.retryable, f.remediate_kind,
               f.escalate_within, f.escalate_after_count
        INTO fmode
        FROM ops.failure_modes f WHERE f.code = ev.code LIMIT 1;
        known := FOUND;
        -- fmode is the group's failure mode (the codes are equal); a code not in the taxonomy has none (no window).
        UPDATE ops.agent_errors AS a SET
            count = a.count + 1,
            last_seen_at = greatest(a.last_seen_at, ev.received_at),
            sample_message = ev.message,
            top_frame = ev.top_frame,
            last_event_id = ev.id,
            last_run_id = coalesce(ev.run_id, a.last_run_id),
            last_correlation_id = coalesce(ev.correlation_id, a.last_correlation_id),
            status = CASE WHEN a.status = 'resolved' THEN 'regressed' ELSE a.status END,
            regression_count = a.regression_count + (a.status = 'resolved')::integer,
            -- A window opens at the first event after the previous one closed.
            window_started_at = CASE
                WHEN fmode.escalate_within IS NULL THEN NULL
                WHEN a.window_started_at IS NULL OR ev.received_at >= a.window_started_at + fmode.escalate_within
                THEN ev.received_at
                ELSE a.window_started_at END,
            window_count = CASE
                WHEN fmode.escalate_within IS NULL THEN NULL
                WHEN a.window_started_at IS NULL OR ev.received_at >= a.window_started_at + fmode.escalate_within
                THEN 1
                ELSE a.window_count + 1 END
        WHERE a.fingerprint = ev.fingerprint AND a.code = ev.code
        RETURNING a.fingerprint, a.code, a.source, a.phase, a.count, a.window_count, a.window_started_at,
                  a.status, a.regression_count, a.first_seen_at, a.last_seen_at, a.sample_message,
                  a.top_frame, a.last_event_id, a.last_run_id, a.ignored_until
        INTO got;
        updated := FOUND;
    END IF;
    IF updated THEN
        -- The crossings, decided as the general path decides them for n = 1 (its inner join on the code: a code not
        -- in the taxonomy fires none); the fired jsonb is built only when one fired.
        IF known AND (got.status = 'regressed'
                      OR coalesce(CASE WHEN fmode.escalate_within IS NULL THEN got.count = fmode.escalate_after_count
                                       ELSE got.window_count = fmode.escalate_after_count END, false)) THEN
            SELECT jsonb_agg(jsonb_build_object(
                       'fingerprint', got.fingerprint, 'code', got.code, 'source', got.source, 'phase', got.phase,
                       'count', got.count, 'window_count', got.window_count,
                       'window_started_at', got.window_started_at, 'status', got.status,
                       'regression_count', got.regression_count, 'first_seen_at', got.first_seen_at,
                       'last_seen_at', got.last_seen_at, 'sample_message', got.sample_message,
                       'top_frame', got.top_frame,
                       'last_event_id', got.last_event_id, 'last_run_id', got.last_run_id,
                       'ignored_until', got.ignored_until, 'n', 1, 'reason', r.reason, 'dedupe_key', r.dedupe_key,
                       'escalate_destination', fmode.escalate_destination, 'title', fmode.title,
                       'severity', fmode.severity, 'category', fmode.category, 'runbook', fmode.runbook,
                       'retryable', fmode.retryable, 'remediate_kind', fmode.remediate_kind))
            INTO fired
            FROM (VALUES
                -- One event was added: a count crosses its threshold when it now equals it (old = new - 1 below it).
                ('threshold', got.fingerprint || ':threshold',
                 fmode.escalate_within IS NULL AND got.count = fmode.escalate_after_count),
                ('window', got.fingerprint || ':window:'
                           || to_char(got.window_started_at AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS.US'),
                 fmode.escalate_within IS NOT NULL AND got.window_count = fmode.escalate_after_count),
                ('regression', got.fingerprint || ':regression:' || got.regression_count, got.status = 'regressed')
            ) AS r (reason, dedupe_key, fires)
            WHERE r.fires;
        END IF;
    ELSE
        -- The common statement crosses nothing: it upserts the counts and stops. Only a statement with a
        -- crossing or regression plans and runs the escalation half (page budgets, escalations, FixBot runs),
        -- whose executor start-up (five INSERT ... ON CONFLICT) cost a single-row INSERT ~0.6 ms. The code's row of
        -- ops.failure_modes is read by a LATERAL probe with LIMIT 1 (its key is the code): the transition table is
        -- always planned as 500 rows, so a plain join read and hashed all of ops.failure_modes in every statement.
        WITH totals AS (
            SELECT e.fingerprint,
                   min(e.fingerprint_version) AS fingerprint_version,
                   min(e.code) AS code,
                   min(e.source) AS source,
                   min(e.phase) AS phase,
                   count(*) AS n,
                   min(e.received_at) AS first_at,
                   max(e.received_at) AS last_at,
                   max(e.id) AS last_event_id,
                   max(e.confidence) AS confidence,
                   min(e.matched_pattern) AS matched_pattern
            FROM inserted e
            GROUP BY e.fingerprint
        ), batch AS (
            -- The sample is the group's last event in this statement, found by a join on its id (DISTINCT ON
            -- in case an owner inserted an id twice), not by one sort per sampled column.
            SELECT DISTINCT ON (t.fingerprint) t.*, e.message AS sample_message, e.top_frame, e.run_id, e.correlation_id
            FROM totals t
            JOIN inserted e ON e.id = t.last_event_id AND e.fingerprint = t.fingerprint
            ORDER BY t.fingerprint
        ), upserted AS (
            -- Rows are upserted in fingerprint order, so concurrent multi-row statements lock in one order.
            INSERT INTO ops.agent_errors AS a (
                fingerprint, fingerprint_version, code, source, phase, count, first_seen_at, last_seen_at,
                confidence, matched_pattern, sample_message, top_frame, last_event_id, last_run_id,
                last_correlation_id, window_started_at, window_count)
            SELECT b.fingerprint, b.fingerprint_version, b.code, b.source, b.phase, b.n, b.first_at, b.last_at,
                   b.confidence, b.matched_pattern, b.sample_message, b.top_frame, b.last_event_id, b.run_id,
                   b.correlation_id,
                   CASE WHEN fm.escalate_within IS NOT NULL THEN b.first_at END,
                   CASE WHEN fm.escalate_within IS NOT NULL THEN b.n END
            FROM batch b
            LEFT JOIN LATERAL (SELECT f.escalate_within FROM ops.failure_modes f WHERE f.code = b.code LIMIT 1) fm ON true
            ORDER BY b.fingerprint
            ON CONFLICT (fingerprint) DO UPDATE SET
                count = a.count + excluded.count,
                last_seen_at = greatest(a.last_seen_at, excluded.last_seen_at),
                sample_message = excluded.sample_message,
                top_frame = excluded.top_frame,
                last_event_id = excluded.last_event_id,
                last_run_id = coalesce(excluded.last_run_id, a.last_run_id),
                last_correlation_id = coalesce(excluded.last_correlation_id, a.last_correlation_id),
                status = CASE WHEN a.status = 'resolved' THEN 'regressed' ELSE a.status END,
                regression_count = a.regression_count + (a.status = 'resolved')::integer,
                -- A window opens at the first event after the previous one closed.
                window_started_at = CASE
                    WHEN excluded.window_started_at IS NULL THEN NULL
                    WHEN a.window_started_at IS NULL
                      OR excluded.first_seen_at >= a.window_started_at
                         + (SELECT f.escalate_within FROM ops.failure_modes f WHERE f.code = a.code)
                    THEN excluded.window_started_at
                    ELSE a.window_started_at END,
                window_count = CASE
                    WHEN excluded.window_started_at IS NULL THEN NULL
                    WHEN a.window_started_at IS NULL
                      OR excluded.first_seen_at >= a.window_started_at
                         + (SELECT f.escalate_within FROM ops.failure_modes f WHERE f.code = a.code)
                    THEN excluded.window_count
                    ELSE a.window_count + excluded.window_count END
            RETURNING a.fingerprint, a.code, a.source, a.phase, a.count, a.window_count, a.window_started_at,
                      a.status, a.regression_count, a.first_seen_at, a.last_seen_at, a.sample_message,
                      a.top_frame, a.last_event_id, a.last_run_id, a.ignored_until
        )
        -- The upsert returns the new counts; this statement added b.n, so the old count is new - n.
        SELECT jsonb_agg(jsonb_build_object(
                   'fingerprint', u.fingerprint, 'code', u.code, 'source', u.source, 'phase', u.phase, 'count', u.count,
                   'window_count', u.window_count, 'window_started_at', u.window_started_at, 'status', u.status,
                   'regression_count', u.regression_count, 'first_seen_at', u.first_seen_at,
                   'last_seen_at', u.last_seen_at, 'sample_message', u.sample_message, 'top_frame', u.top_frame,
                   'last_event_id', u.last_event_id, 'last_run_id', u.last_run_id, 'ignored_until', u.ignored_until,
                   'n', b.n, 'reason', r.reason,
                   'dedupe_key', r.dedupe_key, 'escalate_destination', fm.escalate_destination, 'title', fm.title,
                   'severity', fm.severity, 'category', fm.category, 'runbook', fm.runbook, 'retryable', fm.retryable,
                   'remediate_kind', fm.remediate_kind)) FILTER (WHERE r.fires AND fm.known),
               -- The groups this statement created (their count is what it added), once each.
               array_agg(u.fingerprint) FILTER (WHERE u.count = b.n AND r.reason = 'threshold')
        INTO fired, created
        FROM upserted u
        JOIN batch b ON b.fingerprint = u.fingerprint
        -- A code not in the taxonomy fires nothing (fm.known is NULL), but its new group is still listed.
        LEFT JOIN LATERAL (SELECT true AS known, f.escalate_destination, f.title, f.severity, f.category, f.runbook,
                                  f.retryable, f.remediate_kind, f.escalate_within, f.escalate_after_count
                           FROM ops.failure_modes f WHERE f.code = u.code LIMIT 1) fm ON true
        CROSS JOIN LATERAL (VALUES
            ('threshold', u.fingerprint || ':threshold',
             fm.escalate_within IS NULL
             AND u.count - b.n < fm.escalate_after_count AND u.count >= fm.escalate_after_count),
            ('window', u.fingerprint || ':window:' || to_char(u.window_started_at AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS.US'),
             fm.escalate_within IS NOT NULL
             AND u.window_count - b.n < fm.escalate_after_count AND u.window_count >= fm.escalate_after_count),
            ('regression', u.fingerprint || ':regression:' || u.regression_count,
             u.status = 'regressed')
        ) AS r (reason, dedupe_key, fires);
    END IF;
    IF fired IS NOT NULL THEN

        WITH crossings AS (
            -- An error ignored for now (`ops ignore`) neither pages nor takes a place in a page budget or a digest; one
            -- whose ignore ran out goes on, and the escalation trigger reopens it (tg_escalations__10_skip_ignored).
            SELECT * FROM jsonb_to_recordset(fired) AS x (
                fingerprint text, code text, source text, phase text, count bigint, window_count bigint,
                window_started_at timestamptz, status text, regression_count integer, first_seen_at timestamptz,
                last_seen_at timestamptz, sample_message text, top_frame text, last_event_id bigint, last_run_id text,
                ignored_until timestamptz, n bigint, reason text, dedupe_key text, escalate_destination text, title text,
                severity text, category text, runbook text, retryable boolean, remediate_kind text)
            WHERE x.status IS DISTINCT FROM 'ignored' OR x.ignored_until <= now()
        ), ruled AS (
            -- The destination's page budget for the code, if any (FixBot codes are never held back).
            SELECT c.*, g.scope, g.window_length, g.max_pages,
                   date_bin(g.window_length, now(), timestamptz '2000-01-01 00:00:00+00') AS window_start,
                   (g.scope IS NOT NULL AND g.window_length IS NOT NULL AND g.max_pages IS NOT NULL) AS limited
            FROM crossings c
            LEFT JOIN LATERAL ops_private.page_digest_rule(c.escalate_destination, c.code) AS g
                ON c.remediate_kind IS DISTINCT FROM 'fixbot'
        ), ranked AS (
            SELECT r.*,
                   row_number() OVER (PARTITION BY r.escalate_destination, r.scope, r.window_start
                                      ORDER BY r.dedupe_key) AS rank_in_batch,
                   count(*) OVER (PARTITION BY r.escalate_destination, r.scope, r.window_start) AS batch_crossings
            FROM ruled r
        ), windows AS (
            -- One upsert per window: the row lock makes concurrent statements take their places in turn.
            INSERT INTO ops.page_windows AS w (destination, scope, window_start, window_end, max_pages, crossings)
            SELECT r.escalate_destination, r.scope, r.window_start, r.window_start + min(r.window_length),
                   min(r.max_pages), count(*)
            FROM ranked r
            WHERE r.limited
            GROUP BY r.escalate_destination, r.scope, r.window_start
            ORDER BY r.escalate_destination, r.scope, r.window_start
            ON CONFLICT (destination, scope, window_start) DO UPDATE SET crossings = w.crossings + excluded.crossings
            RETURNING w.id, w.destination, w.scope, w.window_start, w.window_end, w.max_pages, w.crossings, w.sealed_at
        ), decided AS (
            -- Crossings before this statement's = total - this statement's; the first max_pages of a window
            -- page, and so does any crossing that finds its window's digest already sealed.
            SELECT r.*, w.id AS window_id, w.window_end,
                   (w.id IS NULL OR w.sealed_at IS NOT NULL
                    OR w.crossings - r.batch_crossings + r.rank_in_batch <= w.max_pages) AS paged
            FROM ranked r
            LEFT JOIN windows w ON r.limited AND w.destination = r.escalate_destination AND w.scope = r.scope
                               AND w.window_start = r.window_start
        ), held AS (
            INSERT INTO ops.page_window_items (dedupe_key, window_id, fingerprint, code, reason, count_at, payload)
            SELECT d.dedupe_key, d.window_id, d.fingerprint, d.code, d.reason, d.count,
                   jsonb_build_object(
                       'code', d.code, 'title', d.title, 'severity', d.severity, 'reason', d.reason, 'count', d.count,
                       'first_seen_at', d.first_seen_at, 'last_seen_at', d.last_seen_at, 'source', d.source,
                       'phase', d.phase, 'sample_message', d.sample_message, 'runbook', d.runbook,
                       'fingerprint', d.fingerprint)
            FROM decided d
            WHERE NOT d.paged
            ORDER BY d.dedupe_key
            ON CONFLICT (dedupe_key) DO NOTHING
            RETURNING window_id
        ), digests AS (
            -- The window's digest: one escalation, due when the window closes (exactly one: the dedupe key).
            INSERT INTO ops.escalations (dedupe_key, fingerprint, code, reason, destination, count_at, payload,
                                         next_attempt_at)
            SELECT 'digest:' || d.window_id, 'digest:' || d.window_id, min(d.code), 'digest', d.escalate_destination, 0,
                   jsonb_build_object(
                       'title', CASE WHEN d.scope = '*' THEN 'Similar errors held back by the page budget'
                                     ELSE min(d.title) END,
                       'code', CASE WHEN d.scope = '*' THEN NULL ELSE d.scope END,
                       'scope', d.scope, 'window_id', d.window_id, 'window_start', d.window_start,
                       'window_end', d.window_end, 'max_pages', min(d.max_pages),
                       'severity', max(d.severity), 'runbook', CASE WHEN d.scope = '*' THEN NULL ELSE min(d.runbook) END),
                   d.window_end
            FROM decided d
            WHERE NOT d.paged
            GROUP BY d.window_id, d.escalate_destination, d.scope, d.window_start, d.window_end
            ORDER BY d.window_id
            ON CONFLICT (dedupe_key) DO NOTHING
        ), escalated AS (
            INSERT INTO ops.escalations (dedupe_key, fingerprint, code, reason, destination, count_at, payload)
            SELECT c.dedupe_key, c.fingerprint, c.code, c.reason, c.escalate_destination, c.count,
                   jsonb_build_object(
                       'code', c.code, 'title', c.title, 'severity', c.severity, 'category', c.category,
                       'reason', c.reason, 'count', c.count, 'window_count', c.window_count,
                       'first_seen_at', c.first_seen_at, 'last_seen_at', c.last_seen_at,
                       'source', c.source, 'phase', c.phase, 'sample_message', c.sample_message,
                       'top_frame', c.top_frame, 'runbook', c.runbook, 'retryable', c.retryable,
                       'remediate_kind', c.remediate_kind, 'last_event_id', c.last_event_id,
                       'last_run_id', c.last_run_id, 'fingerprint', c.fingerprint)
                   || CASE WHEN c.window_id IS NULL THEN '{}'::jsonb
                           ELSE jsonb_build_object('page_window', jsonb_build_object(
                               'id', c.window_id, 'window_end', c.window_end, 'max_pages', c.max_pages)) END
            FROM decided c
            WHERE c.paged
            ORDER BY c.dedupe_key
            ON CONFLICT (dedupe_key) DO NOTHING
            RETURNING id, fingerprint, code, payload
        )
        INSERT INTO ops.agent_runs (fingerprint, code, escalation_id, policy_ref, policy_sha256, evidence, metadata)
        SELECT e.fingerprint, e.code, e.id, coalesce(p.path, 'ssot/agents/fixbot_policy.yaml'), p.sha256,
               e.payload - 'remediate_kind',
               jsonb_build_object('variant_id', coalesce(p.detail ->> 'default_variant', 'baseline'))
        FROM escalated e
        JOIN ops.failure_modes fm ON fm.code = e.code AND fm.remediate_kind = 'fixbot'
        LEFT JOIN ops.ssot_state p ON p.name = 'fixbot_policy'
        ORDER BY e.fingerprint
        ON CONFLICT (fingerprint) WHERE status IN ('queued', 'claimed', 'running') DO NOTHING;
    END IF;
    IF created IS NOT NULL THEN
        -- A group this statement created under a fingerprint that a promotion moved (ops.error_aliases, reason
        -- promote): its events were fingerprinted before the promotion committed (a cache entry or alias read
        -- earlier; the upsert then waited for the promotion's row lock). It is moved as the promotion moved the
        -- others (ops_private.move_group), so ingest never recreates a promoted group, and the cache entries that
        -- sent events there are deleted. A new group is the only case: a promoted group's row is gone.
        FOR moving IN
            SELECT al.fingerprint, al.target_fingerprint, al.target_code FROM ops.error_aliases al
            WHERE al.fingerprint = ANY (created) AND al.reason = 'promote'
            ORDER BY al.fingerprint
        LOOP
            PERFORM ops_private.move_group(moving.fingerprint, moving.target_fingerprint, moving.target_code);
        END LOOP;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ops_private.tg_error_events__aggregate() IS
    'AFTER INSERT statement trigger on ops.error_events: upserts ops.agent_errors once per fingerprint, writes one '
    'escalation per threshold/window crossing or regression (unique dedupe key), queues FixBot runs, and holds '
    'back crossings past a destination''s page budget (config.digest) into that window''s digest '
    '(ops.page_windows, ops.page_window_items, one reason=digest escalation due at the window''s end). An error '
    'ignored for now (ops.ignore_error) has no crossing: no page, no place in a budget or digest. A statement '
    'that crosses nothing runs only the upsert; the escalation half runs when a crossing or regression fired. A '
    'group the statement created under a fingerprint a promotion moved meanwhile follows it (ops_private.move_group). A '
    'statement of one row whose group exists under the event''s code updates that row by a plain UPDATE (the ON CONFLICT '
    'rule''s assignments for one event) and decides its crossings in PL/pgSQL (no speculative insertion, aggregate, '
    'sort or join to start); every other statement (a new group, a group kept under another code, two rows or more) '
    'takes one upsert over the transition table. Same rows and escalations either way. Raises nothing of its own.';
