-- Unit CI in SQL: the snapshot, the checks, the run record, convergence and the registry.
BEGIN;
SELECT plan(27);

-- A tiny snapshot: a chain whose council protects BECK-02, who owns no step; a fragment in a cycle with itself.
CREATE TEMP TABLE t_run AS
SELECT ops.begin_unit_ci(kind => 'unit_ci', scope => 'pgtap', council => NULL, paths => ARRAY['pgtap'],
    units => $$[
      {"address": "strat://dev/chain/boot@1.0.0", "name": "strat://dev/chain/boot", "domain": "dev", "type": "chain",
       "slug": "boot", "version": "1.0.0", "major": 1, "minor": 0, "patch": 0, "status": "draft",
       "computed": "blake3:0000000000000000000000000000000000000000000000000000000000000000",
       "council": "council/p", "file": "boot.yaml", "line": 1, "lines": {"steps": [12]},
       "doc": {"council": "council/p", "composition": {"steps": [
           {"id": "step-01", "unit": "strat://dev/fragment/self@0.1.0", "agent": "SOL-01", "requires": ["deploy"]}]}}},
      {"address": "strat://dev/fragment/self@0.1.0", "name": "strat://dev/fragment/self", "domain": "dev",
       "type": "fragment", "slug": "self", "version": "0.1.0", "major": 0, "minor": 1, "patch": 0, "status": "draft",
       "computed": "blake3:1111111111111111111111111111111111111111111111111111111111111111",
       "file": "self.yaml", "line": 1, "lines": {"imports": [7, 8]},
       "doc": {"imports": ["strat://dev/fragment/self@0.1.0", "strat://dev/fragment/ghost@1.0.0"]}}
    ]$$::jsonb,
    councils => $$[{"id": "council/p", "domain": "dev", "version": "1.0.0", "file": "c.yaml", "line": 1,
       "doc": {"agents": [{"designation": "SOL-01", "capabilities": ["plan"], "gate_authority": true},
                          {"designation": "BECK-02", "capabilities": ["review", "deploy"]}],
               "protectedAgents": {"dev": ["BECK-02"]}}}]$$::jsonb) AS id;

SELECT is((SELECT count(*)::int FROM ops.unit_snapshot WHERE run_id = (SELECT id FROM t_run)), 2,
    'ops.begin_unit_ci stores every unit of the snapshot in one call');
SELECT is((SELECT count(*)::int FROM ops.unit_snapshot_edges WHERE run_id = (SELECT id FROM t_run)), 3,
    'imports and step units become edges of the snapshot');
SELECT is((SELECT line FROM ops.unit_snapshot_edges WHERE run_id = (SELECT id FROM t_run) AND to_address LIKE '%ghost%'), 8,
    'each edge keeps the line of its reference');
SELECT is_empty($$ SELECT * FROM ops.check_fingerprints((SELECT id FROM t_run)) $$,
    'FM-01 finds nothing when no fingerprint is declared on draft units');
SELECT is((SELECT message FROM ops.check_broken_imports((SELECT id FROM t_run))),
    'strat://dev/fragment/self@0.1.0 imports strat://dev/fragment/ghost@1.0.0, which resolves to no unit in the paths or the registry',
    'FM-02 names the importer and the address that resolves to nothing');
SELECT is((SELECT details -> 'cycle' FROM ops.check_dag_cycles((SELECT id FROM t_run))),
    '["strat://dev/fragment/self@0.1.0", "strat://dev/fragment/self@0.1.0"]'::jsonb,
    'FM-03 reports a self-import as a closed path whose first node is its last');
SELECT is((SELECT details -> 'blocked' FROM ops.check_dag_cycles((SELECT id FROM t_run))), '["strat://dev/fragment/ghost@1.0.0"]'::jsonb,
    'FM-03 explains the leftover: what the cycle imports cannot be ordered either (the chain above it can)');
SELECT is((SELECT details ->> 'agent' FROM ops.check_protected_agents((SELECT id FROM t_run))), 'BECK-02',
    'FM-04 finds the protected agent that owns no step');
SELECT is((SELECT details -> 'missing' FROM ops.check_capabilities((SELECT id FROM t_run))), '["deploy"]'::jsonb,
    'FM-09 finds the capability the step requires and its agent lacks');
SELECT is((SELECT details -> 'candidates' FROM ops.check_capabilities((SELECT id FROM t_run))), '["BECK-02"]'::jsonb,
    'FM-09 names the agents that could own the step instead');
SELECT is(ops_private.bump_kind(0, 3, 0, 0, 4, 0), 'major', 'at 0.x a minor bump counts as a major bump');
SELECT is((SELECT array_agg(bump || ':' || change ORDER BY change) FROM ops_private.contract_changes(
        '{"inputs": [{"name": "a", "type": "string"}], "outputs": [{"name": "o", "type": "string"}]}',
        '{"inputs": [{"name": "b", "type": "int", "required": true}], "outputs": [{"name": "o", "type": "string"}, {"name": "p", "type": "x"}]}')),
    ARRAY['major:input a removed', 'minor:new output p', 'major:new required input b'],
    'contract changes are classified as major or minor');

