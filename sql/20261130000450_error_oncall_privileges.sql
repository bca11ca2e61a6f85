-- Who may read and change triage: analysts read the on-call views and resolve fingerprint prefixes; the
-- worker reads them to write FixBot's resolution records and may resolve only what FixBot fixed. resolve,
-- ignore, reopen and set_error_status stay with the owner (`ops resolve` and friends run as the owner).
GRANT SELECT ON ops.error_groups, ops.error_event_log, ops.error_escalation_log, ops.error_agent_run_log,
                ops.error_status_log TO ops_analyst, ops_worker;
GRANT EXECUTE ON FUNCTION ops.find_error(text) TO ops_analyst, ops_worker;
GRANT EXECUTE ON FUNCTION ops.fixbot_resolution_candidates(interval),
                          ops.resolve_error_by_fixbot(text, bigint, interval, text, text) TO ops_worker;
