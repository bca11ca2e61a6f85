-- Unit CI checks, FM-01..FM-09 in order (FM-08 is publish code in Python, worker/units/). Every check
-- returns ops.unit_finding rows; `key` says what the finding is about, stably across runs.

CREATE FUNCTION ops.check_fingerprints(p_run bigint)
RETURNS SETOF ops.unit_finding
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT 'FM-01', 'UNIT.FINGERPRINT_TAMPER', 'critical', s.address, s.file, (s.lines ->> 'fingerprint')::integer,
           format('%s declares %s but its content hashes to %s', s.address, s.fingerprint, s.computed_fingerprint),
           CASE WHEN ops_private.release_version(p_run, s.name, s.version, 'patch') = s.version
                THEN format('if the edit is intended, run `stratt fingerprint --update %s` and keep version %s (it is not '
                            'released yet); otherwise restore the content that hashes to %s', s.file, s.version, s.fingerprint)
                ELSE format('restore the released content of %s (it hashes to %s), or put the edit in a new version: '
                            'set version %s and run `stratt fingerprint --update %s`', s.address,
                            coalesce((SELECT p.fingerprint FROM ops.published_units p WHERE p.address = s.address),
                                     s.fingerprint),
                            ops_private.release_version(p_run, s.name, s.version, 'patch'), s.file) END,
           s.name || '|mismatch',
           jsonb_build_object('declared', s.fingerprint, 'computed', s.computed_fingerprint,
                              'release_as', ops_private.release_version(p_run, s.name, s.version, 'patch'))
    FROM ops.unit_snapshot s
    WHERE s.run_id = p_run AND s.fingerprint IS NOT NULL AND s.fingerprint <> s.computed_fingerprint
    UNION ALL
    SELECT 'FM-01', 'UNIT.FINGERPRINT_TAMPER', 'critical', s.address, s.file, (s.lines ->> 'status')::integer,
           format('%s has status %s but no fingerprint', s.address, s.status),
           CASE WHEN p.fingerprint = s.computed_fingerprint
                THEN format('run `stratt fingerprint --update %s`: it writes %s, which is what the registry holds for %s',
                            s.file, s.computed_fingerprint, s.address)
                WHEN p.fingerprint IS NOT NULL
                THEN format('%s is published as %s and this content differs: restore it and run `stratt fingerprint '
                            '--update %s`, or set version %s and run it', s.address, p.fingerprint, s.file,
                            ops_private.release_version(p_run, s.name, s.version, 'patch'))
                ELSE format('run `stratt fingerprint --update %s` (writes %s) and keep version %s, which is not '
                            'published yet; or set status: draft', s.file, s.computed_fingerprint, s.version) END,
           s.name || '|missing',
           jsonb_build_object('status', s.status, 'computed', s.computed_fingerprint, 'published', p.fingerprint)
    FROM ops.unit_snapshot s
    LEFT JOIN ops.published_units p ON p.address = s.address
    WHERE s.run_id = p_run AND s.fingerprint IS NULL AND s.status IN ('review', 'stable', 'deprecated')
    UNION ALL
    SELECT 'FM-01', 'UNIT.FINGERPRINT_TAMPER', 'critical', s.address, s.file, e.line,
           format('%s %s %s, whose status is tampered', s.address,
                  CASE e.kind WHEN 'import' THEN 'imports' ELSE 'runs (' || e.step_id || ')' END, e.to_address),
           CASE WHEN ok.address IS NOT NULL
                THEN format('reference %s instead (the highest version of it that is not tampered or tombstoned; check '
                            'it with `stratt verify %s`), then release %s: %s', ok.address, ok.address, s.name,
                            ops_private.release_phrase(p_run, s.name, s.version, 'patch'))
                ELSE format('no untampered version of %s exists: its owner must republish it as %s after `stratt verify`; '
                            'then reference that version', u.name,
                            ops_private.release_version(p_run, u.name, split_part(u.address, '@', 2), 'patch')) END,
           s.name || '|imports-tampered|' || e.to_address,
           jsonb_build_object('target', e.to_address, 'target_origin', u.origin, 'alternative', ok.address)
    FROM ops.unit_snapshot s
    JOIN ops.unit_snapshot_edges e ON e.run_id = s.run_id AND e.from_address = s.address
    JOIN ops_private.unit_universe(p_run) u ON u.address = e.to_address
    LEFT JOIN LATERAL (
        SELECT v.address FROM ops_private.unit_universe(p_run) v
        WHERE v.name = u.name AND v.status NOT IN ('tampered', 'tombstoned')
        ORDER BY v.major DESC, v.minor DESC, v.patch DESC, v.address DESC
        LIMIT 1
    ) ok ON true
    WHERE s.run_id = p_run AND u.status = 'tampered';
END;
COMMENT ON FUNCTION ops.check_fingerprints(bigint) IS
    'FM-01 (critical): a declared fingerprint that differs from the computed one, a review/stable/deprecated unit '
    'without a fingerprint, and any reference to a unit whose status is tampered. Each fix names the version to '
    'keep, release or reference.';