SELECT is((SELECT array_agg(bump || ':' || change) FROM ops_private.contract_changes(
        '{"inputs": [{"name": "d", "type": "int", "required": false, "default": 1}]}',
        '{"inputs": [{"name": "d", "type": "int", "required": true, "default": 1}]}')),
    ARRAY['major:input d made required'],
    'an optional input made required is major even when it keeps its default');
SELECT is(ARRAY[ops_private.version_is_1_or_later('1.0.0-alpha'), ops_private.version_is_1_or_later('1.0.0'),
                ops_private.version_is_1_or_later('1.0.1-rc.1'), ops_private.version_is_1_or_later('0.9.9'),
                ops_private.version_is_1_or_later('2.0.0+build.7')],
    ARRAY[false, true, true, false, true],
    'versions compare with 1.0.0 by semver precedence: a pre-release of 1.0.0 is below it');
SELECT is(ops_private.release_version((SELECT id FROM t_run), 'strat://dev/chain/boot', '1.0.0', 'patch'), '1.0.0',
    'an unreleased version can carry a fix as it is');
SELECT is(ops_private.next_council_version('1.4.2'), '1.5.0', 'a council with a granted capability ships as the next minor');
SELECT is((SELECT fix FROM ops.check_capabilities((SELECT id FROM t_run))),
    'assign step-01 to BECK-02 (has deploy) and keep version 1.0.0 (it is not released yet); or grant deploy to SOL-01 in council/p and release the council as 1.1.0',
    'FM-09''s fix names the agent, the chain version and the council version');
SELECT is((SELECT fix FROM ops.check_dag_cycles((SELECT id FROM t_run))),
    'remove the reference strat://dev/fragment/self@0.1.0 → strat://dev/fragment/self@0.1.0 (self.yaml:7) and keep version 0.1.0 (it is not released yet)',
    'FM-03''s fix names the reference to remove, where it is written and the version');
SELECT is((SELECT details -> 'blast_radius' -> 'edges' FROM ops.check_protected_agents((SELECT id FROM t_run))), '[]'::jsonb,
    'FM-04 carries the blast radius of the chain (nothing depends on it here)');
SELECT is((SELECT count(*)::int FROM ops_private.blast_summaries((SELECT id FROM t_run),
        ARRAY['strat://dev/fragment/self@0.1.0', 'strat://dev/chain/boot@1.0.0', NULL, 'strat://dev/fragment/self@0.1.0'])), 2,
    'ops_private.blast_summaries gives one row per distinct unit (NULLs and repeats ignored)');
SELECT is((SELECT summary -> 'dependents' FROM ops_private.blast_summaries((SELECT id FROM t_run),
        ARRAY['strat://dev/fragment/self@0.1.0']) WHERE unit = 'strat://dev/fragment/self@0.1.0'),
    '[{"address": "strat://dev/chain/boot@1.0.0", "depth": 1, "gate_bearing": false, "protected": false}]'::jsonb,
    'the chain whose step uses the fragment is in the fragment''s radius (its own import of itself is not)');
SELECT is((SELECT jsonb_object_agg(unit, summary) FROM ops_private.blast_summaries((SELECT id FROM t_run),
        ARRAY['strat://dev/fragment/self@0.1.0', 'strat://dev/chain/boot@1.0.0'])),
    (SELECT jsonb_object_agg(u, ops_private.blast_summary((SELECT id FROM t_run), u))
     FROM unnest(ARRAY['strat://dev/fragment/self@0.1.0', 'strat://dev/chain/boot@1.0.0']) AS u),
    'searched together, each radius is the one ops_private.blast_summary gives alone');

-- The whole run: exit code 3 (FM-02 outranks the blocking findings), snapshot dropped, convergence written.
SELECT is((SELECT count(*)::int FROM ops.run_unit_checks((SELECT id FROM t_run)) WHERE kind = 'check'), 8,
    'ops.run_unit_checks records one event per check');
SELECT is((SELECT exit_code FROM ops.maintenance_runs WHERE id = (SELECT id FROM t_run)), 3,
    'a broken import outranks a cycle and blocking findings: exit 3');
SELECT is((SELECT count(*)::int FROM ops.convergence_findings WHERE scope = 'pgtap' AND status = 'open'), 4,
    'every blocking or critical finding is an open convergence finding');
SELECT is((SELECT severity FROM ops.maintenance_run_events WHERE run_id = (SELECT id FROM t_run) AND kind = 'check'
            AND check_alias = 'FM-03'), 'critical', 'a failing check records the worst severity of its findings');
SELECT throws_ok($$ SELECT ops.deprecate_unit('strat://dev/role/none@1.0.0', 'why') $$, 'OP004', NULL,
    'deprecating a unit that was never published is refused');

SELECT * FROM finish();
ROLLBACK;
