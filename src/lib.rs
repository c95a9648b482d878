//! clawcron: a job scheduler and automation runner for a self-hosted AI stack (an OpenClaw
//! gateway in Docker, Ollama), replacing crontab lines and shell scripts with one daemon.
//!
//! # Layout
//! Each module owns one question, and imports only the modules listed after its "Uses:" (a
//! test, `tests/layering.rs`, reads every `crate::`/`super::` path in `src/` and fails on an
//! import cycle or on an edge not listed here). From the bottom up:
//!
//! Leaves: plain data and small helpers.
//! - [`util`]: durations as people write them, instants, error chains, medians, the boot id.
//!   Uses: nothing.
//! - [`model`]: plain data: what was asked (jobs, schedules, actions, alert rules, channels,
//!   reports) and what happened (run outcomes, statuses and triggers as enums).
//!   Uses: `i18n` (the language enum, and figures in event lines), `util`.
//! - [`redact`]: the registry of secret values, and scrubbing them out of any text. Uses: nothing.
//! - [`clock`]: what time it is, and sleeping until a wall-clock instant (injectable).
//!   Uses: nothing.
//! - [`telemetry`]: run counters and histograms for `/metrics`. Uses: nothing.
//! - [`pulse`]: which of the daemon's parts is stuck (at work past a bound); waiting is never
//!   stuck. Uses: nothing.
//! - [`i18n`]: what the user reads, in their language: the catalogue of words and sentences,
//!   and numbers, durations, dates and figures with their units. Uses: `util`.
//! - [`template`]: the minijinja renderer shared by notices, reports and the dashboard, with the
//!   catalogue and the language's formats as functions and filters. Uses: `i18n`, `util`.
//! - [`schedule`]: when: the next slot of a cron, `every` or `at_start` trigger, with the DST
//!   rule (pure). Uses: `model`, `util`.
//!
//! What was asked, and what is remembered:
//! - [`config`]: reads `clawcron.yaml` and `jobs/*.yaml`, raw YAML types, validation into the
//!   model, diagnostics with `file:line:col`, and the secrets each load registers.
//!   Uses: `model`, `util`, `redact`, `schedule`, `template`.
//! - [`store`]: the ledger, SQLite (one machine) or PostgreSQL (several nodes), every statement
//!   written once (`store::db`): runs, cursors, alert state, the outbox, metrics, nodes and
//!   leases (`store::cluster`). Nothing else names rusqlite or tokio-postgres.
//!   Uses: `model`, `util`, `redact`.
//!
//! Judging and telling:
//! - [`quiet`]: what is not to be run or told now: paused jobs, silences and quiet hours,
//!   maintenance windows. Uses: `model`, `store`, `util`.
//! - [`monitor`]: alert rules as state (N of M, repeat, resolve) and regressions against a
//!   baseline. Uses: `model`, `store`, `util`.
//! - [`notify`]: notices queued in the outbox and delivered by email and webhook.
//!   Uses: `i18n`, `model`, `config`, `pulse`, `store`, `template`, `redact`, `util`.
//! - [`report`]: the weekly report rendered from the ledger (context, charts, advice).
//!   Uses: `i18n`, `model`, `store`, `template`, `util`.
//!
//! Doing:
//! - [`action`]: what a job does, one file per job kind; one attempt, one result; the
//!   processes a run leaves behind (`action::procs`); the pings an `external` job's slots wait
//!   for (`action::external`).
//!   Uses: `model`, `store`, `report`, `redact`, `template` (a report's render bounds), `util`.
//! - [`runner`]: one run pipeline for every trigger: admission, attempts, the after-run stage.
//!   Uses: `action`, `clock`, `model`, `monitor`, `notify`, `quiet`, `redact`, `store`,
//!   `telemetry`, `util`.
//! - [`cluster`]: a node of several on one PostgreSQL ledger: which jobs it may claim (tags,
//!   the newest job text), its heartbeat (leases renewed, its clock set to the ledger's, runs
//!   of lost nodes taken over); which jobs have a local target. Uses: `clock`, `model`,
//!   `runner`, `store`, `util`.
//! - [`scheduler`]: is it due: the timer loop, missed-slot policies, slot claims.
//!   Uses: `clock`, `cluster` (the roster), `model`, `notify`, `pulse`, `runner`, `schedule`, `store`,
//!   `util`.
//! - [`backfill`]: which past slots of a window failed, were missed or paused (judged from
//!   their rows), run again with their original slot through the runner.
//!   Uses: `model`, `runner`, `schedule`, `store`.
//!
//! The edges of the process:
//! - [`reload`]: file events and SIGHUP to a new set of jobs. Uses: `config`, `pulse`,
//!   `scheduler`.
//! - [`control`]: the daemon's control socket (0600, in the state directory), through which
//!   `clawcron trigger` and `clawcron backfill` run a job in the running daemon.
//!   Uses: `backfill`, `config`, `model`, `runner`, `scheduler`.
//! - [`api`]: the status API, `/metrics` and the dashboard on 127.0.0.1; `external` jobs'
//!   pings (`/ping`, also on a listener of their own, `ping_listen`).
//!   Uses: `action` (the pings' registry, `action::external`), `backfill`, `i18n`, `model`,
//!   `pulse`, `redact`, `reload`, `report`, `runner`, `scheduler`, `store`, `telemetry`, `template`,
//!   `util`.
//! - [`logging`]: tracing set-up, with every line scrubbed. Uses: `model`, `redact`.
//! - [`error`]: the top-level error, its exit codes, and the one place it is printed.
//!   Uses: `config`, `store`.
//! - [`import`]: crontab lines to job files. Uses: `config`, `model`, `redact` (which names
//!   hold secrets), `schedule`.
//! - [`install`]: the launchd agent and the systemd user unit. Uses: nothing.
//! - [`doctor`]: checks of the machine and of each job's targets, secrets included; on macOS
//!   the Mac's sleep schedule and its privacy-protected folders (`doctor::mac`, pure parsers).
//!   Uses: `action`, `config`, `install`, `model`, `notify`, `schedule`, `util`.
//! - [`daemon`]: wires it all; `daemon::run(.., shutdown)` takes its shutdown as a parameter.
//!   Uses: `action` (the subreaper of runs' orphans), `api`, `clock`, `cluster`, `config`,
//!   `control`, `error`, `model`, `notify`, `pulse`, `quiet`, `redact`, `reload`, `runner`,
//!   `scheduler`, `store`, `template` (the ledger's loss told directly), `util`.
//! - [`cli`]: the commands, one file per group. Uses: every module above.

pub mod action;
pub mod api;
pub mod backfill;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod control;
pub mod daemon;
pub mod doctor;
pub mod error;
pub mod i18n;
pub mod import;
pub mod install;
pub mod logging;
pub mod model;
pub mod monitor;
pub mod notify;
pub mod pulse;
pub mod quiet;
pub mod redact;
pub mod reload;
pub mod report;
pub mod runner;
pub mod schedule;
pub mod scheduler;
pub mod store;
pub mod telemetry;
pub mod template;
pub mod util;
