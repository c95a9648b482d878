//! `clawcron install` / `uninstall`: the service file that starts the daemon at login and keeps
//! it running. macOS: a LaunchAgent (`launchd/com.clawcron.agent.plist`) in
//! ~/Library/LaunchAgents, loaded with `launchctl bootstrap gui/<uid>`. Linux: a systemd user
//! unit in ~/.config/systemd/user, enabled with `systemctl --user enable --now`. `--target`
//! previews either on either OS; `--dry-run` prints what would be written and run.

use std::path::{Path, PathBuf};

pub const LABEL: &str = "com.clawcron.agent";
const PLIST: &str = include_str!("../launchd/com.clawcron.agent.plist");
const UNIT: &str = include_str!("../systemd/clawcron.service");

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    Launchd,
    Systemd,
}

impl Target {
    /// The OS's own service manager.
    pub fn native() -> Target {
        if cfg!(target_os = "macos") {
            Target::Launchd
        } else {
            Target::Systemd
        }
    }
}

/// What an install or uninstall does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Folders made first (launchd does not make its log folder).
    pub dirs: Vec<PathBuf>,
    pub write: Vec<(PathBuf, String)>,
    pub remove: Vec<PathBuf>,
    /// Commands run in order; a failing one stops the plan unless it is marked optional.
    pub run: Vec<(Vec<String>, bool)>,
}

