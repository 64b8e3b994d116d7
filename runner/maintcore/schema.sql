-- The store: plain SQL (SQLite by default; kept portable so PostgreSQL can follow).
-- Times are ISO 8601 UTC strings ('2026-11-22T21:00:00Z'), which sort as times.

CREATE TABLE IF NOT EXISTS runs (
    run_id       TEXT PRIMARY KEY,
    client       TEXT NOT NULL,
    kind         TEXT NOT NULL,          -- 'scheduled' | 'adhoc'
    areas        TEXT NOT NULL,          -- comma-separated area names (maint_utils.checks.AREAS)
    limit_hosts  TEXT,                   -- the --limit pattern, if any
    check_mode   INTEGER NOT NULL DEFAULT 0,
    started      TEXT NOT NULL,
    finished     TEXT,
    status       TEXT NOT NULL,          -- running | completed | failed | interrupted
    exit_code    INTEGER,
    hosts_total  INTEGER NOT NULL DEFAULT 0,
    run_dir      TEXT
);
CREATE INDEX IF NOT EXISTS runs_client_started ON runs (client, started);

CREATE TABLE IF NOT EXISTS hosts (
    client       TEXT NOT NULL,
    host         TEXT NOT NULL,
    first_seen   TEXT NOT NULL,
    last_seen    TEXT NOT NULL,
    PRIMARY KEY (client, host)
);

CREATE TABLE IF NOT EXISTS results (
    id           INTEGER PRIMARY KEY,
    run_id       TEXT NOT NULL REFERENCES runs (run_id),
    client       TEXT NOT NULL,
    host         TEXT NOT NULL,
    check_id     TEXT NOT NULL,          -- 'check' in the result shape
    area         TEXT NOT NULL,          -- first part of check_id: an area (maint_utils.checks.AREAS), or run
    item         TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL,
    severity     TEXT,                   -- P1..P4 from the client's SLA table, NULL when none applies
    summary      TEXT NOT NULL,
    observed     TEXT NOT NULL DEFAULT '{}',   -- JSON
    threshold    TEXT NOT NULL DEFAULT '{}',   -- JSON
    remediation  TEXT NOT NULL DEFAULT '',
    changed      INTEGER NOT NULL DEFAULT 0,
    started      TEXT NOT NULL,
    finished     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS results_client_finished ON results (client, finished);
CREATE INDEX IF NOT EXISTS results_run ON results (run_id);
CREATE INDEX IF NOT EXISTS results_key ON results (client, host, check_id, item);
