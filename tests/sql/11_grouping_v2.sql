-- Grouping versions 2 to 25: what normalization replaces, what it keeps, per-code grouping rules, the fallback
-- for a text normalization empties, the cause line of a traceback, the key's trimmed ends, and regrouping old rows and
-- the groups a changed rule moves.
BEGIN;
SELECT plan(250);

-- Opaque ids real producers print become one placeholder each, so they do not split a group.
SELECT is(ops.normalize_message('Error: 529 {"type":"overloaded_error"} request_id req_011CSHoEeqs5C35K2UUqR7Fy'),
          ops.normalize_message('Error: 529 {"type":"overloaded_error"} request_id req_011CTZq9d1YxVb7Pw3Lk2MnR'),
    'Anthropic request ids (req_<base62>) do not split one error');
SELECT is(ops.normalize_message('tool_use ids were found without tool_result blocks: toolu_01A09q90qw90lq917835lq9'),
          ops.normalize_message('tool_use ids were found without tool_result blocks: toolu_01Bx7PqRsTuVwXyZaBcDeFgHi'),
    'tool-use ids (toolu_<base62>) do not split one error');
SELECT is(ops.normalize_message('FUNCTION_INVOCATION_TIMEOUT iad1::abcde-1700000000000-0123456789ab'),
          ops.normalize_message('FUNCTION_INVOCATION_TIMEOUT sfo1::x7k2p-1690000000001-fedcba987654'),
    'Vercel region-scoped request ids do not split one error');
SELECT is(ops.normalize_message('deployment dpl_3X8mBq9ZpQrT4vW failed'), ops.normalize_message('deployment dpl_9Yz2KqLm4NpQ7rS failed'),
    'prefixed deployment ids (dpl_<id>) do not split one error');
SELECT is(ops.normalize_message('object 123456789012 missing'), ops.normalize_message('object 1a3b5c7d9e0f missing'),
    'a hex id without a letter gets the same placeholder as its lettered siblings');
SELECT is(ops.normalize_message('host key ab:cd:ef:01:23:45:67:89 changed'), ops.normalize_message('host key 10:32:54:76:98:ba:dc:fe changed'),
    'colon-separated hex groups do not split one error');
SELECT is(ops.normalize_message('token 8f3KzQ1pLm9Xv2Bn7Yc4Rt6W rejected'), ops.normalize_message('token Q9w8E7r6T5y4U3i2O1pAsDfG rejected'),
    'long tokens mixing letters and digits do not split one error');
SELECT is(ops.normalize_message(U&'\0421annot connect to the database'), ops.normalize_message('Cannot connect to the database'),
    'a Cyrillic look-alike letter does not split one error');
SELECT is(ops.normalize_message(U&'conn\200Bection refused'), ops.normalize_message('connection refused'),
    'a zero-width character does not split one error');
SELECT is(ops.normalize_message(U&'\FF25RROR: disk full'), ops.normalize_message('ERROR: disk full'),
    'full-width letters fold (NFKC)');

-- Meaning is kept.
SELECT isnt(ops.normalize_message('Process completed with exit code 128.'), ops.normalize_message('Process completed with exit code 1.'),
    'exit codes are kept');
SELECT isnt(ops.normalize_message('The server responded with 503'), ops.normalize_message('The server responded with 429'),
    'HTTP statuses in prose are kept');
SELECT isnt(ops.normalize_message('Request rejected (429)'), ops.normalize_message('Request rejected (503)'),
    'HTTP statuses in parentheses are kept');
SELECT isnt(ops.normalize_message('killed by signal 9'), ops.normalize_message('killed by signal 15'), 'signal numbers are kept');
SELECT isnt(ops.normalize_message('request to https://api.openai.com/v1/chat/completions failed, reason: getaddrinfo ENOTFOUND'),
            ops.normalize_message('request to https://app.example.com/v1/chat/completions failed, reason: getaddrinfo ENOTFOUND'),
    'a URL keeps its host: a third-party API and your own host stay apart');
SELECT is(ops.normalize_message('request to https://api.openai.com/v1/chat/completions?x=1 failed'),
          ops.normalize_message('request to https://api.openai.com/v1/embeddings failed'),
    'a URL loses its path and query');
SELECT is(ops.normalize_message('timeout after 30s on run 1234'), 'timeout after <dur> on run <n>', 'other numbers still become placeholders');
SELECT is(length(ops.normalize_message(repeat('a1 ', 4000000))) < 200000, true, 'a 12 MB argument is cut before the regexes run');

SELECT is(right(ops.redact(repeat('x', 70000) || ' ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'), 42), '[… 4505 characters cut before redaction …]',
    'redact reads at most 65536 characters of a direct argument and says what it cut');

-- Version 3: what else is volatile, and where the grouping text starts.
SELECT is(ops.normalize_message('exceed the rate limit of 10,000 input tokens per minute'),
          ops.normalize_message('exceed the rate limit of 1,000,000 input tokens per minute'),
    'a number with thousands separators is one number');
SELECT is(ops.normalize_message('Expected singleton: res.partner(15, 27, 31)'), ops.normalize_message('Expected singleton: res.partner(11, 9)'),
    'a list of record ids is one placeholder');
SELECT is(ops.normalize_message('if it persists, check status.claude.com.'), ops.normalize_message('if it persists, check https://status.claude.com.'),
    'a web URL with and without its scheme is one link');
SELECT isnt(ops.normalize_message('check status.claude.com'), ops.normalize_message('check status.example.com'), 'the host is still kept');
SELECT is(ops.normalize_message('No Output Directory named "dist" found. Learn More: https://vercel.link/missing-public-directory'),
          ops.normalize_message('No Output Directory named "dist" found.'), 'a trailing "Learn more: <link>" is dropped');
SELECT is(ops.normalize_message('The Serverless Function "api/bootstrap" is 51.2mb which exceeds the maximum size limit of 50mb.'),
          ops.normalize_message('The Serverless Function "index.js" is 63.9mb which exceeds the maximum size limit of 50mb.'),
    'the quoted function name of a size error does not split one failure');
SELECT is(ops.normalize_message(ops.grouping_text('(psycopg2.OperationalError) FATAL:  sorry, too many clients already',
                                                  'DB.CONNECTION_LIMIT', (SELECT pattern FROM ops.failure_mode_patterns WHERE code = 'DB.CONNECTION_LIMIT' AND pattern_canonical LIKE '%too many clients%' ORDER BY position LIMIT 1))),
          ops.normalize_message(ops.grouping_text('connection to server at "localhost" (::1), port 5432 failed: FATAL:  sorry, too many clients already',
                                                  'DB.CONNECTION_LIMIT', (SELECT pattern FROM ops.failure_mode_patterns WHERE code = 'DB.CONNECTION_LIMIT' AND pattern_canonical LIKE '%too many clients%' ORDER BY position LIMIT 1))),
    'the grouping text starts after the client''s wrapper chain (the last ": " before the match)');
SELECT is(ops.grouping_text('QNAME: vk.com; QTYPE: AAAA; RCODE: NoError; ANSWER: []', 'DNS.NO_RECORD_OF_TYPE',
                            (SELECT pattern FROM ops.failure_mode_patterns WHERE code = 'DNS.NO_RECORD_OF_TYPE' AND pattern LIKE 'rcode%' LIMIT 1)),
          'QNAME: vk.com; QTYPE: AAAA; RCODE: NoError; ANSWER: []', 'a log record''s fields before the match (a ";") keep the whole line');

SELECT is(ops.normalize_message(ops.grouping_text('operation error STS: GetCallerIdentity, https response error StatusCode: 403, RequestID: 3b0c1d2e-0000-4000-8000-000000000001, api error ExpiredToken: The security token included in the request is expired',
                                                  'AUTH.CREDENTIALS_INVALID', 'expiredtoken')),
          ops.normalize_message(ops.grouping_text('Error: ExpiredToken: The security token included in the request is expired',
                                                  'AUTH.CREDENTIALS_INVALID', 'expiredtoken')),
    'an SDK error''s field list ("RequestID: <id>, api error") before the match is not kept: the text starts at the match');

-- Version 4: a JSON string's quotes and a line-ending reference link (after " - " or in parentheses) are dropped.
SELECT is(ops.normalize_message('"Resource not accessible by integration",'),
          ops.normalize_message('Resource not accessible by integration (https://api.github.com/repos/alice/app/issues)'),
    'a JSON string''s quotes and a parenthesized endpoint link do not split one failure');
SELECT is(ops.normalize_message('requires 15/10 maximum DNS lookups - https://tools.ietf.org/html/rfc7208#section-4.6.4'),
          ops.normalize_message('requires 12/10 maximum DNS lookups'), 'a reference link after " - " at a line end is dropped');
SELECT isnt(ops.normalize_message('could not resolve host: api.openai.com'), ops.normalize_message('could not resolve host: db.internal'),
    'a host that ends the line is still kept (only a link with a path after " - " or in parentheses is dropped)');

-- Version 4: per-code grouping rules from the SSOT (grouping: code groups by source, phase and code alone).
SELECT is(ops.grouping_rule('INFRA.RATE_LIMITED'), 'code', 'a rate limit is grouped by its code');
SELECT is(ops.grouping_rule('DB.LOGIN_REJECTED'), 'message', 'a login failure is grouped by its text (the role names what to fix)');
SELECT is(ops.grouping_rule(NULL), 'message', 'no code or an unknown code: grouped by text');
SELECT is(ops.error_fingerprint('ops', 'deliver', 'INFRA.RATE_LIMITED', 'You have exceeded a secondary rate limit. Please wait', NULL),
          ops.error_fingerprint('ops', 'deliver', 'INFRA.RATE_LIMITED', 'API rate limit exceeded for user ID 1234', 'at send (x.js:1)'),
    'grouping: code ignores the grouping text and the top frame');
SELECT isnt(ops.error_fingerprint('ops', 'deliver', 'INFRA.RATE_LIMITED', 'rate limit exceeded', NULL),
            ops.error_fingerprint('ops', 'connect', 'INFRA.RATE_LIMITED', 'rate limit exceeded', NULL),
    'grouping: code keeps source and phase apart');
SELECT isnt(ops.error_fingerprint('ops', 'connect', 'DB.LOGIN_REJECTED', 'password authentication failed for user "app"', NULL),
            ops.error_fingerprint('ops', 'connect', 'DB.LOGIN_REJECTED', 'password authentication failed for user "postgres"', NULL),
    'grouping: message still tells two roles apart');