/// Where things are, for the service file.
#[derive(Debug, Clone)]
pub struct Setup {
    pub bin: PathBuf,
    /// The folder holding clawcron.yaml, jobs/ and templates/ (the working directory).
    pub home: PathBuf,
    pub config: PathBuf,
    /// `--jobs`, when given to `install` (absolute).
    pub jobs: Option<PathBuf>,
    /// `--state-dir` (or `CLAWCRON_STATE_DIR`), when given to `install` (absolute).
    pub state_dir: Option<PathBuf>,
    pub home_dir: PathBuf,
    pub uid: u32,
    /// clawcron's shutdown grace plus kill grace: the service manager must wait longer.
    pub stop_within: std::time::Duration,
    pub path_env: String,
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A value for a systemd unit line, quoted when it has spaces.
fn unit_arg(s: &str) -> String {
    if s.chars()
        .any(|c| c.is_whitespace() || c == '"' || c == '\\')
    {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        s.to_string()
    }
}

pub fn unit_path(target: Target, home_dir: &Path) -> PathBuf {
    match target {
        Target::Launchd => home_dir
            .join("Library/LaunchAgents")
            .join(format!("{LABEL}.plist")),
        Target::Systemd => home_dir.join(".config/systemd/user/clawcron.service"),
    }
}

fn log_dir(target: Target, home_dir: &Path) -> PathBuf {
    match target {
        Target::Launchd => home_dir.join("Library/Logs/clawcron"),
        Target::Systemd => home_dir.join(".local/state/clawcron/logs"),
    }
}

/// The daemon's arguments before `run`: every path option `install` was given, so that the
/// service uses the same config, jobs folder and ledger.
fn args(s: &Setup) -> Vec<String> {
    let mut args = vec!["--config".to_string(), s.config.display().to_string()];
    if let Some(jobs) = &s.jobs {
        args.extend(["--jobs".to_string(), jobs.display().to_string()]);
    }
    if let Some(dir) = &s.state_dir {
        args.extend(["--state-dir".to_string(), dir.display().to_string()]);
    }
    args
}

/// The service file's text.
pub fn render(target: Target, s: &Setup) -> String {
    // Longer than clawcron's own stop, with a margin, and never under a minute.
    let exit_timeout = (s.stop_within.as_secs() + 25).max(60).to_string();
    let logs = log_dir(target, &s.home_dir);
    match target {
        Target::Launchd => PLIST
            .replace("@CLAWCRON_BIN@", &xml(&s.bin.display().to_string()))
            .replace(
                "@CLAWCRON_ARGS@",
                &args(s)
                    .iter()
                    .map(|a| format!("    <string>{}</string>", xml(a)))
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
            .replace("@CLAWCRON_HOME@", &xml(&s.home.display().to_string()))
            .replace("@LOG_DIR@", &xml(&logs.display().to_string()))
            .replace("@PATH@", &xml(&s.path_env))
            .replace("@EXIT_TIMEOUT@", &exit_timeout),
        Target::Systemd => UNIT
            .replace("@CLAWCRON_BIN@", &unit_arg(&s.bin.display().to_string()))
            .replace(
                "@CLAWCRON_ARGS@",
                &args(s)
                    .iter()
                    .map(|a| unit_arg(a))
                    .collect::<Vec<_>>()
                    .join(" "),
            )
            .replace("@CLAWCRON_HOME@", &unit_arg(&s.home.display().to_string()))
            .replace("@PATH@", &s.path_env)
            .replace("@EXIT_TIMEOUT@", &exit_timeout),
    }
}

pub fn install(target: Target, s: &Setup) -> Plan {
    let path = unit_path(target, &s.home_dir);
    let text = render(target, s);
    let str_ = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    match target {
        Target::Launchd => {
            let domain = format!("gui/{}", s.uid);
            let p = path.display().to_string();
            Plan {
                dirs: vec![log_dir(target, &s.home_dir)],
                write: vec![(path, text)],
                remove: vec![],
                run: vec![
                    // A previous install is replaced (it may not exist: optional).
                    (
                        str_(&["launchctl", "bootout", &format!("{domain}/{LABEL}")]),
                        true,
                    ),
                    (str_(&["launchctl", "bootstrap", &domain, &p]), false),
                ],
            }
        }
        Target::Systemd => Plan {
            dirs: vec![],
            write: vec![(path, text)],
            remove: vec![],
            run: vec![
                (str_(&["systemctl", "--user", "daemon-reload"]), false),
                (
                    str_(&["systemctl", "--user", "enable", "--now", "clawcron.service"]),
                    false,
                ),
            ],
        },
    }
}

pub fn uninstall(target: Target, home_dir: &Path, uid: u32) -> Plan {
    let path = unit_path(target, home_dir);
    let str_ = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    match target {
        Target::Launchd => Plan {
            dirs: vec![],
            write: vec![],
            remove: vec![path],
            run: vec![(
                str_(&["launchctl", "bootout", &format!("gui/{uid}/{LABEL}")]),
                true,
            )],
        },
        Target::Systemd => Plan {
            dirs: vec![],
            write: vec![],
            remove: vec![path],
            run: vec![
                (
                    str_(&[
                        "systemctl",
                        "--user",
                        "disable",
                        "--now",
                        "clawcron.service",
                    ]),
                    true,
                ),
                (str_(&["systemctl", "--user", "daemon-reload"]), true),
            ],
        },
    }
}

/// Prints the plan, or carries it out.
pub fn apply(plan: &Plan, dry_run: bool) -> Result<(), String> {
    for dir in &plan.dirs {
        if dry_run {
            println!("would make {}", dir.display());
        } else {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
    }
    for (path, text) in &plan.write {
        if dry_run {
            println!("would write {}:\n{text}", path.display());
            continue;
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    for path in &plan.remove {
        if dry_run {
            println!("would remove {}", path.display());
        } else {
            match std::fs::remove_file(path) {
                Ok(()) => println!("removed {}", path.display()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    println!("{} was not there", path.display())
                }
                Err(e) => return Err(format!("cannot remove {}: {e}", path.display())),
            }
        }
    }
    for (cmd, optional) in &plan.run {
        let line = cmd.join(" ");
        if dry_run {
            println!("would run: {line}");
            continue;
        }
        println!("running: {line}");
        let out = std::process::Command::new(&cmd[0]).args(&cmd[1..]).output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(_) | Err(_) if *optional => {}
            Ok(o) => {
                return Err(format!(
                    "`{line}` failed: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ));
            }
            Err(e) => return Err(format!("cannot run `{line}`: {e}")),
        }
    }
    Ok(())
}
