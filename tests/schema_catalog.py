"""A normalized description of what a database's ``ops`` and ``ops_private`` schemas contain.

``describe(conn)`` returns ``{object: text}``: one entry per object, keyed ``"<kind> <schema>.<name>"``
(functions with their argument types, columns/constraints/policies under their table), the text being
what PostgreSQL itself prints for it (``pg_get_functiondef``, ``pg_get_viewdef``, ``pg_get_indexdef``,
``pg_get_constraintdef``, ``pg_get_triggerdef``, ``format_type``), its comment and its privileges.
Normalized so that two databases built differently compare equal when their schemas are:

* privileges are the sorted ``aclexplode`` of the ACL, a NULL ACL read as the built-in default;
* the daily partitions of a table collapse to one entry per name pattern (``error_events_p20261129``
  and ``error_events_20261130`` → ``…YYYYMMDD``), their bounds left out;
* ``supabase_migrations`` (the migration runner's bookkeeping) is not described.

``diff(a, b)`` names every object that differs: missing on one side, or which line of its text differs.
"""

from __future__ import annotations

import difflib
import re

import psycopg

SCHEMAS = ("ops", "ops_private")
_DAY = re.compile(r"(?<!\d)\d{8}(?!\d)")


def _pattern(name: str) -> str:
    return _DAY.sub("YYYYMMDD", name)


def _acl(kind: str) -> str:
    """SQL for the sorted text of an ACL column (``{col}``), NULL meaning the default for ``kind``."""
    return (
        "(SELECT coalesce(string_agg(x.item, ', ' ORDER BY x.item), '(none)') FROM ("
        "SELECT format('%%s=%%s%%s', CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END,"
        " a.privilege_type, CASE WHEN a.is_grantable THEN '*' ELSE '' END) AS item"
        f" FROM aclexplode(coalesce({{col}}, acldefault({kind}, {{owner}}))) a) x)"
    )


_REL_ACL = _acl("CASE c.relkind WHEN 'S' THEN 's'::\"char\" ELSE 'r'::\"char\" END").format(
    col="c.relacl", owner="c.relowner")


def _q(conn: psycopg.Connection, sql: str, *params) -> list[tuple]:
    return conn.execute(sql, params).fetchall()


