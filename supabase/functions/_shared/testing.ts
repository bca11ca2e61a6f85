// Test helpers: the envelope check (the shared validate() of problem.ts, against the one schema),
// and a connection to the test database that pytest passes in SUPABASE_DB_URL.
import postgres from "postgres";
import { isProblemDetails, validate } from "./problem.ts";

/** Schema errors of an envelope (empty when valid). */
export function envelopeErrors(doc: unknown): string[] {
  return validate(doc);
}

export { isProblemDetails };

export const DB_URL = Deno.env.get("SUPABASE_DB_URL");
/** Tests that need PostgreSQL are skipped when SUPABASE_DB_URL is unset (pytest always sets it). */
export const NO_DB = !DB_URL;

export function connect(): ReturnType<typeof postgres> {
  return postgres(DB_URL!, { max: 1, onnotice: () => {} });
}

export function assert(cond: unknown, message = "assertion failed"): asserts cond {
  if (!cond) throw new Error(message);
}

export function assertEquals(actual: unknown, expected: unknown, message = ""): void {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${message}\n  actual:   ${a}\n  expected: ${e}`);
}
