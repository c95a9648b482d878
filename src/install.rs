//! `clawcron install` / `uninstall`: the service file that starts the daemon at login and keeps
//! it running. macOS: a LaunchAgent (`launchd/com.clawcron.agent.plist`) in
//! ~/Library/LaunchAgents, loaded with `launchctl bootstrap gui/<uid>`. Linux: a systemd user
//! unit in ~/.config/systemd/user, enabled with `systemctl --user enable --now`. `--target`
//! previews either on either OS; `--dry-run` prints what would be written and run.
//!
//! What the service is given, since it does not get the user's shell: a binary at a stable path
//! (a build in a cargo `target/` folder is copied to `~/.local/bin/clawcron`, so `cargo clean`
//! or a rebuild never pulls it from under the service), the variables named with `--env`
//! (their values written into the plist, or into an `EnvironmentFile` for systemd, each file
//! 0600), and on macOS the daemon's own rotated log file (launchd cannot rotate what it
//! redirects). [`env_warnings`] says which `${VAR}` and `*_env` secrets the service would lack.

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

/// A file an install writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileWrite {
    pub path: PathBuf,
    pub text: String,
    /// 0o600 when it holds the value of a variable given with `--env`.
    pub mode: u32,
}

/// What an install or uninstall does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Folders made first (launchd does not make its log folder).
    pub dirs: Vec<PathBuf>,
    /// (build output, stable path): the binary copied where the service runs it from.
    pub copy: Vec<(PathBuf, PathBuf)>,
    pub write: Vec<FileWrite>,
    pub remove: Vec<PathBuf>,
    /// Commands run in order; a failing one stops the plan unless it is marked optional.
    pub run: Vec<(Vec<String>, bool)>,
}

/// Where things are, for the service file.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The stable path the service runs (see [`stable_bin`]).
    pub bin: PathBuf,
    /// The build output copied to `bin` first, when `bin` is not where clawcron already is.
    pub copy_from: Option<PathBuf>,
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
    /// Variables carried into the service (`install --env VAR`): name and current value.
    pub env: Vec<(String, String)>,
    /// The daemon's own log file (`--log-file`), rotated by clawcron (launchd's default).
    pub log_file: Option<PathBuf>,
    /// `--log-format` as `install` was given it (`human` or `json`), kept for the service.
    pub log_format: Option<&'static str>,
}

/// Where the service runs clawcron from, and what to copy there: a binary in a cargo build
/// folder (`target/release`, which a `cargo clean` or the next build replaces) is copied to
/// `~/.local/bin/clawcron`; one anywhere else (`cargo install`'s `~/.cargo/bin`, Homebrew,
/// `/usr/local/bin`) is run where it is.
pub fn stable_bin(exe: &Path, home_dir: &Path) -> (PathBuf, Option<PathBuf>) {
    if in_build_folder(exe) {
        (
            home_dir.join(".local/bin/clawcron"),
            Some(exe.to_path_buf()),
        )
    } else {
        (exe.to_path_buf(), None)
    }
}

/// The binary an installed service file runs (its first `ProgramArguments` string, or the first
/// word of `ExecStart=`), as the file says it.
pub fn installed_bin(target: Target, text: &str) -> Option<PathBuf> {
    match target {
        Target::Launchd => {
            let after = text.split_once("<key>ProgramArguments</key>")?.1;
            let first = after.split_once("<string>")?.1.split_once("</string>")?.0;
            Some(PathBuf::from(
                first
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&quot;", "\"")
                    .replace("&apos;", "'")
                    .replace("&amp;", "&"),
            ))
        }
        Target::Systemd => {
            let line = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("ExecStart="))?
                .trim();
            let bin = match line.strip_prefix('"') {
                Some(q) => {
                    let mut out = String::new();
                    let mut chars = q.chars();
                    while let Some(c) = chars.next() {
                        match c {
                            '\\' => out.extend(chars.next()),
                            '"' => break,
                            c => out.push(c),
                        }
                    }
                    out
                }
                None => line.split_whitespace().next()?.to_string(),
            };
            Some(PathBuf::from(bin.replace("%%", "%").replace("$$", "$")))
        }
    }
}

/// Whether `exe` is in a cargo build folder (which the next build or `cargo clean` replaces):
/// cargo marks the root of every build folder with these two files.
pub fn in_build_folder(exe: &Path) -> bool {
    exe.ancestors()
        .skip(1)
        .take(4)
        .any(|d| d.join("CACHEDIR.TAG").is_file() && d.join(".rustc_info.json").is_file())
}

/// The systemd unit's `EnvironmentFile` (0600), holding the variables given with `--env`.
pub fn env_file_path(home_dir: &Path) -> PathBuf {
    home_dir.join(".config/clawcron/service.env")
}

