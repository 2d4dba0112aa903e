//! `journey serve` on PostgreSQL: every process started on the same database is a node of one
//! cluster. The log is split into partitions ([`crate::store::postgres`]); each node holds the
//! leases of its share of them and runs one [`Worker`] per partition held, exactly as the
//! single-node runtime runs its one log. Any node takes every API call: the entries go to their
//! partitions' logs (group commit), and the partition's owner applies them.
//!
//! The node's coordinator thread, every tick: wakes the workers whose partitions grew, stops the
//! ones whose lease turned out lost, and sums the cluster's lag; every fifth of the lease's time
//! to live: beats its heart, renews its leases, and takes or hands over partitions so that every
//! live node holds an even share. A node that dies stops renewing: its leases run out and the
//! others take its partitions over, each under a new fencing token, loading the last checkpoint
//! and replaying the partition's log after it. Reads answer from the database: the cluster's
//! view as its checkpoints hold it.

use crate::api::{self, AppState, AppendRequest, Validators};
use crate::metrics::Metrics;
use crate::store::postgres::{NameClaim, PartitionRow, Pg, PgPartition};
use crate::store::{Appended, Entry, NewEntry};
use crate::worker::{describe_wait, wall_ms, Layout, Partition, Query, Wake, Worker};
use crate::{compile_project, Config, StartError, API_THREADS};
use journey_compiler::artifact;
use journey_compiler::driver::BuildError;
use journey_vm::engine::instance::Instance;
use journey_vm::engine::report::Report;
use journey_vm::engine::{Engine, Options};
use journey_vm::http::HttpExecutor;
use journey_vm::machine::Image;
use serde_json::{json, Value as Json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// By default, how long a partition's lease lasts without renewal.
pub const LEASE_TTL: Duration = Duration::from_secs(10);
/// How often the coordinator looks at the partitions' positions (and wakes workers).
const TICK: Duration = Duration::from_millis(20);
/// Connections to the database per node (shared by the workers, the log writer's lanes and
/// reads).
const POOL_SIZE: usize = 16 + crate::store::postgres::LANES;

/// How a node joins the cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// The node's name (default: the host's name and the process id).
    pub node: Option<String>,
    /// Partitions of a new database ([`crate::store::postgres::DEFAULT_PARTITIONS`] when unset);
    /// an existing database keeps its own.
    pub partitions: Option<u32>,
    /// How long a lease lasts without renewal ([`LEASE_TTL`]).
    pub lease_ttl: Duration,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions { node: None, partitions: None, lease_ttl: LEASE_TTL }
    }
}

/// The host's name and this process's id.
fn default_node_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".into());
    format!("{host}-{}", std::process::id())
}