CREATE FUNCTION ops.check_broken_imports(p_run bigint)
RETURNS SETOF ops.unit_finding
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT 'FM-02', 'UNIT.BROKEN_IMPORT', 'critical', s.address, s.file, e.line,
           CASE WHEN u.address IS NULL
                THEN format('%s %s %s, which resolves to no unit in the paths or the registry', s.address,
                            CASE e.kind WHEN 'import' THEN 'imports' ELSE 'runs (' || e.step_id || ')' END, e.to_address)
                ELSE format('%s %s %s, which is tombstoned', s.address,
                            CASE e.kind WHEN 'import' THEN 'imports' ELSE 'runs (' || e.step_id || ')' END, e.to_address)
           END,
           CASE WHEN avail.versions IS NULL
                THEN format('publish %s or remove the reference', e.to_address)
                ELSE format('reference an existing version of %s (%s) or publish %s',
                            ops_private.unit_name(e.to_address), array_to_string(avail.versions, ', '), e.to_address)
           END,
           s.name || '|' || e.kind || '|' || e.to_address,
           jsonb_build_object('target', e.to_address, 'kind', e.kind, 'step', e.step_id,
                              'tombstoned', u.address IS NOT NULL, 'available', to_jsonb(avail.versions))
    FROM ops.unit_snapshot s
    JOIN ops.unit_snapshot_edges e ON e.run_id = s.run_id AND e.from_address = s.address
    LEFT JOIN ops_private.unit_universe(p_run) u ON u.address = e.to_address
    LEFT JOIN LATERAL (
        SELECT array_agg(split_part(v.address, '@', 2) ORDER BY v.major, v.minor, v.patch) AS versions
        FROM ops_private.unit_universe(p_run) v
        WHERE v.name = ops_private.unit_name(e.to_address) AND v.status <> 'tombstoned'
    ) avail ON u.address IS NULL OR u.status = 'tombstoned'
    WHERE s.run_id = p_run AND (u.address IS NULL OR u.status = 'tombstoned');
END;
COMMENT ON FUNCTION ops.check_broken_imports(bigint) IS
    'FM-02 (critical): an import or a step unit that resolves (exact version) to no unit in the paths or the '
    'registry, or to a tombstoned one. The finding lists the versions that do exist.';

CREATE FUNCTION ops.check_dag_cycles(p_run bigint)
RETURNS SETOF ops.unit_finding
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, ops
AS $$
-- Kahn's algorithm orders the graph; whatever it cannot order is in a cycle or behind one. Tarjan's
-- algorithm (iterative) splits that leftover into strongly connected components; each cyclic one is
-- reported as a closed walk from its smallest address through every member and back, reached with
-- breadth-first searches that visit neighbours in address order, so the report is deterministic.
DECLARE
    finding ops.unit_finding;
    names text[];
    src integer[];
    dst integer[];
    n integer;
    m integer;
    off integer[];
    indeg integer[];
    queue integer[];
    head integer := 1;
    tail integer := 0;
    v integer;
    w integer;
    ordered integer := 0;
    -- Tarjan
    idx integer[];
    low integer[];
    onstack boolean[];
    stack integer[];
    sp integer := 0;
    frames integer[];
    fptr integer[];
    fp integer := 0;
    counter integer := 0;
    comp integer[];
    comp_of integer[];
    ncomp integer := 0;
    cyclic boolean;
    blocked text[] := ARRAY[]::text[];
    walk integer[];
    members integer[];
    cur integer;
    target integer;
    path integer[];
    prev integer[];
    bq integer[];
    bh integer;
    bt integer;
    reached boolean;
    closed text[];
    loc_unit text;
    loc_name text;
    loc_version text;
    loc_file text;
    loc_line integer;
    loc_to text;
    hop integer;
    in_cycle boolean[];
    leftover integer := 0;
