"""The rules every collected real-world set keeps (tests/fixtures/realworld/<set>/*.yaml, README in each).

Each set (the first holdout, blind2, blind3, ... in the order they were collected) was collected and labelled
before anything measured it, from reports that the corpus and every earlier set do not use, and measured blind
once. A set tuned on since (worker/realworld.py TUNED) is reported as its ``dev-…`` split and is part of
``load_tuned``; the newest is still blind. For every set this checks, on the files present: report URLs https,
unique, and disjoint from the corpus and the earlier sets (reports and pairs), report ids likewise; no text
repeating an earlier one; every label a taxonomy code; every split the set's own; and redaction changes no text
but those named below (anonymized texts hold no secret). Per-set behaviour (the holdout's loader rules, the
current blind set's figures and report script) stays in tests/test_realworld_holdout.py and
tests/test_realworld_blind.py.
"""

from __future__ import annotations

import functools
import re
from collections import Counter

import psycopg
import pytest
import yaml

from worker import ROOT, realworld, redaction

# In collection order. Per set: the fewest messages and pairs it holds, and the texts redaction changes although
# they hold no real secret, each for a reason the rules mean.
SETS = {
    "holdout": (150, 30, set()),
    # `provided token: Invalid access token format` lost the word after "token:" until secret_assignment left the next
    # link of an error chain after a key (2026-12-06); a plain word after `token:`/`password=` is still redacted,
    # because a password may be one (docs/grouping.md#redaction).
    "blind2": (190, 57, set()),
    # A same-shape fake value in a token field (`u'token': u'EXAMPLEfake…'`; before the u-prefix fix the rule
    # redacted the `u` and kept the value), and GitHub's own mask (`token: ***`) replaced by ours.
    "blind3": (190, 58, {"dns-boulder-1411", "gha-setup-python-856", "gha-pr-lint-action-774"}),
    # GitHub's own mask (`token: ***`, setup-python's inputs) replaced by ours, and a Gemini API key's same-shape fake in
    # the request URL (`?key=AIza…`), which was stored as it came until rule url_query_secret.
    "blind4": (200, 60, {"gha-b4-setup-python-962", "gha-b4pair-06", "agent-b4-aider-1263"}),
    "blind5": (190, 60, set()),
    # GitHub's own mask (`token: ***`, `GITHUB_TOKEN: ***`, `SUPABASE_ACCESS_TOKEN: ***`) replaced by ours, and the
    # collector's same-shape fake for an API key in a URL query (`?key=…`, rule url_query_secret).
    "blind6": (210, 55, {"gha-b6-setup-python-544", "gha-b6-comment-pr-224", "supafn-b6-supabase-34657", "gha-b6pair-03",
                         "gha-b6pair-06", "dns-b6-mediacloud-499"}),
    # A Gemini key's fake in a request URL (`?key=AIza…`), GitHub's mask (`password: $***`), and an over-redaction kept
    # on purpose (secrecy first): `cipassword: ciupgrade:1` reads as a password assignment (a camelCase key has a letter
    # before "password" too). (`hashicorp/onepassword: provider registry` read as one too until secret_assignment left
    # Terraform's `provider registry` after a key, 2026-12-05.) (A Proxmox task id `UPID:host-01:…:root@pam`
    # read as credentials before an `@` until host_credentials wanted a separator after its keyword, found by blind36.)
    # Cloudflare's `Set-Cookie: __cflb=<value>` (the collector's same-shape fake), masked as any cookie since cookie_header
    # (2026-12-06, found by blind82).
    "blind7": (195, 55, {"agent-b7-aider-1482", "gha-b7-login-action-95", "terraform-b7-telmate-proxmox-1115",
                         "terraform-b7-cloudflare-docs-13405"}),
    "blind8": (195, 55, set()),
    # GitHub's own mask (`token: ***`) replaced by ours, and the poster's placeholder password in a connection URL
    # (`postgresql://postgres:PASSWORD@db…`), which url_credentials redacts as it would a real one.
    "blind9": (205, 60, {"gha-b9-setup-python-703", "vercel-b9-supabase-8680"}),
    "blind10": (225, 60, set()),
    # GitHub's mask (`token: ***`) replaced by ours, and an over-redaction kept on purpose (secrecy first): a resource
    # named `"csrf-token":` whose next line starts `19:` (a value may follow its key on the next line, as YAML allows).
    # Terraform's `Error creating Secret: googleapi: Error 409` beside it is kept since a word ending in a colon is no value.
    "blind11": (190, 55, {"gha-b11-stoream-2", "tf-b11-exposure-notifications-456"}),
    # The poster's own mask (`--token=...`) replaced by ours. (blind7's `hashicorp/onepassword: provider registry`, in a
    # message and a pair, read as a password assignment until 2026-12-05.)
    "blind12": (190, 55, {"vercel-b12-vercel-817"}),
    # A presigned URL's same-shape fake credential and signature (`X-Amz-Credential=…`, rule url_query_secret), GitHub's
    # mask (`GITHUB_TOKEN: ***`), an env var's name as a password (`server-password: GITHUB_TOKEN`), and Rust's
    # `password: None` in a printed reqwest URL, in a message and a pair (secrecy first: a value is not judged).
    "blind13": (195, 50, {"agent-b13-ollama-3504", "gha-b13-add-pr-comment-43", "gha-b13-setup-java-361",
                          "dns-b13-reqwest-1285", "dns-b13pair-06"}),
    # GitHub's mask (`token: ***`) replaced by ours. (The `[` that opens t3-env's list after `NEXTAUTH_SECRET:` read as
    # the secret's value until secret_assignment took a JSON array's `['` as the prefix, 2026-12-06; the list's first
    # string, `Invalid input: …`, is an error chain's next link and stays.) supabase_fn holds 4 messages only:
    # Supabase's own threads are used up (tests/fixtures/realworld/blind14/README.md).
    "blind14": (170, 50, {"gha-b14-setup-python-555", "gha-b14-setup-python-543", "gha-b14-profile-readme-stats-31",
                          "gha-b14pair-01", "gha-b14pair-02", "gha-b14pair-07"}),
    # Two over-redactions kept on purpose (secrecy first): Terraform's `var.password == ""` reads as a password
    # assignment, and Rust's `let secret = env!("FOO");` as a secret's value. supabase_fn holds 2 messages only
    # (tests/fixtures/realworld/blind15/README.md).
    "blind15": (165, 55, {"tf-b15-azuread-sp-20", "vercel-b15-vercel-rust-26"}),
    # An over-redaction kept on purpose (secrecy first): odoorpc's own source line `'password': password})` in a traceback
    # reads as a password assignment. supabase_fn holds 1 message only (tests/fixtures/realworld/blind16/README.md).
    "blind16": (180, 60, {"odoo-b16-odoorpc-54"}),
    # supabase_fn holds none and vercel 16 (tests/fixtures/realworld/blind17/README.md).
    "blind17": (155, 65, set()),
    # Fake secrets in posted URLs and an Actions log (a Gemini `key=` query value twice, docker/login-action's masked
    # `password: ***`), replaced by redaction. supabase_fn holds 2 messages (tests/fixtures/realworld/blind18/README.md).
    "blind18": (180, 65, {"agent-b18-geminicli2api-18", "agent-b18-goose-3013", "gha-b18-docker-login-action-93"}),
    # Terraform's `in variable "provider_token":` above the source line `8:   sensitive = true`: secret_assignment reads
    # the next line as the value (secrecy first). supabase_fn holds 1 message (tests/fixtures/realworld/blind19/README.md).
    "blind19": (165, 60, {"tf-b19-tfc-getting-started-12", "tf-b19pair-01", "tf-b19pair-02"}),
    # A fake Gemini key in a posted URL (redacted, as meant). lego/Traefik's `error presenting token: <provider>: …` keeps
    # the DNS provider's name since a word ending in a colon is no value; `Error presenting token: Unexpected response`
    # lost its first word until an error chain's next link was left (2026-12-06). supabase_fn holds none
    # (tests/fixtures/realworld/blind20/README.md).
    "blind20": (170, 65, {"agent-b20-aider-1956"}),
    # Celery's own password mask (`amqp://guest:**@…`) replaced by ours; no secret in them. supabase_fn holds none and
    # odoo 21 (tests/fixtures/realworld/blind21/README.md).
    "blind21": (160, 60, {"ops-b21-dify-14810", "ops-b21-docker-airflow-195", "ops-b21-okteto-math-2",
                          "ops-b21-yolov5-fastapi-celery-6", "ops-b21pair-03", "ops-b21pair-08"}),
    # Redaction changes no text since 2026-12-06: gh's hint `GH_TOKEN: ${{ github.token }}` lost its `${{`, read as a
    # token's value, until secret_assignment left a GitHub Actions expression (found again by blind87). supabase_fn
    # holds none (tests/fixtures/realworld/blind22/README.md).
    "blind22": (160, 60, set()),
    # A fake ACME token in a posted URL (redacted, as meant) and GitHub's own `***` mask replaced by ours; no secret in
    # them. supabase_fn holds 1 message (tests/fixtures/realworld/blind23/README.md).
    "blind23": (175, 60, {"dns-b23-gethttpsforfree-183", "gha-b23-action-download-artifact-36",
                          "gha-b23-auto-pull-request-merge-481", "gha-b23pair-09"}),
    # supabase_fn holds none (tests/fixtures/realworld/blind24/README.md).
    "blind24": (165, 55, set()),
    # A source line quoted by Next.js, `const CSRF_SECRET = process.env.CSRF_SECRET!`: secret_assignment reads the
    # expression as the value (secrecy first). supabase_fn holds none and vercel 8 messages
    # (tests/fixtures/realworld/blind25/README.md).
    "blind25": (150, 45, {"vercel-b25-zola-35"}),
    # A pre-signed URL whose reporter-masked `Signature=xxxxxx` is redacted, as meant (lego's `error presenting token:
    # <provider>:` is kept since a word ending in a colon is no value). supabase_fn holds none and vercel 17 messages, five of its reports Turborepo's
    # remote cache (tests/fixtures/realworld/blind26/README.md).
    "blind26": (150, 50, {"vercel-b26-turborepo-remote-cache-402"}),
    # Redaction changes none of its texts; supabase_fn holds none (tests/fixtures/realworld/blind27/README.md).
    "blind27": (170, 65, set()),
    # GitHub's own `***` mask after `token:` replaced by ours; no secret in it. (gh's hint `GH_TOKEN: ${{ github.token
    # }}` lost its `${{` until secret_assignment left a GitHub Actions expression, 2026-12-06, blind87.) supabase_fn
    # holds none (tests/fixtures/realworld/blind28/README.md).
    "blind28": (150, 60, {"gha-b28-appcenteraction-18"}),
    # Azure AD's error code in a redirect's `?code=` (an OAuth authorization code's place: secrecy first); no secret in
    # it. (Vault's `Error validating token: Error making API request` lost `Error` until an error chain's next link was
    # left, 2026-12-06.) supabase_fn holds one message (tests/fixtures/realworld/blind29/README.md).
    "blind29": (170, 60, {"tf-b29-terraform-provider-azurerm-3686"}),
    # Redaction changes no text (`child token: Error making API request` lost `Error` until an error chain's next link
    # was left, 2026-12-06). supabase_fn holds none (tests/fixtures/realworld/blind30/README.md).
    "blind30": (165, 65, set()),
    # lego's `presenting token: <word>` where the word is no label ending in a colon (`route53:` has a digit, `2`):
    # secret_assignment reads it as the value (secrecy first; `Failed to …` is an error chain's next link and kept since
    # 2026-12-06); GitHub's `--token=***` mask replaced by ours. No secret in them. supabase_fn holds three messages
    # (tests/fixtures/realworld/blind31/README.md).
    "blind31": (175, 65, {"dns-b31-lego-2058", "dns-b31-tfacme-170", "vercel-b31-examples-616"}),
    # `AWS_SECRET_ACCESS_KEY: resource not found`: secret_assignment reads the word after the key's name as its value
    # (secrecy first); no secret in it. supabase_fn holds none (tests/fixtures/realworld/blind32/README.md).
    "blind32": (155, 55, {"tf-b32pair-07"}),
    # (A Kubernetes secret's name ending in `secret": ` before `dial tcp` lost `dial`, read as the key's value, until
    # secret_assignment left Go's network errors, 2026-12-06, found again by blind85.) supabase_fn holds none
    # (tests/fixtures/realworld/blind33/README.md).
    "blind33": (165, 55, set()),
    # lego's `presenting token: <word>` reads as a value, as in earlier sets (secrecy first); no secret in it. MySQL's
    # `(using password: YES)` / `(using password: NO)` is kept since it says only whether a password was sent.
    # supabase_fn holds none and odoo 15 messages (tests/fixtures/realworld/blind34/README.md).
    "blind34": (160, 55, {"dns-b34-lego-711"}),
    # Redaction changes none of its texts. supabase_fn holds one message and vercel 20
    # (tests/fixtures/realworld/blind35/README.md).
    "blind35": (165, 50, set()),
    # A GitLab runner's job token (`token=<8 chars>`, the collector's same-shape fake) and the poster's placeholder
    # password in a clone URL (`https://username:<password>@gitlab.com/…`), redacted as meant. (Temporal's worker id
    # `<pid>@host-01@` read as a host name with a password tail until host_credentials wanted a separator after its
    # keyword.) supabase_fn holds 1 message (tests/fixtures/realworld/blind36/README.md).
    "blind36": (170, 55, {"dns-b36-docker-gitlab-1391", "dns-b36pair-06"}),
    # The word after `token:` read as a value (secrecy first, as in earlier sets): the hint `id-token: write` (`Failed to
    # get ID token: Error message: …` lost `Error` until an error chain's next link was left, 2026-12-06); no secret in
    # it. supabase_fn holds none and vercel 10 messages (tests/fixtures/realworld/blind37/README.md).
    "blind37": (130, 40, {"gha-b37-unifi_respondd-59"}),
    # Redaction changes none of its texts; supabase_fn holds 2 messages (tests/fixtures/realworld/blind38/README.md).
    "blind38": (180, 50, set()),
    # Credentials in URLs (`http://admin:password@localhost`, `http://vulhub:vulhub@…`) and a reporter's masked
    # `token=***` redacted, as meant; the word after `token:` read as a value (secrecy first, as in earlier sets): the
    # hint `id-token: write`. Keycloak's `…/openid-connect/token: 401 Unauthorized` keeps its status since an HTTP
    # status and reason phrase after a key are no value (tf-b39pair-04). supabase_fn holds none
    # (tests/fixtures/realworld/blind39/README.md).
    "blind39": (140, 40, {"gha-b39pair-03", "ops-b39-vulhub-104", "ops-b39pair-08",
                          "tf-b39-terraform-provider-databricks-2144"}),
    # The word after `token:` read as a value (secrecy first, as in earlier sets): the hints `id-token: write` and
    # `idToken: write`, `Failed to get OIDC token: <n> |`, a workflow's masked `token: ***` and `github-token: ***`;
    # no secret in them. supabase_fn holds 1 message (tests/fixtures/realworld/blind40/README.md).
    "blind40": (175, 55, {"gha-b40-deploy-pages-71", "gha-b40-docs-1734", "gha-b40-setup-beam-175", "gha-b40pair-01",
                          "gha-b40pair-07"}),
    # The word after `token:` read as a value (secrecy first, as in earlier sets): `resolving auth token: running auth …`
    # (`Failed to get ID token: error in …` is an error chain's next link, kept since 2026-12-06); no secret in it.
    # supabase_fn holds none (tests/fixtures/realworld/blind41/README.md).
    "blind41": (180, 55, {"gha-b41-niks3-action-19"}),
    # A Cosmos DB diagnostic's `"sessionToken":null` (the value after a token key, redacted: secrecy first) and a public
    # image's default password in an Odoo `SET password='…'` statement. supabase_fn holds none
    # (tests/fixtures/realworld/blind42/README.md).
    "blind42": (170, 85, {"ops-b42-azure-sdk-for-java-20288", "odoo-b42pair-05"}),
    # Redaction changes none of its texts; supabase_fn and vercel hold none (tests/fixtures/realworld/blind43/README.md).
    "blind43": (135, 50, set()),
    # The word after a secret's name read as a value (secrecy first, as in earlier sets): the word after the quoted URL
    # in `failed to create registration token: Post "https://…/registration-token": …` (the method and URL are kept
    # since redaction reads an HTTP request line as no value, so gha-b44-actions-runner-controller-1320's `token: POST
    # https://…` changes no more; `could not …` after it is an error chain's next link, kept since 2026-12-06, so
    # gha-b44pair-07 changes no more either), `presenting token: dns.ZonesClient…`, `valid_token=None`, a workflow's
    # `server-password: GITHUB_TOKEN` and masked `token: ***`; no secret in them. (mysql's empty `Enter password: `
    # prompt lost the next line's first word until secret_assignment left a password prompt at a line's end,
    # 2026-12-07, so ops-b44pair-14 changes no more.) supabase_fn and vercel hold none
    # (tests/fixtures/realworld/blind44/README.md).
    "blind44": (135, 80, {"gha-b44pair-01",
                          "agent-b44pair-11", "dns-b44pair-08"}),
    # A masked `token: ***` and `mask-password: true` (the word after a secret's name read as a value: secrecy first);
    # no secret in them. supabase_fn holds none (tests/fixtures/realworld/blind45/README.md).
    "blind45": (145, 64, {"gha-b45-amazon-ecr-login-620", "gha-b45-hugo-theme-stack-starter-91"}),
    # The word after a secret's name read as a value (secrecy first): lego's `error presenting token: route53:` (a label
    # with a digit before its colon is still redacted) and Terraform 0.11's `Unknown token: 3:16 IDENT` (the word after `…/registration-token": `, `could`, is
    # an error chain's next link, kept since 2026-12-06); no secret in them. supabase_fn holds none and vercel one
    # (tests/fixtures/realworld/blind46/README.md).
    "blind46": (160, 57, {"dns-b46pair-02", "tf-b46pair-10"}),
    # Redaction changes no text since 2026-12-06. Terraform's `in data "kubernetes_secret" "es_password":` at a line's
    # end lost the next line's first character (the diagnostic's `│`), read as a value, until secret_assignment left the
    # frame's characters (found again by blind84); the words after `…/registration-token": ` and `token: `, `could` and
    # `received`, are an error chain's next links, kept since then too. supabase_fn and vercel hold none
    # (tests/fixtures/realworld/blind47/README.md).
    "blind47": (157, 86, set()),
    # Redaction changes none of its texts; supabase_fn holds none and vercel one (tests/fixtures/realworld/blind48/README.md).
    "blind48": (70, 38, set()),
    # The word after a secret's name read as a value (secrecy first, as in earlier sets): Haystack's `'api_key': EnvVarSecret(…` (the serialized reference to an environment
    # variable, not its value) and a CouchDB document's `"password": 123` (lego's `error presenting token: got error
    # status` is an error chain's next link, kept since 2026-12-06); no secret in them. supabase_fn holds none and
    # vercel one (tests/fixtures/realworld/blind49/README.md).
    "blind49": (147, 82, {"agent-b49-hayhooks-41", "agent-b49pair-11", "ops-b49-couchdb-1051"}),
    # The word after a secret's name read as a value (secrecy first, as blind42's `"sessionToken":null`): a Chilean SII
    # answer's `'rutToken': None` (Python's None) and Terraform's external data source quoting a script's arguments
    # `-keyname private-key': [Errno 2] …` (the `[Errno` after the key's closing quote); no secret in them. supabase_fn
    # and vercel hold none (tests/fixtures/realworld/blind50/README.md).
    "blind50": (166, 81, {"odoo-b50-odoo-74520", "tf-b50-terraform-20568", "tf-b50pair-11"}),
    # The word after a secret's name read as a value (secrecy first, as in earlier sets): a workflow's masked
    # `private_key: ***` and a shell line's `VAULT_TOKEN=foo` (a placeholder, not a token); no secret in them.
    # supabase_fn and vercel hold none (tests/fixtures/realworld/blind51/README.md).
    "blind51": (151, 67, {"gha-b51-github-app-token-2", "gha-b51pair-09", "ops-b51-vault-1878", "ops-b51pair-03"}),
    "blind52": (136, 70, {"dns-b52-ddns-updater-367", "dns-b52pair-04", "dns-b52pair-08"}),
    # Credentials in AMQP URLs (RabbitMQ's default `guest:guest`, redacted as meant, and a poster's `arl:**` mask replaced
    # by ours) and the word after a token's name read as a value (secrecy first, as in earlier sets):
    # google-github-actions/auth's `…: oauth2/google: unable to generate access token: Post "…:generateAccessToken":
    # oauth2/google: …` (the word after `AccessToken":`; buildx's `failed to fetch anonymous token: unexpected status`
    # is an error chain's next link, kept since 2026-12-06); no secret in them. supabase_fn and vercel hold none
    # (tests/fixtures/realworld/blind53/README.md).
    "blind53": (156, 70, {"gha-b53-auth-265", "ops-b53-ARL-551", "ops-b53-amqp091-go-99", "ops-b53pair-10",
                          "ops-b53pair-11"}),
    # No text redaction changes; supabase_fn and vercel hold none (tests/fixtures/realworld/blind54/README.md).
    "blind54": (149, 63, set()),
    # Redaction changes no text (lego's ACME `Error presenting token: HTTP 403: …` lost `HTTP` until secret_assignment
    # left `HTTP <status>` after a key, 2026-12-06). supabase_fn and vercel hold none
    # (tests/fixtures/realworld/blind55/README.md).
    "blind55": (167, 69, set()),
    # semantic-release's own mask in a push URL (`https://x-access-token:[secure]@github.com/…`) replaced by ours; the
    # host and path stay (tests/fixtures/realworld/blind56/README.md).
    "blind56": (134, 61, {"gha-b56-semantic-release-action-33"}),
    # No text redaction changes; supabase_fn holds none (tests/fixtures/realworld/blind57/README.md).
    "blind57": (219, 117, set()),
    # The collector's same-shape fake for a Gemini key in a request URL (`?key=AIza…`, rule url_query_secret), and the
    # word after a token's name read as a value (secrecy first, as in blind14 and blind55): Liquibase's `unknown token:
    # [Failed SQL: …` loses `[Failed`, in a message and a pair. supabase_fn and vercel hold none
    # (tests/fixtures/realworld/blind58/README.md).
    "blind58": (186, 94, {"agent-b58-aider-1928", "ops-b58-cassandre-trading-bot-964", "ops-b58pair-21"}),
    # MikroORM's own `*****` mask in a connection URL replaced by ours, the host and port kept. supabase_fn holds none
    # (tests/fixtures/realworld/blind59/README.md). (Docker's `failed to fetch oauth token: unexpected
    # status …` lost `unexpected`, in three messages and four pair sides, until an error chain's next link was left,
    # 2026-12-06.)
    "blind59": (203, 114, {"ops-b59-mikro-orm-960", "ops-b59pair-22"}),
    # A connection URL's password
    # as the reporter posted it (`postgres://abc:def@localhost/db1`, PostgREST's PGRST000) replaced by ours, the host and
    # path kept, in a message and two pairs (lego's `Error presenting token: Failed to change Route 53 record set …`
    # lost `Failed` until an error chain's next link was left, 2026-12-06). supabase_fn holds none
    # (tests/fixtures/realworld/blind60/README.md).
    "blind60": (167, 86, {"ops-b60-postgrest-2727", "ops-b60pair-02", "ops-b60pair-14"}),
    # aio-pika's own `******` mask in two AMQP connection URLs replaced by ours, the user, host and port kept, in two
    # messages of one report and two pair sides. supabase_fn holds none (tests/fixtures/realworld/blind61/README.md).
    "blind61": (191, 111, {"ops-b61-aio-pika-563", "ops-b61pair-64"}),
    # The word after a token's name read as a value (secrecy first, as in blind55 and blind60): lego's `acme: error
    # presenting token: hetzner (legacy): …` under Zoraxy loses `hetzner`, in a message and a pair. supabase_fn holds
    # none (tests/fixtures/realworld/blind62/README.md).
    "blind62": (176, 100, {"dns-b62-zoraxy-897", "dns-b62pair-05"}),
    # coturn's own `password=...` mask in a PostgreSQL connection string replaced by ours, the other fields kept, in a
    # message and a pair side. supabase_fn holds none (tests/fixtures/realworld/blind63/README.md).
    "blind63": (206, 94, {"ops-b63-coturn-137", "ops-b63pair-24"}),
    # Redaction changes no text. vercel and supabase_fn hold none (tests/fixtures/realworld/blind64/README.md).
    "blind64": (174, 85, set()),
    # Redaction changes no text (`hashicorp/onepassword: provider registry…`, in a message and a pair side, lost
    # `provider` until secret_assignment left Terraform's `provider registry` after a key, 2026-12-05). vercel and
    # supabase_fn hold none (tests/fixtures/realworld/blind65/README.md).
    "blind65": (172, 85, set()),
    # The Upstash provider's `rediss://:${upstash_redis_database.cache.password}@…` (a Terraform interpolation in a URL's
    # password place) read as a password (secrecy first), in a message and a pair side; no secret in it. vercel and
    # supabase_fn hold none (tests/fixtures/realworld/blind66/README.md).
    "blind66": (193, 98, {"tf-b66-terraform-provider-upstash-6", "tf-b66pair-10"}),
    # Redaction changes no text. vercel and supabase_fn hold none (tests/fixtures/realworld/blind67/README.md).
    "blind67": (228, 116, set()),
    # Snyk's own example in its missing-token message (`SNYK_TOKEN=12345678`) read as a token's value (secrecy first), in
    # a message and a pair side; no secret in it. vercel and supabase_fn hold none
    # (tests/fixtures/realworld/blind68/README.md).
    "blind68": (207, 100, {"gha-b68-tempo-1458", "gha-b68pair-09"}),
    # dandi-cli's pre-signed S3 URL, whose credential and signature the reporter had masked (`SENSORED`), redacted as a
    # real one would be, as meant; no secret in it. vercel and supabase_fn hold none
    # (tests/fixtures/realworld/blind69/README.md). Cachix's own hint `export CACHIX_SIGNING_KEY=XXX` (two reports), its
    # placeholder masked as the signing key it stands for (and their pair) since secret_assignment reads named keys (`signing_key`,
    # `AccountKey`, `DD_APP_KEY`, 2026-12-06, blind86).
    "blind69": (195, 86, {"ops-b69-dandi-cli-584", "gha-b69-cachix-167", "gha-b69-cachix-71", "gha-b69pair-10"}),
    # Redaction changes no text. vercel and supabase_fn hold none (tests/fixtures/realworld/blind70/README.md).
    "blind70": (185, 87, set()),
    # Redaction changes no text. vercel and supabase_fn hold none (tests/fixtures/realworld/blind71/README.md).
    "blind71": (168, 89, set()),
    # Redaction changes no text. vercel and supabase_fn hold none (tests/fixtures/realworld/blind72/README.md).
    "blind72": (180, 92, set()),
    # Redaction changes no text. vercel and supabase_fn hold none (tests/fixtures/realworld/blind73/README.md).
    "blind73": (174, 97, set()),
    # Redaction changes no text. vercel holds none (tests/fixtures/realworld/blind74/README.md).
    "blind74": (198, 104, set()),
    # Redaction changes no text. supabase_fn holds none (tests/fixtures/realworld/blind75/README.md).
    "blind75": (183, 85, set()),
    # Redaction changes no text. vercel and supabase_fn hold none (tests/fixtures/realworld/blind76/README.md).
    "blind76": (179, 97, set()),
    # semantic-release/git#196's push URL carries the CI's mask `[secure]` as its credential, which redaction masks like
    # any URL credential. vercel and supabase_fn hold none (tests/fixtures/realworld/blind77/README.md).
    "blind77": (194, 118, {"gha-b77-semantic-release-git-196", "gha-b77pair-09"}),
    # Redaction changes no text. vercel and supabase_fn hold none (tests/fixtures/realworld/blind78/README.md).
    "blind78": (187, 89, set()),
    # Two SWE-agent commands' `--auth-token <uuid>` and three ngrok agents' `Your authtoken: <token>` (the collectors'
    # same-shape fakes), masked as any token; SearXNG's logged `"Cookie":["PHPSESSID=<id>"]` (the collector's fake),
    # masked as any cookie since cookie_header (2026-12-06, found by blind82). vercel and supabase_fn hold none
    # (tests/fixtures/realworld/blind79/README.md).
    "blind79": (179, 109, {"agent-b79-swe-bench-330", "agent-b79-swe-agent-968", "agent-b79pair-08",
                           "ops-b79-ngrok-474", "ops-b79-storm-breaker-58", "ops-b79-trape-113", "ops-b79pair-56",
                           "ops-b79pair-57", "ops-b79-searx-3205", "ops-b79pair-52", "ops-b79pair-53",
                           "ops-b79pair-70"}),
    # Redaction changes no text since 2026-12-06 (IBM Cloud's `… and secret: Error retrieving cluster` and Buildkite's
    # `API Access Token: <docs URL>` read as values until secret_assignment left an error chain's next link and a
    # documentation link). vercel and supabase_fn hold none (tests/fixtures/realworld/blind80/README.md).
    "blind80": (174, 90, set()),
    # Two Celery banners' own password mask (`amqp://guest:**@…`) replaced by ours; two Oracle clients' calls passing a
    # variable named `password` (`password=password,`), masked as any value (secrecy first). (one-api's MySQL refusal
    # `(using password:YES)`, without a blank, lost its yes/no until the rule's exception allowed that, 2026-12-06.)
    # supabase_fn was blind82's (tests/fixtures/realworld/blind81/README.md).
    "blind81": (202, 127, {"ops-b81-celery-tutorials-221", "ops-b81-celery-cesium-57", "ops-b81-python-cx-oracle-515",
                           "ops-b81-pedsnet-dqa-306", "ops-b81pair-09", "ops-b81pair-20", "ops-b81pair-53",
                           "ops-b81pair-65"}),
    # A tutorial's default password in a connection URL (`postgres:password@`), masked as any URL password; Caddy's
    # JSON log of Go's http.Header (`"X-Csrftoken":["undefined"]`), whose `[` the rule read as the value until it took
    # a JSON array's first string (2026-12-06; the value is masked now) (tests/fixtures/realworld/blind82/README.md).
    # vercel was blind81's.
    "blind82": (208, 143, {"ops-b82-zero-to-production-62", "ops-b82-pyradiotracking-20", "ops-b82pair-40",
                           "ops-b82pair-82"}),
    # open-im-server's MongoDB URI with the collector's same-shape fake for the project's public default password,
    # masked as any URL password. supabase_fn was blind84's (tests/fixtures/realworld/blind83/README.md).
    "blind83": (191, 137, {"ops-b83-open-im-server-2323", "ops-b83pair-25"}),
    # Placeholders for a secret (a CIFS `password=<mypw>`, Alertmanager's `hooks.slack.com/services/XXXX/…`, the Datadog
    # agent's starred `api_key=`) and a fake AWS key id, masked as the secrets they stand for. (Two Terraform
    # diagnostics lost their frame's `│` after `"…_private_key":` / `"token":` at a line's end, read as a value on the
    # next line, until secret_assignment left the frame's characters, 2026-12-06, found by this set.)
    # (tests/fixtures/realworld/blind84/README.md). vercel was blind83's.
    "blind84": (181, 115, {"ops-b84-iobroker-backitup-61", "ops-b84-s3auth-209", "ops-b84-alertmanager-slack-proxy-deadline",
                           "ops-b84-datadog-agent-transaction-timeout", "ops-b84pair-10", "ops-b84pair-22",
                           "ops-b84pair-53", "ops-b84pair-64"}),
    # A reporter's placeholder for a CI job token in a clone URL (`gitlab-ci-token:xxxx…@`), masked as the token it
    # stands for. (oauth2-proxy's `…/login/oauth/access_token": dial tcp: …` and `…/token": EOF` lost the word after
    # the URL's closing quote, read as a value of the path's last segment, until secret_assignment left Go's network
    # errors, 2026-12-06, found by this set.) (tests/fixtures/realworld/blind85/README.md)
    "blind85": (191, 116, {"ops-b85-gitlab-runner-lqshow-28", "ops-b85-gitlab-runner-sameersbn-42", "ops-b85pair-21",
                           "ops-b85pair-39"}),
    # A reporter's placeholder for an API token on a command line (`--api-token MY_TOKEN`), masked as the token it
    # stands for; the Datadog provider's request URL with the collector's fakes for its `api_key` and `application_key`
    # (the second, twelve letters before `: `, reads as a label and is kept; a real key, forty hex digits, is masked
    # since secret_assignment reads named keys, 2026-12-06, found by this set) (tests/fixtures/realworld/blind86/README.md)
    "blind86": (179, 117, {"dns-b86-cloudflare-dyndns-40", "dns-b86pair-07", "tf-b86-datadog-12468"}),
    # Redaction changes no text. (dependabot/fetch-metadata's `Please add 'github-token: "${{ secrets.GITHUB_TOKEN }}"'`
    # lost its `${{`, and kubelogin's `… authorization code and token: oauth2: cannot fetch token` (a message and three
    # pair sides) its `oauth2:`, each read as a token's value, until secret_assignment left a GitHub Actions expression
    # and Go's `oauth2:`, `x509:` and `http2:` prefixes, 2026-12-06, found by this set.) supabase_fn holds none
    # (tests/fixtures/realworld/blind87/README.md).
    "blind87": (178, 108, set()),
    # GitHub's own mask (`github-token: ***`, `NETLIFY_AUTH_TOKEN: ***`, actions-netlify's inputs) replaced by ours.
    # (Dapr's `error getting secret: couldn't to get successful response` lost `couldn`, read as the secret's value,
    # until secret_assignment left a negative contraction that opens a cause, 2026-12-07, found by this set.) vercel and
    # supabase_fn hold none (tests/fixtures/realworld/blind88/README.md).
    "blind88": (168, 102, {"gha-b88-jupyenv-416", "gha-b88-matrix-js-sdk-3891", "gha-b88pair-08", "gha-b88pair-11"}),
    # Renovate's own mask (`x-access-token:[**redacted**]@github.com`) replaced by ours. (Borg over ssh's `<user>@<host>'s
    # password:` prompt lost the next line's `Connection`, read as the password, until secret_assignment left a
    # password prompt at a line's end, 2026-12-07, found by this set.) vercel and supabase_fn hold none
    # (tests/fixtures/realworld/blind89/README.md).
    "blind89": (215, 144, {"gha-b89-renovate-config-help-192", "gha-b89pair-03"}),
    # The reporter's own mask in Ory Hydra's DSN (`postgres://*:*@postgres…`) replaced by ours. (Cloudflare's provider's
    # `error creating access service token: HTTP status 405: …` lost `HTTP`, read as the token's value, until
    # secret_assignment left `HTTP status <n>` as it left `HTTP <n>`, 2026-12-07, found by this set.) vercel and
    # supabase_fn hold none (tests/fixtures/realworld/blind90/README.md).
    "blind90": (191, 93, {"ops-b90-c-reaction-dev-platform-107", "ops-b90pair-58"}),
    # The reporter's own mask in JuiceFS's meta address (`postgres://jfs:****@…`) replaced by ours. (SonarCloud's action's
    # unset `SONAR_TOKEN: ` lost its next line's `##[warning]Running`, read as the token's value, until secret_assignment
    # left the runner's `##[<word>]` annotation, 2026-12-07, found by this set.) supabase_fn holds none
    # (tests/fixtures/realworld/blind91/README.md).
    "blind91": (234, 102, {"ops-b91-juicefs-csi-1016"}),
    # No text holds a secret or a reporter's mask. (Crossplane's `cannot get provider secret: Secret "<name>" not found`
    # lost `Secret`, read as the secret's value, until secret_assignment left Kubernetes' `Secret "<name>" not found`,
    # 2026-12-07, found by this set.) vercel and supabase_fn hold none (tests/fixtures/realworld/blind92/README.md).
    "blind92": (215, 105, set()),
    # No text holds a secret or a reporter's mask, and redaction changes none. vercel and supabase_fn hold none
    # (tests/fixtures/realworld/blind93/README.md).
    "blind93": (224, 98, set()),
    # The reporters' own masks in Logstash's Elasticsearch URLs (`http://<user>:xxxxxx@…`, three reports and the pairs
    # quoting them) replaced by ours. Three over-redactions found by this set and left (the rule errs toward masking):
    # an empty `VOYAGE_API_KEY=` before `). If …` loses the `).`; External Secrets' JSON log `"ExternalSecret":"<ns>/<name>"`
    # loses the object's name; Terraform's `resource github_actions_secret: All fields …` loses `All`. vercel and
    # supabase_fn hold none new (tests/fixtures/realworld/blind94/README.md).
    "blind94": (204, 104, {
        "agent-b94-comfyuigriptape-79", "agent-b94pair-04", "agent-b94pair-05", "ops-b94-tfawsiam-305",
        "ops-b94-c-logstashes-750", "ops-b94-c-logstash-12658", "ops-b94-c-websoft9-1054", "ops-b94pair-64",
        "ops-b94pair-65", "ops-b94pair-66", "tf-b94-c-tfgithub-2910", "tf-b94-c-tfgithub-2905", "tf-b94pair-03",
    }),
    "blind95": (193, 91, {"ops-b95-velero-3049", "ops-b95pair-27"}),
}
SOURCES = {"github_actions", "terraform", "vercel", "supabase_fn", "odoo", "dns", "agent_runner", "ops", "stratt"}
TUNED_SPLIT = {name: split for name, split, _ in realworld.TUNED}


