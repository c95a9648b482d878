//! Several nodes on one ledger (PostgreSQL). Each node computes the same slots from the same
//! jobs; the ledger decides which node runs a slot (the first insert of its row wins, on the
//! ledger's clock). This module is a node's side of it:
//!
//! - the **roster**: which jobs this node may claim. A job whose `runs_on` tags this node
//!   lacks is not claimed here; nor is a job whose file text here is not the newest among the
//!   live nodes (the text seen first most recently by any of them), so that two versions of a
//!   job never both claim its slots. The scheduler asks the roster before each claim.
//! - the **heartbeat** (`node.heartbeat`, 5 s by default): one ledger transaction that records
//!   the node, renews the leases of its runs and locks, and reads each job's newest text; it
//!   also measures the node's clock against the ledger's, and the scheduler's clock follows the
//!   ledger's. A run of this node whose lease was not renewed (another node took it over) is
//!   stopped; if the ledger cannot be reached for longer than a lease, every run is stopped,
//!   since another node may take them over. Runs whose lease ended (their node was lost) are
//!   marked `interrupted`, and retried here once if their job says `retry_on_node_loss`.

use crate::clock::{Clock, OffsetClock};
use crate::model::{JobSpec, NodeSpec, Placement};
use crate::runner::Runner;
use crate::store::Store;
use crate::store::cluster::{Beat, BeatAnswer, NodeId};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Why this node does not claim a job's slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `runs_on` names tags this node does not have.
    NotTagged(Vec<String>),
    /// This node's text of the job file is not the newest among live nodes.
    Diverged { here: String, newest: String },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NotTagged(t) => {
                write!(f, "runs_on [{}] does not match this node", t.join(", "))
            }
            Refusal::Diverged { here, newest } => write!(
                f,
                "this node's job file (sha256 {}) differs from the newest one on a live node ({}): update it here; its slots are claimed by the nodes that have the newest",
                short(here),
                short(newest)
            ),
        }
    }
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

#[derive(Default)]
struct Inner {
    /// The jobs this node has, with their placement (tags, text hash).
    jobs: BTreeMap<String, (Placement, Arc<JobSpec>)>,
    /// Bumped when `jobs` changes: the next beat sends the texts.
    version: u64,
    /// Jobs not claimed here, with why.
    refused: HashMap<String, Refusal>,
}

/// Which jobs this node may claim; shared by the scheduler (which asks) and the heartbeat
/// (which decides).
pub struct Roster {
    node: NodeSpec,
    inner: RwLock<Inner>,
}

impl Roster {
    pub fn new(node: NodeSpec) -> Arc<Roster> {
        Arc::new(Roster {
            node,
            inner: RwLock::default(),
        })
    }

    pub fn node(&self) -> &NodeSpec {
        &self.node
    }

    /// The jobs this node has now (at start and after each reload).
    pub fn set_jobs<'a>(&self, jobs: impl IntoIterator<Item = &'a Arc<JobSpec>>) {
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        let new: BTreeMap<String, (Placement, Arc<JobSpec>)> = jobs
            .into_iter()
            .map(|j| (j.id.to_string(), (j.placement.clone(), j.clone())))
            .collect();
        let changed = new.len() != inner.jobs.len()
            || new
                .iter()
                .zip(inner.jobs.iter())
                .any(|((a, (pa, _)), (b, (pb, _)))| a != b || pa != pb);
        if changed {
            inner.version += 1;
        }
        // A job's tags are judged at once; its text at the next beat.
        for (id, (p, _)) in &new {
            if !p.allows(&self.node.name, &self.node.tags) {
                inner
                    .refused
                    .insert(id.clone(), Refusal::NotTagged(p.runs_on.clone()));
            } else if matches!(inner.refused.get(id), Some(Refusal::NotTagged(_))) {
                inner.refused.remove(id);
            }
        }
        inner.jobs = new;
    }

    /// Whether this node may claim `job`'s slots now.
    pub fn may_claim(&self, job: &str) -> bool {
        !self
            .inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .refused
            .contains_key(job)
    }

    /// The jobs not claimed here, with why (for `clawcron nodes`, the dashboard and the log).
    pub fn refused(&self) -> BTreeMap<String, Refusal> {
        self.inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .refused
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn texts(&self) -> (u64, Vec<(String, String)>) {
        let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
        let texts = inner
            .jobs
            .iter()
            .map(|(id, (p, _))| (id.clone(), p.text_hash.clone()))
            .collect();
        (inner.version, texts)
    }

    fn spec(&self, job: &str) -> Option<Arc<JobSpec>> {
        let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
        inner.jobs.get(job).map(|(_, s)| s.clone())
    }

    /// Judges every job against the newest texts the ledger answered; logs what changed.
    fn judge(&self, newest: &HashMap<String, String>) {
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        let mut refused = HashMap::new();
        for (id, (p, _)) in &inner.jobs {
            let verdict = if !p.allows(&self.node.name, &self.node.tags) {
                Some(Refusal::NotTagged(p.runs_on.clone()))
            } else {
                match newest.get(id) {
                    Some(n) if *n != p.text_hash => Some(Refusal::Diverged {
                        here: p.text_hash.clone(),
                        newest: n.clone(),
                    }),
                    _ => None,
                }
            };
            if let Some(v) = verdict {
                refused.insert(id.clone(), v);
            }
        }
        for (id, why) in &refused {
            if inner.refused.get(id) != Some(why) {
                warn!(
                    job = id,
                    "not claiming this job's slots on this node: {why}"
                );
            }
        }
        for id in inner.refused.keys() {
            if !refused.contains_key(id) && inner.jobs.contains_key(id) {
                info!(job = id, "this node claims the job's slots again");
            }
        }
        inner.refused = refused;
    }
}