/// The log file the LaunchAgent's daemon writes (and rotates) when clawcron.yaml names none.
pub fn default_log_file(target: Target, home_dir: &Path) -> Option<PathBuf> {
    match target {
        Target::Launchd => Some(log_dir(target, home_dir).join("clawcron.log")),
        // journald keeps and rotates a user unit's output.
        Target::Systemd => None,
    }
}

/// A variable the configuration reads from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvRef {
    pub name: String,
    /// `${VAR:-default}`'s default; `None` for `${VAR}` and for secrets.
    pub default: Option<String>,
    /// Named by a `*_env` key (a password, a signing secret, a bearer token).
    pub secret: bool,
    /// Where it is used, for the warning (a file, or a key such as `notifiers.ops.email`).
    pub used_in: String,
}

/// What a service started by launchd or a systemd user manager has without `--env`.
const SERVICE_HAS: &[&str] = &[
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "PATH",
    "TMPDIR",
    "XDG_RUNTIME_DIR",
];

/// One warning per variable the service will not have although the configuration uses it.
/// `here` reads the installing shell's environment.
pub fn env_warnings(
    refs: &[EnvRef],
    carried: &[String],
    here: impl Fn(&str) -> Option<String>,
) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for r in refs {
        if carried.contains(&r.name) || SERVICE_HAS.contains(&r.name.as_str()) {
            continue;
        }
        if !seen.insert((r.name.clone(), r.default.clone(), r.secret)) {
            continue;
        }
        let value = here(&r.name).filter(|v| !v.is_empty());
        let name = &r.name;
        let used = &r.used_in;
        let line = match (r.secret, &value, &r.default) {
            (true, Some(_), _) => format!(
                "`{name}` ({used}) is set in this shell, but the service will not have it: sends through it will fail; add `--env {name}` or use the `*_file` key beside it"
            ),
            (true, None, _) => format!(
                "`{name}` ({used}) is not set, here or in the service: set it and add `--env {name}`, or use the `*_file` key beside it"
            ),
            (false, Some(v), Some(d)) if v != d => format!(
                "`${{{name}}}` ({used}) is `{v}` in this shell, but the service will not have it and will use the default `{d}`: add `--env {name}` to keep `{v}`"
            ),
            (false, Some(_), None) => format!(
                "`${{{name}}}` ({used}) is set in this shell, but the service will not have it, and the file will not load: add `--env {name}`"
            ),
            _ => continue,
        };
        out.push(line);
    }
    out
}

/// A value for a systemd `EnvironmentFile` line: double-quoted, with `\`, `"`, `$` and `` ` ``
/// escaped as the file's shell-like syntax reads them.
fn env_file_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        if matches!(c, '\\' | '"' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Text for a plist's `<string>` or `<key>`: the five XML entities escaped, and the control
/// characters XML 1.0 cannot hold at all dropped (a tab and a newline are kept).
fn xml(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || matches!(c, '\t' | '\n'))
        .collect::<String>()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// A value for a systemd unit line, quoted when it has spaces; `%` doubled, since systemd
/// expands specifiers (`%h`) in these settings.
fn unit_arg(s: &str) -> String {
    let s = s.replace('%', "%%");
    if s.chars()
        .any(|c| c.is_whitespace() || c == '"' || c == '\\')
    {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        s
    }
}

/// An `ExecStart=` word: as `unit_arg`, with `$` doubled too (systemd expands `$VAR` there).
fn exec_arg(s: &str) -> String {
    unit_arg(s).replace('$', "$$")
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
    if let Some(file) = &s.log_file {
        args.extend(["--log-file".to_string(), file.display().to_string()]);
    }
    if let Some(format) = s.log_format {
        args.extend(["--log-format".to_string(), format.to_string()]);
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
            .replace(
                "@ENV@",
                &s.env
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "\n    <key>{}</key>\n    <string>{}</string>",
                            xml(k),
                            xml(v)
                        )
                    })
                    .collect::<String>(),
            )
            .replace("@EXIT_TIMEOUT@", &exit_timeout),
        Target::Systemd => UNIT
            .replace("@CLAWCRON_BIN@", &exec_arg(&s.bin.display().to_string()))
            .replace(
                "@CLAWCRON_ARGS@",
                &args(s)
                    .iter()
                    .map(|a| exec_arg(a))
                    .collect::<Vec<_>>()
                    .join(" "),
            )
            .replace("@CLAWCRON_HOME@", &unit_arg(&s.home.display().to_string()))
            .replace("@PATH@", &s.path_env)
            .replace(
                "@ENV@",
                &if s.env.is_empty() {
                    "# (no EnvironmentFile: `clawcron install --env VAR` writes one)".to_string()
                } else {
                    format!(
                        "EnvironmentFile={}",
                        unit_arg(&env_file_path(&s.home_dir).display().to_string())
                    )
                },
            )
            .replace("@EXIT_TIMEOUT@", &exit_timeout),
    }
}

