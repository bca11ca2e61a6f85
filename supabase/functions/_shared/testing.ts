// Test helpers: the one contract (ssot/schemas/problem.schema.json) compiled with Ajv, and a
// connection to the test database that pytest passes in SUPABASE_DB_URL.
import { Ajv2020 } from "ajv/2020";
import postgres from "postgres";

const schemaUrl = new URL("../../../ssot/schemas/problem.schema.json", import.meta.url);
const schema = JSON.parse(await Deno.readTextFile(schemaUrl));
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
const validateEnvelope = ajv.compile(schema);
const validateBase = ajv.getSchema(`${schema.$id}#/$defs/problem_details`)!;

/** Schema errors of an envelope (empty when valid). */
export function envelopeErrors(doc: unknown): string[] {
  return validateEnvelope(doc)
    ? []
    : (validateEnvelope.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}`);
}

export function isProblemDetails(doc: unknown): boolean {
  return validateBase(doc) as boolean;
}

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