def _directory(name: str):
    return realworld.CORPUS_DIR / name


# Each set is compared with every earlier one, so every directory is read once per module (cached), not once per test.
@functools.cache
def _docs(directory) -> tuple[dict, ...]:
    return tuple(yaml.safe_load(p.read_text(encoding="utf-8")) or {} for p in sorted((ROOT / directory).glob("*.yaml")))


@functools.cache
def _messages(directory) -> tuple:
    return tuple(realworld.load(directory=directory))


@functools.cache
def _pairs(directory) -> tuple:
    return tuple(realworld.load_pairs(directory=directory))


@functools.cache
def _tuned() -> tuple:
    return tuple(realworld.load_tuned())


@functools.cache
def _tuned_pairs() -> tuple:
    return tuple(realworld.load_tuned_pairs())


def _earlier(name: str) -> list:
    """The corpus and every set collected before ``name``."""
    names = list(SETS)
    return [realworld.CORPUS_DIR, *(_directory(n) for n in names[:names.index(name)])]


def _texts(messages, pairs) -> list[tuple[str, str]]:
    return [(m.report, m.text) for m in messages] + [(p.id, t) for p in pairs for t in (p.a[1], p.b[1])]


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def test_every_tuned_set_is_listed_here_in_order():
    assert [name for name, _, _ in realworld.TUNED] == list(SETS)[:len(realworld.TUNED)]


