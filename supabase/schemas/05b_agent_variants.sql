-- Agent variants (ssot/agents/variants.yaml), the variant choice recorded on a FixBot run, and the paired
-- samples `ops bench compare` reads. Grants in 12_privileges.sql.

CREATE TABLE ops.agent_variants (
    id          text PRIMARY KEY,
    agent_type  text NOT NULL,
    parent      text REFERENCES ops.agent_variants (id) DEFERRABLE INITIALLY DEFERRED,
    knob        text CONSTRAINT agent_variants_knob_known
                CHECK (knob IN ('prompt_template', 'retrieval_policy', 'forbidden_path_strictness', 'verification_strictness')),
    value       jsonb,
    multi_knob  text[],
    status      text NOT NULL CONSTRAINT agent_variants_status_known CHECK (status IN ('baseline', 'challenger', 'retired')),
    description text,
    position    integer NOT NULL,
    CONSTRAINT agent_variants_one_knob CHECK (parent IS NULL OR (knob IS NULL) <> (multi_knob IS NULL)),
    -- Checked at commit, so a promotion can swap the baseline within one sync.
    CONSTRAINT agent_variants_one_baseline EXCLUDE (agent_type WITH =) WHERE (status = 'baseline')
        DEFERRABLE INITIALLY DEFERRED
);
COMMENT ON TABLE ops.agent_variants IS
    'Variants of an agent that FixBot dispatch chooses between, synced from ssot/agents/variants.yaml by '
    'ops.sync_agent_variants(). A variant differs from its parent in one knob, or lists its knobs in multi_knob.';
COMMENT ON COLUMN ops.agent_variants.status IS
    'baseline (dispatched by default; one per agent type) | challenger (explored by Thompson sampling) | retired.';
COMMENT ON COLUMN ops.agent_variants.multi_knob IS 'Knobs a variant changes at once: its effect cannot be attributed to one.';

CREATE FUNCTION ops.sync_agent_variants(doc jsonb) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, ops
AS $$
DECLARE
    n_upserted integer;
    n_deleted integer;
    referenced text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('ops ssot sync'));
    -- A variant that runs were dispatched with is history: retire it in the YAML, do not delete it.
    SELECT string_agg(format('variant %s (%s agent runs)', v.id, r.n), '; ' ORDER BY v.id)
    INTO referenced
    FROM ops.agent_variants v
    CROSS JOIN LATERAL (SELECT count(*) AS n FROM ops.agent_runs a WHERE a.metadata ->> 'variant_id' = v.id) r
    WHERE NOT EXISTS (SELECT FROM jsonb_array_elements(doc -> 'variants') w WHERE w ->> 'id' = v.id)
      AND r.n > 0;
    IF referenced IS NOT NULL THEN
        RAISE EXCEPTION 'ssot sync refused: it would delete %, whose history references them', referenced
            USING ERRCODE = 'OPD03', HINT = 'Set the variant''s status to retired in ssot/agents/variants.yaml instead.';
    END IF;

    -- Parent keys are checked at commit, so the order of deletes and upserts does not matter.
    DELETE FROM ops.agent_variants v
    WHERE NOT EXISTS (SELECT FROM jsonb_array_elements(doc -> 'variants') w WHERE w ->> 'id' = v.id);
    GET DIAGNOSTICS n_deleted = ROW_COUNT;

    WITH wanted AS (
        SELECT w.id, w.agent_type, w.parent, w.knob, w.value, w.multi_knob, w.status, w.description, w.position
        FROM jsonb_to_recordset(doc -> 'variants') AS w (
            id text, agent_type text, parent text, knob text, value jsonb, multi_knob text[], status text,
            description text, position integer)
    ), changed AS (
        INSERT INTO ops.agent_variants AS v (id, agent_type, parent, knob, value, multi_knob, status, description, position)
        SELECT * FROM wanted
        ORDER BY id
        ON CONFLICT (id) DO UPDATE SET
            agent_type = excluded.agent_type, parent = excluded.parent, knob = excluded.knob, value = excluded.value,
            multi_knob = excluded.multi_knob, status = excluded.status, description = excluded.description,
            position = excluded.position
        WHERE (v.agent_type, v.parent, v.knob, v.value, v.multi_knob, v.status, v.description, v.position)
              IS DISTINCT FROM (excluded.agent_type, excluded.parent, excluded.knob, excluded.value,
                                excluded.multi_knob, excluded.status, excluded.description, excluded.position)
        RETURNING 1
    )
    SELECT count(*) INTO n_upserted FROM changed;

    INSERT INTO ops.ssot_state AS s (name, path, sha256, detail, synced_at)
    VALUES ('variants', doc ->> 'path', doc ->> 'sha256',
            jsonb_build_object('exploration_share', (doc ->> 'exploration_share')::numeric), now())
    ON CONFLICT (name) DO UPDATE SET path = excluded.path, sha256 = excluded.sha256, detail = excluded.detail,
                                     synced_at = excluded.synced_at
    WHERE (s.path, s.sha256, s.detail) IS DISTINCT FROM (excluded.path, excluded.sha256, excluded.detail);

    RETURN jsonb_build_object('agent_variants', n_upserted + n_deleted);
