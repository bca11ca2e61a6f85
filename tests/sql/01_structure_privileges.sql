-- Structure, privileges, RLS and documentation of the ops schema.
BEGIN;
SELECT plan(28);

SELECT has_schema('ops', 'the ops schema exists');
SELECT has_schema('ops_private', 'the private schema for internals exists');
SELECT tables_are('ops', ARRAY['sources', 'destinations', 'failure_modes', 'failure_mode_patterns', 'redaction_rules',
    'ssot_state', 'error_events', 'agent_errors', 'escalations', 'agent_runs', 'work_items', 'github_issue_links',
    'error_aliases', 'page_windows', 'page_window_items', 'maintenance_runs', 'maintenance_run_events', 'convergence_findings', 'unit_snapshot', 'unit_snapshot_edges',
    'council_snapshot', 'unit_baselines', 'published_units', 'published_unit_edges', 'error_status_changes',
    'agent_run_outcomes', 'agent_benchmark_results', 'classifier_models', 'dataset_exports', 'agent_variants'],
    'ops holds exactly the documented tables');
SELECT views_are('ops', ARRAY['failure_mode_summary', 'error_trend_daily', 'top_errors', 'unknown_triage',
    'pending_escalations', 'dispatch_queue', 'dispatch_stats', 'error_groups', 'error_event_log',
    'error_escalation_log', 'error_agent_run_log', 'error_status_log', 'report_error_daily', 'report_error_changes',
    'report_resolution_times', 'report_agent_runs', 'report_unit_checks', 'report_open_findings',
    'agent_scorecard', 'agent_failure_modes_hit', 'variant_lineage', 'gate_findings', 'classifier_model_files'],
    'ops holds exactly the analysts'' views');
SELECT columns_are('ops', 'agent_errors', ARRAY['fingerprint', 'fingerprint_version', 'code', 'source', 'phase',
    'count', 'first_seen_at', 'last_seen_at', 'status', 'confidence', 'matched_pattern', 'sample_message', 'top_frame',
    'last_event_id', 'last_run_id', 'last_correlation_id', 'window_started_at', 'window_count', 'regression_count',
    'resolved_at', 'resolution_ref', 'resolved_by', 'resolution_sha256', 'ignored_until'], 'ops.agent_errors has the contract columns and nothing unexpected');
SELECT is((SELECT relkind::text FROM pg_class WHERE oid = 'ops.error_events'::regclass), 'p',
    'ops.error_events is a partitioned table');
SELECT ok((SELECT count(*) FROM pg_inherits WHERE inhparent = 'ops.error_events'::regclass) >= 9,
    'daily partitions exist from yesterday to a week ahead, plus the default partition');
SELECT function_returns('ops', 'classify_error', ARRAY['text', 'text', 'text'], 'setof record',
    'ops.classify_error(source, phase, message) returns rows');
SELECT has_function('ops', 'record_error',
    ARRAY['text', 'text', 'text', 'text', 'text', 'text', 'text', 'jsonb', 'timestamptz', 'text'],
    'ops.record_error has the ingest signature');
SELECT has_function('ops', 'error_fingerprint', ARRAY['text', 'text', 'text', 'text', 'text'],
    'ops.error_fingerprint(source, phase, code, message, top_frame) exists');
SELECT has_function('ops', 'code_group_fingerprint', ARRAY['text', 'text', 'text'],
    'ops.code_group_fingerprint(source, phase, code) gives a code''s one group its fingerprint');

SELECT ok(ops.ensure_error_event_partitions(40) > 0, 'maintenance creates partitions further ahead');
SELECT is_empty($$
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname IN ('ops', 'ops_private') AND c.relkind IN ('r', 'p') AND NOT c.relrowsecurity
$$, 'row level security is enabled on every table, partitions created later included');

SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname IN ('ops', 'ops_private') AND has_function_privilege('public', p.oid, 'EXECUTE')
$$, 'no function in ops or ops_private is executable by PUBLIC');

SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname IN ('ops', 'ops_private') AND p.prosecdef
      AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')
$$, 'every SECURITY DEFINER function pins its search_path');

SELECT is_empty($$
    SELECT c.relname || ':' || r.rolname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    CROSS JOIN (VALUES ('anon'), ('authenticated'), ('public')) AS r (rolname)
    WHERE n.nspname IN ('ops', 'ops_private') AND c.relkind IN ('r', 'p', 'v', 'S')
      AND (CASE WHEN r.rolname = 'public'
               THEN EXISTS (SELECT FROM aclexplode(c.relacl) a WHERE a.grantee = 0)
               ELSE has_table_privilege(r.rolname, c.oid, 'SELECT, INSERT, UPDATE, DELETE') END)
$$, 'nothing in ops is granted to anon, authenticated or PUBLIC');

SELECT ok(NOT has_schema_privilege('anon', 'ops', 'USAGE'), 'anon cannot even use the ops schema');
SELECT ok(NOT has_schema_privilege('ops_ingest', 'ops_private', 'USAGE'), 'no role but the owner uses ops_private');

-- The ingest role: record errors, nothing else.
SELECT ok(has_function_privilege('ops_ingest', 'ops.record_error(text,text,text,text,text,text,text,jsonb,timestamptz,text)', 'EXECUTE'),
    'ops_ingest may call ops.record_error');
SELECT ok(has_any_column_privilege('ops_ingest', 'ops.error_events', 'INSERT'), 'ops_ingest may insert raw events');
SELECT ok(NOT has_table_privilege('ops_ingest', 'ops.error_events', 'SELECT'), 'ops_ingest cannot read events back');
SELECT ok(NOT has_table_privilege('ops_ingest', 'ops.agent_errors', 'SELECT, INSERT, UPDATE'),
    'ops_ingest cannot touch ops.agent_errors');

-- The analyst role: views only.
SELECT ok(has_table_privilege('ops_analyst', 'ops.top_errors', 'SELECT'), 'ops_analyst reads the views');
SELECT is_empty($$
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'ops' AND c.relkind IN ('r', 'p') AND has_table_privilege('ops_analyst', c.oid, 'SELECT')
$$, 'ops_analyst reads no table directly');

-- The worker: the outbox, not the taxonomy's write side.
SELECT ok(NOT has_table_privilege('ops_worker', 'ops.escalations', 'UPDATE'),
    'ops_worker changes escalations only through the fenced protocol functions (10_least_privilege.sql)');
SELECT ok(NOT has_table_privilege('ops_worker', 'ops.failure_modes', 'INSERT, UPDATE, DELETE'),
    'ops_worker cannot change the taxonomy');

-- Documentation: analysts read \d+, so every view, view column and public function has a comment.
SELECT is_empty($$
    SELECT c.relname || coalesce('.' || a.attname, '') FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE n.nspname = 'ops' AND c.relkind = 'v'
      AND obj_description(c.oid, 'pg_class') IS NULL OR (a.attname IS NOT NULL AND c.relkind = 'v'
          AND n.nspname = 'ops' AND col_description(c.oid, a.attnum) IS NULL)
$$, 'every view and every view column in ops has a comment');
SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'ops' AND obj_description(p.oid, 'pg_proc') IS NULL
$$, 'every function in ops has a comment');

SELECT * FROM finish();
ROLLBACK;