def test_every_blind_directory_is_listed_here():
    """A set committed without its row here would skip every rule above (new URLs, new texts, labels, redaction)."""
    on_disk = {p.name for p in (ROOT / realworld.CORPUS_DIR).iterdir() if p.is_dir() and p.name.startswith("blind")}
    assert on_disk <= set(SETS), f"blind sets without a row in SETS: {sorted(on_disk - set(SETS))}"


@pytest.mark.parametrize("name", SETS)
def test_set_is_big_enough_with_its_own_split_and_known_sources(name):
    messages, pairs = _messages(_directory(name)), _pairs(_directory(name))
    least_messages, least_pairs, _ = SETS[name]
    assert len(messages) >= least_messages and len(pairs) >= least_pairs, (len(messages), len(pairs))
    assert {p.same for p in pairs} == {True, False}
    assert {m.split for m in messages} == {p.split for p in pairs} == {TUNED_SPLIT.get(name, name)}
    assert {m.source for m in messages} | {p.source for p in pairs} <= SOURCES


@pytest.mark.parametrize("name", SETS)
def test_reports_are_unique_and_new(name):
    reports = [r for d in _docs(_directory(name)) for r in d["reports"]]
    urls = [r["url"] for r in reports]
    assert all(u.startswith("https://") for u in urls)
    assert [u for u, n in Counter(urls).items() if n > 1] == []
    earlier = {r["url"] for directory in _earlier(name) for d in _docs(directory) for r in d["reports"]}
    earlier |= {p["url"] for directory in _earlier(name) for d in _docs(directory) for p in d.get("pairs") or []}
    pair_urls = {p["url"] for d in _docs(_directory(name)) for p in d.get("pairs") or [] if "url" in p}
    assert sorted((set(urls) | pair_urls) & earlier) == []
    ids = [r["id"] for r in reports]
    earlier_ids = {m.report for directory in _earlier(name) for m in _messages(directory)}
    assert len(ids) == len(set(ids)) and set(ids) & earlier_ids == set()