-- Version 5: a text that normalization empties (a bare exception class and a [tag]) falls back to its own folded text,
-- so two unrelated bare lines are two groups; Markdown backticks at either end do not split one failure.
SELECT is(ops.normalize_message('ConditionalCheckFailedException [x]'), '',
    'normalization alone empties a bare exception class and a bracketed tag (the fault version 5 fixes)');
SELECT isnt(ops.error_fingerprint('ops', 'run', 'UNKNOWN.OPS', 'ConditionalCheckFailedException [x]', NULL),
            ops.error_fingerprint('ops', 'run', 'UNKNOWN.OPS', 'ValidationException [y]', NULL),
    'two unrelated bare lines get two fingerprints');
SELECT isnt(ops.error_fingerprint('vercel', 'runtime', 'UNKNOWN.VERCEL', 'Error: [object Object]', NULL),
            ops.error_fingerprint('vercel', 'runtime', 'UNKNOWN.VERCEL', '', NULL),
    'a bare "Error: [object Object]" is not the empty message');
SELECT is(ops.error_fingerprint('ops', 'run', 'UNKNOWN.OPS', 'ValidationException [attempt 3]', NULL),
          ops.error_fingerprint('ops', 'run', 'UNKNOWN.OPS', E'ValidationException\t[attempt 7]', NULL),
    'the fallback reads every digit as 0 and a tab as a space');
SELECT is(ops.error_fingerprint('github_actions', 'post', 'CI.CACHE.PATH_MISSING', 'no cache is being saved.`', NULL),
          ops.error_fingerprint('github_actions', 'post', 'CI.CACHE.PATH_MISSING', 'no cache is being saved.', NULL),
    'a Markdown backtick at the end of a pasted line does not split one failure');
SELECT isnt(ops.error_fingerprint('ops', 'run', 'UNKNOWN.OPS', NULL, NULL),
            ops.error_fingerprint('ops', 'run', 'UNKNOWN.OPS', '', NULL),
    'NULL stays NULL (no fallback), apart from the empty text');

-- Version 6: an IPv6 address written with "::" is an address like an IPv4 one; a Markdown link is its text; an HTTP
-- status starting a quoted message is dropped like an exception class; a source line that raises the error is the
-- cause line only when no other line matches.
SELECT is(ops.normalize_message('is the server running on host "localhost" (::1) and accepting'),
          ops.normalize_message('is the server running on host "localhost" (127.0.0.1) and accepting'),
    'localhost as ::1 and as 127.0.0.1 is one address');
SELECT is(ops.normalize_message('connect to fe80::1ff:fe23:4567:890a failed'), 'connect to <ip> failed',
    'an IPv6 address with "::" is <ip>');
SELECT is(ops.normalize_message('thread panicked at std::io::Error in Foo::Bar'), 'thread panicked at std::io::error in foo::bar',
    'a Rust or C++ path is not an address (no digit, not only hex groups)');
SELECT is(ops.normalize_message('contact us through our help center at [help.openai.com](https://help.openai.com/) if'),
          ops.normalize_message('contact us through our help center at help.openai.com if'),
    'a Markdown link reads as its text');
SELECT is(ops.normalize_message('"404 models/gemini-pro is not found for API version v1beta."'),
          ops.normalize_message('"models/gemini-pro is not found for API version v1beta.",'),
    'an HTTP status starting a quoted message is dropped');
SELECT is(ops.normalize_message('status 404 models/x'), 'status 404 models/x',
    'an HTTP status in prose is still kept');
SELECT is(ops.grouping_text(E'  File "models.py", line 9, in ensure_one\n    raise ValueError("Expected singleton: %s" % self)\nValueError: Expected singleton: sale.order(3, 4)',
                            'ODOO.EXPECTED_SINGLETON', 'expected singleton'),
          'Expected singleton: sale.order(3, 4)',
    'the cause line is the raised error, not the source line that raises it');
SELECT is(ops.grouping_text(E'    raise ValueError("Expected singleton: %s" % self)', 'ODOO.EXPECTED_SINGLETON', 'expected singleton'),
          '    raise ValueError("Expected singleton: %s" % self)',
    'a source line that raises the error is still the cause line when no other line matches');

-- Version 7: the key of a normalized field loses quotes, commas and semicolons at either end, and reads "-" as "_".
SELECT is(ops.error_fingerprint('agent_runner', 'run', 'AGENT.MODEL_NOT_FOUND', $$'The model: `gpt-4` does not exist',$$, NULL),
          ops.error_fingerprint('agent_runner', 'run', 'AGENT.MODEL_NOT_FOUND', 'The model: `gpt-4` does not exist', NULL),
    'a value pasted with its quotes and trailing comma is the same failure as the bare text');
SELECT is(ops.error_fingerprint('github_actions', 'setup', 'ENV.KEY_MISSING', 'Input required and not supplied: github-token', NULL),
          ops.error_fingerprint('github_actions', 'setup', 'ENV.KEY_MISSING', 'Input required and not supplied: github_token', NULL),
    'an input named with "-" and with "_" is one failure');
SELECT isnt(ops.error_fingerprint('github_actions', 'setup', 'ENV.KEY_MISSING', 'Input required and not supplied: github-token', NULL),
            ops.error_fingerprint('github_actions', 'setup', 'ENV.KEY_MISSING', 'Input required and not supplied: npm-token', NULL),
    'two inputs are still two failures');
SELECT isnt(ops.error_fingerprint('ops', 'run', 'UNKNOWN.OPS', 'disk "a" full', NULL),
            ops.error_fingerprint('ops', 'run', 'UNKNOWN.OPS', 'disk "b" full', NULL),
    'quotes inside the text are kept: only the ends are trimmed');

-- Version 8: five normalization steps, each a variable part that split one failure in the tuning data.
SELECT is(ops.normalize_message('lookup localhost on 192.168.x.x:53: no such host'),
          ops.normalize_message('lookup localhost on 10.0.0.2:53: no such host'),
    'an address its poster masked with x is an address');
SELECT is(ops.normalize_message('client_ip=xxxx:xxxx:xxxx:xxxx:xxxx:xxxx:xxxx:xxxx'), 'client_ip=<ip>',
    'an IPv6 address masked with x is an address');
SELECT is(ops.normalize_message('v1.x.x and xx:yy'), 'v<n>.x.x and xx:yy',
    'a version range with x and a short x: pair are not addresses');
SELECT is(ops.normalize_message('Version 3.6 with arch x64 not found Available versions: 3.10.1 (x64) 3.9.7 (x64)'),
          'version 3.6 with arch x<n> not found',
    'the list after "Available versions:" is dropped, the version asked for kept (its numbers too since version 17)');
SELECT is(ops.normalize_message(E'Error: channel closed\n    at async UserWorker.fetch (ext:sb_user_workers/user_workers.js:54:21)'),
          ops.normalize_message(E'Error: channel closed\n    at async Function.create (ext:sb_user_workers/user_workers.js:80:21)'),
    'a JavaScript stack frame line is dropped');
SELECT is(ops.normalize_message('we looked at 3 files'), 'we looked at <n> files',
    'a line with "at " that is not a frame is kept');
SELECT is(ops.normalize_message($$InvalidWorkerCreation: worker boot error Could not resolve './a' from 'file:///tmp/x/y.js'.$$),
          ops.normalize_message($$Could not resolve './a' from 'file:///tmp/x/y.js'.$$),
    'the edge runtime''s leading "worker boot error" is its wrapper');
SELECT is(ops.normalize_message('lookup index.docker.io: no such host, error=Error while pulling image: lookup index.docker.io: no such host'),
          'lookup index.docker.io: no such host',
    'a log record''s ", error=" continuation is dropped');
SELECT is(ops.normalize_message($$  error: 'lookup index.docker.io: no such host' }$$), $$'lookup index.docker.io: no such host$$,
    'a closing "'' }" is dropped');
SELECT is(ops.normalize_message('requires 11/10 maximum DNS lookups https://tools.ietf.org/html/rfc7208#section-4.6.4'),
          'requires <n>/<n> maximum dns lookups',
    'a reference link ending the line after its sentence is dropped');
SELECT is(ops.normalize_message('could not connect to https://registry.example.com/v1/providers'),
          'could not connect to registry.example.com/<path>',
    'a link that is the object of the line keeps its host');
SELECT is(ops.normalize_message('npm ERR! failed to fetch https://registry.npmjs.org/left-pad'),
          'failed to fetch registry.npmjs.org/<path>',
    'so does a link after a verb that names what was fetched (npm''s log prefix is dropped since version 15)');

-- Version 9: two normalization steps, each a variable part that split one failure in the tuning data.
SELECT is(ops.normalize_message('"@message":"Error: hcclient/WaitForActions: action 273224989 failed: server is locked (unknown_error)",'),
          ops.normalize_message('"summary":"hcclient/WaitForActions: action 273224989 failed: server is locked (unknown_error)",'),
    'a JSON log''s field name leading a line is how the log printed the message');
SELECT is(ops.normalize_message('  "message": "Forbidden resource"'), 'forbidden resource',
    'so is a pretty-printed field''s name');
SELECT is(ops.normalize_message('{"message":"Forbidden resource"}'), '{"message":"forbidden resource',
    'a field inside an object is kept: only a field that leads the line is its log''s printing');
SELECT is(ops.normalize_message('2024-02-29 12:15:08 = ERROR = cmd_error_reporter = terminating connection due to administrator command'),
          ops.normalize_message('2024-02-29 12:14:57 = ERROR = cmd_cron_service = terminating connection due to administrator command'),
    'a log record''s level and logger name between " = " separators are its fields');
SELECT is(ops.normalize_message('2024-02-29 12:15:08 | WARNING | app.db | pool exhausted'), 'pool exhausted',
    'so are they between " | " separators');
SELECT is(ops.normalize_message('x = 1 = 2 and ERROR = cmd_x'), 'x = <n> = <n> and error = cmd_x',
    'an assignment, or a level and a name without the record''s closing separator, is kept');

-- Version 10: a shell's missing-command report in one form, and a compact JSON key ending the wrapper.
SELECT is(ops.normalize_message('> sh: next: not found'), ops.normalize_message('sh: line 1: next: command not found'),
    'dash''s "sh: x: not found" and bash''s "sh: line <n>: x: command not found" are one missing command');