BEGIN
    WITH e AS (
        SELECT DISTINCT g.from_address AS a, g.to_address AS b FROM ops_private.unit_graph(p_run) g
    ), nodes AS (
        SELECT x.a, row_number() OVER (ORDER BY x.a COLLATE "C")::integer AS i
        FROM (SELECT e.a FROM e UNION SELECT e.b FROM e) x
    )
    SELECT (SELECT array_agg(nodes.a ORDER BY nodes.i) FROM nodes)::text[],
           array_agg(na.i ORDER BY na.i, nb.i)::integer[], array_agg(nb.i ORDER BY na.i, nb.i)::integer[]
    INTO names, src, dst
    FROM e JOIN nodes na ON na.a = e.a JOIN nodes nb ON nb.a = e.b;
    n := coalesce(array_length(names, 1), 0);
    m := coalesce(array_length(src, 1), 0);
    IF m = 0 THEN
        RETURN;
    END IF;
    -- Compressed adjacency: the targets of v are dst[off[v] .. off[v+1]-1], in address order.
    off := array_fill(0, ARRAY[n + 1]);
    indeg := array_fill(0, ARRAY[n]);
    FOR i IN 1..m LOOP
        off[src[i] + 1] := off[src[i] + 1] + 1;
        indeg[dst[i]] := indeg[dst[i]] + 1;
    END LOOP;
    off[1] := 1;
    FOR i IN 2..n + 1 LOOP
        off[i] := off[i] + off[i - 1];
    END LOOP;

    -- Kahn
    queue := array_fill(0, ARRAY[n]);
    FOR v IN 1..n LOOP
        IF indeg[v] = 0 THEN
            tail := tail + 1;
            queue[tail] := v;
        END IF;
    END LOOP;
    WHILE head <= tail LOOP
        v := queue[head];
        head := head + 1;
        ordered := ordered + 1;
        FOR j IN off[v]..off[v + 1] - 1 LOOP
            w := dst[j];
            indeg[w] := indeg[w] - 1;
            IF indeg[w] = 0 THEN
                tail := tail + 1;
                queue[tail] := w;
            END IF;
        END LOOP;
    END LOOP;
    IF ordered = n THEN
        RETURN;
    END IF;

    -- Tarjan over the leftover (nodes Kahn could not order: indeg > 0).
    idx := array_fill(NULL::integer, ARRAY[n]);
    low := array_fill(NULL::integer, ARRAY[n]);
    onstack := array_fill(false, ARRAY[n]);
    comp_of := array_fill(0, ARRAY[n]);
    in_cycle := array_fill(false, ARRAY[n]);
    stack := array_fill(0, ARRAY[n]);
    frames := array_fill(0, ARRAY[n]);
    fptr := array_fill(0, ARRAY[n]);
    FOR v IN 1..n LOOP
        CONTINUE WHEN indeg[v] = 0 OR idx[v] IS NOT NULL;
        counter := counter + 1;
        idx[v] := counter; low[v] := counter;
        sp := sp + 1; stack[sp] := v; onstack[v] := true;
        fp := 1; frames[1] := v; fptr[1] := off[v];
        WHILE fp > 0 LOOP
            cur := frames[fp];
            IF fptr[fp] < off[cur + 1] THEN
                w := dst[fptr[fp]];
                fptr[fp] := fptr[fp] + 1;
                CONTINUE WHEN indeg[w] = 0;
                IF idx[w] IS NULL THEN
                    counter := counter + 1;
                    idx[w] := counter; low[w] := counter;
                    sp := sp + 1; stack[sp] := w; onstack[w] := true;
                    fp := fp + 1; frames[fp] := w; fptr[fp] := off[w];
                ELSIF onstack[w] THEN
                    low[cur] := least(low[cur], idx[w]);
                END IF;
            ELSE
                fp := fp - 1;
                IF low[cur] = idx[cur] THEN
                    ncomp := ncomp + 1;
                    comp := '{}';
                    LOOP
                        w := stack[sp]; sp := sp - 1; onstack[w] := false;
                        comp_of[w] := ncomp;
                        comp := comp || w;
                        EXIT WHEN w = cur;
                    END LOOP;
                    cyclic := array_length(comp, 1) > 1;
                    IF NOT cyclic THEN
                        FOR j IN off[cur]..off[cur + 1] - 1 LOOP
                            IF dst[j] = cur THEN cyclic := true; END IF;
                        END LOOP;
                    END IF;
                    IF cyclic THEN
                        FOREACH w IN ARRAY comp LOOP in_cycle[w] := true; END LOOP;
                    END IF;
                END IF;
                IF fp > 0 THEN
                    low[frames[fp]] := least(low[frames[fp]], low[cur]);
                END IF;
            END IF;
        END LOOP;
    END LOOP;

    FOR v IN 1..n LOOP
        IF indeg[v] > 0 THEN
            leftover := leftover + 1;
            IF NOT in_cycle[v] THEN blocked := blocked || names[v]; END IF;
        END IF;
    END LOOP;

    -- One finding per cyclic component, in order of its smallest member.
    FOR i IN 1..ncomp LOOP
        members := ARRAY(SELECT x FROM generate_series(1, n) x WHERE comp_of[x] = i AND in_cycle[x] ORDER BY x);
        CONTINUE WHEN coalesce(array_length(members, 1), 0) = 0;
        walk := ARRAY[members[1]];
        cur := members[1];
        -- Visit every member in order, then return to the start: shortest paths inside the component.
        FOR j IN 2..array_length(members, 1) + 1 LOOP
            IF j <= array_length(members, 1) THEN
                target := members[j];
                CONTINUE WHEN target = ANY (walk);
            ELSE
                target := members[1];
            END IF;
            prev := array_fill(0, ARRAY[n]);
            bq := array_fill(0, ARRAY[n]);
            bh := 1; bt := 1; bq[1] := cur; prev[cur] := -1;
            reached := false;
            WHILE bh <= bt AND NOT reached LOOP
                v := bq[bh]; bh := bh + 1;
                FOR k IN off[v]..off[v + 1] - 1 LOOP
                    w := dst[k];
                    CONTINUE WHEN comp_of[w] <> i;
                    IF w = target THEN
                        path := ARRAY[w];
                        hop := v;
                        WHILE hop <> cur LOOP path := hop || path; hop := prev[hop]; END LOOP;
                        walk := walk || path;
                        reached := true;
                        EXIT;
                    END IF;
                    IF prev[w] = 0 THEN
                        prev[w] := v; bt := bt + 1; bq[bt] := w;
                    END IF;
                END LOOP;
            END LOOP;
            cur := target;
        END LOOP;
        closed := ARRAY(SELECT names[x] FROM unnest(walk) x);
        -- The finding sits on the first reference of the walk that a scanned file makes: the registry is
        -- immutable, so that is where the cycle can be broken, and its unit is the one to release.
        loc_unit := NULL;
        FOR k IN 1..array_length(closed, 1) - 1 LOOP
            SELECT s.address, s.name, s.version, s.file, g.line, g.to_address
            INTO loc_unit, loc_name, loc_version, loc_file, loc_line, loc_to
            FROM ops.unit_snapshot_edges g
            JOIN ops.unit_snapshot s ON s.run_id = g.run_id AND s.address = g.from_address
            WHERE g.run_id = p_run AND g.from_address = closed[k] AND g.to_address = closed[k + 1]
            ORDER BY g.line NULLS LAST LIMIT 1;
            EXIT WHEN loc_unit IS NOT NULL;
        END LOOP;
        -- Only cycles that the paths take part in are ours to report; the registry alone is immutable.
        CONTINUE WHEN loc_unit IS NULL;
        finding := ROW('FM-03', 'UNIT.DAG_CYCLE', 'critical', loc_unit, loc_file, loc_line,
            CASE WHEN array_length(closed, 1) = 2
                 THEN format('%s references itself', closed[1])
                 ELSE 'reference cycle: ' || array_to_string(closed, ' → ') END,
            format('remove the reference %s → %s (%s:%s) and %s', loc_unit, loc_to, loc_file, coalesce(loc_line, 1),
                   ops_private.release_phrase(p_run, loc_name, loc_version, 'minor')),
            array_to_string(ARRAY(SELECT names[x] FROM unnest(members) x), ','),
            jsonb_build_object('cycle', to_jsonb(closed),
                               'members', to_jsonb(ARRAY(SELECT names[x] FROM unnest(members) x)),
                               'unordered', leftover, 'ordered', ordered, 'blocked', to_jsonb(blocked),
                               'broken_at', jsonb_build_object('from', loc_unit, 'to', loc_to)));
        RETURN NEXT finding;
    END LOOP;