pub fn install(target: Target, s: &Setup) -> Plan {
    let path = unit_path(target, &s.home_dir);
    let text = render(target, s);
    let str_ = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let copy: Vec<(PathBuf, PathBuf)> = s
        .copy_from
        .iter()
        .map(|from| (from.clone(), s.bin.clone()))
        .collect();
    // A file that holds a carried value is readable by its owner only.
    let private = if s.env.is_empty() { 0o644 } else { 0o600 };
    match target {
        Target::Launchd => {
            let domain = format!("gui/{}", s.uid);
            let p = path.display().to_string();
            Plan {
                dirs: vec![log_dir(target, &s.home_dir)],
                copy,
                write: vec![FileWrite {
                    path,
                    text,
                    mode: private,
                }],
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
        Target::Systemd => {
            let mut write = Vec::new();
            if !s.env.is_empty() {
                let mut env = String::from(
                    "# Written by `clawcron install --env`: the values the service is given.\n",
                );
                for (k, v) in &s.env {
                    env.push_str(&format!("{k}={}\n", env_file_value(v)));
                }
                write.push(FileWrite {
                    path: env_file_path(&s.home_dir),
                    text: env,
                    mode: 0o600,
                });
            }
            write.push(FileWrite {
                path,
                text,
                mode: 0o644,
            });
            Plan {
                dirs: vec![],
                copy,
                write,
                remove: vec![],
                run: vec![
                    (str_(&["systemctl", "--user", "daemon-reload"]), false),
                    (
                        str_(&["systemctl", "--user", "enable", "--now", "clawcron.service"]),
                        false,
                    ),
                ],
            }
        }
    }
}

pub fn uninstall(target: Target, home_dir: &Path, uid: u32) -> Plan {
    let path = unit_path(target, home_dir);
    let str_ = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    match target {
        Target::Launchd => Plan {
            dirs: vec![],
            copy: vec![],
            write: vec![],
            remove: vec![path],
            run: vec![(
                str_(&["launchctl", "bootout", &format!("gui/{uid}/{LABEL}")]),
                true,
            )],
        },
        Target::Systemd => Plan {
            dirs: vec![],
            copy: vec![],
            write: vec![],
            remove: vec![path, env_file_path(home_dir)],
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

/// Prints the plan, or carries it out; with `start: false` the service-manager commands are
/// printed for you to run instead (`install --no-start`).
pub fn apply(plan: &Plan, dry_run: bool, start: bool) -> Result<(), String> {
    for dir in &plan.dirs {
        if dry_run {
            println!("would make {}", dir.display());
        } else {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
    }
    for (from, to) in &plan.copy {
        if dry_run {
            println!("would copy {} to {}", from.display(), to.display());
        } else {
            copy_binary(from, to)?;
            println!("copied {} to {}", from.display(), to.display());
        }
    }
    for w in &plan.write {
        let path = &w.path;
        let private = if w.mode & 0o077 == 0 {
            " (mode 0600: it holds the values given with --env)"
        } else {
            ""
        };
        if dry_run {
            println!("would write {}{private}:\n{}", path.display(), w.text);
            continue;
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        write_file(path, &w.text, w.mode)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("wrote {}{private}", path.display());
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
        if !start {
            println!("not run (--no-start): {line}");
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

/// Writes `text` with `mode`, through a new file renamed into place, so that an older file's
/// looser mode never applies to the new contents.
fn write_file(path: &Path, text: &str, mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("clawcron-new");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Copies the binary to its stable path: a new file renamed over the old one, so that a running
/// service keeps its own (replacing a running executable in place fails on Linux and gets it
/// killed on macOS, whose kernel caches the code signature).
fn copy_binary(from: &Path, to: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let dir = to.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let tmp = to.with_extension("clawcron-new");
    std::fs::copy(from, &tmp)
        .and_then(|_| std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)))
        .and_then(|()| std::fs::rename(&tmp, to))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("cannot copy {} to {}: {e}", from.display(), to.display())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs() -> Vec<EnvRef> {
        let r = |name: &str, default: Option<&str>, secret: bool| EnvRef {
            name: name.into(),
            default: default.map(str::to_string),
            secret,
            used_in: "jobs/x.yaml".into(),
        };
        vec![
            r("OPENCLAW_CONTAINER", Some("openclaw-gateway"), false),
            r("OPENCLAW_PORT", Some("18789"), false),
            r("GW_TOKEN", None, false),
            r("SMTP_PASSWORD", None, true),
            r("HOOK_SECRET", None, true),
            r("HOME", None, false),
        ]
    }

    #[test]
    fn warns_about_each_variable_the_service_lacks() {
        let here = |n: &str| match n {
            "OPENCLAW_CONTAINER" => Some("my-gateway".to_string()),
            "OPENCLAW_PORT" => Some("18789".to_string()),
            "GW_TOKEN" | "SMTP_PASSWORD" | "HOME" => Some("x".to_string()),
            _ => None,
        };
        let w = env_warnings(&refs(), &["GW_TOKEN".to_string()], here);
        assert_eq!(
            w,
            [
                "`${OPENCLAW_CONTAINER}` (jobs/x.yaml) is `my-gateway` in this shell, but the service will not have it and will use the default `openclaw-gateway`: add `--env OPENCLAW_CONTAINER` to keep `my-gateway`",
                "`SMTP_PASSWORD` (jobs/x.yaml) is set in this shell, but the service will not have it: sends through it will fail; add `--env SMTP_PASSWORD` or use the `*_file` key beside it",
                "`HOOK_SECRET` (jobs/x.yaml) is not set, here or in the service: set it and add `--env HOOK_SECRET`, or use the `*_file` key beside it",
            ]
        );
    }

    /// A Mac user's setup running `bin`.
    fn mac_setup(bin: &str) -> Setup {
        Setup {
            bin: PathBuf::from(bin),
            copy_from: None,
            home: PathBuf::from("/Users/me/claw"),
            config: PathBuf::from("/Users/me/claw/clawcron.yaml"),
            jobs: None,
            state_dir: None,
            home_dir: PathBuf::from("/Users/me"),
            uid: 501,
            stop_within: std::time::Duration::from_secs(35),
            path_env: "/usr/bin:/bin".into(),
            env: vec![],
            log_file: None,
            log_format: None,
        }
    }

    #[test]
    fn reads_the_binary_an_installed_file_runs() {
        let s = mac_setup("/Users/me/my bin/clawcron&co");
        for target in [Target::Launchd, Target::Systemd] {
            assert_eq!(
                installed_bin(target, &render(target, &s)),
                Some(s.bin.clone())
            );
        }
        assert_eq!(
            installed_bin(Target::Systemd, "[Service]\nExecStart=/opt/clawcron run\n"),
            Some(PathBuf::from("/opt/clawcron"))
        );
        assert_eq!(installed_bin(Target::Launchd, "<plist/>"), None);
    }

    #[test]
    fn specifiers_dollars_and_xml_are_escaped_and_log_flags_kept_for_both_targets() {
        let s = Setup {
            home: PathBuf::from("/Users/me/claw %h"),
            log_file: Some(PathBuf::from("/var/log/claw\u{1}cron.log")),
            log_format: Some("json"),
            ..mac_setup("/Users/me/100% $HOME/it's<1>/clawcron")
        };
        let unit = render(Target::Systemd, &s);
        let exec = unit.lines().find(|l| l.starts_with("ExecStart=")).unwrap();
        assert!(
            exec.starts_with("ExecStart=\"/Users/me/100%% $$HOME/it's<1>/clawcron\" --config"),
            "{exec}"
        );
        assert!(exec.ends_with("--log-format json run"), "{exec}");
        assert!(exec.contains("--log-file"), "{exec}");
        assert!(
            unit.contains("WorkingDirectory=\"/Users/me/claw %%h\""),
            "{unit}"
        );
        let plist = render(Target::Launchd, &s);
        assert!(
            plist.contains("<string>/Users/me/100% $HOME/it&apos;s&lt;1&gt;/clawcron</string>"),
            "{plist}"
        );
        assert!(plist.contains("<string>--log-format</string>\n    <string>json</string>"));
        assert!(
            plist.contains("<string>/var/log/clawcron.log</string>"),
            "{plist}"
        );
        for target in [Target::Launchd, Target::Systemd] {
            assert_eq!(
                installed_bin(target, &render(target, &s)),
                Some(s.bin.clone())
            );
        }
    }

    #[test]
    fn env_file_values_are_quoted() {
        assert_eq!(env_file_value(r#"a"b$c\d`e f"#), r#""a\"b\$c\\d\`e f""#);
    }

    #[test]
    fn a_binary_outside_a_build_folder_stays_where_it_is() {
        let home = Path::new("/home/me");
        let (bin, copy) = stable_bin(Path::new("/home/me/.cargo/bin/clawcron"), home);
        assert_eq!(
            (bin.as_path(), copy),
            (Path::new("/home/me/.cargo/bin/clawcron"), None)
        );
        let build = tempfile::tempdir().unwrap();
        std::fs::write(build.path().join("CACHEDIR.TAG"), "").unwrap();
        std::fs::write(build.path().join(".rustc_info.json"), "{}").unwrap();
        let exe = build.path().join("release/clawcron");
        let (bin, copy) = stable_bin(&exe, home);
        assert_eq!(bin, home.join(".local/bin/clawcron"));
        assert_eq!(copy, Some(exe));
    }
}