SELECT is(ops.normalize_message('sh: 1: pnpm: not found'), 'pnpm: command not found',
    'so is dash''s "sh: <n>: x: not found"');
SELECT is(ops.normalize_message('zsh: yq: not found; bash: yq: command not found'), 'zsh: yq: not found; bash: yq: command not found',
    'another shell''s word ending in "sh" is kept: only "sh: " itself is rewritten');
SELECT is(ops.normalize_message(ops.grouping_text('{"error":{"code":"401","message":"Bad credentials"}}', 'AUTH.CREDENTIALS_INVALID', 'bad credentials')),
          ops.normalize_message(ops.grouping_text('Bad credentials', 'AUTH.CREDENTIALS_INVALID', 'bad credentials')),
    'a compact JSON key''s ":" before the match ends the wrapper like ": ": the body''s message is the prose');
SELECT is(ops.grouping_text('gh: Bad credentials (HTTP 401) {"x":"y"}', 'AUTH.CREDENTIALS_INVALID', 'bad credentials'),
          'Bad credentials (HTTP 401) {"x":"y"}', 'a JSON key after the match does not move the start');

-- Version 11: a chain of exception classes leading a line is dropped whole.
SELECT is(ops.normalize_message('litellm.exceptions.APIConnectionError: litellm.APIConnectionError: OllamaException - Cannot connect to host localhost:11434'),
          ops.normalize_message('litellm.APIConnectionError: OllamaException - Cannot connect to host localhost:11434'),
    'one client prints three exception classes before the message, another two: one failure');
SELECT is(ops.normalize_message('see app.Client: FetchError: timeout'), 'see app.client: fetcherror: timeout',
    'classes after other text on the line are kept: the chain is read only at a line start');

-- Version 12: Terraform's "When applying changes to <address>, " before "provider" is dropped; the provider is kept.
SELECT is(ops.normalize_message('│ When applying changes to module.pods.module.pod[0].cml2_lifecycle.App-PoD, provider "provider[\"registry.terraform.io/ciscodevnet/cml2\"]" produced an unexpected new value: .state: was'),
          ops.normalize_message('│ When applying changes to module.tenants.module.tenant[0].cml2_lifecycle.Tenant, provider "provider[\"registry.terraform.io/ciscodevnet/cml2\"]" produced an unexpected new value: .state: was'),
    'one provider bug on two resources: one failure');
SELECT isnt(ops.normalize_message('When applying changes to aws_instance.a, provider "provider[\"registry.terraform.io/hashicorp/aws\"]" produced an unexpected new value'),
            ops.normalize_message('When applying changes to aws_instance.a, provider "provider[\"registry.terraform.io/hashicorp/google\"]" produced an unexpected new value'),
    'two providers stay apart');
SELECT is(ops.normalize_message('When applying changes to aws_instance.a, the plan changed'),
          'when applying changes to aws_instance.a, the plan changed',
    'the address is dropped only before "provider"');

-- Version 13: a regex that matches only across lines is read as its match, to the end of the line where it ends; the
-- wrapper line above it and the stack frames below it are left out (ops-b15pair-02).
SELECT is(ops.grouping_text(E'ActiveRecord::Deadlocked in admin/dashboard#index\nPG::TRDeadlockDetected: ERROR:  deadlock detected\nDETAIL:  Process 28925 waits for ShareLock on transaction 52830062; blocked by process 7632.\nCONTEXT:  while updating tuple (8545,33) in relation "site_links"\n\n    app/models/site.rb:122 - connect', 'DB.DEADLOCK',
                            (SELECT matched_pattern FROM ops.classify_error('ops', 'query', E'ActiveRecord::Deadlocked in admin/dashboard#index\nPG::TRDeadlockDetected: ERROR:  deadlock detected\nDETAIL:  Process 28925 waits for ShareLock on transaction 52830062; blocked by process 7632.\nCONTEXT:  while updating tuple (8545,33) in relation "site_links"\n\n    app/models/site.rb:122 - connect'))),
          E'deadlock detected\nDETAIL:  Process 28925 waits for ShareLock on transaction 52830062; blocked by process 7632.\nCONTEXT:  while updating tuple (8545,33) in relation "site_links"',
    'a match across lines is the grouping text, from its start to the end of the line where it ends');
SELECT is(ops.error_fingerprint('ops', 'query', 'DB.DEADLOCK', ops.grouping_text(E'ActiveRecord::Deadlocked in admin/dashboard#index\nPG::TRDeadlockDetected: ERROR:  deadlock detected\nDETAIL:  Process 28925 waits for ShareLock on transaction 52830062; blocked by process 7632.\nProcess 7632 waits for ShareLock on transaction 52830051; blocked by process 28925.\nHINT:  See server log for query details.\nCONTEXT:  while updating tuple (8545,33) in relation "site_links"\n\n    app/models/site.rb:122 - connect', 'DB.DEADLOCK',
                  (SELECT matched_pattern FROM ops.classify_error('ops', 'query', E'ActiveRecord::Deadlocked in admin/dashboard#index\nPG::TRDeadlockDetected: ERROR:  deadlock detected\nDETAIL:  Process 28925 waits for ShareLock on transaction 52830062; blocked by process 7632.\nProcess 7632 waits for ShareLock on transaction 52830051; blocked by process 28925.\nHINT:  See server log for query details.\nCONTEXT:  while updating tuple (8545,33) in relation "site_links"\n\n    app/models/site.rb:122 - connect'))), NULL),
          ops.error_fingerprint('ops', 'query', 'DB.DEADLOCK', ops.grouping_text(E'ActiveRecord::Deadlocked in Api::SyncJob@mice\nPG::TRDeadlockDetected: ERROR:  deadlock detected\nDETAIL:  Process 4267 waits for ShareLock on transaction 473603460; blocked by process 31482.\nProcess 31482 waits for ShareLock on transaction 473601208; blocked by process 4267.\nHINT:  See server log for query details.\nCONTEXT:  while updating tuple (5665,76) in relation "site_links"\n\n    app/models/site.rb:170 - Site#connect', 'DB.DEADLOCK',
                  (SELECT matched_pattern FROM ops.classify_error('ops', 'query', E'ActiveRecord::Deadlocked in Api::SyncJob@mice\nPG::TRDeadlockDetected: ERROR:  deadlock detected\nDETAIL:  Process 4267 waits for ShareLock on transaction 473603460; blocked by process 31482.\nProcess 31482 waits for ShareLock on transaction 473601208; blocked by process 4267.\nHINT:  See server log for query details.\nCONTEXT:  while updating tuple (5665,76) in relation "site_links"\n\n    app/models/site.rb:170 - Site#connect'))), NULL),
    'one deadlock on one relation under two requests and two frames: one group');
SELECT isnt(ops.error_fingerprint('ops', 'query', 'DB.DEADLOCK', ops.grouping_text(E'ERROR:  deadlock detected\nDETAIL:  Process 1 waits for ShareLock on transaction 52830062; blocked by process 7632.\nCONTEXT:  while updating tuple (8545,33) in relation "site_links"', 'DB.DEADLOCK',
                  (SELECT matched_pattern FROM ops.classify_error('ops', 'query', E'ERROR:  deadlock detected\nDETAIL:  Process 1 waits for ShareLock on transaction 52830062; blocked by process 7632.\nCONTEXT:  while updating tuple (8545,33) in relation "site_links"'))), NULL),
            ops.error_fingerprint('ops', 'query', 'DB.DEADLOCK', ops.grouping_text(E'ERROR:  deadlock detected\nDETAIL:  Process 1 waits for ShareLock on transaction 52830062; blocked by process 7632.\nCONTEXT:  while updating tuple (8545,33) in relation "users"', 'DB.DEADLOCK',
                  (SELECT matched_pattern FROM ops.classify_error('ops', 'query', E'ERROR:  deadlock detected\nDETAIL:  Process 1 waits for ShareLock on transaction 52830062; blocked by process 7632.\nCONTEXT:  while updating tuple (8545,33) in relation "users"'))), NULL),
    'deadlocks on two relations stay apart');

-- Version 14: a text that starts after a JSON key's '":"' ends where that string value ends, when the match lies
-- inside it; the object's other keys (a Terraform JSON diagnostic's "address") are not the failure (tf-b16pair-04).
SELECT is(ops.grouping_text('{"@level":"error","diagnostic":{"summary":"Request cancelled","detail":"The plugin.(*GRPCProvider).ApplyResourceChange request was cancelled.","address":"module.a.example_job.job[\"one\"]"}}', 'TF.PROVIDER_CRASHED',
                            (SELECT matched_pattern FROM ops.classify_error('terraform', 'apply', '{"@level":"error","diagnostic":{"summary":"Request cancelled","detail":"The plugin.(*GRPCProvider).ApplyResourceChange request was cancelled.","address":"module.a.example_job.job[\"one\"]"}}'))),
          'The plugin.(*GRPCProvider).ApplyResourceChange request was cancelled.',
    'a JSON string value ends the text at its closing quote');
-- (The code is grouped by pattern since sql/20261214000100_grouping_by_pattern.sql; the text rule is read under message.)
UPDATE ops.failure_modes SET grouping = 'message' WHERE code = 'AGENT.MODEL_QUOTA_EXHAUSTED';
SELECT is(ops.grouping_text('{"error":{"message":"Insufficient balance on \"team-a\" account","code":402}}', 'AGENT.MODEL_QUOTA_EXHAUSTED', 'insufficient balance'),
          'Insufficient balance on \"team-a\" account',
    'an escaped quote inside the value does not end it');
UPDATE ops.failure_modes SET grouping = 'pattern' WHERE code = 'AGENT.MODEL_QUOTA_EXHAUSTED';
SELECT is(ops.grouping_text('{"type":"not_found_error","message":"model: claude-x"}', 'AGENT.MODEL_NOT_FOUND',
                            (SELECT matched_pattern FROM ops.classify_error('agent_runner', 'runtime', '{"type":"not_found_error","message":"model: claude-x"}'))),
          'not_found_error","message":"model: claude-x"}',
    'a match that runs past the closing quote keeps the rest of the line');