/// Runs a node of the cluster on the PostgreSQL database `config.db` until `shutdown`
/// completes; then hands its partitions over (each after a last checkpoint) and leaves.
pub fn serve_until(
    config: Config,
    options: ClusterOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let connection_limits = crate::connection_limits(&config)?;
    let url = config.db.to_string_lossy().to_string();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(API_THREADS)
        // Named, to tell the server's threads from others in a profile.
        .thread_name("journey-api")
        .enable_all()
        .build()
        .map_err(|e| StartError::Config(format!("cannot start the async runtime: {e}")))?;
    let pg =
        Pg::connect(&url, rt.handle().clone(), options.partitions, POOL_SIZE).map_err(|e| StartError::Store(e.0))?;
    let store_err = |e: crate::store::StoreError| StartError::Store(e.0);
    if pg.last_version().map_err(store_err)? == 0 {
        let bytes = compile_project(&config.project, &config.schemas).map_err(|e| match e {
            BuildError::Errors(rendered) => StartError::Compile(rendered),
            other => StartError::Config(other.to_string()),
        })?;
        // Nodes starting together on a new database publish it once.
        if let Some(v) = pg.store_version(&bytes, wall_ms(), true).map_err(store_err)? {
            tracing::info!("published the project as version {v}");
        }
    }
    let name = options.node.clone().unwrap_or_else(default_node_name);
    let incarnation = format!("{}-{}-{}", default_node_name(), wall_ms(), std::process::id());
    claim_name(&pg, &name, &config.listen.to_string(), &incarnation, options.lease_ttl)?;
    let metrics = Arc::new(Metrics::default());
    metrics.cluster.store(true, Relaxed);
    let executor = Arc::new(rt.block_on(async { HttpExecutor::builder().build() }).map_err(StartError::Config)?);
    let (image, known_version) = latest_image(&pg).map_err(StartError::Store)?;
    let validators =
        Arc::new(Validators::new(API_THREADS, || Engine::new(image.clone(), wall_ms(), Options::default())));
    note_business(&pg, &validators).map_err(StartError::Store)?;

    let (append_tx, append_rx) = tokio::sync::mpsc::channel::<AppendRequest>(1024);
    let inboxes = Inboxes::default();
    let appender = {
        let (pg, inboxes) = (pg.clone(), inboxes.clone());
        std::thread::Builder::new()
            .name("journey-log".into())
            .spawn(move || group_commit(&pg, append_rx, &inboxes))
            .map_err(|e| StartError::Config(e.to_string()))?
    };
    let stop = Arc::new(AtomicBool::new(false));
    let node = Node {
        pg: pg.clone(),
        name: name.clone(),
        address: config.listen.to_string(),
        incarnation,
        ttl: options.lease_ttl,
        held: HashMap::new(),
        inboxes,
        releasing: Vec::new(),
        executor,
        rt: rt.handle().clone(),
        metrics: metrics.clone(),
        read_rate: config.read_rate,
        validators: validators.clone(),
        known_version,
        stop: stop.clone(),
    };
    let coordinator = std::thread::Builder::new()
        .name("journey-cluster".into())
        .spawn(move || node.run())
        .map_err(|e| StartError::Config(e.to_string()))?;
    let (query_tx, query_rx) = std::sync::mpsc::channel::<Wake>();
    let reader = Reader { pg: pg.clone(), images: HashMap::new(), name: name.clone(), ttl: options.lease_ttl };
    let dispatcher = std::thread::Builder::new()
        .name("journey-reads".into())
        .spawn(move || reader.run(query_rx))
        .map_err(|e| StartError::Config(e.to_string()))?;

    let (publish_pg, read_pg) = (pg.clone(), pg.clone());
    let read: Box<crate::console::ReadVersions> = Box::new(move || read_pg.versions().map_err(|e| e.to_string()));
    let (publish, canvases) = crate::publisher(
        &config,
        validators.clone(),
        move |bytes| {
            use axum::http::StatusCode;
            match publish_pg.store_version(bytes, wall_ms(), false) {
                Ok(Some(v)) => Ok(v),
                Ok(None) => Err((StatusCode::INTERNAL_SERVER_ERROR, "no version was stored".into())),
                Err(e) if e.is_unavailable() => Err((StatusCode::SERVICE_UNAVAILABLE, e.to_string())),
                Err(e) => Err((StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
            }
        },
        read,
    );
    let state = Arc::new(AppState {
        appender: append_tx,
        worker: Mutex::new(query_tx.clone()),
        validators,
        token: config.token.clone(),
        metrics,
        publish,
        max_lag: config.max_lag.unwrap_or(api::MAX_ENGINE_LAG),
        max_profile_bytes: config.limits.max_profile_bytes.unwrap_or(api::MAX_PROFILE_BYTES),
        canvases,
    });
    let app = api::router(state);
    let shown = pg.shown.clone();
    let served = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| StartError::Config(format!("cannot listen on {}: {e}", config.listen)))?;
        tracing::info!("node {name} listening on http://{}", config.listen);
        eprintln!(
            "journey serve: node {name} listening on http://{} (database {shown}, {} partitions, at most {} connections at once)",
            config.listen, pg.partitions, connection_limits.max_connections
        );
        crate::listen::serve(listener, app, connection_limits, shutdown)
            .await
            .map_err(|e| StartError::Config(e.to_string()))
    });
    // A graceful stop: the partitions are handed over, each after its last checkpoint.
    stop.store(true, Relaxed);
    let _ = coordinator.join();
    let _ = query_tx.send(Wake::Shutdown);
    let _ = dispatcher.join();
    drop(appender);
    served
}