END
$$;
COMMENT ON FUNCTION ops.sync_agent_variants(jsonb) IS
    'Makes ops.agent_variants equal to ssot/agents/variants.yaml (doc: {path, sha256, exploration_share, '
    'variants: [{id, agent_type, parent, knob, value, multi_knob, status, description, position}]}) and records the '
    'file in ops.ssot_state (name variants, detail.exploration_share). Idempotent; returns {agent_variants: rows '
    'changed}. Raises OPD03 rather than delete a variant that agent runs reference. Called by `ops ssot sync` in the '
    'same transaction as ops.sync_ssot().';
REVOKE ALL ON FUNCTION ops.sync_agent_variants(jsonb) FROM PUBLIC;

CREATE FUNCTION ops.record_variant_choice(run_id bigint, variant_id text, choice jsonb)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    run ops.agent_runs;
    variant ops.agent_variants;
BEGIN
    SELECT * INTO run FROM ops.agent_runs r WHERE r.id = record_variant_choice.run_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no agent run %', record_variant_choice.run_id USING ERRCODE = 'OP004';
    END IF;
    -- The first choice stands: a retried dispatch runs the variant it was given.
    IF run.metadata ? 'variant_choice' THEN
        RETURN run.metadata;
    END IF;
    IF run.status NOT IN ('queued', 'claimed') THEN
        RAISE EXCEPTION 'agent run % is %: a variant is chosen before it is dispatched', run.id, run.status
            USING ERRCODE = 'OP001', COLUMN = 'status';
    END IF;
    SELECT * INTO variant FROM ops.agent_variants v WHERE v.id = record_variant_choice.variant_id;
    IF NOT FOUND OR variant.status = 'retired' THEN
        RAISE EXCEPTION 'variant "%" is not a dispatchable variant (ssot/agents/variants.yaml)', record_variant_choice.variant_id
            USING ERRCODE = 'OP001', COLUMN = 'variant_id';
    END IF;
    UPDATE ops.agent_runs r
    SET metadata = r.metadata || jsonb_build_object('variant_id', variant.id, 'variant_choice', record_variant_choice.choice),
        updated_at = now()
    WHERE r.id = run.id
    RETURNING r.metadata INTO run.metadata;
    RETURN run.metadata;
END
$$;
COMMENT ON FUNCTION ops.record_variant_choice(bigint, text, jsonb) IS
    'Records the variant a FixBot run is dispatched with and how it was chosen (choice: {policy, seed, share, '
    'explore_draw, posteriors, thompson_draws, p_best}) in agent_runs.metadata (variant_id, variant_choice). The '
    'first choice stands (idempotent on retry); returns the run''s metadata. Raises OP004 for an unknown run, OP001 '
    'for a run already dispatched or a retired/unknown variant.';
REVOKE ALL ON FUNCTION ops.record_variant_choice(bigint, text, jsonb) FROM PUBLIC;

CREATE VIEW ops.variant_lineage AS
WITH RECURSIVE chain AS (
    SELECT v.id, v.id AS ancestor, v.parent, ARRAY[]::text[] AS knobs, 0 AS depth
    FROM ops.agent_variants v
    UNION ALL
    SELECT c.id, p.id, p.parent,
           c.knobs || coalesce(a.multi_knob, ARRAY[a.knob]),
           c.depth + 1
    FROM chain c
    JOIN ops.agent_variants a ON a.id = c.ancestor
    JOIN ops.agent_variants p ON p.id = a.parent
    WHERE c.depth < 64
)
SELECT v.id, v.agent_type, v.parent, v.knob, v.value, v.multi_knob, v.status, v.description,
       r.ancestor AS root, r.knobs AS knobs_from_root, r.depth
FROM ops.agent_variants v
JOIN chain r ON r.id = v.id AND r.parent IS NULL;
COMMENT ON VIEW ops.variant_lineage IS
    'Each agent variant with its root (the variant without a parent) and the knobs changed on the way from the root '
    '(knobs_from_root, nearest first; a multi-knob step contributes all its knobs). Two variants differ in the knobs '
    'not shared by their paths: `ops bench compare` flags comparisons that differ in more than one.';
COMMENT ON COLUMN ops.variant_lineage.id IS 'The variant (ssot/agents/variants.yaml id).';
COMMENT ON COLUMN ops.variant_lineage.agent_type IS 'The agent the variant configures (fixbot).';
COMMENT ON COLUMN ops.variant_lineage.parent IS 'The variant it was derived from; NULL for a root.';
COMMENT ON COLUMN ops.variant_lineage.knob IS 'The one knob it changes from its parent, unless multi_knob.';
COMMENT ON COLUMN ops.variant_lineage.value IS 'The knob''s value in this variant.';
COMMENT ON COLUMN ops.variant_lineage.multi_knob IS 'The knobs it changes at once, when more than one (declared).';
COMMENT ON COLUMN ops.variant_lineage.status IS 'baseline | challenger | retired.';
COMMENT ON COLUMN ops.variant_lineage.description IS 'What the variant does differently, in words.';
COMMENT ON COLUMN ops.variant_lineage.root IS 'The variant without a parent this one descends from.';
COMMENT ON COLUMN ops.variant_lineage.knobs_from_root IS 'Knobs changed on the way from the root, nearest first.';
COMMENT ON COLUMN ops.variant_lineage.depth IS 'Steps from the root (0 for the root).';