-- Version 15: npm's log prefix, Node's getaddrinfo forms, curl's old resolve wording, the closing quotes and
-- parentheses of Python exception objects, Ruby's trailing exception class and Node's Require stack on one line
-- (dns-b16pair-02, dns-b17-pair-03, -09, -08, dns-b14pair-07, vercel-b16pair-02).
SELECT is(ops.normalize_message('npm ERR! network getaddrinfo ENOTFOUND registry.example.com registry.example.com:443'),
          ops.normalize_message('getaddrinfo ENOTFOUND registry.example.com'),
    'npm''s log prefix and Node''s host:port forms: one lookup failure');
SELECT is(ops.normalize_message('npm error getaddrinfo EAI_AGAIN registry.example.com:80'), 'getaddrinfo eai_again registry.example.com',
    'npm 10''s prefix is dropped and the port after the host too');
SELECT isnt(ops.normalize_message('getaddrinfo ENOTFOUND a.example.com a.example.com:443'),
            ops.normalize_message('getaddrinfo ENOTFOUND b.example.com'),
    'two hosts stay apart');
SELECT is(ops.normalize_message('getaddrinfo ENOTFOUND a.example.com b.example.com:443'), 'getaddrinfo enotfound a.example.com b.example.com:<n>',
    'a second host that is not the first is kept');
SELECT is(ops.normalize_message('Couldn''t resolve host ''example.com'''), ops.normalize_message('Could not resolve host: example.com'),
    'curl''s old and new wordings: one failure');
SELECT is(ops.normalize_message('Failed to establish a new connection: [Errno -3] Temporary failure in name resolution'')'': /simple/example-pkg/'),
          ops.normalize_message('Failed to establish a new connection: [Errno -3] Temporary failure in name resolution''))'),
    'the closing quotes and parentheses of exception objects, and urllib3''s path after them, are dropped');
SELECT is(ops.normalize_message('require(''left-pad'') failed'), 'require(''left-pad'') failed',
    'a quote and parenthesis inside the line are kept');
SELECT is(ops.normalize_message('getaddrinfo: nodename nor servname provided, or not known (SocketError)'),
          ops.normalize_message('SocketError: getaddrinfo: nodename nor servname provided, or not known'),
    'Ruby''s exception class after the message and before it: one failure');
SELECT is(ops.normalize_message('the job failed (see the log) (timeout error)'), 'the job failed (see the log) (timeout error)',
    'words in parentheses at a line end are kept: only a class name is dropped');
SELECT is(ops.normalize_message('Cannot find module ''next/dist/server/next'' Require stack: - /vercel/path0/noop.js'),
          ops.normalize_message('Cannot find module ''next/dist/server/next'''),
    'Node''s Require stack on the message''s line is dropped');

-- Version 16: a GitHub Actions workflow command with what precedes it on its line, OpenUpgrade's migration-script
-- wrapper and a severity word left at a line end by the next log record (gha-b18pair-09, odoo-b18pair-08,
-- ops-b14pair-09).
SELECT is(ops.normalize_message('devcontainers/ci@v0.3 return "::error::Unable to locate executable file: docker."'),
          ops.normalize_message('::error::Unable to locate executable file: docker.'),
    'a workflow command and what precedes it on its line are dropped');
SELECT is(ops.normalize_message('::warning file=app.py,line=3::Deprecated call'), 'deprecated call',
    'a workflow command with parameters is dropped too');
SELECT is(ops.normalize_message('PG::Error: FATAL:  too many connections for role "bob"'),
          'pg::error: fatal: too many connections for role "bob',
    'a class named Error after "::" is not a workflow command');
SELECT is(ops.normalize_message('OpenUpgrade: base: error in migration script base/migrations/11.0.1.3/pre-migration.py: ''Composed'' object has no attribute ''lower'''),
          ops.normalize_message('OpenUpgrade: ''Composed'' object has no attribute ''lower'''),
    'OpenUpgrade''s module and migration script before the exception are dropped');
SELECT is(ops.normalize_message('terminating connection due to administrator command FATAL:'),
          ops.normalize_message('terminating connection due to administrator command'),
    'a severity word with its colon ending a line after the text is dropped');
SELECT is(ops.normalize_message('Some error: the next line says why'), 'some error: the next line says why',
    'a severity word inside the line is kept');

-- Version 17: apt's mirror in a temporary resolver failure, and the toolchain version a setup action was asked for
-- (dns-b8pair-01, dns-b10pair-02, dns-b19pair-08, gha-b16pair-06).
SELECT is(ops.normalize_message('  Temporary failure resolving ''security.debian.org'''),
          ops.normalize_message('  Temporary failure resolving ''deb.debian.org'''),
    'apt''s temporary failure resolving a mirror reads without the mirror');
SELECT is(ops.normalize_message('W: Failed to fetch http://archive.ubuntu.com/ubuntu/dists/focal/InRelease  Temporary failure resolving ''archive.ubuntu.com'''),
          'w: temporary failure resolving ''<host>''',
    'the URL apt failed to fetch before it is dropped with the mirror');
SELECT is(ops.normalize_message('E: Could not resolve ''deb.debian.org'''), 'e: could not resolve ''deb.debian.org''',
    'apt''s could not resolve (no such name) keeps its host');
SELECT isnt(ops.normalize_message('Error: The version ''3.8'' with architecture ''x64'' was not found for Ubuntu 24.04.'),
            ops.normalize_message('Error: The version ''3.7'' with architecture ''x64'' was not found for Ubuntu 22.04.'),
    'the toolchain version a setup action was asked for keeps its numbers');
SELECT is(ops.normalize_message('Error: Version 3.9.5 with arch x64 not found'), 'version 3.9.5 with arch x<n> not found',
    'an unquoted toolchain version keeps its numbers, the architecture''s are <n>');
SELECT is(ops.normalize_message('Error: The version ''3.7'' with architecture ''x64'' was not found for Ubuntu 26.04.'),
          ops.normalize_message('Error: The version ''3.7'' with architecture ''x64'' was not found for Ubuntu 24.04.'),
    'the runner''s OS version after it is still <n>');

-- Version 18: Terraform's location of a diagnostic in a resource, a correlation id after an error code in
-- parentheses, LangChain's troubleshooting link and LangGraph's task note (tf-b21pair-03, tf-b21pair-09,
-- agent-b21pair-06).
SELECT is(ops.normalize_message(E'Error: can''t find storage pool ''default''\n\n  on kubic-kvm.tf line 5, in resource "libvirt_volume" "kubic_image":\n   5: resource "libvirt_volume" "kubic_image" {'),
          ops.normalize_message(E'Error: can''t find storage pool ''default''\n\n  on kubic-kvm.tf line 33, in resource "libvirt_cloudinit_disk" "commoninit":\n  33: resource "libvirt_cloudinit_disk" "commoninit" {'),
    'Terraform''s location of a diagnostic in a resource, with the block''s header line, is dropped');
SELECT is(ops.normalize_message(E'\u2502 Error: x failed\n\u2502\n\u2502   with module.a.aws_s3_bucket.b["c"],\n\u2502   on main.tf line 12, in resource "aws_s3_bucket" "b":\n\u2502   12: resource "aws_s3_bucket" "b" {'),
          'x failed',
    'the "with <address>," line above the location goes with it');
SELECT isnt(ops.normalize_message(E'Error: Unsupported Terraform Core version\n  on a.tf line 2, in terraform:\n   2:   required_version = "~> 1.3.0"'),
            ops.normalize_message(E'Error: Unsupported Terraform Core version\n  on b.tf line 3, in terraform:\n   3:   required_version = ">= 1.7.0"'),
    'a location outside a resource, and an attribute line quoted under it, are kept');
SELECT is(ops.normalize_message(E'on main.tf line 4, in resource "a" "b":\n  4:   ami = "ami-1"'),
          '<n>: ami = "ami-<n>',
    'an attribute line quoted under a resource''s location, not the block''s header, is kept');
SELECT is(ops.normalize_message('Error: error during placement (resource_unavailable, 5e12a9c07bd3f41)'),
          'error during placement (resource_unavailable)',
    'a correlation id after an error code in parentheses is dropped');
SELECT is(ops.normalize_message('failed (resource_unavailable, 42)'), 'failed (resource_unavailable, <n>)',
    'a number after the code is not an id and is kept');
SELECT is(ops.normalize_message(E'Recursion limit of 25 reached without hitting a stop condition.\nFor troubleshooting, visit: https://python.langchain.com/docs/troubleshooting/errors/GRAPH_RECURSION_LIMIT\nDuring task with name ''researcher'' and id ''3f0a2b7c-1d4e-8a96-5b2c-7e8f9a0b1c2d'''),
          ops.normalize_message(E'Recursion limit of 50 reached without hitting a stop condition. For troubleshooting, visit:\nhttps://docs.langchain.com/oss/python/langgraph/errors/GRAPH_RECURSION_LIMIT'),
    'LangChain''s troubleshooting link and LangGraph''s task note are dropped');
SELECT is(ops.normalize_message('For troubleshooting, see the log'), 'for troubleshooting, see the log',
    'a troubleshooting sentence without a link is kept');

-- Version 19: the attribute after Terraform's "produced an unexpected new value: " (or "invalid new value for ") and
-- Next.js's route after "Failed to collect page data for " (tf-b24pair-02, vercel-b24pair-07).
SELECT is(ops.normalize_message(E'provider "provider[\\"registry.terraform.io/astronomer/astro\\"]" produced an unexpected new value: .webserver_url: was'),
          ops.normalize_message(E'provider "provider[\\"registry.terraform.io/astronomer/astro\\"]" produced an unexpected new value: .webserver_airflow_api_url: was'),
    'the attribute a provider got wrong is dropped');
SELECT is(ops.normalize_message('provider "terraform.io/builtin/terraform" produced an invalid new value for .input[2].customer_owned_ipv4_pool: was null'),
          'provider "terraform.io/builtin/terraform" produced an invalid new value for was null',
    'an attribute after "invalid new value for" is dropped, the provider and the values kept');
SELECT isnt(ops.normalize_message('provider "provider[\"registry.terraform.io/a/b\"]" produced an unexpected new value: Root resource was present, but now absent.'),
            ops.normalize_message('provider "provider[\"registry.terraform.io/a/b\"]" produced an unexpected new value: .name: was present, but now absent.'),
    'a root resource that vanished is not an attribute');
SELECT isnt(ops.normalize_message('Error: Failed to collect page data for /_sites/[site]/[slug]'),
            ops.normalize_message('Error: Failed to collect page data for /api/[[...route]]'),
    'a Next.js route whose page data failed is kept');
