-- Two access fixes.
--
-- 1. Row level security on every table, including the daily partitions of ops.error_events created
--    after the privileges migration ran (its one-time loop could not see them).
-- 2. The list of known sources is readable by the producing roles, so a client can refuse an unknown
--    source before it asks (`ops classify` does, like ingest). The analyst keeps to the views.

CREATE OR REPLACE FUNCTION ops.ensure_error_event_partitions(days_ahead integer DEFAULT 7)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    day date;
    part text;
    created integer := 0;
BEGIN
    -- One maintainer at a time; ingest keeps running (it only takes the default partition's lock briefly).
    PERFORM pg_advisory_xact_lock(hashtext('ops.error_events partitions'));
    FOR day IN SELECT generate_series(current_date - 1, current_date + days_ahead, interval '1 day')::date LOOP
        part := 'error_events_' || to_char(day, 'YYYYMMDD');
        CONTINUE WHEN to_regclass(format('ops_private.%I', part)) IS NOT NULL;
        EXECUTE format('CREATE TABLE ops_private.%I (LIKE ops.error_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
        EXECUTE format('ALTER TABLE ops_private.%I ENABLE ROW LEVEL SECURITY', part);
        PERFORM set_config('ops.maintenance', 'on', true);
        EXECUTE format(
            'WITH moved AS (DELETE FROM ops_private.error_events_default WHERE received_at >= %L AND received_at < %L RETURNING *) '
            'INSERT INTO ops_private.%I SELECT * FROM moved', day, day + 1, part);
        PERFORM set_config('ops.maintenance', 'off', true);
        EXECUTE format('ALTER TABLE ops.error_events ATTACH PARTITION ops_private.%I FOR VALUES FROM (%L) TO (%L)',
                       part, day, day + 1);
        created := created + 1;
    END LOOP;
    RETURN created;
END
$$;
COMMENT ON FUNCTION ops.ensure_error_event_partitions(integer) IS
    'Creates the daily partitions of ops.error_events (row level security on, like every table) from yesterday to '
    'days_ahead days from now, moving any rows the default partition holds for those days. Idempotent; returns how '
    'many partitions it created. Run by migrate, the worker and `ops db maintain`.';

DO $rls$
DECLARE
    t regclass;
BEGIN
    FOR t IN
        SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('ops', 'ops_private') AND c.relkind IN ('r', 'p') AND NOT c.relrowsecurity
    LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
    END LOOP;
END
$rls$;

GRANT SELECT ON ops.sources TO ops_ingest, ops_worker;
CREATE POLICY sources_read ON ops.sources FOR SELECT TO ops_ingest, ops_worker USING (true);