/// Takes the node name for this process, waiting out a lease when a process that ran under it
/// just stopped (killed, its heartbeat not yet old); refuses when another process is alive
/// under it.
fn claim_name(pg: &Pg, name: &str, address: &str, incarnation: &str, ttl: Duration) -> Result<(), StartError> {
    let deadline = Instant::now() + ttl * 2 + Duration::from_secs(1);
    let mut said = false;
    loop {
        match pg.claim_name(name, address, incarnation, ttl).map_err(|e| StartError::Store(e.0))? {
            NameClaim::Claimed => return Ok(()),
            NameClaim::Taken { address: other, age_ms } => {
                if Instant::now() >= deadline {
                    return Err(StartError::Config(format!(
                        "another node named {name:?} is running (listening on {other}, last heartbeat {age_ms} ms ago): \
                         give this one another name with --node, or stop that one first"
                    )));
                }
                if !said {
                    eprintln!(
                        "journey serve: node name {name:?} was in use {age_ms} ms ago (at {other}); \
                         waiting up to {:?} for it to lapse",
                        deadline - Instant::now()
                    );
                    said = true;
                }
                std::thread::sleep(ttl / 10);
            }
        }
    }
}

/// Tells the validators the business events of every stored version (each stays loaded in
/// the partitions' workers): see [`Validators::add_business`].
fn note_business(pg: &Pg, validators: &Validators) -> Result<(), String> {
    let rows = pg.versions().map_err(|e| e.to_string())?;
    let programs: Vec<_> =
        rows.iter().filter_map(|r| artifact::from_bytes(&r.artifact).ok()).map(|a| a.program).collect();
    validators.add_business(&programs);
    Ok(())
}

/// The newest version's image, and its number.
fn latest_image(pg: &Pg) -> Result<(Arc<Image>, u32), String> {
    let rows = pg.versions().map_err(|e| e.to_string())?;
    let row = rows.last().ok_or("no published version")?;
    let a = artifact::from_bytes(&row.artifact).map_err(|e| e.to_string())?;
    Ok((Arc::new(Image::load(a.program).map_err(|e| e.to_string())?), row.version))
}

/// The workers of the partitions this node holds, by partition: where the log writer hands
/// the entries it committed.
/// Per partition held: its worker's inbox, and the last log position it applied.
type Inboxes = Arc<Mutex<HashMap<u32, (Sender<Wake>, Arc<AtomicI64>)>>>;