SELECT is(ops.normalize_message('Error: Failed to collect page data for /blog/[slug]'),
          'failed to collect page data for /blog/[slug]',
    'the route is printed as it is, not as <path>');

-- Version 20: botocore's "An error occurred (<Code>) when calling the <Operation> operation: ", Odoo's "Uncaught
-- Promise > " and Terraform's "vertex "<address>" error: " (agent-b28pair-03, odoo-b28pair-04, tf-b28pair-01, -04).
SELECT is(ops.normalize_message('An error occurred (AccessDeniedException) when calling the InvokeModel operation: You don''t have access to the model with the specified model ID.'),
          ops.normalize_message('AccessDeniedException - You don''t have access to the model with the specified model ID.'),
    'botocore''s operation wrapper reads as the code and message the service client prints');
SELECT is(ops.normalize_message('An error occurred (InvalidParameterValue) when calling the RunInstances operation (reached max retries: 4): Bad value'),
          'invalidparametervalue: bad value',
    'a code that is not an exception class is kept, the operation and the retries dropped');
SELECT is(ops.normalize_message('An error occurred (ThrottlingException) when calling the Converse operation: Too many requests'),
          'too many requests',
    'a code that is an exception class is dropped like any leading class');
SELECT is(ops.normalize_message('Uncaught Promise > Invalid props for component ''PieChart'': ''title'' is undefined'),
          ops.normalize_message('OwlError: Invalid props for component ''PieChart'': ''title'' is undefined'),
    'Odoo''s "Uncaught Promise > " is how the error reached the dialog');
SELECT is(ops.normalize_message('UncaughtPromiseError > OwlError: An error occured in the owl lifecycle'),
          'an error occured in the owl lifecycle',
    'Odoo''s "UncaughtPromiseError > " and the class after it are dropped');
SELECT is(ops.normalize_message('[ERROR] vertex "netapp-cloudmanager_cvo_gcp.cvo-a" error: code: 403, message: User is not allowed'),
          ops.normalize_message('[ERROR] vertex "netapp-cloudmanager_cvo_gcp.cvo-b (expand)" error: code: 403, message: User is not allowed'),
    'Terraform''s graph vertex address is dropped, the message kept');
SELECT is(ops.normalize_message('[ERROR] vertex "aws_s3_bucket.a" error: code: 403, message: denied'),
          'code: 403, message: denied',
    'the message after the vertex is kept as it is');
-- Version 20: a pictograph leading a line, Codex's retry note and "url: …, cf-ray: …" tail, backticks inside a line
-- (agent-b16pair-02, agent-b23pair-08).
SELECT is(ops.normalize_message('🖐  unexpected status 400 Bad Request: {"detail":"Instructions are not valid"}'),
          ops.normalize_message('unexpected status 400 Bad Request: {"detail":"Instructions are not valid"}; retrying 1/5 in 193ms…'),
    'a pictograph leading a line and Codex''s retry note are not the failure');
SELECT is(ops.normalize_message('build ✔ done'), 'build ✔ done', 'a symbol inside a line is kept');
SELECT is(ops.normalize_message('The model gpt-5.5 does not exist., url: https://chatgpt.com/backend-api/codex/responses, cf-ray: 3fa1c2d4e5b60718-SJC, request id: 5b2e'),
          'the model gpt-<n>.<n> does not exist.',
    'Codex''s url, cf-ray and request id after the message are dropped');
SELECT is(ops.normalize_message('The model `gpt-5.5` does not exist'), ops.normalize_message('The model gpt-5.5 does not exist'),
    'backticks inside a line are dropped, the word they quote kept');
SELECT isnt(ops.normalize_message('The model `llama-guard` does not exist'), ops.normalize_message('The model `mistral-large` does not exist'),
    'two quoted model ids stay two failures');
SELECT is(ops.grouping_text(E'Provider error\nHTTP 404: Model ''stealth/ox-alpha'' not found. The requested model does not exist in our catalog.',
                            'AGENT.MODEL_NOT_FOUND', (SELECT pattern FROM ops.failure_mode_patterns WHERE code = 'AGENT.MODEL_NOT_FOUND'
                                                      AND pattern LIKE '(^|[^a-z])model:? %does not exist' LIMIT 1)),
          'Model ''stealth/ox-alpha'' not found. The requested model does not exist in our catalog.',
    'a ": " right before a match that starts with its boundary''s blank ends the wrapper (grouping text v20)');

-- Version 21: CoreDNS's errors plugin line keeps the name asked for, not the rcode and record type (dns-b12pair-02,
-- dns-b12pair-04, dns-b29pair-09).
SELECT is(ops.grouping_text('[ERROR] plugin/errors: 2 lcr.example.com. AAAA: read udp 172.25.2.124:36414->172.31.136.23:53: i/o timeout',
                            'NET.DNS_TEMPORARY_FAILURE', ':53: (i/o timeout|read: connection refused|connect: network is unreachable)'),
          'read udp 172.25.2.124:36414->172.31.136.23:53: i/o timeout for lcr.example.com.',
    'CoreDNS''s errors plugin line: the name asked for follows the error, the rcode and record type are dropped (grouping text v21)');
SELECT is(ops.error_fingerprint('dns', 'lookup', 'NET.DNS_TEMPORARY_FAILURE',
              ops.grouping_text('[ERROR] plugin/errors: 2 lcr.example.com. A: read udp 172.25.2.124:6777->172.31.136.23:53: i/o timeout',
                                'NET.DNS_TEMPORARY_FAILURE', ':53: (i/o timeout|read: connection refused|connect: network is unreachable)'), NULL),
          ops.error_fingerprint('dns', 'lookup', 'NET.DNS_TEMPORARY_FAILURE',
              ops.grouping_text('[ERROR] plugin/errors: 2 lcr.example.com. AAAA: read udp 172.25.2.124:36414->172.31.136.23:53: i/o timeout',
                                'NET.DNS_TEMPORARY_FAILURE', ':53: (i/o timeout|read: connection refused|connect: network is unreachable)'), NULL),
    'one name''s A and AAAA queries timing out are one group');
SELECT isnt(ops.error_fingerprint('dns', 'lookup', 'NET.DNS_TEMPORARY_FAILURE',
              ops.grouping_text('[ERROR] plugin/errors: 2 lcr.example.com. A: read udp 172.25.2.124:36714->172.31.136.23:53: i/o timeout',
                                'NET.DNS_TEMPORARY_FAILURE', ':53: (i/o timeout|read: connection refused|connect: network is unreachable)'), NULL),
            ops.error_fingerprint('dns', 'lookup', 'NET.DNS_TEMPORARY_FAILURE',
              ops.grouping_text('[ERROR] plugin/errors: 2 id.example.org. A: read udp 10.244.1.6:43428->168.63.129.16:53: i/o timeout',
                                'NET.DNS_TEMPORARY_FAILURE', ':53: (i/o timeout|read: connection refused|connect: network is unreachable)'), NULL),
    'two names behind timing-out upstreams are two groups');
SELECT is(ops.grouping_text('[ERROR] 2 mirrors.example.net. AAAA: unreachable backend: read udp 10.99.17.97:60877->10.10.10.252:53: i/o timeout',
                            'NET.DNS_TEMPORARY_FAILURE', ':53: (i/o timeout|read: connection refused|connect: network is unreachable)'),
          'read udp 10.99.17.97:60877->10.10.10.252:53: i/o timeout for mirrors.example.net.',
    'the form without "plugin/errors: " reads the same way');

SELECT is(ops.normalize_message(E'> Build failed with 1 error:\n.svelte-kit/vercel-tmp/entry.js:3:20: error: Could not resolve "../output/server/app.js"'),
          ops.normalize_message('> .svelte-kit/vercel-tmp/entry.js:3:20: error: Could not resolve "../output/server/app.js"'),
    'esbuild''s "Build failed with <n> error:" summary line is not the failure (v21, vercel-b31pair-05)');
SELECT is(ops.normalize_message(E'Error: Build failed with 2 errors:\nx.js:1:2: ERROR: a'), 'x.js:<n>:<n>: error: a',
    'the plural summary is dropped the same way, the errors below it kept');
SELECT is(ops.normalize_message('Build failed with 1 error: x.js:1:2: ERROR: a'), 'build failed with <n> error: x.js:<n>:<n>: error: a',
    'the summary is dropped only alone on its line');
-- Version 22: Odoo's worker process id in parentheses is not an HTTP status (odoo-b14pair-05, odoo-b26pair-08), and a
-- line carrying RabbitMQ's delivery acknowledgement timeout reads that alone (ops-b20pair-01, -02, ops-b32pair-07).
SELECT is(ops.normalize_message('odoo.service.server: WorkerHTTP (380) timeout after 0s'),
          ops.normalize_message('odoo.service.server: WorkerHTTP (383) timeout after 0s'),
    'two Odoo worker process ids are one failure (v22)');
SELECT is(ops.normalize_message('Worker (4194304) CPU time limit (60) reached.'), 'worker (<n>) cpu time limit (<n>) reached.',
    'a seven-digit worker id reads (<n>) too');
SELECT is(ops.normalize_message('upstream (502) bad gateway'), 'upstream (502) bad gateway',
    'a status in parentheses after any other word is kept');
SELECT is(ops.normalize_message('Error: Channel closed by server: 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - delivery acknowledgement on channel 1 timed out. Timeout value used: 1800000 ms. This timeout value can be configured, see consumers doc guide to learn more"'),
          'delivery acknowledgement on channel <n> timed out',
    'RabbitMQ''s delivery acknowledgement timeout reads alone, without the client''s wrapper and the timeout value (v22)');
