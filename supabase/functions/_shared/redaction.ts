// Secret redaction for what the functions send back: the same rules, in the same order and with
// the same prefilters, as ops.redact() in the database. redaction_rules.json is generated from
// ssot/errors/redaction.yaml by worker/generated.py (PostgreSQL regex syntax translated to
// JavaScript); a pytest fails when it is stale, and another proves both give the same text.
import RULES from "./redaction_rules.json" with { type: "json" };

interface RuleSpec {
  name: string;
  source: string;
  flags: string;
  replacement: Array<number | string>;
  prefilter: string[] | null;
}

const rules = (RULES.rules as RuleSpec[]).map((r) => ({
  ...r,
  regex: new RegExp(r.source, r.flags),
}));

/** PostgreSQL's lower() for the prefilter test: one character to one ("İ" is "i", not "i̇"). */
export function pgLower(text: string): string {
  return text.replaceAll("\u0130", "i").toLowerCase();
}

/** regexp_replace's replacement: strings are literal, numbers are groups (0 the whole match). */
function expand(parts: Array<number | string>, args: unknown[]): string {
  const groups = args.length - 3; // match, groups..., offset, whole string
  return parts.map((p) =>
    typeof p === "string" ? p : p <= groups ? (args[p] as string | undefined) ?? "" : ""
  ).join("");
}

/** ops.redact's bound on passes over the rules. */
export const PASSES = 4;

/** The text with every secret the SSOT rules know replaced by a [REDACTED…] marker: the rules in order,
 * pass after pass until one changes nothing (at most PASSES), as ops.redact() does. */
export function redact(text: string): string {
  let out = text;
  for (let pass = 0; pass < PASSES; pass++) {
    const lowered = pgLower(out);
    const before = out;
    for (const r of rules) {
      if (r.prefilter && !r.prefilter.some((f) => lowered.includes(f))) continue;
      out = out.replace(r.regex, (...args: unknown[]) => expand(r.replacement, args));
    }
    if (out === before) break;
  }
  return out;
}

/** The rule names, in order (for tests and diagnostics). */
export const RULE_NAMES: readonly string[] = rules.map((r) => r.name);