/// A node of the cluster: its roster, its clock (set to the ledger's), its heartbeat.
pub struct Node {
    pub roster: Arc<Roster>,
    pub clock: Arc<OffsetClock>,
    /// The node's own clock (the base of `clock`).
    local: Arc<dyn Clock>,
    store: Store,
    sent_version: Option<u64>,
    /// When a beat last succeeded (the node's own clock, Unix ms).
    last_ok_ms: i64,
    /// When the next untold silence ends, as the last beat read it.
    silences: tokio::sync::watch::Sender<Option<i64>>,
    /// What the last beats say of this node's offset to the ledger's clock.
    bounds: OffsetBounds,
}

/// A node's offset to the ledger's clock, never too large. The ledger read its clock between
/// the beat's sending and its answer, so `ledger's clock - this node's clock when the answer
/// came` is at most the true offset (by the answer's way back), never more: a node on that
/// offset reaches a slot when the ledger already has, and its claim is not refused as early.
/// The tightest of the last beats' bounds is kept (a slow answer does not make the next slots
/// late); a bound far below them means this machine's clock was set, and starts afresh.
#[derive(Default)]
struct OffsetBounds {
    last: std::collections::VecDeque<i64>,
}

impl OffsetBounds {
    /// Bounds kept: half a minute of 5 s beats.
    const KEEP: usize = 6;
    /// A bound this far (µs) below the others: the clock was set.
    const RESET_US: i64 = 50_000;

    /// Adds a beat's bound (µs); returns the offset to use.
    fn push(&mut self, bound: i64) -> i64 {
        let best = self.last.iter().copied().max();
        if best.is_some_and(|b| b - bound > Self::RESET_US) {
            self.last.clear();
        }
        if self.last.len() == Self::KEEP {
            self.last.pop_front();
        }
        self.last.push_back(bound);
        self.last.iter().copied().max().unwrap_or(bound)
    }
}

impl Node {
    /// Joins the cluster: this store's claims become this node's, and a first beat records
    /// the node, sets its clock to the ledger's and judges its jobs, before any slot is looked at.
    pub fn join(
        store: &Store,
        spec: NodeSpec,
        local: Arc<dyn Clock>,
        jobs: &[Arc<JobSpec>],
    ) -> Result<Node, crate::store::StoreError> {
        store.join_cluster(NodeId {
            name: spec.name.clone(),
            lease_ms: spec.lease.as_millis() as i64,
        });
        let roster = Roster::new(spec);
        roster.set_jobs(jobs);
        let mut node = Node {
            roster,
            clock: Arc::new(OffsetClock::new(local.clone(), 0)),
            local,
            store: store.clone(),
            sent_version: None,
            last_ok_ms: 0,
            silences: tokio::sync::watch::Sender::new(None),
            bounds: OffsetBounds::default(),
        };
        let pool = store.pg_pool()?;
        pool.wait(node.beat(&[]))?;
        info!(
            node = node.roster.node.name,
            tags = ?node.roster.node.tags,
            offset_ms = node.clock.offset_ms(),
            "joined the cluster on the shared ledger"
        );
        Ok(node)
    }