SELECT is(ops.normalize_message(E'Unrecoverable error: PreconditionFailed(406, ''PRECONDITION_FAILED - delivery acknowledgement on channel 1 timed out. Timeout value used: 1800000 ms.'', (0, 0), '''').\nnext line'),
          'delivery acknowledgement on channel <n> timed out next line',
    'only the line that carries it is read that way');
-- Version 23: the name under an ACME challenge's "_acme-challenge." (dns-b20pair-01, dns-b29pair-02, dns-b34pair-08),
-- a GitHub Actions step heading alone on its line (gha-b34pair-04) and redis-client's address (ops-b23pair-11).
SELECT is(ops.normalize_message('unexpected response code ''SERVFAIL'' for _acme-challenge.admin.example.co.uk.'),
          ops.normalize_message('unexpected response code ''SERVFAIL'' for _acme-challenge.example.co.uk.'),
    'two names under one ACME challenge failure are one failure (v23)');
SELECT is(ops.normalize_message('SERVFAIL looking up TXT for _acme-challenge.nginx.example.com - the nameservers'),
          'servfail looking up <type> for _acme-challenge.<name> - the nameservers',
    'the name reads <name>, what follows it is kept');
SELECT isnt(ops.normalize_message('SERVFAIL for <uuid>.auth.acme-dns.io.'), ops.normalize_message('SERVFAIL for _acme-challenge.a.example.com.'),
    'a name that is not under _acme-challenge. is kept');
SELECT is(ops.normalize_message(E'Run softprops/action-gh-release@6da8fa9354ddfdc4aeace5fc48d7f679b5214090\nRelease already exists'),
          'release already exists',
    'a GitHub Actions step heading alone on its line is dropped (v23)');
SELECT is(ops.normalize_message('Run softprops/action-gh-release@v2 Error: GitHub Releases requires a tag'),
          'run softprops/action-gh-release@v<n> error: github releases requires a tag',
    'a heading with the error on its line is kept');
SELECT is(ops.normalize_message('RedisClient::CommandError: LOADING Redis is loading the dataset in memory (redis://dawarich_redis:6379)'),
          ops.normalize_message('RedisClient::CommandError: LOADING Redis is loading the dataset in memory'),
    'redis-client''s server address after the reply is dropped (v23)');
SELECT is(ops.normalize_message('LOADING Redis is loading the dataset in memory (Redis::Error)'),
          'loading redis is loading the dataset in memory (redis::error)',
    'an exception class in parentheses is kept');
SELECT is(ops.normalize_message('DNS problem: NXDOMAIN looking up AAAA for www.example.com - check that a DNS record exists'),
          ops.normalize_message('DNS problem: NXDOMAIN looking up A for www.example.com - check that a DNS record exists'),
    'the record type a lookup asked for is not the failure: "looking up <type> for <name>" (v24)');
SELECT isnt(ops.normalize_message('NXDOMAIN looking up A for www.example.com'), ops.normalize_message('NXDOMAIN looking up A for api.example.com'),
    'the name looked up is kept');
SELECT is(ops.normalize_message('DNSSEC validation failed for question archlinux.org in DS: NO_SIGNATURE'),
          'dnssec validation failed for question archlinux.org in <type>: no_signature',
    'the type of a question that failed DNSSEC validation reads <type>, the name and the reason are kept (v24)');
SELECT is(ops.normalize_message('[INFO] 10.0.0.7:41234 - 5 "AAAA IN web.default.svc.cluster.local. udp 60 false 512" NXDOMAIN qr,aa,rd 153 0.0001s'),
          ops.normalize_message('[INFO] 10.0.0.7:41234 - 5 "A IN web.default.svc.cluster.local. udp 60 false 512" NXDOMAIN qr,aa,rd 153 0.0001s'),
    'CoreDNS''s log record of one name asked for A and AAAA is one failure (v24)');
SELECT is(ops.normalize_message('record type TXT is not supported'), 'record type txt is not supported',
    'a record type anywhere else is kept');
SELECT is(ops.normalize_message('A Node.js module is loaded (''node:fs/promises'' at line 2) which is not supported in the Edge Runtime.'),
          ops.normalize_message('A Node.js module is loaded (''fs/promises'' at line 2) which is not supported in the Edge Runtime.'),
    'a core module named with and without Node''s "node:" scheme is one module (v25)');
SELECT isnt(ops.normalize_message('Cannot find module ''node:fs'''), ops.normalize_message('Cannot find module ''node:path'''),
    'the module itself is kept');
SELECT is(ops.normalize_message('Nov 06 22:38:56 storage openarchiver[2872981]: ReplyError: MISCONF Valkey is unable to persist to disk'),
          ops.normalize_message('Nov 03 15:06:35 storage openarchiver[9070]: ReplyError: MISCONF Valkey is unable to persist to disk'),
    'a syslog tag''s process id reads <n> whatever its length (v26)');
SELECT is(ops.normalize_message('results[12345678] too large'), 'results[<hex>] too large',
    'a bracketed number that is not a syslog tag''s pid is read as before');
SELECT isnt(ops.normalize_message('This request has been automatically failed because it uses a deprecated version of `actions/upload-artifact: v3`.'),
            ops.normalize_message('This request has been automatically failed because it uses a deprecated version of `actions/upload-artifact: v1`.'),
    'the major version of a deprecated action names the notice that retired it (v26)');
SELECT is(ops.normalize_message('uses a deprecated version of `actions/cache: v3.2.6`.'), 'uses a deprecated version of actions/cache: v3.<n>.<n>.',
    'its minor and patch are not kept');
SELECT is(ops.normalize_message('dial tcp: lookup 2A7D51C9E04B3F6A8C2D19E7B5F0A4C3.sk1.us-east-2.eks.amazonaws.com on 192.168.1.1:53: no such host'),
          ops.normalize_message('dial tcp: lookup C4E1A9F27B3D580E6A1C9B2D7F4E3A05.gr7.us-east-2.eks.amazonaws.com on 10.0.0.2:53: no such host'),
    'two generated EKS endpoint hosts of one region differ in no kept part (v26)');
SELECT isnt(ops.normalize_message('lookup 2A7D51C9E04B3F6A8C2D19E7B5F0A4C3.sk1.us-east-2.eks.amazonaws.com: no such host'),
            ops.normalize_message('lookup 2A7D51C9E04B3F6A8C2D19E7B5F0A4C3.sk1.eu-west-1.eks.amazonaws.com: no such host'),
    'the region of an EKS endpoint is kept');
SELECT is(ops.normalize_message(E'\u2577\n\u2502 Error: 260002: password is empty\n\u2502\n\u2502   with provider["registry.terraform.io/snowflake-labs/snowflake"],\n\u2502   on main.tf line 21, in provider "snowflake":\n\u2502   21: provider "snowflake" {\n\u2502\n\u2575'),
          ops.normalize_message('Error: 260002: password is empty'),
    'a diagnostic''s location in a provider block is where, not what (v27)');
SELECT is(ops.normalize_message('error pinging docker server: cannot connect to the docker daemon. with provider["registry.terraform.io/kreuzwerker/docker"] on provide.tf line 10, in provider "docker"'),
          ops.normalize_message('error pinging docker server: cannot connect to the docker daemon. with provider["registry.terraform.io/kreuzwer'),
    'so is one flattened on the summary''s line, whole or cut (v27)');
SELECT isnt(ops.normalize_message(E'Error: cannot re-use a name that is still in use\n\n  with module.cert-manager.helm_release.cert_manager[0],'),
            ops.normalize_message(E'Error: cannot re-use a name that is still in use\n\n  with module.cluster.helm_release.addon[0],'),
    'a resource''s address alone under the summary is kept');
SELECT is(ops.normalize_message(E'When applying changes to module.kv.azurerm_key_vault.app, provider\n"registry.terraform.io/hashicorp/azurerm" produced an unexpected new value:'),
          ops.normalize_message(E'When applying changes to module.kv.azurerm_key_vault.app,\nprovider "provider[\\"registry.terraform.io/hashicorp/azurerm\\"]" produced an unexpected new value:'),
    'a provider address wrapped inside its quotes or printed whole reads provider "<source>" (v28)');
SELECT is(ops.normalize_message('provider "provider[\"registry.terraform.io/hashicorp/helm\"]" produced an invalid new value for .values'),
          'provider "registry.terraform.io/hashicorp/helm" produced an invalid new value for .values',
    'so does the provider of an invalid new value');
SELECT isnt(ops.normalize_message('provider["registry.opentofu.org/stackitcloud/stackit"]" produced an unexpected new value:'),
            ops.normalize_message('provider "provider[\"registry.terraform.io/stackitcloud/stackit\"]" produced an unexpected new value:'),
    'the provider''s source, its registry host included, is kept');
SELECT is(ops.normalize_message('Error waiting for instance (a34baefe-a2a6-49f6-bf0b-214a3151d3dd) to become ready: unexpected state ''ERROR'', wanted target ''ACTIVE''. last error: %!s(<nil>)'),
          'error waiting for instance (<uuid>) to become ready: unexpected state ''error'', wanted target ''active''',
    'Go''s nil last error after a waiter''s unexpected state says nothing (v28)');
SELECT isnt(ops.normalize_message('unexpected state ''ERROR'', wanted target ''ACTIVE''. last error: quota exceeded'),
            ops.normalize_message('unexpected state ''ERROR'', wanted target ''ACTIVE'''),
    'a last error with a text is kept');
SELECT is(ops.normalize_message('Error code: 404 - {''error'': {''message'': ''No endpoints found that support tool use.'', ''code'': 404}}'),
          '{''error'': {''message'': ''no endpoints found that support tool use.',
    'a Python dict''s number and None fields after the message, with its braces, end nothing the message says (v28; v30 drops the status)');
SELECT isnt(ops.normalize_message('{''error'': {''message'': ''Invalid value'', ''param'': ''messages'', ''code'': 400}}'),
            ops.normalize_message('{''error'': {''message'': ''Invalid value'', ''param'': ''tools'', ''code'': 400}}'),
    'a field with a string value (the parameter at fault) is kept');
SELECT is(ops.normalize_message('Error code: 400 "Incorrect API key provided: gs***tF. You can obtain an API key from console.x.ai.'),
          ops.normalize_message('Error code: 400 "Incorrect API key provided: sk***YA. You can obtain an API key from console.x.ai.'),
    'a masked API key''s visible ends are the key''s, not the failure (v29)');
SELECT isnt(ops.normalize_message('Incorrect API key provided: lm-studio.'),
            ops.normalize_message('Incorrect API key provided: ollama.'),
    'a key printed unmasked is kept');
SELECT is(ops.normalize_message('Internal error: 400 <400> InternalError.Algo.InvalidParameter: Range of input length should be [1, 983616]'),
          ops.normalize_message('HTTP 400: <400> InternalError.Algo.InvalidParameter: Range of input length should be [1, 258048]'),
    'a client''s HTTP status before an API''s error body is the client''s wrapper (v30)');
SELECT isnt(ops.normalize_message('API Error: 400 Model does not exist.'),
            ops.normalize_message('API Error: 404 Model does not exist.'),
    'a status before a sentence, not a body, is kept');
