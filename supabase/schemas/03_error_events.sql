-- Error events: the raw occurrences, append-only, partitioned by day (a default partition catches
-- anything outside the daily ones), and the functions that create and retire the daily partitions.

CREATE SEQUENCE ops.error_events_id_seq AS bigint;

CREATE TABLE ops.error_events (
    id                  bigint NOT NULL DEFAULT nextval('ops.error_events_id_seq'),
    received_at         timestamptz NOT NULL DEFAULT now(),
    occurred_at         timestamptz,
    source              text NOT NULL,
    phase               text,
    message             text NOT NULL,
    top_frame           text,
    run_id              text,
    correlation_id      text,
    origin              text,
    context             jsonb NOT NULL DEFAULT '{}',
    message_length      integer,
    truncated           boolean NOT NULL DEFAULT false,
    code                text,
    confidence          real,
    matched_pattern     text,
    fingerprint         text,
    fingerprint_version smallint,
    event_key           text,
    truncated_fields    text[] NOT NULL DEFAULT '{}',
    CONSTRAINT error_events_pkey PRIMARY KEY (id, received_at)
) PARTITION BY RANGE (received_at);
ALTER SEQUENCE ops.error_events_id_seq OWNED BY ops.error_events.id;

COMMENT ON TABLE ops.error_events IS
    'Raw error occurrences, redacted and classified on insert, append-only, partitioned by day. INSERT here or call '
    'ops.record_error(): both redact, classify, fingerprint, count into ops.agent_errors and escalate.';
COMMENT ON COLUMN ops.error_events.message IS
    'Redacted message. Above 32768 characters the middle is cut out and replaced by a "[… N characters truncated …]" marker.';
COMMENT ON COLUMN ops.error_events.message_length IS 'Length in characters of the message as received, before truncation.';
COMMENT ON COLUMN ops.error_events.code IS
    'Failure-mode code: from ops.classify_error(), or the code given by the producer when it exists in the taxonomy.';
COMMENT ON COLUMN ops.error_events.event_key IS
    'Optional idempotency key from the producer (like Sentry''s event_id; 1..200 characters). A second event with '
    'the same key is not stored. Keys are global: producers should use UUIDs or prefix them with their name.';
COMMENT ON COLUMN ops.error_events.truncated_fields IS
    'Names of the fields that were shortened on ingest (message, phase, top_frame, run_id, correlation_id, origin, '
    'context). Empty when nothing was cut.';

CREATE TABLE ops_private.error_events_default PARTITION OF ops.error_events DEFAULT;

CREATE INDEX error_events_fingerprint_received_idx ON ops.error_events (fingerprint, received_at);
CREATE INDEX error_events_code_received_idx ON ops.error_events (code, received_at);
-- Scoring (ops.score_agent_runs) finds the errors an agent run hit by run_id.
CREATE INDEX error_events_run_idx ON ops.error_events (run_id) WHERE run_id IS NOT NULL;

CREATE FUNCTION ops.ensure_error_event_partitions(days_ahead integer DEFAULT 7)
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

CREATE FUNCTION ops.drop_error_event_partitions(older_than interval DEFAULT interval '90 days',
                                                confirm_zero boolean DEFAULT false,
                                                dry_run boolean DEFAULT false)
RETURNS TABLE (partition_name text, day date, row_count bigint, dropped boolean)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    part record;
    cutoff date;
    n bigint;
BEGIN
    IF older_than IS NULL THEN
        RAISE EXCEPTION 'older_than must be given (how old a day''s events must be to be dropped, e.g. interval ''90 days'')'
            USING ERRCODE = 'OPD01', COLUMN = 'older_than';
    END IF;
    IF older_than < interval '0' THEN
        RAISE EXCEPTION 'older_than must not be negative, not %: a negative retention would drop today''s and future events',
                        older_than
            USING ERRCODE = 'OPD01', COLUMN = 'older_than',
                  HINT = 'Retention keeps events younger than older_than, e.g. interval ''90 days''.';
    END IF;
    IF older_than < interval '1 day' AND NOT coalesce(confirm_zero, false) THEN
        RAISE EXCEPTION 'older_than % is less than one day: it drops every partition before today; pass confirm_zero => true to mean it',
                        older_than
            USING ERRCODE = 'OPD02', COLUMN = 'confirm_zero';
    END IF;
    -- Never today's or a future partition, whatever the interval.
    cutoff := least((now() - older_than)::date, current_date);
    PERFORM pg_advisory_xact_lock(hashtext('ops.error_events partitions'));
    FOR part IN
        SELECT c.relname::text AS relname, to_date(substr(c.relname, 14), 'YYYYMMDD') AS d
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'ops.error_events'::regclass
          AND c.relname ~ '^error_events_[0-9]{8}$'
          AND to_date(substr(c.relname, 14), 'YYYYMMDD') + 1 <= cutoff
          AND to_date(substr(c.relname, 14), 'YYYYMMDD') < current_date
        ORDER BY 2
    LOOP
        EXECUTE format('SELECT count(*) FROM ops_private.%I', part.relname) INTO n;
        IF NOT coalesce(dry_run, false) THEN
            EXECUTE format('DROP TABLE ops_private.%I', part.relname);
        END IF;
        partition_name := part.relname;
        day := part.d;
        row_count := n;
        dropped := NOT coalesce(dry_run, false);
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION ops.drop_error_event_partitions(interval, boolean, boolean) IS
    'Retention: drops the daily partitions of ops.error_events whose whole day is older than older_than (default 90 '
    'days). Returns one row per partition (partition_name, day, row_count: rows it held, dropped: false in a dry '
    'run). Never drops today''s or a future partition, nor the default partition. Raises OPD01 for a NULL or negative '
    'older_than, OPD02 for less than one day unless confirm_zero => true. dry_run => true lists what would go and '
    'drops nothing.';

SELECT ops.ensure_error_event_partitions();
