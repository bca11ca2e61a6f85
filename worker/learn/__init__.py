"""The improvement loop (issue 10): outcomes, scorecards, comparisons, variant choice, dataset export and the
v2 classifier. Each part is its own module; the database objects they read are in supabase/schemas/."""