CREATE FUNCTION ops.variant_posteriors(code text, agent_type text DEFAULT 'fixbot')
RETURNS TABLE (variant_id text, status text, resolved bigint, failed bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, ops
BEGIN ATOMIC
    SELECT v.id, v.status,
           count(r.run_id) FILTER (WHERE r.resolved),
           count(r.run_id) FILTER (WHERE NOT r.resolved)
    FROM ops.agent_variants v
    LEFT JOIN ops.agent_benchmark_results r
           ON r.variant_id = v.id AND r.agent_type = v.agent_type AND r.code = variant_posteriors.code
          AND r.outcome NOT IN ('dispatched', 'awaiting_ci')
    WHERE v.agent_type = variant_posteriors.agent_type AND v.status <> 'retired'
    GROUP BY v.id, v.status, v.position
    ORDER BY v.position;
END;
COMMENT ON FUNCTION ops.variant_posteriors(text, text) IS
    'The dispatchable variants of an agent type (baseline and challengers) with their scored runs on one failure '
    'mode: resolved and failed (not resolved) counts of decided runs (outcome neither dispatched nor awaiting_ci), the sufficient statistics of a Beta(1 + resolved, 1 + failed) '
    'posterior of the resolved rate (uniform prior). Rows in variants.yaml order. Read by the worker''s Thompson '
    'sampling (worker/learn/variants.py).';
REVOKE ALL ON FUNCTION ops.variant_posteriors(text, text) FROM PUBLIC;

CREATE FUNCTION ops.variant_pairs(baseline text, variant text)
RETURNS TABLE (task_id text, baseline_runs bigint, variant_runs bigint, baseline_resolved boolean,
               variant_resolved boolean, baseline_score numeric, variant_score numeric)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, ops
BEGIN ATOMIC
    WITH per_task AS (
        SELECT r.task_id, r.variant_id, count(*) AS runs,
               count(*) FILTER (WHERE r.resolved) * 2 > count(*) AS resolved,
               avg(r.score) AS score
        FROM ops.agent_benchmark_results r
        WHERE r.variant_id IN (variant_pairs.baseline, variant_pairs.variant)
          AND r.outcome NOT IN ('dispatched', 'awaiting_ci')
        GROUP BY r.task_id, r.variant_id
    )
    SELECT b.task_id, b.runs, v.runs, b.resolved, v.resolved, b.score, v.score
    FROM per_task b
    JOIN per_task v ON v.task_id = b.task_id AND v.variant_id = variant_pairs.variant
    WHERE b.variant_id = variant_pairs.baseline
    ORDER BY b.task_id;
END;
COMMENT ON FUNCTION ops.variant_pairs(text, text) IS
    'The tasks both variants ran (decided runs in ops.agent_benchmark_results: outcome neither dispatched nor '
    'awaiting_ci), one row per task: runs per side, '
    'resolved per side (the majority of that side''s runs resolved it; a tie is not resolved) and mean score (0-100). '
    'The paired sample of `ops bench compare` (worker/learn/compare.py).';
REVOKE ALL ON FUNCTION ops.variant_pairs(text, text) FROM PUBLIC;

CREATE FUNCTION ops.variant_record(variant text)
RETURNS TABLE (runs bigint, resolved bigint, mean_score numeric, tier text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, ops
BEGIN ATOMIC
    WITH rec AS (
        SELECT count(*) AS runs, count(*) FILTER (WHERE r.resolved) AS resolved, avg(r.score) AS mean_score
        FROM ops.agent_benchmark_results r
        WHERE r.variant_id = variant_record.variant AND r.outcome NOT IN ('dispatched', 'awaiting_ci')
    )
    SELECT rec.runs, rec.resolved, rec.mean_score,
           (SELECT t ->> 'tier'
            FROM ops.ssot_state s, jsonb_array_elements(s.detail -> 'tiers') WITH ORDINALITY AS x (t, i)
            WHERE s.name = 'benchmark' AND rec.mean_score >= (t ->> 'min_score')::numeric
            ORDER BY x.i LIMIT 1)
    FROM rec;
END;
COMMENT ON FUNCTION ops.variant_record(text) IS
    'One variant''s decided runs over all tasks: runs, resolved, mean score (0-100) and the tier of the mean score '
    '(the first of benchmark.yaml''s tiers whose min_score it reaches; requires_resolved applies to single runs, not '
    'to a mean). What `ops bench promote` holds to the promotion rules (min_runs, min_tier).';
REVOKE ALL ON FUNCTION ops.variant_record(text) FROM PUBLIC;
