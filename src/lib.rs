//! clawcron: a job scheduler and automation runner for a self-hosted AI stack (an OpenClaw
//! gateway in Docker, Ollama), replacing crontab lines and shell scripts with one daemon.
//!
//! # Layout
//! Each module owns one question:
//! - [`config`]: what was asked (`clawcron.yaml`, `jobs/*.yaml`): raw YAML types, validated
//!   specs, and diagnostics with `file:line:col`.
//! - [`schedule`]: when (cron in a time zone with the DST rule, `every`, `at_start`): pure.
//! - [`clock`]: what time it is, and sleeping until a wall-clock instant (injectable).
//! - [`scheduler`]: is it due: the timer loop, missed-slot policies, overlap admission.
//! - [`runner`]: how one run proceeds: permits, attempts, timeouts, retries, the outcome.
//! - [`action`]: what a job does, one file per job kind.
//! - [`store`]: what is remembered: the SQLite ledger of runs and cursors.
//! - [`daemon`]: wires it all and shuts down gracefully; [`cli`]: the commands;
//!   [`error`]: exit codes and the one place errors are printed; [`logging`].

pub mod action;
pub mod api;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod doctor;
pub mod error;
pub mod import;
pub mod install;
pub mod logging;
pub mod model;
pub mod monitor;
pub mod notify;
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