/// The log writer: takes every request waiting, appends them in one go (split by partition into
/// lanes committed side by side, [`Pg::append_lanes`]), and answers each once its entries are
/// committed. Then it hands each partition's new entries to its worker if this node holds it,
/// which applies them without reading them back from the database; entries appended by other
/// nodes (and any the hand misses) are read from the log, when the coordinator's next tick
/// (within [`TICK`]) finds the partition grown.
fn group_commit(pg: &Pg, mut rx: tokio::sync::mpsc::Receiver<AppendRequest>, inboxes: &Inboxes) {
    while let Some((all, replies)) = crate::take_group(&mut rx) {
        // What backpressure reads follows at the coordinator's next tick.
        match pg.append_lanes(&all) {
            Ok((results, failed)) => {
                let why = failed.map(|e| {
                    tracing::error!("appending to the log failed: {e}");
                    e.to_string()
                });
                let mut rest = results.iter().copied();
                for (n, reply) in replies {
                    // A request is answered "stored" only when all its entries are.
                    let mine: Option<Vec<_>> = rest.by_ref().take(n).collect();
                    let _ = reply.send(mine.ok_or_else(|| why.clone().unwrap_or_default()));
                }
                hand_over_entries(pg, all, &results, inboxes);
            }
            Err(e) => {
                tracing::error!("appending to the log failed: {e}");
                for (_, reply) in replies {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
    }
}

/// Hands the entries just committed (`results`) to the workers of their partitions held here.
/// An entry for every partition (publish, close, stop, a business event) is read back by each.
fn hand_over_entries(pg: &Pg, all: Vec<NewEntry>, results: &[Option<Appended>], inboxes: &Inboxes) {
    let mut by_partition: HashMap<u32, Vec<Entry>> = HashMap::new();
    for (e, r) in all.into_iter().zip(results) {
        if let (Some(key), Some(Appended::New(seq))) = (&e.key, r) {
            let p = journey_vm::engine::shard_of(key, pg.partitions);
            by_partition.entry(p).or_default().push(Entry { seq: *seq, at_ms: e.at_ms, kind: e.kind });
        }
    }
    let Ok(inboxes) = inboxes.lock() else { return };
    for (p, entries) in by_partition {
        let (Some((tx, applied)), Some(last)) = (inboxes.get(&p), entries.last().map(|e| e.seq)) else { continue };
        // Far behind, the worker would drop what it is handed (it keeps a bounded hand) and read
        // it back anyway: it is told where the log ends instead, so that the entries do not
        // wait in its inbox meanwhile.
        if last - applied.load(Relaxed) > crate::worker::HANDED_MAX as i64 {
            let _ = tx.send(Wake::Appended(last));
        } else {
            let _ = tx.send(Wake::Logged(entries));
        }
    }
}

/// A partition this node holds, and its worker.
struct Held {
    token: i64,
    tx: Sender<Wake>,
    thread: JoinHandle<()>,
    lost: Arc<AtomicBool>,
    applied: Arc<AtomicI64>,
}

/// This node's part in the cluster.
struct Node {
    pg: Arc<Pg>,
    name: String,
    address: String,
    /// This process among any that ran under `name` (see `Pg::claim_name`).
    incarnation: String,
    ttl: Duration,
    held: HashMap<u32, Held>,
    /// The inboxes of `held`'s workers, for the log writer (kept in step each tick).
    inboxes: Inboxes,
    /// Partitions being handed over: their worker writes its last checkpoint, then the lease
    /// is released (by the thread here).
    releasing: Vec<(u32, JoinHandle<()>)>,
    executor: Arc<HttpExecutor>,
    rt: tokio::runtime::Handle,
    metrics: Arc<Metrics>,
    read_rate: Option<u32>,
    validators: Arc<Validators>,
    known_version: u32,
    stop: Arc<AtomicBool>,
}

impl Node {
    fn run(mut self) {
        let lease_every = self.ttl / 5;
        let mut last_lease: Option<Instant> = None;
        let mut renewed = Instant::now();
        let mut seen: HashMap<u32, i64> = HashMap::new();
        while !self.stop.load(Relaxed) {
            self.reap();
            if last_lease.is_none_or(|t| t.elapsed() >= lease_every) {
                last_lease = Some(Instant::now());
                match self.lease_round() {
                    Ok(()) => renewed = Instant::now(),
                    Err(e) => {
                        tracing::warn!("node {}: the lease round failed: {e}", self.name);
                        // Not renewed for a whole lease: another node may hold them now.
                        if renewed.elapsed() >= self.ttl {
                            self.drop_all("its leases ran out while the database was away");
                        }
                    }
                }
            }
            if let Ok(mut inboxes) = self.inboxes.lock() {
                inboxes.retain(|p, _| self.held.contains_key(p));
            }
            if let Ok(rows) = self.pg.partition_rows() {
                self.follow(&rows, &mut seen);
            }
            if let Ok(v) = self.pg.last_version() {
                if v > self.known_version {
                    if let Ok((image, v)) = latest_image(&self.pg) {
                        self.validators.replace(|| Engine::new(image.clone(), wall_ms(), Options::default()));
                        if let Err(e) = note_business(&self.pg, &self.validators) {
                            tracing::warn!("node {}: cannot read the stored versions: {e}", self.name);
                        }
                        self.known_version = v;
                    }
                }
            }
            std::thread::sleep(TICK);
        }
        self.leave();
    }

    /// Wakes the workers whose partitions' logs grew, and sums the cluster's positions into
    /// the lag that backpressure reads.
    fn follow(&mut self, rows: &[PartitionRow], seen: &mut HashMap<u32, i64>) {
        let (mut appended, mut applied) = (0i64, 0i64);
        for r in rows {
            appended += r.last_seq;
            match self.held.get(&r.partition) {
                Some(h) => {
                    applied += h.applied.load(Relaxed).max(r.applied_seq);
                    if seen.insert(r.partition, r.last_seq) != Some(r.last_seq) {
                        let _ = h.tx.send(Wake::Appended(r.last_seq));
                    }
                }
                None => applied += r.applied_seq,
            }
        }
        self.metrics.appended_seq.store(appended, Relaxed);
        self.metrics.applied_seq.store(applied, Relaxed);
        self.metrics.partitions_held.store(self.held.len() as i64, Relaxed);
    }

    /// Drops workers whose lease was found lost (at once, writing nothing) or that stopped,
    /// and finishes hand-overs.
    fn reap(&mut self) {
        let gone: Vec<u32> =
            self.held.iter().filter(|(_, h)| h.lost.load(Relaxed) || h.thread.is_finished()).map(|(p, _)| *p).collect();
        for p in gone {
            if let Some(h) = self.held.remove(&p) {
                self.metrics.lease_changes.fetch_add(1, Relaxed);
                if h.lost.load(Relaxed) {
                    tracing::warn!("node {}: partition {p} is held by another node now; its worker stops", self.name);
                    let _ = h.tx.send(Wake::Abandon);
                } else {
                    // The worker failed (the database away while it loaded): free the partition.
                    let _ = self.pg.release(&self.name, p, h.token);
                }
            }
        }
        self.releasing.retain(|(_, t)| !t.is_finished());
    }

    /// Stops every worker at once, writing nothing (the leases are no longer this node's).
    fn drop_all(&mut self, why: &str) {
        if self.held.is_empty() {
            return;
        }
        tracing::warn!("node {}: dropping {} partitions: {why}", self.name, self.held.len());
        for (_, h) in std::mem::take(&mut self.held) {
            self.metrics.lease_changes.fetch_add(1, Relaxed);
            let _ = h.tx.send(Wake::Abandon);
        }
    }

    /// Heartbeat, renewal, and the even share.
    fn lease_round(&mut self) -> Result<(), String> {
        let Some(alive) =
            self.pg.heartbeat(&self.name, &self.address, &self.incarnation, self.ttl).map_err(|e| e.to_string())?
        else {
            // Paused past its lease, this process finds another one running under its name:
            // its leases are gone already (fenced), and two nodes of one name would free each
            // other's leases, so it stops.
            self.drop_all("another process runs under its name");
            eprintln!(
                "journey serve: another process took the node name {:?} while this one was unresponsive; stopping",
                self.name
            );
            std::process::exit(2);
        };
        let renewed: HashMap<u32, i64> =
            self.pg.renew(&self.name, self.ttl).map_err(|e| e.to_string())?.into_iter().collect();
        // Held here under another token, or not renewed: another node holds it now.
        let lost: Vec<u32> =
            self.held.iter().filter(|(p, h)| renewed.get(p) != Some(&h.token)).map(|(p, _)| *p).collect();
        for p in lost {
            if let Some(h) = self.held.remove(&p) {
                tracing::warn!("node {}: lost the lease of partition {p}", self.name);
                self.metrics.lease_changes.fetch_add(1, Relaxed);
                let _ = h.tx.send(Wake::Abandon);
            }
        }
        // Leases in this node's name that no worker here runs (a node restarted under its old
        // name): freed, to be taken again under a new token.
        let releasing: Vec<u32> = self.releasing.iter().map(|(p, _)| *p).collect();
        for (p, token) in &renewed {
            if !self.held.contains_key(p) && !releasing.contains(p) {
                let _ = self.pg.release(&self.name, *p, *token);
            }
        }
        let n = alive.len().max(1) as u32;
        let me = alive.iter().position(|a| *a == self.name).unwrap_or(0) as u32;
        let total = self.pg.partitions;
        let fair = (total / n + u32::from(me < total % n)) as usize;
        let held = self.held.len();
        if held < fair {
            for (p, token) in self.pg.acquire(&self.name, fair - held, self.ttl).map_err(|e| e.to_string())? {
                self.start(p, token);
            }
        } else if held > fair {
            let mut mine: Vec<u32> = self.held.keys().copied().collect();
            mine.sort_unstable();
            for p in mine.into_iter().rev().take(held - fair) {
                self.hand_over(p);
            }
        }
        Ok(())
    }

    /// Starts the worker of partition `p`, held under `token`.
    fn start(&mut self, p: u32, token: i64) {
        let store = PgPartition::new(self.pg.clone(), p, &self.name, token);
        let lost = store.lost.clone();
        let applied = Arc::new(AtomicI64::new(0));
        let (tx, rx) = std::sync::mpsc::channel::<Wake>();
        let layout = Layout {
            read_rate: self.read_rate,
            shards: Some(1),
            partition: Some(Partition { index: p, count: self.pg.partitions, applied: applied.clone() }),
        };
        let (executor, rt, metrics, wake) = (self.executor.clone(), self.rt.clone(), self.metrics.clone(), tx.clone());
        let thread = std::thread::Builder::new().name(format!("journey-p{p}")).spawn(move || {
            match Worker::load(Box::new(store), executor, rt, wake, metrics, layout, None) {
                Ok(w) => w.run(rx),
                Err(e) => tracing::error!("partition {p} cannot be loaded: {e}"),
            }
        });
        match thread {
            Ok(thread) => {
                tracing::info!("node {}: took partition {p} (token {token})", self.name);
                if let Ok(mut inboxes) = self.inboxes.lock() {
                    inboxes.insert(p, (tx.clone(), applied.clone()));
                }
                self.held.insert(p, Held { token, tx, thread, lost, applied });
                self.metrics.lease_changes.fetch_add(1, Relaxed);
            }
            Err(e) => {
                tracing::error!("cannot start the worker of partition {p}: {e}");
                let _ = self.pg.release(&self.name, p, token);
            }
        }
    }

    /// Hands partition `p` over: its worker writes a last checkpoint and stops, then the lease
    /// is freed for another node to take at once.
    fn hand_over(&mut self, p: u32) {
        let Some(h) = self.held.remove(&p) else { return };
        self.metrics.lease_changes.fetch_add(1, Relaxed);
        let (pg, name) = (self.pg.clone(), self.name.clone());
        let _ = h.tx.send(Wake::Shutdown);
        let releaser = std::thread::Builder::new().name(format!("journey-release-p{p}")).spawn(move || {
            let _ = h.thread.join();
            if !h.lost.load(Relaxed) {
                match pg.release(&name, p, h.token) {
                    Ok(_) => tracing::info!("node {name}: handed partition {p} over"),
                    Err(e) => tracing::warn!("node {name}: releasing partition {p} failed ({e}); its lease runs out"),
                }
            }
        });
        if let Ok(t) = releaser {
            self.releasing.push((p, t));
        }
    }

    /// Leaves the cluster: no longer counted in the shares, every partition handed over (each
    /// after a last checkpoint), then gone from the nodes.
    fn leave(mut self) {
        if let Err(e) = self.pg.leaving(&self.name, &self.incarnation) {
            tracing::warn!("node {}: cannot mark itself leaving: {e}", self.name);
        }
        let all: Vec<u32> = self.held.keys().copied().collect();
        for p in all {
            self.hand_over(p);
        }
        for (_, t) in self.releasing.drain(..) {
            let _ = t.join();
        }
        if let Err(e) = self.pg.leave(&self.name, &self.incarnation) {
            tracing::warn!("node {}: cannot leave the cluster cleanly: {e}", self.name);
        }
        tracing::info!("node {} left the cluster", self.name);
    }
}

/// Answers the API's questions from the database: the whole cluster's state as its
/// checkpoints hold it, whichever node is asked.
struct Reader {
    pg: Arc<Pg>,
    images: HashMap<u32, Arc<Image>>,
    name: String,
    ttl: Duration,
}

impl Reader {
    fn run(mut self, rx: Receiver<Wake>) {
        for m in rx {
            match m {
                Wake::Query(q) => self.answer(q),
                Wake::Shutdown => return,
                _ => {}
            }
        }
    }

    /// Every published version's image, oldest first.
    fn versions(&mut self) -> Result<Vec<(u32, Arc<Image>)>, String> {
        let last = self.pg.last_version().map_err(|e| e.to_string())?;
        if (1..=last).any(|v| !self.images.contains_key(&v)) {
            for row in self.pg.versions().map_err(|e| e.to_string())? {
                if let std::collections::hash_map::Entry::Vacant(slot) = self.images.entry(row.version) {
                    let a = artifact::from_bytes(&row.artifact).map_err(|e| e.to_string())?;
                    slot.insert(Arc::new(Image::load(a.program).map_err(|e| e.to_string())?));
                }
            }
        }
        let mut out: Vec<(u32, Arc<Image>)> =
            self.images.iter().filter(|(v, _)| **v <= last).map(|(v, i)| (*v, i.clone())).collect();
        out.sort_by_key(|(v, _)| *v);
        Ok(out)
    }

    fn answer(&mut self, q: Query) {
        match q {
            Query::Journeys(tx) => {
                let _ = tx.send(self.journeys().unwrap_or_else(|e| json!({"error": e})));
            }
            Query::Report(name, since, hours, tx) => {
                let _ = tx.send(self.report(&name, since, hours).unwrap_or_else(|e| Some(json!({"error": e}))));
            }
            Query::Instances(key, tx) => {
                let _ = tx.send(self.instances(&key).unwrap_or_else(|e| json!({"error": e})));
            }
            Query::Errors(name, tx) => {
                // The journey's latest failures, newest first, from the step events the
                // partitions' holders have checkpointed.
                let errors: Vec<Json> = match self.pg.recent_steps(crate::worker::RECENT_STEPS as i64) {
                    Ok(rows) => rows
                        .iter()
                        .filter_map(|row| serde_json::from_str::<Json>(row).ok())
                        .filter(|s| s["journey"] == json!(name) && !s["error"].is_null())
                        .take(50)
                        .collect(),
                    Err(e) => vec![json!({"error": e.to_string()})],
                };
                let _ = tx.send(Json::Array(errors));
            }
            Query::Status(tx) => {
                let _ = tx.send(self.status().unwrap_or_else(|e| json!({"error": e})));
            }
            Query::Messages(key, tx) => {
                // From the profile's partition, as its holder checkpointed it.
                let answer = self.versions().and_then(|versions| {
                    let images: HashMap<u32, Arc<Image>> = versions.into_iter().collect();
                    let rows = self.pg.profile_messages(&key).map_err(|e| e.to_string())?;
                    Ok(crate::worker::messages_json(rows, &images))
                });
                let _ = tx.send(answer);
            }
        }
    }

    /// Each version's stored states: (version, image, [(small, report)] by partition).
    #[allow(clippy::type_complexity)]
    fn states(
        &mut self,
    ) -> Result<Vec<(u32, Arc<Image>, Vec<(journey_vm::engine::durable::SmallState, Report)>)>, String> {
        let mut out = Vec::new();
        for (v, image) in self.versions()? {
            let mut parts = Vec::new();
            for (_, small, report) in self.pg.engine_states(v).map_err(|e| e.to_string())? {
                let small = serde_json::from_str(&small).map_err(|e| e.to_string())?;
                let report = serde_json::from_str(&report).map_err(|e| e.to_string())?;
                parts.push((small, report));
            }
            out.push((v, image, parts));
        }
        Ok(out)
    }

    /// As [`Worker`]'s: each journey with the versions where it changed, takes entries, or
    /// has had instances.
    fn journeys(&mut self) -> Result<Json, String> {
        let mut out = serde_json::Map::new();
        let mut before: HashMap<String, Vec<u8>> = HashMap::new();
        for (number, image, parts) in self.states()? {
            for (j, x) in image.program.journeys.iter().enumerate() {
                let code = postcard::to_allocvec(x).unwrap_or_default();
                let changed = before.insert(x.name.clone(), code.clone()).is_none_or(|old| old != code);
                // Every partition applies the same publish, close and stop entries: any one
                // that has applied them tells.
                let open = parts.iter().any(|(small, _)| small.open.get(j).copied().unwrap_or(false));
                let entered =
                    parts.iter().any(|(_, r)| r.journeys.iter().any(|r| r.journey == x.name && r.started > 0));
                if !(changed || open || entered) {
                    continue;
                }
                let entry = out.entry(x.name.clone()).or_insert_with(|| json!({"name": x.name, "versions": []}));
                // Stopped as every partition stores it once it applied the stop.
                let stopped = parts.iter().any(|(small, r)| small.is_stopped(j, Some(r)));
                let status = crate::worker::status_word(open, stopped);
                if let Some(list) = entry["versions"].as_array_mut() {
                    list.push(json!({"version": number, "open": open, "status": status}));
                }
            }
        }
        Ok(Json::Array(out.into_values().collect()))
    }

    fn report(&mut self, name: &str, since: Option<i64>, hours: bool) -> Result<Option<Json>, String> {
        let now = wall_ms();
        let mut versions = Vec::new();
        for (number, image, parts) in self.states()? {
            let mut total: Option<Report> = None;
            for (_, r) in &parts {
                match &mut total {
                    Some(t) => t.absorb(r),
                    None => total = Some(r.clone()),
                }
            }
            let code = image.program.journeys.iter().find(|j| j.name == name);
            if let (Some(total), Some(code)) = (total, code) {
                if let Some(r) = total.journeys.iter().find(|r| r.journey == name) {
                    let mut report = r.to_json(code, now, since.unwrap_or(now - 86_400_000));
                    if hours {
                        report["hours"] = crate::worker::hours_json(r);
                    }
                    versions.push(json!({"version": number, "report": report}));
                }
            }
        }
        Ok((!versions.is_empty()).then(|| json!({"journey": name, "versions": versions})))
    }

    fn instances(&mut self, key: &str) -> Result<Json, String> {
        let images: HashMap<u32, Arc<Image>> = self.versions()?.into_iter().collect();
        let p = journey_vm::engine::shard_of(key, self.pg.partitions);
        let mut out = Vec::new();
        for (version, data) in self.pg.partition_instances(p).map_err(|e| e.to_string())? {
            let i: Instance = crate::store::decode_instance(&data).map_err(|e| e.to_string())?;
            let Some(image) = images.get(&version) else { continue };
            if i.profile.as_str() != key {
                continue;
            }
            let Some(j) = image.program.journeys.get(i.journey as usize) else { continue };
            let node = j.nodes.get(i.node as usize);
            let (waits_for, until) = describe_wait(j, &i);
            out.push(json!({"journey": j.name, "version": version, "instance": i.id,
                "node": node.map(|n| n.label.clone()), "line": node.map(|n| n.line),
                "waits_for": waits_for, "until": until.map(journey_vm::engine::clock::rfc3339),
                "entered": journey_vm::engine::clock::rfc3339(i.entered_ms)}));
        }
        Ok(Json::Array(out))
    }

    fn status(&mut self) -> Result<Json, String> {
        let versions = self.versions()?;
        let rows = self.pg.partition_rows().map_err(|e| e.to_string())?;
        let nodes = self.pg.nodes(self.ttl).map_err(|e| e.to_string())?;
        let waiting = self.pg.instance_count().map_err(|e| e.to_string())?;
        let sum = |f: fn(&PartitionRow) -> i64| rows.iter().map(f).sum::<i64>();
        let nodes: Vec<Json> = nodes
            .iter()
            .map(|(name, address, alive, leaving)| {
                let mine: Vec<&PartitionRow> =
                    rows.iter().filter(|r| r.live && r.owner.as_deref() == Some(name.as_str())).collect();
                let lag: i64 = mine.iter().map(|r| (r.last_seq - r.applied_seq).max(0)).sum();
                json!({"name": name, "address": address, "alive": alive, "leaving": leaving,
                    "partitions": mine.len(), "lag": lag})
            })
            .collect();
        let unowned = rows.iter().filter(|r| !r.live || r.owner.is_none()).count();
        Ok(json!({
            "versions": versions.len(),
            "log_entries": sum(|r| r.last_seq),
            "events": sum(|r| r.events),
            "applied": sum(|r| r.applied_seq),
            "instances_waiting": waiting,
            "shards": self.pg.partitions,
            "journeys": versions.last().map(|(_, i)| i.program.journeys.len()).unwrap_or(0),
            "cluster": {
                "node": self.name,
                "partitions": self.pg.partitions,
                "unowned": unowned,
                "lease_ttl_ms": self.ttl.as_millis() as u64,
                "nodes": nodes,
            },
        }))
    }
}