END
$$;
COMMENT ON FUNCTION ops.check_dag_cycles(bigint) IS
    'FM-03 (critical): cycles among imports and step references, self-references included. Kahn''s algorithm '
    'orders the graph; every strongly connected component of what is left is reported as a closed walk (first = '
    'last), with the units blocked behind cycles listed in details.blocked. The finding sits on the first reference '
    'of the walk made by a scanned file (details.broken_at), and the fix names the version to release that unit as.';

CREATE FUNCTION ops.check_protected_agents(p_run bigint, p_council text DEFAULT NULL)
RETURNS SETOF ops.unit_finding
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT 'FM-04', 'UNIT.PROTECTED_AGENT_MISSING',
           CASE WHEN ov.ok THEN 'warning' ELSE 'blocking' END,
           s.address, s.file, (s.lines ->> 'composition')::integer,
           CASE WHEN ov.ok
                THEN format('%s has no step owned by protected agent %s (%s); override approved by %s: %s',
                            s.address, d.designation, c.council_id, ov.approved_by, ov.reason)
                WHEN ov.approved_by IS NOT NULL
                THEN format('%s has no step owned by protected agent %s (%s); the override names %s, who has no gate authority',
                            s.address, d.designation, c.council_id, ov.approved_by)
                ELSE format('%s has no step owned by protected agent %s (%s, domain %s)',
                            s.address, d.designation, c.council_id, s.domain)
           END,
           CASE WHEN prior.step IS NOT NULL
                THEN format('restore %s (%s runs %s, as in %s) and %s', prior.step ->> 'id', d.designation,
                            prior.step ->> 'unit', prior.address, ops_private.release_phrase(p_run, s.name, s.version, 'patch'))
                ELSE format('add a step owned by %s to the composition and %s', d.designation,
                            ops_private.release_phrase(p_run, s.name, s.version, 'patch')) END
           || format('; or record overrides: [{check: FM-04, agent: %s, reason, approved_by: one of %s}]', d.designation,
                     coalesce((SELECT string_agg(a ->> 'designation', ', ' ORDER BY a ->> 'designation')
                               FROM jsonb_array_elements(coalesce(c.doc -> 'agents', '[]')) a
                               WHERE coalesce((a ->> 'gate_authority')::boolean, false)), 'no agent (none has gate authority)')),
           s.name || '|' || d.designation,
           jsonb_build_object('agent', d.designation, 'council', c.council_id, 'domain', s.domain,
                              'override', ov.ok, 'approved_by', ov.approved_by, 'restore_from', prior.address,
                              'restore', prior.step,
                              'release_as', ops_private.release_version(p_run, s.name, s.version, 'patch'),
                              'blast_radius', ops_private.blast_summary(p_run, s.address))
    FROM ops.unit_snapshot s
    JOIN ops.council_snapshot c ON c.run_id = s.run_id AND c.council_id = s.council
    CROSS JOIN LATERAL jsonb_array_elements_text(coalesce(c.doc -> 'protectedAgents' -> s.domain, '[]')) AS d (designation)
    LEFT JOIN LATERAL (
        SELECT o ->> 'approved_by' AS approved_by, o ->> 'reason' AS reason,
               EXISTS (SELECT FROM jsonb_array_elements(c.doc -> 'agents') a
                       WHERE a ->> 'designation' = o ->> 'approved_by' AND (a ->> 'gate_authority')::boolean) AS ok
        FROM jsonb_array_elements(coalesce(s.doc -> 'overrides', '[]')) o
        WHERE o ->> 'check' = 'FM-04' AND o ->> 'agent' = d.designation
        ORDER BY 3 DESC
        LIMIT 1
    ) ov ON true
    -- Where the protected agent's step can be restored from: the baseline version, else the released version of
    -- this very address (a chain edited in place).
    LEFT JOIN ops_private.unit_baseline(p_run) b ON b.address = s.address
    LEFT JOIN ops.published_units pub ON pub.address = s.address
    LEFT JOIN LATERAL (
        SELECT x.address, st AS step
        FROM (VALUES (1, b.base_address, b.base_doc), (2, pub.address, pub.document)) AS x (pos, address, doc)
        CROSS JOIN LATERAL jsonb_array_elements(coalesce(x.doc -> 'composition' -> 'steps', '[]')) st
        WHERE x.address IS NOT NULL AND st ->> 'agent' = d.designation
        ORDER BY x.pos
        LIMIT 1
    ) prior ON true
    WHERE s.run_id = p_run AND s.type = 'chain' AND (p_council IS NULL OR s.council = p_council)
      AND NOT EXISTS (SELECT FROM jsonb_array_elements(coalesce(s.doc -> 'composition' -> 'steps', '[]')) st
                      WHERE st ->> 'agent' = d.designation);