    async fn beat(&mut self, running: &[i64]) -> Result<BeatAnswer, crate::store::StoreError> {
        let spec = &self.roster.node;
        let (version, texts) = self.roster.texts();
        let send = self.sent_version != Some(version);
        let diverged: Vec<String> = self
            .roster
            .refused()
            .into_iter()
            .filter(|(_, r)| matches!(r, Refusal::Diverged { .. }))
            .map(|(j, _)| j)
            .collect();
        let answer = self
            .store
            .beat(&Beat {
                name: &spec.name,
                tags: &spec.tags,
                pid: std::process::id(),
                texts: send.then_some(texts.as_slice()),
                running,
                diverged: &diverged,
                offset_ms: self.clock.offset_ms(),
                lease_ms: spec.lease.as_millis() as i64,
                live_ms: live_ms(spec),
            })
            .await?;
        let after = self.local.now().timestamp_micros();
        self.clock
            .set_offset_us(self.bounds.push(answer.now_us - after));
        self.sent_version = Some(version);
        self.last_ok_ms = after.div_euclid(1000);
        self.roster.judge(&answer.newest);
        self.silences.send_if_modified(|t| {
            let changed = *t != answer.silence_end;
            *t = answer.silence_end;
            changed
        });
        Ok(answer)
    }

    /// Changes when a beat finds that the next silence to end is another (one was added, ended
    /// or told, on any node).
    pub fn silence_hint(&self) -> tokio::sync::watch::Receiver<Option<i64>> {
        self.silences.subscribe()
    }

    /// The heartbeat, until `stop`. The beats are made by a task on the ledger's own thread
    /// (see `store::db::PgPool::batch`): an idle node wakes once per heartbeat, on that thread
    /// alone, and its beat is one statement (one round trip). What a beat finds to do (a run
    /// to stop, a lost run to retry: rare) comes back to this task, on the daemon's runtime.
    pub async fn run(self, runner: Runner, stop: CancellationToken) {
        let me = self.roster.node.name.clone();
        let store = self.store.clone();
        let pool = match store.pg_pool() {
            Ok(p) => p,
            Err(e) => {
                warn!("no heartbeat: {e}");
                return;
            }
        };
        let (tell, mut todo) = tokio::sync::mpsc::unbounded_channel();
        let beats = pool.spawn(self.beats(runner.clone(), stop, tell));
        while let Some(t) = todo.recv().await {
            match t {
                Todo::Stop(id, why) => {
                    runner.stop_leased(id, why);
                }
                Todo::Retry(spec, slot, cause) => {
                    let runner2 = runner.clone();
                    runner.track(async move {
                        match runner2.retry_lost(&spec, slot, &cause).await {
                            Ok(Some((id, o))) => {
                                info!(job = &*spec.id, run_id = id, status = ?o.status, "retried after node loss ({cause})")
                            }
                            Ok(None) => {}
                            Err(e) => warn!(job = &*spec.id, "cannot retry after node loss: {e}"),
                        }
                    });
                }
            }
        }
        let _ = beats.await;
        if let Err(e) = store.leave_cluster(&me) {
            warn!("cannot record this node's stop in the ledger: {e}");
        }
    }

    /// The beats themselves (a task on the ledger's thread).
    async fn beats(
        mut self,
        runner: Runner,
        stop: CancellationToken,
        tell: tokio::sync::mpsc::UnboundedSender<Todo>,
    ) {
        let every_ms = self.roster.node.heartbeat.as_millis() as i64;
        let lease_ms = self.roster.node.lease.as_millis() as i64;
        // A timer of its own (on Linux a timerfd, registered on this thread): one wake-up per
        // beat, where the runtime's timer wheel would also wake to move a 5 s sleep down its
        // levels.
        let timer = crate::clock::SystemClock::default();
        loop {
            let next = chrono::Utc::now().timestamp_micros() + every_ms * 1000;
            tokio::select! {
                () = stop.cancelled() => break,
                () = timer.sleep_until_us(Some(next)) => {}
            }
            let running = runner.leased_runs();
            match self.beat(&running).await {
                Ok(answer) => {
                    for id in running.iter().filter(|id| !answer.renewed.contains(id)) {
                        let _ = tell.send(Todo::Stop(
                            *id,
                            "its lease was not renewed: another node took it over",
                        ));
                    }
                    for l in &answer.lost {
                        warn!(
                            job = l.job,
                            run_id = l.id,
                            node = l.node.as_deref().unwrap_or("?"),
                            "run interrupted: its node was lost (its lease ended)"
                        );
                        if let Some(t) = self.retry(l) {
                            let _ = tell.send(t);
                        }
                    }
                }
                Err(e) => {
                    let since = self.local.now().timestamp_millis() - self.last_ok_ms;
                    warn!("cannot beat into the ledger for {since} ms: {e}");
                    if since > lease_ms {
                        for id in runner.leased_runs() {
                            let _ = tell.send(Todo::Stop(
                                id,
                                "the ledger has been unreachable for longer than the run's lease",
                            ));
                        }
                    }
                }
            }
        }
    }