def describe(conn: psycopg.Connection) -> dict[str, str]:
    out: dict[str, str] = {}

    def put(key: str, text: str) -> None:
        key = _pattern(key)
        text = _pattern(text)
        if key in out and out[key] != text:
            # Two partitions of one pattern that differ: keep both visibly.
            key = f"{key} (variant {sum(k.startswith(key) for k in out)})"
        out[key] = text

    schemas = list(SCHEMAS)
    # -- schemas and default privileges
    for name, owner, acl, comment in _q(conn, f"""
            SELECT n.nspname, n.nspowner::regrole::text, {_acl("'n'").format(col='n.nspacl', owner='n.nspowner')},
                   obj_description(n.oid, 'pg_namespace')
            FROM pg_namespace n WHERE n.nspname = ANY(%s) ORDER BY 1""", schemas):
        put(f"schema {name}", f"owner {owner}\nprivileges {acl}\ncomment {comment!r}")
    for nsp, objtype, acl in _q(conn, """
            SELECT n.nspname, d.defaclobjtype::text,
                   (SELECT string_agg(x.item, ', ' ORDER BY x.item) FROM (
                      SELECT format('%%s=%%s', CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END,
                                    a.privilege_type) AS item FROM aclexplode(d.defaclacl) a) x)
            FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace
            WHERE n.nspname = ANY(%s) ORDER BY 1, 2""", schemas):
        put(f"default privileges {nsp} ({objtype})", f"privileges {acl}")

    # -- relations: tables, partitions, views, sequences, composite types
    rels = _q(conn, f"""
        SELECT c.oid, n.nspname, c.relname, c.relkind::text, c.relpersistence::text, c.relrowsecurity,
               c.relforcerowsecurity, c.relispartition,
               (SELECT pn.nspname || '.' || pc.relname FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent
                JOIN pg_namespace pn ON pn.oid = pc.relnamespace WHERE i.inhrelid = c.oid),
               pg_get_partkeydef(c.oid), c.relowner::regrole::text,
               {_REL_ACL}, obj_description(c.oid, 'pg_class')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'c', 'f')
        ORDER BY 2, 3""", schemas)
    kinds = {"r": "table", "p": "table", "v": "view", "m": "materialized view", "S": "sequence",
             "c": "type", "f": "foreign table"}
    for oid, nsp, name, relkind, persistence, rls, force_rls, is_part, parent, partkey, owner, acl, comment in rels:
        kind = kinds[relkind]
        key = f"{kind} {nsp}.{name}"
        lines = [f"owner {owner}", f"persistence {persistence}", f"comment {comment!r}"]
        if relkind in ("r", "p", "v", "m", "f"):
            lines += [f"privileges {acl}", f"row level security {rls}, forced {force_rls}"]
        if relkind == "S":
            lines.append(f"privileges {acl}")
            seq = _q(conn, """SELECT format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax,
                                     s.seqcache, s.seqcycle,
                                     (SELECT format('%%s.%%s', d.refobjid::regclass, a.attname) FROM pg_depend d
                                      JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                                      WHERE d.objid = s.seqrelid AND d.classid = 'pg_class'::regclass
                                        AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))
                              FROM pg_sequence s WHERE s.seqrelid = %s""", oid)[0]
            lines.append("sequence {} start {} increment {} min {} max {} cache {} cycle {} owned by {}".format(*seq))
        if partkey:
            lines.append(f"partitioned by {partkey}")
        if is_part:
            lines.append(f"partition of {parent}")
        if relkind == "v":
            lines.append("definition:\n" + conn.execute("SELECT pg_get_viewdef(%s::oid, true)", (oid,)).fetchone()[0])
        put(key, "\n".join(lines))
        if relkind == "S":
            continue
        cols = _q(conn, """
                SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                       pg_get_expr(d.adbin, d.adrelid), a.attidentity::text, a.attgenerated::text,
                       col_description(a.attrelid, a.attnum),
                       (SELECT string_agg(y.item, ', ' ORDER BY y.item) FROM (
                          SELECT format('%%s=%%s', x.grantee::regrole, x.privilege_type) AS item
                          FROM aclexplode(a.attacl) x) y)
                FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""", oid)
        # Column order matters (SELECT *, INSERT without a column list): list them in order.
        put(f"{key} columns", "\n".join(a for a, *_ in cols))
        for attname, typ, notnull, default, identity, generated, colcomment, colacl in cols:
            put(f"column {nsp}.{name}.{attname}",
                f"type {typ}{' NOT NULL' if notnull else ''}\ndefault {default}"
                f"\nidentity {identity!r} generated {generated!r}"
                f"\ncomment {colcomment!r}\nprivileges {colacl}")
        for conname, condef in _q(conn, """SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
                                           WHERE conrelid = %s ORDER BY 1""", oid):
            put(f"constraint {nsp}.{name}.{conname}", condef)
        for tgname, tgdef, tgenabled in _q(conn, """SELECT tgname, pg_get_triggerdef(oid), tgenabled::text
                                                   FROM pg_trigger
                                                   WHERE tgrelid = %s AND NOT tgisinternal ORDER BY 1""", oid):
            put(f"trigger {nsp}.{name}.{tgname}", f"{tgdef}\nenabled {tgenabled}")
        for polname, cmd, permissive, roles, qual, check in _q(conn, """
                SELECT polname, polcmd::text, polpermissive,
                       (SELECT string_agg(CASE r WHEN 0 THEN 'PUBLIC' ELSE r::regrole::text END, ', '
                                          ORDER BY CASE r WHEN 0 THEN 'PUBLIC' ELSE r::regrole::text END)
                        FROM unnest(polroles) r),
                       pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid)
                FROM pg_policy WHERE polrelid = %s ORDER BY 1""", oid):
            put(f"policy {nsp}.{name}.{polname}",
                f"command {cmd} permissive {permissive}\nto {roles}\nusing {qual}\nwith check {check}")

    # -- indexes (the partitions' own copies collapse with their tables)
    for nsp, name, indexdef, comment in _q(conn, """
            SELECT n.nspname, c.relname, pg_get_indexdef(c.oid), obj_description(c.oid, 'pg_class')
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = ANY(%s) ORDER BY 1, 2""", schemas):
        put(f"index {nsp}.{name}", f"{indexdef}\ncomment {comment!r}")

    # -- functions and procedures
    for nsp, sig, kind, definition, owner, acl, comment in _q(conn, f"""
            SELECT n.nspname, p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', p.prokind::text,
                   CASE WHEN p.prokind IN ('f', 'p', 'w') THEN pg_get_functiondef(p.oid) END,
                   p.proowner::regrole::text, {_acl("'f'").format(col='p.proacl', owner='p.proowner')},
                   obj_description(p.oid, 'pg_proc')
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = ANY(%s) ORDER BY 1, 2""", schemas):
        label = {"f": "function", "p": "procedure", "a": "aggregate", "w": "window function"}[kind]
        put(f"{label} {nsp}.{sig}",
            f"owner {owner}\nprivileges {acl}\ncomment {comment!r}\ndefinition:\n{definition}")

    # -- types that are not a table's row type: composite, enum, domain, range
    for nsp, name, typtype, owner, acl, comment, detail in _q(conn, f"""
            SELECT n.nspname, t.typname, t.typtype::text, t.typowner::regrole::text,
                   {_acl("'T'").format(col='t.typacl', owner='t.typowner')}, obj_description(t.oid, 'pg_type'),
                   CASE t.typtype
                     WHEN 'e' THEN (SELECT string_agg(e.enumlabel, ', ' ORDER BY e.enumsortorder) FROM pg_enum e
                                    WHERE e.enumtypid = t.oid)
                     WHEN 'd' THEN format_type(t.typbasetype, t.typtypmod) || coalesce(' DEFAULT ' || t.typdefault, '')
                   END
            FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
            LEFT JOIN pg_class c ON c.oid = t.typrelid
            WHERE n.nspname = ANY(%s) AND t.typtype IN ('c', 'e', 'd', 'r') AND t.typelem = 0
              AND (c.oid IS NULL OR c.relkind = 'c')
            ORDER BY 1, 2""", schemas):
        put(f"type {nsp}.{name}",
            f"kind {typtype} owner {owner}\nprivileges {acl}\ncomment {comment!r}\n{detail or ''}")

    # -- extensions installed into our schemas, event triggers are not used
    for ext, nsp in _q(conn, """SELECT e.extname, n.nspname FROM pg_extension e JOIN pg_namespace n
                                ON n.oid = e.extnamespace WHERE n.nspname = ANY(%s)""", schemas):
        put(f"extension {ext}", f"in schema {nsp}")

    # -- the roles the schema creates (cluster-wide, so both builds see the same; listed for completeness)
    for role, login, members in _q(conn, """
            SELECT r.rolname, r.rolcanlogin,
                   (SELECT string_agg(m.member::regrole::text, ', ' ORDER BY m.member::regrole::text)
                    FROM pg_auth_members m WHERE m.roleid = r.oid)
            FROM pg_roles r WHERE r.rolname IN ('ops_ingest', 'ops_analyst', 'ops_worker', 'anon', 'authenticated',
                                                'service_role') ORDER BY 1"""):
        put(f"role {role}", f"login {login}\nmembers {members}")
    return out


def diff(expected: dict[str, str], actual: dict[str, str], *, expected_name: str = "migrations",
         actual_name: str = "schema") -> list[str]:
    """Differences as readable paragraphs, one per object: ``<kind> <name>: only in …`` or a unified diff."""
    problems = []
    for key in sorted(expected.keys() | actual.keys()):
        if key not in actual:
            problems.append(f"{key}: only in {expected_name} (missing from {actual_name})")
        elif key not in expected:
            problems.append(f"{key}: only in {actual_name} (missing from {expected_name})")
        elif expected[key] != actual[key]:
            lines = difflib.unified_diff(expected[key].splitlines(), actual[key].splitlines(),
                                         expected_name, actual_name, lineterm="", n=1)
            problems.append(f"{key}: differs\n" + "\n".join("    " + line for line in lines))
    return problems
