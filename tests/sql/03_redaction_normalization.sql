-- Redaction before storage; normalization and fingerprints that group what is one error.
BEGIN;
SELECT plan(41);

SELECT unalike(ops.redact('push failed: token ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'), '%ghp_a%', 'GitHub classic tokens are redacted');
SELECT unalike(ops.redact('auth github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz'), '%github_pat_1%', 'GitHub fine-grained tokens are redacted');
SELECT unalike(ops.redact('slack xoxb-123456789012-abcdefghijkl said no'), '%xoxb-1%', 'Slack tokens are redacted');
SELECT unalike(ops.redact('key AKIAABCDEFGHIJKLMNOP denied'), '%AKIAABCD%', 'AWS access key ids are redacted');
SELECT unalike(ops.redact('Invalid API Key provided: sk_live_abcdefghijklmnop1234'), '%sk_live_a%', 'Stripe keys are redacted');
SELECT unalike(ops.redact('Incorrect API key provided: sk-proj-abcdefghijklmnopqrstuvwx'), '%sk-proj-a%', 'OpenAI-style keys are redacted');
SELECT unalike(ops.redact('x-api-key: sk-ant-api03-abcdefghijklmnopqrstu'), '%api03-a%', 'Anthropic-style keys are redacted');
SELECT unalike(ops.redact('apikey eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJl'), '%eyJyb2xl%', 'JWTs (Supabase service keys) are redacted');
SELECT unalike(ops.redact('Authorization: Bearer abcdefghijklmnop.qrstuv'), '%abcdefghijklmnop%', 'Bearer tokens are redacted');
SELECT unalike(ops.redact('login with password=hunter2 failed'), '%hunter2%', 'password=… assignments are redacted');
SELECT unalike(ops.redact('could not connect to postgres://app:s3cr3t@db.internal:5432/app'), '%s3cr3t%', 'credentials inside URLs are redacted');
SELECT is(ops.redact('could not connect to postgres://app:s3cr3t@db.internal:5432/app'),
    'could not connect to postgres://app:[REDACTED]@db.internal:5432/app', 'a URL keeps its user, host and path');
SELECT unalike(ops.redact(E'-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----'), '%MIIEvQ%', 'PEM private keys are redacted');
SELECT unalike(ops.redact('key=sb_secret_abcdefghijklmnopqrst'), '%abcdefghijklmnopqrst%', 'Supabase secret keys are redacted');
SELECT is(ops.redact('could not connect to postgresql://app:p@ss@db.internal:5432/app'),
    'could not connect to postgresql://app:[REDACTED]@db.internal:5432/app', 'a raw @ inside a URL password leaks nothing after it');
SELECT is(ops.redact('could not translate host name "ss@db.example.com" to address: Name or service not known'),
    'could not translate host name "[REDACTED]@db.example.com" to address: Name or service not known',
    'libpq''s host name holding a password tail keeps only the host');
SELECT is(ops.redact('could not translate host name "p@ss@word@db.example.com" to address'),
    'could not translate host name "[REDACTED]@db.example.com" to address',
    'a password tail with two raw @ is redacted up to the last one');
SELECT is(ops.redact('WorkerID 76813@host-01@ WorkflowID transfer-money'), 'WorkerID 76813@host-01@ WorkflowID transfer-money',
    '"host" inside a name (Temporal''s worker id) starts no host name');
SELECT is(ops.redact('fatal: https://x-access-token:ghs_abcdefghijklmnopqrstuvwxyz0123@github.com/acme/app.git not found'),
    'fatal: https://x-access-token:[REDACTED]@github.com/acme/app.git not found',
    'an x-access-token URL loses its token but keeps host and path');
SELECT unalike(ops.redact('POST https://discord.com/api/webhooks/1234567890/abcdefghijklmnopqrstuvwxyzABCDEF01 failed'), '%abcdefghijk%',
    'Discord webhook URLs are redacted');
SELECT unalike(ops.redact('https://hooks.slack.com/workflows/T0000000/A0000000/123456789/abcdefghijklmnopqrstuvwx'), '%abcdefghijk%',
    'Slack workflow webhook URLs are redacted');
SELECT is(ops.redact('password=p@ss@word!'), 'password=[REDACTED]', 'an assignment''s value is redacted whole, @ and all');
SELECT is(ops.redact('ERROR 1045 (28000): Access denied for user ''alice''@''localhost'' (using password: YES)'),
    'ERROR 1045 (28000): Access denied for user ''alice''@''localhost'' (using password: YES)',
    'MySQL''s (using password: YES) says only that a password was sent and is kept, parenthesis and all');
