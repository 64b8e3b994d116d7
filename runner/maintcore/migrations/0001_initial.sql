-- The store as it was before numbered migrations (the former schema.sql): plain SQL for SQLite and PostgreSQL.
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

-- Supervision (maintctl probe, watch, alerts, downtime; see maintcore/supervision.py).

-- The last thing seen of each client/host/check/item, from any source (a run, a watch, a probe):
-- what turns an observation into an alert transition (flap damping counts bad observations here).
CREATE TABLE IF NOT EXISTS check_state (
    client       TEXT NOT NULL,
    host         TEXT NOT NULL,
    check_id     TEXT NOT NULL,
    item         TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL,          -- the last observed status
    since        TEXT NOT NULL,          -- first observation of that status
    last_seen    TEXT NOT NULL,
    bad_count    INTEGER NOT NULL DEFAULT 0,   -- consecutive warning/critical observations
    last_result  INTEGER,                -- results.id of the last stored observation
    PRIMARY KEY (client, host, check_id, item)
);

-- What the availability probes saw, run-length encoded: one row per stretch of one status.
-- An observation at t covers [t, t + interval); a stretch with no row is unknown, never available.
CREATE TABLE IF NOT EXISTS probe_spans (
    id           INTEGER PRIMARY KEY,
    client       TEXT NOT NULL,
    host         TEXT NOT NULL,
    check_id     TEXT NOT NULL,
    item         TEXT NOT NULL DEFAULT '',
    availability INTEGER NOT NULL DEFAULT 0,   -- 1: this probe measures the host's availability
    status       TEXT NOT NULL,
    start        TEXT NOT NULL,
    "end"        TEXT NOT NULL,
    interval_s   INTEGER NOT NULL,
    observations INTEGER NOT NULL DEFAULT 1,
    first_result INTEGER,
    last_result  INTEGER
);
CREATE INDEX IF NOT EXISTS probe_spans_key ON probe_spans (client, host, check_id, item, "end");
CREATE INDEX IF NOT EXISTS probe_spans_client ON probe_spans (client, start);

