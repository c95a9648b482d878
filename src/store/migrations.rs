//! Schema migrations, append-only: a migration once shipped is never edited; a change is a new
//! entry at the end. `PRAGMA user_version` records how many have been applied.

pub const MIGRATIONS: &[&str] = &[
    // 1: the runs ledger, one row per slot (and per manual or at-start run), and per-job cursors.
    r#"
    CREATE TABLE runs (
        id           INTEGER PRIMARY KEY,
        job          TEXT    NOT NULL,
        trigger      TEXT    NOT NULL,      -- schedule | at_start | manual
        slot         INTEGER NOT NULL,      -- scheduled instant, Unix seconds (UTC)
        status       TEXT    NOT NULL,      -- running | succeeded | failed | timed_out | interrupted | skipped
        reason       TEXT,                  -- why skipped / late / interrupted
        started_at   INTEGER,               -- Unix milliseconds
        finished_at  INTEGER,               -- Unix milliseconds
        attempts     INTEGER NOT NULL DEFAULT 0,
        exit_code    INTEGER,
        duration_ms  INTEGER,
        error        TEXT,
        output_tail  TEXT,
        boot_id      TEXT,
        pid          INTEGER,
        daemon_pid   INTEGER
    );
    CREATE UNIQUE INDEX runs_one_per_slot ON runs(job, slot) WHERE trigger = 'schedule';
    CREATE INDEX runs_by_job ON runs(job, id);
    CREATE INDEX runs_by_status ON runs(status) WHERE status = 'running';
    CREATE TABLE cursors (
        job              TEXT PRIMARY KEY,
        accounted_until  INTEGER NOT NULL   -- every slot up to here has its row
    ) WITHOUT ROWID;
    "#,
    // 2: figures measured by runs (latency, tokens/s, memory...), for monitors and reports.
    r#"
    CREATE TABLE metrics (
        run_id  INTEGER NOT NULL,
        job     TEXT    NOT NULL,
        name    TEXT    NOT NULL,
        value   REAL    NOT NULL,
        at      INTEGER NOT NULL      -- Unix milliseconds (the run's end)
    );
    CREATE INDEX metrics_by_job ON metrics(job, name, at);
    "#,
    // 3: alert rules' state (survives restarts) and the log of their transitions.
    r#"
    CREATE TABLE alert_state (
        job      TEXT NOT NULL,
        rule     TEXT NOT NULL,
        state    TEXT NOT NULL,    -- JSON of monitor::State
        updated  INTEGER NOT NULL, -- Unix milliseconds
        PRIMARY KEY (job, rule)
    ) WITHOUT ROWID;
    CREATE TABLE alert_events (
        id      INTEGER PRIMARY KEY,
        job     TEXT NOT NULL,
        rule    TEXT NOT NULL,
        kind    TEXT NOT NULL,     -- fired | repeat | resolved
        value   REAL NOT NULL,
        detail  TEXT NOT NULL,
        at      INTEGER NOT NULL
    );
    CREATE INDEX alert_events_by_time ON alert_events(at);
    "#,
    // 4: the notification outbox: a notice is written here before it is sent, and delivered
    // (with retries) until it is sent, refused for good, or expired. `key` makes each unique.
    r#"
    CREATE TABLE outbox (
        id          INTEGER PRIMARY KEY,
        key         TEXT    NOT NULL UNIQUE,
        channel     TEXT    NOT NULL,
        payload     TEXT    NOT NULL,   -- JSON, the generic shape
        status      TEXT    NOT NULL,   -- pending | sent | failed | expired
        attempts    INTEGER NOT NULL DEFAULT 0,
        next_at     INTEGER NOT NULL,   -- Unix ms
        expires_at  INTEGER NOT NULL,
        created_at  INTEGER NOT NULL,
        sent_at     INTEGER,
        last_error  TEXT,
        answer      TEXT
    );
    CREATE INDEX outbox_due ON outbox(next_at) WHERE status = 'pending';
    "#,
    // 5: the schedule a cursor was counted under: a changed schedule starts afresh instead of
    // "catching up" on slots the old schedule never had.
    r#"
    ALTER TABLE cursors ADD COLUMN schedule TEXT;
    "#,
    // 6: the daemon's own sessions (for downtime in reports), and pinned baselines ("before" of a
    // tuning session) per job and metric.
    r#"
    CREATE TABLE daemon_sessions (
        id          INTEGER PRIMARY KEY,
        boot_id     TEXT    NOT NULL,
        pid         INTEGER NOT NULL,
        started_at  INTEGER NOT NULL,   -- Unix ms
        alive_at    INTEGER NOT NULL,   -- last heartbeat, Unix ms
        stopped_at  INTEGER             -- set by a clean shutdown
    );
    CREATE TABLE baselines (
        job        TEXT NOT NULL,
        metric     TEXT NOT NULL,
        value      REAL NOT NULL,
        pinned_at  INTEGER NOT NULL,    -- Unix ms
        label      TEXT,
        PRIMARY KEY (job, metric)
    ) WITHOUT ROWID;
    "#,
    // 7: outbox claims (a lease, so that two processes never send one notice twice), and what
    // caused a run (a remediation's alert and the run that fired it).
    r#"
    ALTER TABLE outbox ADD COLUMN claimed_until INTEGER;
    ALTER TABLE runs ADD COLUMN cause TEXT;
    "#,
    // 8: a notice's lane (its job): the notices of one lane to one channel are sent in the
    // order they were queued, so one incident's fired, remediated and resolved arrive in order;
    // and who claimed a notice, so that a claim of a process that died is released at once.
    r#"
    ALTER TABLE outbox ADD COLUMN lane TEXT;
    ALTER TABLE outbox ADD COLUMN claimed_by INTEGER;   -- the claiming process's pid
    CREATE INDEX outbox_lanes ON outbox(channel, lane, id) WHERE status = 'pending';
    "#,
    // 9: what is not to be run or told now: paused jobs, silences, maintenance windows.
    r#"
    CREATE TABLE pauses (
        job     TEXT PRIMARY KEY,
        reason  TEXT NOT NULL,
        by      TEXT NOT NULL,
        at      INTEGER NOT NULL       -- Unix ms
    ) WITHOUT ROWID;
    CREATE TABLE silences (
        id          INTEGER PRIMARY KEY,
        job         TEXT NOT NULL,
        rule        TEXT,              -- NULL: every notice of the job
        reason      TEXT NOT NULL,
        by          TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        ends_at     INTEGER NOT NULL,
        told        INTEGER NOT NULL DEFAULT 0   -- what still fired at its end was told
    );
    CREATE TABLE maintenance (
        id          INTEGER PRIMARY KEY,
        by_job      TEXT NOT NULL,
        run_id      INTEGER NOT NULL,
        quiets      TEXT NOT NULL,     -- JSON list of job ids
        started_at  INTEGER NOT NULL,
        ends_at     INTEGER            -- NULL while its run goes
    );
    "#,
    // 10: external jobs' ping keys: each `external` job's key, stored as its SHA-256 (hex), never
    // the key itself (`clawcron ping-url JOB [--rotate]` makes one).
    r#"
    CREATE TABLE ping_keys (
        job         TEXT    PRIMARY KEY,
        hash        TEXT    NOT NULL,
        created_at  INTEGER NOT NULL    -- Unix ms
    ) WITHOUT ROWID;
    "#,
    // 11: backfill and chains: one row per (job, slot) backfilled, one per (job, cause) chained.
    // A backfill row counts while it runs or once it succeeded, so that a slot is never run
    // twice at once nor again after it succeeded; a failed or refused backfill leaves the slot
    // open to the next backfill. A chained run is one row per cause, whatever its outcome.
    r#"
    CREATE UNIQUE INDEX runs_one_backfill_per_slot ON runs(job, slot)
        WHERE trigger = 'backfill' AND status IN ('running', 'succeeded');
    CREATE UNIQUE INDEX runs_one_after_per_cause ON runs(job, cause) WHERE trigger = 'after';
    "#,
    // 12: several nodes on one ledger (PostgreSQL). A run's row says which node runs it and
    // until when its lease holds (Unix ms on the ledger's clock, renewed by the node's
    // heartbeat); another node marks a run whose lease ended `interrupted`. Nodes beat into
    // `nodes`; each node's text of each job file is in `job_texts`, and when any node first
    // saw a text in `job_hashes` (the newest text is the one seen first most recently). Named
    // locks are rows with a lease and a fence. A run retried after its node was lost is one
    // row per cause.
    r#"
    ALTER TABLE runs ADD COLUMN node TEXT;
    ALTER TABLE runs ADD COLUMN lease_until INTEGER;
    ALTER TABLE runs ADD COLUMN claimed_at INTEGER;     -- the ledger's clock when claimed
    CREATE INDEX runs_leased ON runs(lease_until) WHERE status = 'running';
    CREATE UNIQUE INDEX runs_one_retry_per_cause ON runs(job, cause) WHERE trigger = 'retry';
    CREATE TABLE nodes (
        name        TEXT PRIMARY KEY,
        tags        TEXT    NOT NULL,   -- JSON list
        pid         INTEGER NOT NULL,
        started_at  INTEGER NOT NULL,   -- Unix ms, the ledger's clock
        beat_at     INTEGER NOT NULL,   -- Unix ms, the ledger's clock
        stopped_at  INTEGER,            -- set by a clean shutdown
        offset_ms   INTEGER NOT NULL DEFAULT 0,   -- the ledger's clock minus the node's
        running     TEXT    NOT NULL DEFAULT '[]',-- JSON list of run ids
        diverged    TEXT    NOT NULL DEFAULT '[]' -- JSON list of jobs whose text is not the newest
    );
    CREATE TABLE job_texts (
        node  TEXT NOT NULL,
        job   TEXT NOT NULL,
        hash  TEXT NOT NULL,
        PRIMARY KEY (node, job)
    );
    CREATE TABLE job_hashes (
        job         TEXT NOT NULL,
        hash        TEXT NOT NULL,
        first_seen  INTEGER NOT NULL,   -- Unix ms, the ledger's clock
        PRIMARY KEY (job, hash)
    );
    CREATE TABLE locks (
        name         TEXT PRIMARY KEY,
        node         TEXT    NOT NULL,
        run_id       INTEGER NOT NULL,
        fence        INTEGER NOT NULL,
        lease_until  INTEGER NOT NULL
    );
    "#,
];
