//! A real PostgreSQL for the tests: Debian's `postgresql` package, a cluster of the test's own
//! made by `initdb` in a temporary directory and started by `pg_ctl` on a free port of
//! 127.0.0.1, with a password (scram-sha-256). `initdb` and `pg_ctl` refuse to run as root,
//! so as root (CI) they run as the `postgres` user through `runuser`.

use std::path::{Path, PathBuf};
use std::process::Command;

pub const PASSWORD: &str = "s3cret-pg-pass";

pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
}

/// The newest `/usr/lib/postgresql/N/bin` that has `initdb`.
fn bin_dir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, b)| b)
}

fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Postgres {
    /// Starts a new cluster; `None` (after saying NOT CHECKED) only where scripts/test declared
    /// PostgreSQL cannot be had on this machine; otherwise a missing PostgreSQL fails the test.
    #[track_caller]
    pub fn start() -> Option<Postgres> {
        let Some(bin) = bin_dir() else {
            super::part_missing(
                "postgresql",
                "postgresql (Debian's package: initdb and pg_ctl in /usr/lib/postgresql/N/bin)",
                "no /usr/lib/postgresql/*/bin/initdb",
            );
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("clawcron-pg")
            .tempdir()
            .unwrap();
        std::fs::write(dir.path().join("pwfile"), PASSWORD).unwrap();
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown of the cluster's folder to postgres");
        }
        let pg = Postgres {
            dir,
            bin,
            port: free_port(),
        };
        let data = pg.data();
        pg.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "clawcron",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                &format!("--pwfile={}/pwfile", pg.dir.path().display()),
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        );
        pg.start_server();
        Some(pg)
    }

    fn data(&self) -> String {
        format!("{}/data", self.dir.path().display())
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let exe = self.bin.join(tool);
        let out =
            as_postgres(&exe, args).unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
        assert!(
            out.status.success(),
            "{tool} {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts (again) the server on its port.
    pub fn start_server(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &opts,
                "-l",
                &format!("{}/server.log", self.dir.path().display()),
                "-w",
                "-t",
                "30",
                "start",
            ],
        );
    }

    /// Stops the server at once (as a crash would), keeping its data.
    pub fn stop_server(&self) {
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }

    /// The URL of database `postgres`, without its password.
    pub fn url(&self) -> String {
        format!("postgres://clawcron@127.0.0.1:{}/postgres", self.port)
    }

    /// Makes a new empty database and returns its URL (without the password).
    pub fn database(&self, name: &str) -> String {
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        format!("postgres://clawcron@127.0.0.1:{}/{name}", self.port)
    }

    /// Runs `sql` through psql and returns its unaligned output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "clawcron",
            ])
            .args(["-d", db, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .env("PGPASSWORD", PASSWORD)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let exe = self.bin.join("pg_ctl");
        let data = self.data();
        let _ = as_postgres(&exe, &["-D", &data, "-m", "immediate", "-w", "stop"]);
    }
}

/// Runs `exe` with `args`, as `postgres` when this is root (initdb and pg_ctl refuse root).
fn as_postgres(exe: &Path, args: &[&str]) -> std::io::Result<std::process::Output> {
    if is_root() {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(exe)
            .args(args)
            .output()
    } else {
        Command::new(exe).args(args).output()
    }
}
