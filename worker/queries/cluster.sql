-- name: database_exists
-- Whether the embedded cluster already has the project's database.
SELECT 1 AS found FROM pg_catalog.pg_database WHERE datname = %(name)s;

-- name: create_database
-- The project's database in a new embedded cluster (its name is worker.cluster.DATABASE).
CREATE DATABASE ops;