END;
COMMENT ON FUNCTION ops.check_protected_agents(bigint, text) IS
    'FM-04 (blocking): a chain of domain D (of the given council, or any) with no step owned by one of '
    'protectedAgents[D], whatever the steps'' status. An override approved by a gate-authority agent makes it a warning. '
    'The fix names the baseline step to restore and the version to release; details.blast_radius has the dependents.';

CREATE FUNCTION ops.check_gates(p_run bigint)
RETURNS SETOF ops.unit_finding
LANGUAGE sql STABLE
BEGIN ATOMIC
    -- Baseline gates are matched one to one: first by step id (the same id is still a gate), then the rest by
    -- agent and unit name against current gates that keep no baseline gate by id (a renumbered or moved gate).
    -- Whatever stays unmatched was removed.
    WITH chains AS (
        SELECT s.address, s.name, s.file, s.lines, s.version, s.major, s.minor, s.patch, s.doc,
               b.base_address, b.base_version, b.base_major, b.base_minor, b.base_patch, b.base_doc, b.origin
        FROM ops.unit_snapshot s
        JOIN ops_private.unit_baseline(p_run) b ON b.address = s.address
        WHERE s.run_id = p_run AND s.type = 'chain'
          AND ops_private.bump_kind(b.base_major, b.base_minor, b.base_patch, s.major, s.minor, s.patch) <> 'major'
    ), base_gates AS (
        SELECT ch.address, bs.step, bs.step ->> 'id' AS id, bs.step ->> 'agent' AS agent,
               ops_private.unit_name(bs.step ->> 'unit') AS unit_name, bs.ord
        FROM chains ch
        CROSS JOIN LATERAL jsonb_array_elements(coalesce(ch.base_doc -> 'composition' -> 'steps', '[]'))
             WITH ORDINALITY AS bs (step, ord)
        WHERE coalesce((bs.step ->> 'gate')::boolean, false)
    ), cur_gates AS (
        SELECT ch.address, st.step ->> 'id' AS id, st.step ->> 'agent' AS agent,
               ops_private.unit_name(st.step ->> 'unit') AS unit_name
        FROM chains ch
        CROSS JOIN LATERAL jsonb_array_elements(coalesce(ch.doc -> 'composition' -> 'steps', '[]')) AS st (step)
        WHERE coalesce((st.step ->> 'gate')::boolean, false)
    ), unkept AS (
        SELECT g.*, row_number() OVER (PARTITION BY g.address, g.agent, g.unit_name ORDER BY g.ord) AS rank
        FROM base_gates g
        WHERE NOT EXISTS (SELECT FROM cur_gates c WHERE c.address = g.address AND c.id = g.id)
    ), removed AS (
        SELECT u.* FROM unkept u
        WHERE u.rank > (SELECT count(*) FROM cur_gates c
                        WHERE c.address = u.address AND c.agent = u.agent AND c.unit_name = u.unit_name
                          AND NOT EXISTS (SELECT FROM base_gates g WHERE g.address = c.address AND g.id = c.id))
    )
    SELECT 'FM-05', 'UNIT.GATE_REMOVED', 'blocking', ch.address, ch.file,
           coalesce((ch.lines -> 'steps' ->> (cs.ord::integer - 1))::integer, (ch.lines ->> 'composition')::integer),
           format('gate step %s (%s, %s) of %s %s in %s without a major bump (%s → %s)',
                  r.id, r.agent, r.step ->> 'unit', ch.base_address,
                  CASE WHEN cs.step IS NULL THEN 'is gone' ELSE 'is no longer a gate' END,
                  ch.version, ch.base_version, ch.version),
           format('%s, or release the chain as %s (removing a gate needs a major version)',
                  CASE WHEN cs.step IS NULL
                       THEN format('restore %s (%s runs %s, gate: true)', r.id, r.agent, r.step ->> 'unit')
                       ELSE format('set gate: true on %s again', r.id) END,
                  ops_private.next_version(ch.base_major, ch.base_minor, ch.base_patch, 'major')),
           ch.name || '|' || r.id,
           jsonb_build_object('baseline', ch.base_address, 'baseline_origin', ch.origin, 'step', r.step,
                              'removed', cs.step IS NULL,
                              'required_version', ops_private.next_version(ch.base_major, ch.base_minor, ch.base_patch, 'major'),
                              'blast_radius', ops_private.blast_summary(p_run, ch.address))
    FROM removed r
    JOIN chains ch ON ch.address = r.address
    LEFT JOIN LATERAL (
        SELECT st.step, st.ord FROM jsonb_array_elements(coalesce(ch.doc -> 'composition' -> 'steps', '[]'))
               WITH ORDINALITY AS st (step, ord)
        WHERE st.step ->> 'id' = r.id
        LIMIT 1
    ) cs ON true
    ORDER BY ch.address, r.ord;