SELECT is(ops.normalize_message('2019-03-03 13:12:33,563 19125 ERROR erp_database OpenUpgrade: duplicate key value'),
          ops.normalize_message('ERROR: duplicate key value'),
    'Odoo''s log record before a message is how it was printed (v30)');
SELECT is(ops.normalize_message('[1687737600] libunbound[487866:0] fatal error: could not open autotrust file'),
          ops.normalize_message('fatal error: could not open autotrust file'),
    'Unbound''s log record tag before a level is how it was printed (v31)');
SELECT isnt(ops.normalize_message('unbound[1:0] could not open autotrust file'),
            ops.normalize_message('could not open autotrust file'),
    'a tag not before a level is kept');
SELECT is(ops.normalize_message('{"stack":"Error: 10 ABORTED: Too much contention.\n    at Object.f (/srv/a/call.js:30:26)\n    at g (/srv/a/client.js:174:52)"}'),
          ops.normalize_message(E'Error: 10 ABORTED: Too much contention.\n    at Object.f (/api/src/call.ts:81:24)'),
    'a JavaScript stack serialized in a JSON string is its message (v32)');
SELECT isnt(ops.normalize_message('{"detail":"Error: x\n  at least one field is required"}'),
            ops.normalize_message('{"detail":"Error: x"}'),
    'an escaped line that is not a frame is kept');
SELECT is(ops.normalize_message(E'```bash\nError: Codecov: Failed to properly upload\n```'),
          ops.normalize_message('Error: Codecov: Failed to properly upload'),
    'a Markdown code fence around a pasted log is dropped (v33)');
SELECT is(ops.normalize_message(E'{\n\t"name": "ValueError",\n\t"message": "Calculated available context size -271 was not non-negative.",'),
          ops.normalize_message('ValueError: Calculated available context size -24 was not non-negative.'),
    'a Python exception printed as a JSON object with its class field is its message (v33)');
SELECT isnt(ops.normalize_message('Error: llama runner process has terminated: exit status 0xc0000409'),
            ops.normalize_message('Error: llama runner process has terminated: exit status 0xc000001d'),
    'a hex exit status is kept, as a decimal exit code is (v33)');
SELECT is(ops.normalize_message('Error: llama runner process has terminated: exit status 0xc0000409'),
          'llama runner process has terminated: exit status 0xc0000409',
    'a hex exit status reads as printed, lower-cased (v33)');
SELECT is(ops.normalize_message(E'keydb-1  | 1:27:S 03 Dec 2024 22:23:15.279 # === ASSERTION FAILED ===\nkeydb-1  | 1:27:S 03 Dec 2024 22:23:15.279 # ==> db.cpp:2935 ''x >= 0'' is not true'),
          ops.normalize_message(E'449746:449757:S 10 Jan 2023 18:31:03.753 # === ASSERTION FAILED ===\n449746:449757:S 10 Jan 2023 18:31:03.753 # ==> db.cpp:2908 ''x >= 0'' is not true'),
    'Docker Compose''s service prefix and a date with a month''s name do not split one failure (v34)');
SELECT is(ops.normalize_message(E'tile-server_1  | OperationException: object too large\ntile-server_1  |        at a.B.c(B.java:192)'),
          'object too large',
    'a Compose 1 prefix is dropped on each line, so a frame under it is dropped too (v34)');
SELECT is(ops.normalize_message('Dec 20 15:00:45 ns1 pdns[5136]: Recursive query was not answered'),
          ops.normalize_message('Jul  9 06:12:10 ns1 pdns[77]: Recursive query was not answered'),
    'a syslog date reads <ts> whatever its month (v34)');
SELECT is(ops.normalize_message('date: Tue, 02 Jan 2024 10:00:00 GMT'), 'date: <ts> gmt',
    'an HTTP date reads <ts> with its weekday (v34)');
SELECT isnt(ops.normalize_message('certificate expires Dec 20'), ops.normalize_message('certificate expires Jan 20'),
    'a date without a time of day keeps its month');
SELECT isnt(ops.normalize_message('select a | b'), ops.normalize_message('b'),
    'a "|" not after a service and a replica number is kept');
-- Fingerprints carry the current version, written only in ops.current_fingerprint_version(): the tag hashed in is
-- built from it (tests/test_fingerprint_version_tag.py checks the whole hashed string).
SELECT is(ops.code_group_fingerprint('ops', NULL, 'X.Y'),
          encode(sha256(convert_to('fp' || ops.current_fingerprint_version() || '|3:ops|~|3:X.Y|=', 'UTF8')), 'hex'),
    'the fingerprint''s tag is fp<n>| with n the current fingerprint version');
INSERT INTO ops.error_events (source, message) VALUES ('ops', 'grouping version probe 42');
SELECT is((SELECT fingerprint_version FROM ops.agent_errors WHERE sample_message = 'grouping version probe 42'),
          ops.current_fingerprint_version(), 'new groups are stamped with the current fingerprint version');

-- Regrouping: two version-1 groups that version 2 sees as one error become one group with their summed count.
SELECT set_config('ops.maintenance', 'on', true);
INSERT INTO ops.error_events (source, message) VALUES ('agent_runner', 'overloaded req_011CSHoEeqs5C35K2UUqR7Fy'),
    ('agent_runner', 'overloaded req_011CSHoEeqs5C35K2UUqR7Fy'), ('agent_runner', 'overloaded req_011CTZq9d1YxVb7Pw3Lk2MnR');
UPDATE ops.error_events SET fingerprint = 'v1-' || md5(message), fingerprint_version = 1 WHERE message LIKE 'overloaded req_%';
SELECT set_config('ops.maintenance', 'off', true);
DELETE FROM ops.agent_errors WHERE sample_message LIKE 'overloaded req_%';
INSERT INTO ops.agent_errors (fingerprint, fingerprint_version, code, source, count, first_seen_at, last_seen_at, sample_message, status)
SELECT 'v1-' || md5(message), 1, min(code), 'agent_runner', count(*) + 5, min(received_at) - interval '1 day', max(received_at),
       message, 'resolved'
FROM ops.error_events WHERE message LIKE 'overloaded req_%' GROUP BY message;
-- The group whose status the new one carries (the most recently seen) has a resolution record and an ignore end.
UPDATE ops.agent_errors SET resolved_by = 'alice', resolution_sha256 = repeat('ab', 32), ignored_until = '2027-01-01Z',
       resolved_at = '2026-11-01Z', resolution_ref = 'PR-7', last_seen_at = last_seen_at + interval '1 hour'
WHERE fingerprint = (SELECT fingerprint FROM ops.agent_errors WHERE sample_message LIKE 'overloaded req_%' ORDER BY sample_message LIMIT 1);

SELECT is((SELECT count(*) FROM ops.regroup_errors()), 2::bigint, 'a dry run plans both old groups');
SELECT is((SELECT count(*) FROM ops.agent_errors WHERE fingerprint_version = 1), 2::bigint, 'a dry run changes nothing');
SELECT is((SELECT sum(count_moved) FROM ops.regroup_errors(dry_run => false)), 13::numeric,
    'regrouping moves every count, including events retention already dropped');
SELECT results_eq($$ SELECT count(*), sum(count), min(fingerprint_version) FROM ops.agent_errors WHERE sample_message LIKE 'overloaded req_%' $$,
    $$ VALUES (1::bigint, 13::numeric, ops.current_fingerprint_version()) $$,
    'the two old groups are one current-version group holding their summed count; aliases point old to new');
SELECT results_eq($$ SELECT status, resolved_by, resolution_sha256, ignored_until, resolved_at, resolution_ref
                     FROM ops.agent_errors WHERE sample_message LIKE 'overloaded req_%' $$,
    $$ VALUES ('resolved'::text, 'alice'::text, repeat('ab', 32), '2027-01-01Z'::timestamptz, '2026-11-01Z'::timestamptz, 'PR-7'::text) $$,
    'regrouping carries the resolution record (resolved_by, resolution_sha256, ignored_until) with the status');


-- A changed grouping rule: the existing groups of that code move on the next regroup, not before.
INSERT INTO ops.error_events (source, phase, message) VALUES
    ('ops', 'deliver', 'rule probe: You have exceeded a secondary rate limit'),
    ('ops', 'deliver', 'rule probe: API rate limit exceeded for installation 77');
SELECT is((SELECT count(*) FROM ops.agent_errors WHERE sample_message LIKE 'rule probe:%'), 1::bigint,
    'under grouping: code two rate-limit texts are one group');
UPDATE ops.failure_modes SET grouping = 'message' WHERE code = 'INFRA.RATE_LIMITED';
SELECT is((SELECT count(*) FROM ops.regroup_errors() r JOIN ops.agent_errors a ON a.fingerprint = r.old_fingerprint
           WHERE a.sample_message LIKE 'rule probe:%'), 2::bigint,
    'after the rule changes to message, a dry run plans the group''s split by text (one row per new group)');
SELECT is((SELECT count(*) FROM ops.regroup_errors(dry_run => false)), 2::bigint, 'the regroup moves only that group');
SELECT results_eq($$ SELECT count(*), sum(count) FROM ops.agent_errors WHERE sample_message LIKE 'rule probe:%' $$,
    $$ VALUES (2::bigint, 2::numeric) $$, 'the group is split in two by text, counts kept');
UPDATE ops.failure_modes SET grouping = 'code' WHERE code = 'INFRA.RATE_LIMITED';
SELECT is((SELECT sum(count_moved) FROM ops.regroup_errors(dry_run => false)), 2::numeric,
    'back to grouping: code, the regroup merges them again');
SELECT results_eq($$ SELECT count(*), sum(count) FROM ops.agent_errors WHERE sample_message LIKE 'rule probe:%' $$,
    $$ VALUES (1::bigint, 2::numeric) $$, 'one group holding both events');

-- The third rule, pattern: one group per pattern that read the text (sql/20261214000100_grouping_by_pattern.sql).
UPDATE ops.failure_modes SET grouping = 'pattern' WHERE code = 'INFRA.RATE_LIMITED';
SELECT is(ops.grouping_text('You have exceeded a secondary rate limit', 'INFRA.RATE_LIMITED', 'secondary rate limit'),
    'secondary rate limit', 'under grouping: pattern the grouping text is the matched pattern itself');
SELECT is(ops.grouping_text('You have exceeded a secondary rate limit', 'INFRA.RATE_LIMITED', NULL), NULL,
    'and NULL when no pattern read the text (a code the producer named)');