SELECT is(ops.redact('Access denied for user ''alice''@''example.com'' (using password: NO)'),
    'Access denied for user ''alice''@''example.com'' (using password: NO)', 'and so is (using password: NO)');
SELECT is(ops.redact('Access denied (using password: YES123)'), 'Access denied (using password: [REDACTED]',
    'a value that only starts with YES is redacted');
SELECT is(ops.redact('{"password": "NO"} password=YES'), '{"password": "[REDACTED]"} password=[REDACTED]',
    'YES or NO set as a password, outside MySQL''s parenthesised clause, is redacted');
SELECT is(ops.redact('Authorization header required'), 'Authorization header required', 'ordinary words are left alone');
SELECT is(ops.redact('task-runner-abcdefghijklmnopqrstu finished'), 'task-runner-abcdefghijklmnopqrstu finished', '"sk-" inside a word is not a key');

-- Nothing secret reaches a table, whichever column carries it.
SELECT lives_ok($$ INSERT INTO ops.error_events (source, message, top_frame, context, run_id)
    VALUES ('ops', 'boom ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'at f (https://u:pw123456@h/x)', -- fake secrets, on purpose
            '{"headers": {"authorization": "Bearer abcdefghijklmnop"}, "DB_PASSWORD": "hunter2"}',
            'run password=zzz') $$, 'an event full of secrets is accepted');
SELECT is_empty($$ SELECT 1 FROM ops.error_events e
    WHERE (e.message || e.top_frame || e.context::text || e.run_id) ~ '(ghp_a|pw123456|abcdefghijklmnop|hunter2|zzz)' $$,
    'no secret is stored in message, top frame, context or run id');
SELECT is_empty($$ SELECT 1 FROM ops.agent_errors a WHERE (a.sample_message || a.top_frame) ~ '(ghp_a|pw123456)' $$,
    'no secret reaches ops.agent_errors either');

-- Normalization: pairs that must group, pairs that must not.
SELECT is(ops.normalize_message('timeout after 30s on run 1234'), ops.normalize_message('Timeout after 31s on run 98'),
    'durations, numbers and case do not split one error');
SELECT is(ops.normalize_message('job 0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0 failed at 2026-11-22T06:50:01Z'),
          ops.normalize_message('job 9a8b7c6d-5e4f-3a2b-1c0d-e9f8a7b6c5d4 failed at 2025-01-02T23:59:59.123+02:00'),
    'UUIDs and timestamps do not split one error');
SELECT is(ops.normalize_message('connect ECONNREFUSED 10.0.0.12:5432'), ops.normalize_message('connect ECONNREFUSED 127.0.0.1:6543'),
    'IP addresses with ports do not split one error');
SELECT is(ops.normalize_message('object deadbeef1234 missing in /tmp/build-77/cache/x.tar'),
          ops.normalize_message('object a1b2c3d4e5f6a7 missing in /var/lib/ci/y.tar'),
    'hex ids and absolute paths do not split one error');
SELECT is(ops.normalize_message('GET https://api.example.com/v1/runs/88?x=1 returned 502'),
          ops.normalize_message('GET https://api.example.com/v1/runs/99 returned 502'),
    'URLs do not split one error');
SELECT isnt(ops.normalize_message('No module named ''odoo.addons.ipai_agent'''), ops.normalize_message('No module named ''requests'''),
    'different module names stay different errors');
SELECT isnt(ops.normalize_message('relation "users" does not exist'), ops.normalize_message('relation "orders" does not exist'),
    'different relation names stay different errors');

-- Fingerprints.
SELECT matches(ops.error_fingerprint('ops', 'p', 'X.Y', 'm', NULL), '^[0-9a-f]{64}$', 'a fingerprint is lowercase hex SHA-256');
SELECT isnt(ops.error_fingerprint('ops', 'a|b', 'X.Y', 'm', NULL), ops.error_fingerprint('ops', 'a', 'X.Y', 'b|m', NULL),
    'fields are joined unambiguously: moving a separator between fields changes the fingerprint');
SELECT isnt(ops.error_fingerprint('ops', NULL, 'NET.TIMEOUT', 'timeout after 30s', NULL),
            ops.error_fingerprint('ops', NULL, 'DB.STATEMENT_TIMEOUT', 'timeout after 30s', NULL),
    'the same text under different codes stays apart');

SELECT * FROM finish();
ROLLBACK;