END;
COMMENT ON FUNCTION ops.check_gates(bigint) IS
    'FM-05 (blocking): against the baseline version (--against, else the highest published version below), a step '
    'that had gate: true is gone or no longer a gate and the major version did not increase (0.x: minor counts as major). '
    'Baseline gates match current ones one to one, by step id, else by agent and unit name (a renumbered gate is kept).';

CREATE FUNCTION ops.check_contracts(p_run bigint)
RETURNS SETOF ops.unit_finding
LANGUAGE sql STABLE
BEGIN ATOMIC
    WITH diff AS (
        SELECT s.address, s.name, s.file, (s.lines ->> 'contract')::integer AS line, s.version, b.base_address,
               b.base_version, b.base_major, b.base_minor, b.base_patch, b.origin,
               ops_private.bump_kind(b.base_major, b.base_minor, b.base_patch, s.major, s.minor, s.patch) AS made,
               ch.changes, ch.needed
        FROM ops.unit_snapshot s
        JOIN ops_private.unit_baseline(p_run) b ON b.address = s.address
        CROSS JOIN LATERAL (
            SELECT array_agg(c.change ORDER BY c.bump, c.change) AS changes,
                   CASE WHEN bool_or(c.bump = 'major') THEN 'major' WHEN bool_or(c.bump = 'minor') THEN 'minor' END AS needed
            FROM ops_private.contract_changes(b.base_doc -> 'contract', s.doc -> 'contract') c
        ) ch
        WHERE s.run_id = p_run AND s.doc ? 'contract' AND ch.needed IS NOT NULL
    ), judged AS (
        SELECT d.*, ops_private.next_version(d.base_major, d.base_minor, d.base_patch, d.needed) AS required
        FROM diff d
        WHERE (CASE d.needed WHEN 'major' THEN 3 ELSE 2 END)
            > (CASE d.made WHEN 'major' THEN 3 WHEN 'minor' THEN 2 WHEN 'patch' THEN 1 ELSE 0 END)
    )
    SELECT 'FM-06', 'UNIT.CONTRACT_BREAKING', 'blocking', j.address, j.file, j.line,
           format('contract change needs a %s bump from %s (%s) but %s → %s is %s; blast radius: %s direct, %s transitive, %s gate-bearing, %s protected',
                  j.needed, j.base_version, array_to_string(j.changes, '; '), j.base_version, j.version,
                  CASE j.made WHEN 'none' THEN 'no bump' ELSE 'a ' || j.made || ' bump' END,
                  br.summary ->> 'direct', br.summary ->> 'transitive', br.summary ->> 'gate_bearing',
                  br.summary ->> 'protected'),
           format('release as %s (or undo: %s)', j.required, array_to_string(j.changes, '; ')),
           j.name || '|contract',
           jsonb_build_object('baseline', j.base_address, 'baseline_origin', j.origin, 'changes', to_jsonb(j.changes),
                              'needed', j.needed, 'made', j.made, 'required_version', j.required,
                              'blast_radius', br.summary)
    FROM judged j
    -- The radii of all findings in one search (ops_private.blast_summaries), not one search per finding.
    JOIN ops_private.blast_summaries(p_run, ARRAY(SELECT k.address FROM judged k)) br ON br.unit = j.address;
END;
COMMENT ON FUNCTION ops.check_contracts(bigint) IS
    'FM-06 (blocking): a contract change that needs a bigger bump than was made (major: input removed, optional '
    'made required (default or not), new required input without default, a type changed, output removed; minor: new '
    'optional input, new output, new failure mode). Names the required version and the blast radius with its edges.';