    /// A scheduled run lost with its node, to retry here if its job says so and may run here.
    fn retry(&self, lost: &crate::store::cluster::LostRun) -> Option<Todo> {
        if lost.trigger != crate::model::RunTrigger::Schedule.as_str() {
            return None;
        }
        let spec = self.roster.spec(&lost.job)?;
        if !spec.placement.retry_on_node_loss || !self.roster.may_claim(&lost.job) {
            return None;
        }
        let cause = format!(
            "run {} lost with node {}",
            lost.id,
            lost.node.as_deref().unwrap_or("?")
        );
        Some(Todo::Retry(spec, lost.slot, cause))
    }
}

/// What a beat found for the daemon's runtime to do.
enum Todo {
    /// Stop this node's run (its lease is lost).
    Stop(i64, &'static str),
    /// Retry a run lost with its node, for this slot, with this cause.
    Retry(Arc<JobSpec>, i64, String),
}

/// A node whose last beat is older than this is not live: two leases.
pub fn live_ms(spec: &NodeSpec) -> i64 {
    2 * spec.lease.as_millis() as i64
}

/// Why `action` can only mean this machine (a command run here, the local Docker engine, a
/// loopback URL such as the local Ollama's), if it does: in a cluster such a job must say where
/// it runs (`runs_on`), or any node would run it against its own machine.
pub fn local_target(action: &crate::model::ActionSpec) -> Option<String> {
    use crate::model::ActionSpec as A;
    let url_local = |url: &str| {
        let host = url
            .split("://")
            .nth(1)
            .unwrap_or(url)
            .split(['/', '?'])
            .next()
            .unwrap_or("");
        let host = match host.rsplit_once(':') {
            Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
            _ => host,
        };
        let host = host.rsplit('@').next().unwrap_or(host);
        crate::util::host::is_loopback(host).then(|| format!("a URL of this machine ({url})"))
    };
    let docker = |host: &Option<String>| match host {
        Some(h) if h.starts_with("tcp://") && url_local(h).is_none() => None,
        _ => Some("this machine's Docker engine".to_string()),
    };
    match action {
        A::Command(_) => Some("a command run on this machine".into()),
        A::HostStats(_) => Some("this machine's own figures".into()),
        A::Http(h) => url_local(&h.url),
        A::DockerRestart(s) => docker(&s.host),
        A::DockerExec(s) => docker(&s.host),
        A::DockerStats(s) => docker(&s.host),
        A::OllamaPreload(s) => url_local(&s.url),
        A::OllamaUnload(s) => url_local(&s.url),
        A::OllamaBench(s) => url_local(&s.url),
        A::OllamaStatus(s) => url_local(&s.url),
        A::Monitor(m) => m.probes.iter().find_map(|p| local_target(&p.action)),
        A::Report(_) | A::External(_) | A::Scripted(_) => None,
    }
}

/// The warnings `check` gives in a cluster: jobs with a local target and no `runs_on`.
pub fn placement_warnings(jobs: &[crate::model::JobSpec]) -> Vec<String> {
    jobs.iter()
        .filter(|j| j.placement.runs_on.is_empty())
        .filter_map(|j| {
            local_target(&j.action).map(|why| {
                format!(
                    "{}: its target is {why}, but it has no `runs_on`: in a cluster any node may claim it and run it against its own machine; add `runs_on: [<this machine's node name or tag>]`",
                    j.path.display()
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::OffsetBounds;

    #[test]
    fn the_offset_is_the_tightest_recent_bound_and_a_clock_set_starts_afresh() {
        let mut b = OffsetBounds::default();
        assert_eq!(b.push(-300), -300);
        // A slow answer gives a looser (lower) bound: the tighter one stays.
        assert_eq!(b.push(-2_500), -300);
        assert_eq!(b.push(-120), -120);
        // Six beats later the old tight bound is gone.
        for _ in 0..5 {
            b.push(-400);
        }
        assert_eq!(b.push(-400), -400);
        // The machine's clock was set 2 s forward: the offset follows at once.
        assert_eq!(b.push(-2_000_400), -2_000_400);
        // ... and 2 s back.
        assert_eq!(b.push(-350), -350);
    }
}
