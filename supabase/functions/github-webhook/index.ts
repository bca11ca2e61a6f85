// Supabase Edge Function entry point. Locally: PORT=8000 deno run -A index.ts
import { createGithubWebhookHandler } from "./handler.ts";

const handler = createGithubWebhookHandler((name) => Deno.env.get(name));
const port = Number(Deno.env.get("PORT") ?? "8000");
Deno.serve({ port, hostname: Deno.env.get("HOST") ?? "0.0.0.0" }, handler.handle);
