-- Unit CI at scale (issue 12): FM-07 finds its hits first and looks up the version to reference instead for
-- those only (it ran the lookups for every unit of the universe: 1.8 s at 10,000 units, minutes when planned
-- before the snapshot was analyzed). Same findings.
CREATE OR REPLACE FUNCTION ops.check_draft_isolation(p_run bigint)
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