CREATE FUNCTION ops.check_draft_isolation(p_run bigint)
RETURNS SETOF ops.unit_finding
LANGUAGE sql STABLE
BEGIN ATOMIC
    -- The hits first (MATERIALIZED): the lookups for a better version to reference run for them only, not
    -- for every unit of the universe (10,000 units: 1.8 s, or minutes with a plan made before ANALYZE).
    WITH h AS MATERIALIZED (
        SELECT s.address AS s_address, s.name AS s_name,
               s.status AS s_status, s.version AS s_version, s.file AS s_file, e.line AS e_line, e.kind AS e_kind,
               e.to_address AS e_to_address, u.address AS u_address, u.name AS u_name, u.status AS u_status,
               u.major AS u_major, u.minor AS u_minor, u.patch AS u_patch, u.doc AS u_doc
        FROM ops.unit_snapshot s
        JOIN ops.unit_snapshot_edges e ON e.run_id = s.run_id AND e.from_address = s.address
        JOIN ops_private.unit_universe(p_run) u ON u.address = e.to_address
        WHERE s.run_id = p_run
          -- The importers the check is about (both messages): stable, or 1.0.0 or later by precedence and not draft.
          AND (s.status = 'stable' OR (ops_private.version_is_1_or_later(s.version) AND s.status <> 'draft'))
          AND (u.status = 'deprecated'
               OR ((NOT ops_private.version_is_1_or_later(split_part(e.to_address, '@', 2)) OR u.status IN ('draft', 'review'))
                   AND u.status NOT IN ('tombstoned', 'tampered')))
    )
    SELECT 'FM-07', 'UNIT.DRAFT_ISOLATION', 'warning', h.s_address, h.s_file, h.e_line,
           CASE WHEN h.u_status = 'deprecated'
                THEN format('%s %s %s, which is deprecated%s', h.s_address,
                            CASE h.e_kind WHEN 'import' THEN 'imports' ELSE 'runs' END, h.e_to_address,
                            coalesce(' (successor ' || succ.named || ')', ''))
                ELSE format('%s %s (%s) %s %s, which is %s', h.s_address, h.s_status, h.s_version,
                            CASE h.e_kind WHEN 'import' THEN 'imports' ELSE 'runs' END, h.e_to_address,
                            CASE WHEN h.u_status IN ('draft', 'review') THEN h.u_status ELSE 'pre-1.0' END)
           END,
           CASE WHEN h.u_status = 'deprecated' AND coalesce(succ.named, newer.address) IS NOT NULL
                THEN format('reference %s instead of %s (%s), then release %s: %s', coalesce(succ.named, newer.address),
                            h.e_to_address, CASE WHEN succ.named IS NOT NULL THEN 'its named successor'
                                               ELSE 'the newest version that is not deprecated' END,
                            h.s_name, ops_private.release_phrase(p_run, h.s_name, h.s_version, 'patch'))
                WHEN h.u_status = 'deprecated'
                THEN format('%s names no successor and no newer version of %s exists: ask its owner for one, or keep '
                            'the reference and waive this warning until it is released', h.e_to_address, h.u_name)
                WHEN stable.address IS NOT NULL
                THEN format('reference %s (the highest stable version at or above 1.0.0) instead of %s, then release %s: %s',
                            stable.address, h.e_to_address, h.s_name, ops_private.release_phrase(p_run, h.s_name, h.s_version, 'patch'))
                ELSE format('no stable 1.0.0+ version of %s exists: release it as %s with status stable and reference '
                            'that, or set %s to status: draft', h.u_name,
                            CASE WHEN h.u_major = 0 THEN '1.0.0' ELSE ops_private.release_version(p_run, h.u_name,
                                 split_part(h.u_address, '@', 2), 'patch') END, h.s_address)
           END,
           h.s_name || '|' || h.e_to_address,
           jsonb_build_object('target', h.e_to_address, 'target_status', h.u_status, 'target_version',
                              split_part(h.e_to_address, '@', 2), 'deprecated', h.u_status = 'deprecated',
                              'use_instead', CASE WHEN h.u_status = 'deprecated' THEN coalesce(succ.named, newer.address)
                                                  ELSE stable.address END)
    FROM h
    LEFT JOIN LATERAL (
        SELECT coalesce(h.u_doc -> 'deprecation' ->> 'successor',
                        (SELECT p.successor FROM ops.published_units p WHERE p.address = h.u_address)) AS named
    ) succ ON h.u_status = 'deprecated'
    LEFT JOIN LATERAL (
        SELECT v.address FROM ops_private.unit_universe(p_run) v
        WHERE v.name = h.u_name AND v.status NOT IN ('deprecated', 'tombstoned', 'tampered')
          AND (v.major, v.minor, v.patch) > (h.u_major, h.u_minor, h.u_patch)
        ORDER BY v.major DESC, v.minor DESC, v.patch DESC, v.address DESC
        LIMIT 1
    ) newer ON h.u_status = 'deprecated'
    LEFT JOIN LATERAL (
        SELECT v.address FROM ops_private.unit_universe(p_run) v
        WHERE v.name = h.u_name AND v.status = 'stable' AND ops_private.version_is_1_or_later(split_part(v.address, '@', 2))
        ORDER BY v.major DESC, v.minor DESC, v.patch DESC, v.address DESC
        LIMIT 1
    ) stable ON h.u_status <> 'deprecated';
END;
COMMENT ON FUNCTION ops.check_draft_isolation(bigint) IS
    'FM-07 (warning): a stable unit (or any non-draft unit at 1.0.0 or later by semver precedence, so not 1.0.0-alpha) '
    'references a unit below 1.0.0 or with status draft/review; referencing a deprecated unit is reported by the same '
    'check, for the same importers, with its own message. The fix names the version to reference instead.';