SELECT is(ops.error_fingerprint('ops', 'deliver', 'INFRA.RATE_LIMITED', 'secondary rate limit', 'at frame (x.js:1:1)'),
    ops.pattern_group_fingerprint('ops', 'deliver', 'INFRA.RATE_LIMITED', 'secondary rate limit'),
    'a code grouped by pattern gets its pattern''s group, whatever the top frame');
SELECT is(ops.error_fingerprint('ops', 'deliver', 'INFRA.RATE_LIMITED', NULL, NULL),
    ops.code_group_fingerprint('ops', 'deliver', 'INFRA.RATE_LIMITED'),
    'no pattern: the code''s one group');
SELECT isnt(ops.pattern_group_fingerprint('ops', 'deliver', 'INFRA.RATE_LIMITED', 'secondary rate limit'),
    ops.pattern_group_fingerprint('ops', 'deliver', 'INFRA.RATE_LIMITED', 'rate limit exceeded'),
    'two patterns, two groups');
SELECT isnt(ops.pattern_group_fingerprint('ops', 'deliver', 'INFRA.RATE_LIMITED', NULL),
    ops.code_group_fingerprint('ops', 'deliver', 'INFRA.RATE_LIMITED'),
    'the pattern form never collides with the code''s one group, even for a NULL pattern');
SELECT is((SELECT count(*) FROM ops.regroup_errors(dry_run => false)), 2::bigint,
    'code -> pattern: the code''s one group is split by the pattern each event matched');
SELECT results_eq($$ SELECT count(*), sum(count) FROM ops.agent_errors WHERE sample_message LIKE 'rule probe:%' $$,
    $$ VALUES (2::bigint, 2::numeric) $$, 'two groups, one per pattern, counts kept');
SELECT results_eq($$ SELECT bool_and(fingerprint = ops.pattern_group_fingerprint(source, phase, code, matched_pattern))
                     FROM ops.agent_errors WHERE sample_message LIKE 'rule probe:%' $$,
    $$ VALUES (true) $$, 'each sits at its pattern''s fingerprint');
INSERT INTO ops.error_events (source, phase, message) VALUES
    ('ops', 'deliver', 'rule probe: You have exceeded a secondary rate limit again, retry in 60 s');
SELECT results_eq($$ SELECT count(*), sum(count) FROM ops.agent_errors WHERE sample_message LIKE 'rule probe:%' $$,
    $$ VALUES (2::bigint, 3::numeric) $$, 'a new event of a pattern joins that pattern''s group, whatever else it says');
SELECT is((SELECT count(*) FROM ops.regroup_errors()), 0::bigint, 'nothing left to move under pattern');
UPDATE ops.failure_modes SET grouping = 'message' WHERE code = 'INFRA.RATE_LIMITED';
SELECT is((SELECT count(*) FROM ops.regroup_errors(dry_run => false) r WHERE r.code = 'INFRA.RATE_LIMITED'), 3::bigint,
    'pattern -> message: both pattern groups move, the first split by text');
SELECT results_eq($$ SELECT count(*), sum(count) FROM ops.agent_errors WHERE sample_message LIKE 'rule probe:%' $$,
    $$ VALUES (3::bigint, 3::numeric) $$, 'three texts, three groups, counts kept');
UPDATE ops.failure_modes SET grouping = 'code' WHERE code = 'INFRA.RATE_LIMITED';
SELECT is((SELECT sum(count_moved) FROM ops.regroup_errors(dry_run => false)), 3::numeric,
    'back to grouping: code, the regroup merges all three');

-- Group names (sql/20261214000200_pattern_group_names.sql): patterns of one code that share a name are one group,
-- keyed by the first of them.
SELECT is(ops.pattern_group_key('DB.CONNECTION_LIMIT', 'remaining connection slots are reserved'),
    'too many clients already', 'a named pattern is keyed by the first pattern of its group');
SELECT is(ops.pattern_group_key('DB.CONNECTION_LIMIT', 'max client connections reached'),
    'max client connections reached', 'an unnamed pattern is its own key');
SELECT is(ops.pattern_group_key('DB.CONNECTION_LIMIT', 'no such pattern'), 'no such pattern',
    'a pattern the code no longer has is its own key');
SELECT is(ops.pattern_group_key('DB.CONNECTION_LIMIT', NULL), NULL, 'NULL for NULL');
UPDATE ops.failure_modes SET grouping = 'pattern' WHERE code = 'INFRA.RATE_LIMITED';
SELECT is((SELECT count(*) FROM ops.regroup_errors(dry_run => false)), 2::bigint,
    'code -> pattern again: two groups, one per pattern');
UPDATE ops.failure_mode_patterns SET group_name = 'probe-limits'
WHERE code = 'INFRA.RATE_LIMITED' AND pattern IN ('secondary rate limit', 'rate limit exceeded');
SELECT is((SELECT count(*) FROM ops.regroup_errors(dry_run => false)), 1::bigint,
    'a name given to both patterns: the regroup moves the group of the later one into the first''s');
SELECT results_eq($$ SELECT count(*), sum(count) FROM ops.agent_errors WHERE sample_message LIKE 'rule probe:%' $$,
    $$ VALUES (1::bigint, 3::numeric) $$, 'one group for the named patterns, counts kept');
SELECT is((SELECT count(*) FROM ops.regroup_errors()), 0::bigint, 'nothing left to move');
SELECT throws_ok($$ UPDATE ops.failure_mode_patterns SET group_name = 'Bad Name' WHERE code = 'INFRA.RATE_LIMITED' $$,
    '23514', NULL, 'a group name is lower-case letters, digits, ".", "_" and "-"');

-- One pattern grouped by itself (sql/20261216000100_pattern_own_grouping.sql): under a code grouped by message, a
-- pattern that says `grouping: pattern` groups every event it reads; the code's other patterns still group by message.
UPDATE ops.failure_mode_patterns SET group_name = NULL WHERE code = 'INFRA.RATE_LIMITED';
UPDATE ops.failure_modes SET grouping = 'message' WHERE code = 'INFRA.RATE_LIMITED';
SELECT lives_ok($$ SELECT FROM ops.regroup_errors(dry_run => false) $$, 'back to message');
SELECT results_eq($$ SELECT count(*), sum(count) FROM ops.agent_errors WHERE sample_message LIKE 'rule probe:%' $$,
    $$ VALUES (3::bigint, 3::numeric) $$, 'three texts, three groups');
SELECT results_eq($$ SELECT bool_and(e.message = a.sample_message AND e.matched_pattern = a.matched_pattern
                              AND e.id = a.last_event_id)
                     FROM ops.agent_errors a JOIN ops.error_events e ON e.fingerprint = a.fingerprint
                     WHERE a.sample_message LIKE 'rule probe:%' $$,
    $$ VALUES (true) $$, 'a group split by the regroup shows its own event as its sample, with its pattern and id');
UPDATE ops.failure_mode_patterns SET grouping = 'pattern'
WHERE code = 'INFRA.RATE_LIMITED' AND pattern = 'secondary rate limit';
SELECT is(ops.grouping_rule('INFRA.RATE_LIMITED', 'secondary rate limit'), 'pattern',
    'the pattern that says grouping: pattern groups by itself');
SELECT is(ops.grouping_rule('INFRA.RATE_LIMITED', 'rate limit exceeded'), 'message',
    'the code''s other patterns keep the code''s rule');
SELECT is(ops.grouping_rule('INFRA.RATE_LIMITED', NULL), 'message', 'no pattern: the code''s rule');
SELECT is(ops.grouping_text('You have exceeded a secondary rate limit, retry in 60 s', 'INFRA.RATE_LIMITED',
                            'secondary rate limit'),
    'secondary rate limit', 'its grouping text is the pattern');
SELECT is(ops.grouping_text('API rate limit exceeded for installation 77', 'INFRA.RATE_LIMITED', 'rate limit exceeded'),
    'API rate limit exceeded for installation 77', 'another pattern''s is still its line');
SELECT is(ops.error_fingerprint('ops', 'deliver', 'INFRA.RATE_LIMITED', 'secondary rate limit', 'at frame (x.js:1:1)'),
    ops.pattern_group_fingerprint('ops', 'deliver', 'INFRA.RATE_LIMITED', 'secondary rate limit'),
    'its fingerprint is the pattern group''s, as under a code grouped by pattern (switching the code later moves nothing)');
SELECT is((SELECT count(*) FROM ops.regroup_errors(dry_run => false) r WHERE r.code = 'INFRA.RATE_LIMITED'), 2::bigint,
    'the switch taken: the regroup moves the pattern''s two message groups into its one group');
SELECT results_eq($$ SELECT count(*), sum(count) FROM ops.agent_errors WHERE sample_message LIKE 'rule probe:%' $$,
    $$ VALUES (2::bigint, 3::numeric) $$, 'the pattern''s group and the other pattern''s, counts kept');
INSERT INTO ops.error_events (source, phase, message) VALUES
    ('ops', 'deliver', 'rule probe: secondary rate limit hit by job 4411, retrying');
SELECT is((SELECT count FROM ops.agent_errors
           WHERE fingerprint = ops.pattern_group_fingerprint('ops', 'deliver', 'INFRA.RATE_LIMITED', 'secondary rate limit')),
    3::bigint, 'a new event of the pattern joins its group, whatever else its line says');
SELECT is((SELECT count(*) FROM ops.regroup_errors()), 0::bigint, 'nothing left to move');
UPDATE ops.failure_mode_patterns SET grouping = NULL WHERE code = 'INFRA.RATE_LIMITED';
SELECT is((SELECT count(*) FROM ops.regroup_errors(dry_run => false) r WHERE r.code = 'INFRA.RATE_LIMITED'), 3::bigint,
    'the switch dropped: the regroup splits the pattern''s group by text');
SELECT results_eq($$ SELECT count(*), sum(count) FROM ops.agent_errors WHERE sample_message LIKE 'rule probe:%' $$,
    $$ VALUES (4::bigint, 4::numeric) $$, 'four texts, four groups, counts kept');
SELECT throws_ok($$ UPDATE ops.failure_mode_patterns SET grouping = 'message' WHERE code = 'INFRA.RATE_LIMITED' $$,
    '23514', NULL, 'a pattern''s own rule is pattern or none');

SELECT * FROM finish();
ROLLBACK;