-- One alert per client/host/check/item while it is not resolved: open -> acknowledged -> resolved.
CREATE TABLE IF NOT EXISTS alerts (
    id            INTEGER PRIMARY KEY,
    client        TEXT NOT NULL,
    host          TEXT NOT NULL,
    check_id      TEXT NOT NULL,
    item          TEXT NOT NULL DEFAULT '',
    state         TEXT NOT NULL,         -- open | acknowledged | resolved
    status        TEXT NOT NULL,         -- the worst status seen: warning | critical
    severity      TEXT,                  -- P1..P4 from the client's SLA table (raised if it worsens)
    summary       TEXT NOT NULL,
    opened        TEXT NOT NULL,
    acknowledged  TEXT,
    ack_by        TEXT,
    resolved      TEXT,
    resolved_by   TEXT,                  -- a person, or NULL when a good observation resolved it
    escalated     TEXT,
    suppressed    INTEGER NOT NULL DEFAULT 0,   -- opened in scheduled downtime: nobody is notified
    opened_result   INTEGER,
    resolved_result INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_one_active ON alerts (client, host, check_id, item)
    WHERE state <> 'resolved';
CREATE INDEX IF NOT EXISTS alerts_client_opened ON alerts (client, opened);

-- Every transition of an alert, with the result that caused it (NULL for a person's action).
CREATE TABLE IF NOT EXISTS alert_events (
    id         INTEGER PRIMARY KEY,
    alert_id   INTEGER NOT NULL REFERENCES alerts (id),
    at         TEXT NOT NULL,
    kind       TEXT NOT NULL,            -- opened | worsened | escalated | acknowledged | note | resolved
    who        TEXT,
    note       TEXT,
    status     TEXT,
    severity   TEXT,
    result_id  INTEGER
);
CREATE INDEX IF NOT EXISTS alert_events_alert ON alert_events (alert_id, at);

-- The notification outbox: one row per message and target, retried until sent or given up.
CREATE TABLE IF NOT EXISTS notifications (
    id            INTEGER PRIMARY KEY,
    client        TEXT NOT NULL,
    alert_id      INTEGER REFERENCES alerts (id),
    event         TEXT NOT NULL,         -- opened | escalated | recovered
    channel       TEXT NOT NULL,         -- email | apprise
    target        TEXT NOT NULL,         -- an address, or the vault variable naming an Apprise URL (never the URL)
    state         TEXT NOT NULL,         -- pending | sent | failed
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_attempt  TEXT NOT NULL,
    last_error    TEXT,
    created       TEXT NOT NULL,
    sent          TEXT,
    subject       TEXT NOT NULL,
    body          TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS notifications_due ON notifications (state, next_attempt);
CREATE INDEX IF NOT EXISTS notifications_alert ON notifications (alert_id);

-- Scheduled downtime: entered by hand, or a maintenance window's reboot. It silences
-- notifications and is excluded from unavailability; the report shows it as planned.
CREATE TABLE IF NOT EXISTS downtimes (
    id         INTEGER PRIMARY KEY,
    client     TEXT NOT NULL,
    host       TEXT NOT NULL,            -- a host, or '*' for every host of the client
    start      TEXT NOT NULL,
    "end"      TEXT NOT NULL,
    reason     TEXT NOT NULL,
    source     TEXT NOT NULL,            -- manual | window
    who        TEXT,
    created    TEXT NOT NULL,
    deleted    TEXT,
    deleted_by TEXT,
    result_id  INTEGER
);
CREATE INDEX IF NOT EXISTS downtimes_client ON downtimes (client, start);

-- Interventions: work a person did for a client (maintctl intervention; see maintcore/interventions.py),
-- linked to the alert it answered or the result it acted on. Deleting one only marks it (who, when, why).
CREATE TABLE IF NOT EXISTS interventions (
    id             INTEGER PRIMARY KEY,
    client         TEXT NOT NULL,
    host           TEXT,                 -- an inventory host, or NULL for the client as a whole
    kind           TEXT NOT NULL,        -- preventive | corrective | evolutive | curative
    summary        TEXT NOT NULL,
    minutes        INTEGER,              -- time spent, NULL when not given
    at             TEXT NOT NULL,        -- when the work was done
    who            TEXT NOT NULL,
    alert_id       INTEGER REFERENCES alerts (id),
    result_id      INTEGER REFERENCES results (id),
    created        TEXT NOT NULL,
    edited         TEXT,
    edited_by      TEXT,
    deleted        TEXT,
    deleted_by     TEXT,
    deleted_reason TEXT
);
CREATE INDEX IF NOT EXISTS interventions_client_at ON interventions (client, at);
CREATE INDEX IF NOT EXISTS interventions_client_host ON interventions (client, host, at);

-- Every edit of an intervention, one row per field changed, with the value it replaced.
CREATE TABLE IF NOT EXISTS intervention_edits (
    id              INTEGER PRIMARY KEY,
    intervention_id INTEGER NOT NULL REFERENCES interventions (id),
    at              TEXT NOT NULL,
    who             TEXT NOT NULL,
    field           TEXT NOT NULL,
    old_value       TEXT,
    new_value       TEXT
);
CREATE INDEX IF NOT EXISTS intervention_edits_intervention ON intervention_edits (intervention_id, at);

-- A host's history (maintctl history; see maintcore/history.py): its results in time order, its alerts.
CREATE INDEX IF NOT EXISTS results_client_host_finished ON results (client, host, finished);
CREATE INDEX IF NOT EXISTS alerts_client_host ON alerts (client, host, opened);

-- Monthly report deliveries (maintctl tick, reports/maintreport/deliver.py): one row per client and
-- month reported, claimed (state 'sending') before anything is sent, so that two ticks never both send
-- it. A failed send is 'failed' with its error and retried by a later tick; 'sent' is final.
CREATE TABLE IF NOT EXISTS report_deliveries (
    id           INTEGER PRIMARY KEY,
    client       TEXT NOT NULL,
    period       TEXT NOT NULL,            -- YYYY-MM: the month reported
    state        TEXT NOT NULL,            -- sending | sent | failed
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_attempt TEXT,                     -- when the latest attempt started
    sent         TEXT,                     -- when the SMTP server accepted the message
    recipients   TEXT NOT NULL,            -- JSON list of addresses
    files        TEXT NOT NULL DEFAULT '[]',  -- JSON list of the files attached
    last_error   TEXT,
    UNIQUE (client, period)
);