@pytest.mark.parametrize("name", SETS)
def test_no_text_repeats_an_earlier_one(name):
    earlier = {_fold(t) for directory in _earlier(name)
               for _, t in _texts(_messages(directory), _pairs(directory))}
    texts = _texts(_messages(_directory(name)), _pairs(_directory(name)))
    assert [i for i, t in texts if _fold(t) in earlier] == []


@pytest.mark.parametrize("name", SETS)
def test_redaction_changes_only_the_texts_named(name):
    texts = _texts(_messages(_directory(name)), _pairs(_directory(name)))
    assert {i for i, t in texts if redaction.redact(t) != t} == SETS[name][2]


def test_the_u_prefix_value_is_redacted_whole():
    boulder = next(m.text for m in _messages(_directory("blind3")) if m.report == "dns-boulder-1411")
    assert "u'token': u'[REDACTED]'" in redaction.redact(boulder)


@pytest.mark.parametrize("name", SETS)
def test_the_loader_refuses_another_split_in_the_set(name, tmp_path):
    directory = _directory(name)
    (tmp_path / directory).mkdir(parents=True)
    (tmp_path / directory / "x.yaml").write_text(yaml.safe_dump(
        {"source": "dns", "reports": [{"id": "r", "url": "u", "split": "dev",
                                       "messages": [{"code": "UNKNOWN.DNS", "message": "m"}]}]}))
    with pytest.raises(ValueError, match=f"has split 'dev', not {name}"):
        realworld.load(tmp_path, directory)


@pytest.mark.parametrize("name", [n for n in SETS if n in TUNED_SPLIT])
def test_a_tuned_set_is_tuning_data_and_never_blind_again(name):
    split = TUNED_SPLIT[name]
    messages, pairs = _messages(_directory(name)), _pairs(_directory(name))
    assert split in realworld.TUNED_SPLITS
    assert sum(m.split == split for m in _tuned()) == len(messages)
    assert sum(p.split == split for p in _tuned_pairs()) == len(pairs)
    assert not realworld.is_blind(name)
    with pytest.raises(ValueError, match="is not a blind set"):
        realworld.blind_dir(name)


@pytest.fixture(scope="module")
def codes(module_db_url) -> set[str]:
    with psycopg.connect(module_db_url) as conn:
        return {r[0] for r in conn.execute("SELECT code FROM ops.failure_modes")}


@pytest.mark.parametrize("name", SETS)
def test_labels_are_taxonomy_codes(name, codes):
    assert sorted({m.expected for m in _messages(_directory(name))} - codes) == []