CREATE FUNCTION ops.check_capabilities(p_run bigint, p_council text DEFAULT NULL)
RETURNS SETOF ops.unit_finding
LANGUAGE sql STABLE
BEGIN ATOMIC
    WITH chains AS (
        SELECT s.* FROM ops.unit_snapshot s
        WHERE s.run_id = p_run AND s.type = 'chain' AND (p_council IS NULL OR s.council = p_council)
    ), steps AS (
        SELECT ch.address, ch.name, ch.version, ch.file, ch.council, c.doc AS council_doc, c.version AS council_version,
               st.step, st.ord,
               (ch.lines -> 'steps' ->> (st.ord::integer - 1))::integer AS line,
               ARRAY(SELECT DISTINCT x FROM unnest(
                   ops_private.step_capabilities(st.step)
                   || ARRAY(SELECT jsonb_array_elements_text(coalesce(u.doc -> 'requires' -> 'capabilities', '[]'))
                            FROM ops_private.unit_universe(p_run) u WHERE u.address = st.step ->> 'unit')) x
                   ORDER BY x) AS required,
               (SELECT a FROM jsonb_array_elements(c.doc -> 'agents') a WHERE a ->> 'designation' = st.step ->> 'agent'
                LIMIT 1) AS agent
        FROM chains ch
        JOIN ops.council_snapshot c ON c.run_id = p_run AND c.council_id = ch.council
        CROSS JOIN LATERAL jsonb_array_elements(coalesce(ch.doc -> 'composition' -> 'steps', '[]')) WITH ORDINALITY AS st (step, ord)
    ), judged AS (
        SELECT s.*, ARRAY(SELECT x FROM unnest(s.required) x
                          WHERE NOT coalesce(s.agent -> 'capabilities', '[]') ? x ORDER BY x) AS missing
        FROM steps s
    )
    SELECT 'FM-09', 'UNIT.CAPABILITY_MISSING', 'blocking', ch.address, ch.file, (ch.lines ->> 'council')::integer,
           format('%s names %s, which is not in the paths', ch.address, ch.council),
           format('pass the directory that holds %s to `stratt ci` next to the units: councils are read from the paths '
                  'only (they are not published), so there is no version of it to pin', ch.council),
           ch.name || '|council|' || ch.council,
           jsonb_build_object('council', ch.council)
    FROM chains ch
    WHERE NOT EXISTS (SELECT FROM ops.council_snapshot c WHERE c.run_id = p_run AND c.council_id = ch.council)
    UNION ALL
    SELECT 'FM-09', 'UNIT.CAPABILITY_MISSING', 'blocking', j.address, j.file, j.line,
           CASE WHEN j.agent IS NULL
                THEN format('%s step %s: agent %s is not in %s', j.address, j.step ->> 'id', j.step ->> 'agent', j.council)
                ELSE format('%s step %s: agent %s lacks %s', j.address, j.step ->> 'id', j.step ->> 'agent',
                            array_to_string(j.missing, ', '))
           END,
           CASE WHEN cand.agents IS NOT NULL
                THEN format('assign %s to %s (has %s) and %s; or ', j.step ->> 'id', array_to_string(cand.agents, ' or '),
                            coalesce(nullif(array_to_string(j.required, ', '), ''), 'no special capability'),
                            ops_private.release_phrase(p_run, j.name, j.version, 'patch'))
                ELSE format('no agent of %s has %s: ', j.council, array_to_string(j.required, ', ')) END
           || CASE WHEN j.agent IS NULL
                   THEN format('add %s to %s with %s and release the council as %s', j.step ->> 'agent', j.council,
                               coalesce(nullif(array_to_string(j.required, ', '), ''), 'its capabilities'),
                               ops_private.next_council_version(j.council_version))
                   ELSE format('grant %s to %s in %s and release the council as %s', array_to_string(j.missing, ', '),
                               j.step ->> 'agent', j.council, ops_private.next_council_version(j.council_version)) END,
           j.name || '|' || (j.step ->> 'id') || '|' || (j.step ->> 'agent'),
           jsonb_build_object('step', j.step ->> 'id', 'agent', j.step ->> 'agent', 'council', j.council,
                              'required', to_jsonb(j.required), 'missing', to_jsonb(j.missing),
                              'in_council', j.agent IS NOT NULL, 'candidates', to_jsonb(cand.agents),
                              'council_release_as', ops_private.next_council_version(j.council_version))
    FROM judged j
    LEFT JOIN LATERAL (
        SELECT array_agg(a ->> 'designation' ORDER BY a ->> 'designation') AS agents
        FROM jsonb_array_elements(j.council_doc -> 'agents') a
        WHERE coalesce(a -> 'capabilities', '[]') ?& j.required
    ) cand ON true
    WHERE j.agent IS NULL OR cardinality(j.missing) > 0;
END;
COMMENT ON FUNCTION ops.check_capabilities(bigint, text) IS
    'FM-09 (blocking): a chain step whose agent is not in the chain''s council, or lacks a capability the step '
    'requires (the referenced task''s requires.capabilities plus the step''s own requires); also a chain whose '
    'council is not among the paths. The fix names the agents that qualify, the chain version and the council version.';
