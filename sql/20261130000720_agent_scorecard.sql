-- Scorecards (issue 10): ops.agent_scorecard (per agent type and variant: n, resolved rate with a Wilson 95 %
-- interval, mean score, tiers, outcome funnel) and ops.agent_failure_modes_hit, read by analysts and
-- `ops bench scorecard`.
CREATE VIEW ops.agent_scorecard AS
SELECT b.agent_type,
       b.variant_id,
       b.n,
       b.resolved,
       b.resolved::double precision / b.n AS resolved_rate,
       -- Wilson score interval, 95 % (E. B. Wilson, "Probable inference, the law of succession, and statistical
       -- inference", JASA 22 (1927) 209-212): with p = k/n and z = 1.959963984540054 (the 0.975 normal quantile),
       --   centre = (p + z^2/(2n)) / (1 + z^2/n),  half-width = z / (1 + z^2/n) * sqrt(p(1-p)/n + z^2/(4n^2)).
       -- The same interval as scipy.stats.binomtest(k, n).proportion_ci(method='wilson') (a test checks it).
       greatest(0, w.centre - w.half) AS resolved_ci_low,
       least(1, w.centre + w.half) AS resolved_ci_high,
       b.mean_score,
       b.tier_a, b.tier_b, b.tier_c, b.tier_f,
       b.n AS funnel_dispatched,
       b.no_patch AS funnel_no_patch,
       b.policy_refused AS funnel_policy_refused,
       b.awaiting_ci AS funnel_awaiting_ci,
       b.ci_failed AS funnel_ci_failed,
       b.resolved AS funnel_resolved
FROM (
    SELECT r.agent_type, r.variant_id, count(*) AS n, count(*) FILTER (WHERE r.resolved) AS resolved,
           round(avg(r.score), 2) AS mean_score,
           count(*) FILTER (WHERE r.tier = 'A') AS tier_a, count(*) FILTER (WHERE r.tier = 'B') AS tier_b,
           count(*) FILTER (WHERE r.tier = 'C') AS tier_c, count(*) FILTER (WHERE r.tier = 'F') AS tier_f,
           count(*) FILTER (WHERE r.outcome = 'no_patch') AS no_patch,
           count(*) FILTER (WHERE r.outcome = 'policy_refused') AS policy_refused,
           count(*) FILTER (WHERE r.outcome = 'awaiting_ci') AS awaiting_ci,
           count(*) FILTER (WHERE r.outcome = 'ci_failed') AS ci_failed
    FROM ops.agent_benchmark_results r
    GROUP BY r.agent_type, r.variant_id
) b
CROSS JOIN LATERAL (
    SELECT (p + z * z / (2 * b.n)) / (1 + z * z / b.n) AS centre,
           z / (1 + z * z / b.n) * sqrt(p * (1 - p) / b.n + z * z / (4.0 * b.n * b.n)) AS half
    FROM (SELECT b.resolved::double precision / b.n AS p, 1.959963984540054::double precision AS z) c
) w;
COMMENT ON VIEW ops.agent_scorecard IS
    'Benchmark scorecard per agent type and variant, from ops.agent_benchmark_results: runs, resolved rate with its '
    'Wilson 95 % interval (Wilson 1927), mean score, tier counts and the outcome funnel (`ops bench scorecard`).';
COMMENT ON COLUMN ops.agent_scorecard.agent_type IS 'The kind of agent (ops.agent_runs.agent_type).';
COMMENT ON COLUMN ops.agent_scorecard.variant_id IS 'The variant the runs used.';
COMMENT ON COLUMN ops.agent_scorecard.n IS 'Scored runs.';
COMMENT ON COLUMN ops.agent_scorecard.resolved IS 'Runs resolved (target fixed, nothing previously green broken).';
COMMENT ON COLUMN ops.agent_scorecard.resolved_rate IS 'resolved / n, a fraction in [0, 1].';
COMMENT ON COLUMN ops.agent_scorecard.resolved_ci_low IS 'Lower end of the Wilson 95 % score interval of resolved_rate.';
COMMENT ON COLUMN ops.agent_scorecard.resolved_ci_high IS 'Upper end of the Wilson 95 % score interval of resolved_rate.';
COMMENT ON COLUMN ops.agent_scorecard.mean_score IS 'Mean benchmark score, 0-100, two decimals.';
COMMENT ON COLUMN ops.agent_scorecard.tier_a IS 'Runs in tier A.';
COMMENT ON COLUMN ops.agent_scorecard.tier_b IS 'Runs in tier B.';
COMMENT ON COLUMN ops.agent_scorecard.tier_c IS 'Runs in tier C.';
COMMENT ON COLUMN ops.agent_scorecard.tier_f IS 'Runs in tier F.';
COMMENT ON COLUMN ops.agent_scorecard.funnel_dispatched IS 'Funnel: runs dispatched (all scored runs).';
COMMENT ON COLUMN ops.agent_scorecard.funnel_no_patch IS 'Funnel: runs that ended without a patch.';
COMMENT ON COLUMN ops.agent_scorecard.funnel_policy_refused IS 'Funnel: runs whose patch the FixBot policy refused.';
COMMENT ON COLUMN ops.agent_scorecard.funnel_awaiting_ci IS 'Funnel: runs with a patch and no CI result yet.';
COMMENT ON COLUMN ops.agent_scorecard.funnel_ci_failed IS 'Funnel: runs whose CI results did not resolve the task.';
COMMENT ON COLUMN ops.agent_scorecard.funnel_resolved IS 'Funnel: runs resolved.';

CREATE VIEW ops.agent_failure_modes_hit AS
SELECT r.agent_type, r.variant_id, f.code, count(*) AS runs,
       count(*)::double precision / max(t.n) AS share
FROM ops.agent_benchmark_results r
CROSS JOIN LATERAL unnest(r.failure_modes) AS f (code)
JOIN (SELECT agent_type, variant_id, count(*) AS n FROM ops.agent_benchmark_results GROUP BY agent_type, variant_id) t
  ON (t.agent_type, t.variant_id) = (r.agent_type, r.variant_id)
GROUP BY r.agent_type, r.variant_id, f.code;
COMMENT ON VIEW ops.agent_failure_modes_hit IS
    'Failure modes agent runs hit (errors recorded with the run''s id), per agent type, variant and code.';
COMMENT ON COLUMN ops.agent_failure_modes_hit.agent_type IS 'The kind of agent.';
COMMENT ON COLUMN ops.agent_failure_modes_hit.variant_id IS 'The variant.';
COMMENT ON COLUMN ops.agent_failure_modes_hit.code IS 'The failure-mode code hit.';
COMMENT ON COLUMN ops.agent_failure_modes_hit.runs IS 'Scored runs of the variant that hit the code at least once.';
COMMENT ON COLUMN ops.agent_failure_modes_hit.share IS 'runs / the variant''s scored runs, a fraction in [0, 1].';

GRANT SELECT ON ops.agent_scorecard, ops.agent_failure_modes_hit TO ops_analyst;
