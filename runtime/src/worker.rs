//! The engine loop: one thread owns every published version's engines, applies the log in order,
//! fires timers on the wall clock, sends calls out and takes their answers back, answers queries,
//! and checkpoints its state with the log position it reflects.
//!
//! The profiles are split into shares ([`Shard`]), one per core by default, each with its own
//! engine per version: log entries are routed to the share of their profile and the shares apply
//! theirs, and fire their timers, in parallel (a profile's entries stay in log order).

use crate::metrics::Metrics;
use crate::shard::{self, each, each_with, origin_of, Prepared, Shard, Version};
use crate::store::{frequency_rows_by_share, Checkpoint, EngineDelta, Entry, LogKind, Store, StoredMessage};
use journey_bytecode::artifact;
use journey_vm::engine::instance::InstanceId;
use journey_vm::engine::messages;
use journey_vm::engine::report::StepEvent;
use journey_vm::engine::{CallOutcome, CallRequest, Engine, Options, Payload, Routing, SharedCaps};
use journey_vm::http::{self, HttpExecutor};
use journey_vm::machine::Image;
use journey_vm::value::Value;
use serde_json::{json, Value as Json};
use std::collections::VecDeque;
use std::collections::{HashMap, HashSet};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often state is checkpointed at most (unless the work budget is reached sooner).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);
/// The same for a partition of a cluster: each checkpoint is a transaction with a fixed cost
/// in the database (the lease's fence, the engine state), paid by every partition held; a
/// takeover replays at most this much more of the log.
const PARTITION_CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// Entries, and bytes of them, handed over by this node's log writer kept in hand at most (past
/// either, the worker reads them back from the log).
pub(crate) const HANDED_MAX: usize = 8 * BATCH;
const HANDED_MAX_BYTES: usize = 16 << 20;
/// Log entries applied per read.
const BATCH: usize = 2_000;
/// The work (log entries applied, timers fired, step events made) after which a checkpoint is
/// written at once: what a checkpoint holds in memory (changed instances, step events) is
/// bounded by it, however many timers fall due together or however long the log to replay is.
const CHECKPOINT_WORK: usize = 20_000;
/// The longest stretch of work before the worker answers what waits in its queue (queries,
/// call outcomes) again.
const SLICE: Duration = Duration::from_millis(20);
/// The most log entries applied in one run (between two looks for queries), and the fewest for
/// which the shares apply them on threads of their own.
const RUN: usize = 512;
const PARALLEL_RUN: usize = 64;
/// Calls in flight past which a business event's fan-out waits for answers before it starts
/// more members: its instances and sends pending at once stay bounded, not one per member.
const FANOUT_IN_FLIGHT: usize = 1_024;

/// A question for the worker, answered between steps.
pub enum Query {
    /// Every journey with its versions and state.
    Journeys(tokio::sync::oneshot::Sender<Json>),
    /// A journey's latest failures (step events with an error), newest first.
    Errors(String, tokio::sync::oneshot::Sender<Json>),
    /// A journey's report (all versions), with its window from this time (epoch ms; the last
    /// 24 hours when absent).
    /// With `hours`, the hourly counts too.
    Report(String, Option<i64>, bool, tokio::sync::oneshot::Sender<Option<Json>>),
    /// Where a profile is.
    Instances(String, tokio::sync::oneshot::Sender<Json>),
    /// Summary numbers.
    Status(tokio::sync::oneshot::Sender<Json>),
    /// A profile's messages (as checkpointed), or why they cannot be read.
    Messages(String, tokio::sync::oneshot::Sender<Result<Json, String>>),
}

/// What wakes the worker.
pub enum Wake {
    /// New log entries up to this position.
    Appended(i64),
    /// Entries this node's log writer just committed (on a cluster, of the worker's partition),
    /// in order: the worker applies them without reading them back (a gap is read from the log).
    Logged(Vec<Entry>),
    /// A call answered.
    CallDone(u32, u64, CallOutcome, Duration),
    /// A query.
    Query(Query),
    /// Stop after a final checkpoint.
    Shutdown,
    /// Stop at once, writing nothing more: the partition's lease is lost (another node owns it).
    Abandon,
}

/// The worker's state.
pub struct Worker {
    store: Box<dyn Store>,
    /// The shares of the profiles (at least one), each with an engine per version.
    shards: Vec<Shard>,
    /// Reads events for routing: the latest version's program, with no instance of its own.
    router: Option<Engine>,
    applied: i64,
    executor: Arc<HttpExecutor>,
    rt: tokio::runtime::Handle,
    wake_tx: Sender<Wake>,
    metrics: Arc<Metrics>,
    last_checkpoint: Instant,
    dirty: bool,
    /// Work done since the last checkpoint (see [`CHECKPOINT_WORK`]).
    work: usize,
    /// Whether the log may hold entries not applied yet.
    log_behind: bool,
    /// Entries committed and handed over ([`Wake::Logged`]), not applied yet, in order.
    handed: VecDeque<Entry>,
    /// The bytes of `handed`'s entries.
    handed_bytes: usize,
    /// See [`crate::store::Store::origins_from`].
    origins_from: i64,
    /// The end of the log as last told ([`Wake::Appended`], [`Wake::Logged`]).
    log_end: i64,
    /// The time of the next log entry, when it waits for the fan-outs in progress to finish
    /// (see [`Worker::waits_for_fan_out`]): until then no timer due at or after it fires, and the
    /// clocks stay before it.
    held: Option<i64>,
    /// The calls in flight with a stored row, by version and instance (the rest need no
    /// deleting when their instance goes on).
    stored_calls: HashSet<(u32, InstanceId), foldhash::fast::RandomState>,
    /// The live instances with stored messages, by version and instance (the same for them).
    stored_msgs: HashSet<(u32, InstanceId), foldhash::fast::RandomState>,
    /// Writes checkpoints on a thread of its own (else they are written in line).
    writer: Option<Writer>,
    read_rate: Option<u32>,
    /// The latest step events (at most [`RECENT_STEPS`]), for the console: a profile's path and
    /// a node's last errors. Older ones are in the store's `steps` table.
    /// Each with the version of the engine that made it (step events of every version say 1).
    /// Shared with the checkpoint that writes them: a storm makes many, and turning each into
    /// JSON here cost the engine thread more than firing its timer.
    recent: std::collections::VecDeque<(u32, Recent)>,
    /// The partition this worker applies, on a partitioned store.
    partition: Option<Partition>,
    /// A checkpoint of the partition failed: the worker stops (its state is loaded again).
    broken: bool,
    /// A checkpoint's changes were taken from the engines and never handed to the writer (it
    /// stopped while the store failed): no later checkpoint may be stored past them.
    checkpoint_lost: bool,
    /// The worker's queue, while it runs: queries are answered from it between runs of
    /// entries and while a checkpoint waits for the writer, not only between slices.
    inbox: Option<Receiver<Wake>>,
    /// What was taken from the queue meanwhile that is not a query, in order.
    deferred: VecDeque<Wake>,
    /// Calls taken from the engines and not sent yet (by version): they leave once the
    /// messages among them, `decided`, are written.
    outgoing: Vec<(u32, CallRequest)>,
    /// The messages decided to go among `outgoing`, by version, not written yet.
    decided: Vec<(u32, journey_vm::engine::messages::MessageRecord)>,
    /// The business events of every loaded version (`start on E for audience A`).
    business: HashSet<String>,
    /// The journeys (by version and index) whose entry history is stored: see
    /// [`Worker::remembered_entries`].
    remembered: HashSet<(u32, u16)>,
    /// Per version and share, the next instance id when the last checkpoint was taken: an
    /// instance numbered from it on (ids only grow) has no stored row yet.
    checkpointed_ids: HashMap<(u32, usize), InstanceId>,
}

/// How many of the latest step events the worker keeps in memory for the console.
pub const RECENT_STEPS: usize = 10_000;

/// One of the latest step events: read back from the store at start (its JSON text), or made
/// since.
enum Recent {
    Stored(Box<str>),
    Made(Arc<StepEvent>),
}

impl Recent {
    /// Its JSON, if it is of `journey` (and of `instance`, when given).
    fn json_if(&self, journey: &str, instance: Option<u64>) -> Option<Json> {
        match self {
            Recent::Made(s) => {
                (s.journey == journey && instance.is_none_or(|i| s.instance == i)).then(|| json!(s.as_ref()))
            }
            Recent::Stored(text) => {
                // Only the stored ones that name the instance are parsed (compact JSON).
                if let Some(i) = instance {
                    if !text.contains(&format!("\"instance\":{i}")) {
                        return None;
                    }
                }
                let s: Json = serde_json::from_str(text).ok()?;
                (s["journey"] == json!(journey) && instance.is_none_or(|i| s["instance"] == json!(i))).then_some(s)
            }
        }
    }
}

/// The thread that writes checkpoints, in order, on a connection of its own.
struct Writer {
    tx: std::sync::mpsc::SyncSender<Write>,
    thread: std::thread::JoinHandle<()>,
    state: Arc<WriterState>,
}

/// What the worker and its checkpoint writer share.
#[derive(Default)]
struct WriterState {
    /// A checkpoint failed and is being tried again.
    failing: std::sync::atomic::AtomicBool,
    /// The worker stops: a checkpoint that fails is given up (and every one after it).
    stopping: std::sync::atomic::AtomicBool,
}

/// How long the writer waits before trying a failed checkpoint again, at most.
const RETRY_MAX: Duration = Duration::from_secs(5);

/// Writes `cp`, trying again (after a growing pause) until it is stored: the changes it holds
/// were taken from the engines, and a later checkpoint stored past a lost one would move the
/// log position on without them. The engine waits meanwhile (the next checkpoint is handed over
/// only once this one is written). False when it was given up because the worker stops.
fn store_until_written(store: &mut dyn Store, cp: &Checkpoint, metrics: &Metrics, state: &WriterState) -> bool {
    use std::sync::atomic::Ordering::Relaxed;
    let mut pause = Duration::from_millis(50);
    loop {
        match store.checkpoint(cp) {
            Ok(()) => {
                state.failing.store(false, Relaxed);
                metrics.checkpoints.fetch_add(1, Relaxed);
                return true;
            }
            Err(e) if state.stopping.load(Relaxed) => {
                tracing::error!("checkpoint failed: {e}; stopping without it (the log after the last one stored is replayed at the next start)");
                return false;
            }
            Err(e) => {
                state.failing.store(true, Relaxed);
                tracing::error!("checkpoint failed: {e}; trying again in {} ms", pause.as_millis());
                std::thread::sleep(pause);
                pause = (pause * 2).min(RETRY_MAX);
            }
        }
    }
}

/// What the writer writes, in the order handed over.
enum Write {
    Checkpoint(Checkpoint),
    /// Messages decided to go (see [`Store::write_sending`]), answered when written.
    Sending(Vec<EngineDelta>, std::sync::mpsc::Sender<Result<(), String>>),
}

impl Writer {
    fn start(mut store: Box<dyn Store>, metrics: Arc<Metrics>) -> Result<Writer, String> {
        // A checkpoint is handed over when the last one is written: at most one is written
        // while the next one gathers, and what they hold stays bounded.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Write>(0);
        let state = Arc::new(WriterState::default());
        let shared = state.clone();
        let thread = std::thread::Builder::new()
            .name("journey-checkpoint".into())
            .spawn(move || {
                // Once a checkpoint is given up, none after it is stored.
                let mut given_up = false;
                for w in rx {
                    match w {
                        Write::Checkpoint(cp) => {
                            if !given_up {
                                given_up = !store_until_written(store.as_mut(), &cp, &metrics, &shared);
                            }
                        }
                        Write::Sending(engines, done) => {
                            let _ = done.send(store.write_sending(&engines).map_err(|e| e.to_string()));
                        }
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(Writer { tx, thread, state })
    }

    /// Whether a checkpoint failed and is being tried again.
    fn failing(&self) -> bool {
        self.state.failing.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Writes what is queued (a checkpoint that fails is given up), then stops.
    fn finish(self) {
        self.state.stopping.store(true, std::sync::atomic::Ordering::Relaxed);
        drop(self.tx);
        let _ = self.thread.join();
    }
}

/// Wall-clock milliseconds.
pub fn wall_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// How the engines are laid out.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// Profiles per second a scheduled audience read enters (split between the shares).
    pub read_rate: Option<u32>,
    /// Shares of the profiles, run in parallel (by default one per core, but one when a
    /// journey has a `cap`).
    pub shards: Option<usize>,
    /// On a partitioned store: the one partition this worker applies (with one share).
    pub partition: Option<Partition>,
}

/// One partition of a partitioned store's log, applied by one worker of the node that holds it.
#[derive(Debug, Clone)]
pub struct Partition {
    /// Its number, from 0.
    pub index: u32,
    /// How many partitions the store has.
    pub count: u32,
    /// The last log position of the partition applied (the node's lag is summed from these).
    pub applied: Arc<std::sync::atomic::AtomicI64>,
}

/// An engine that routes events of a version (its `when` and `key`), and holds nothing.
fn router(image: &Arc<Image>) -> Engine {
    let mut e = Engine::new(image.clone(), 0, Options::default());
    e.set_change_tracking(false);
    e
}

impl Worker {
    /// Loads every version and its stored state, then replays the log after the checkpoint.
    pub fn load(
        mut store: Box<dyn Store>,
        executor: Arc<HttpExecutor>,
        rt: tokio::runtime::Handle,
        wake_tx: Sender<Wake>,
        metrics: Arc<Metrics>,
        layout: Layout,
        checkpoints: Option<Box<dyn Store>>,
    ) -> Result<Worker, String> {
        let Layout { read_rate, shards, partition } = layout;
        // A partition's worker runs one share, numbering instances as partition `index` of
        // `count` (unique across the cluster).
        let shards = if partition.is_some() { Some(1) } else { shards };
        let w_metrics = metrics.clone();
        let mut images = Vec::new();
        for row in store.versions().map_err(|e| e.to_string())? {
            let a = artifact::from_bytes(&row.artifact).map_err(|e| format!("version {}: {e}", row.version))?;
            images.push((row.version, Arc::new(Image::load(a.program).map_err(|e| e.to_string())?)));
        }
        // A `cap` lets "the first N profiles" through: in log order with one share, so that a
        // replay after a crash decides as the live run did; with several, in thread order.
        let capped = images.iter().any(|(_, i)| i.program.journeys.iter().any(|j| !j.caps.is_empty()));
        let count = match shards {
            Some(n) => n.max(1),
            None if capped => 1,
            None => std::thread::available_parallelism().map(usize::from).unwrap_or(1),
        };
        let mut shards: Vec<Shard> = (0..count).map(|_| Shard::default()).collect();
        let mut router = None;
        // Looked up for every instance a checkpoint writes: a fast hash (the keys are ours).
        let mut stored_calls = HashSet::default();
        let mut stored_msgs = HashSet::default();
        for (version, image) in images {
            let names: Vec<String> = image.program.journeys.iter().map(|j| j.name.clone()).collect();
            let stored = store.load_engine(version, &names).map_err(|e| e.to_string())?;
            let next_ids = store.share_next_ids(version).map_err(|e| e.to_string())?;
            stored_calls.extend(stored.pending.iter().map(|c| (version, c.instance)));
            if let Some(m) = &stored.messages {
                stored_msgs.extend(m.live.keys().chain(m.queued.keys()).map(|id| (version, *id)));
            }
            router = Some(self::router(&image));
            // A version no checkpoint holds yet has its publish entry in the log after the
            // checkpoint (or nowhere, when the server stopped between storing the version and
            // logging its publish): it takes no entries until that entry is applied.
            let published = stored.report.is_some();
            let engines = match &partition {
                Some(p) => {
                    let caps = store.cap_backend(version);
                    vec![shard::restore_partition(&image, stored, read_rate, (p.index, p.count), caps)]
                }
                None => shard::restore(&image, stored, read_rate, count, &next_ids),
            };
            for (shard, mut engine) in shards.iter_mut().zip(engines) {
                if !published {
                    for j in 0..names.len() {
                        engine.set_open(j as u16, false);
                    }
                }
                shard.versions.push(Version { number: version, engine });
            }
        }
        rebuild_frequency(store.as_mut(), &mut shards, None)?;
        let applied = store.applied_seq().map_err(|e| e.to_string())?;
        let origins_from = store.origins_from().map_err(|e| e.to_string())?;
        match &partition {
            Some(p) => p.applied.store(applied, std::sync::atomic::Ordering::Relaxed),
            None => {
                metrics.applied_seq.store(applied, std::sync::atomic::Ordering::Relaxed);
                // The log may run ahead of the checkpoint (a crash): its end counts as appended.
                let (entries, _) = store.counts().map_err(|e| e.to_string())?;
                metrics.appended_seq.fetch_max(entries, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let mut w = Worker {
            store,
            shards,
            router,
            applied,
            executor,
            rt,
            wake_tx,
            metrics,
            last_checkpoint: Instant::now(),
            dirty: false,
            work: 0,
            log_behind: true,
            origins_from,
            handed: VecDeque::new(),
            handed_bytes: 0,
            log_end: 0,
            held: None,
            stored_calls,
            stored_msgs,
            writer: checkpoints.map(|store| Writer::start(store, w_metrics)).transpose()?,
            read_rate,
            recent: std::collections::VecDeque::new(),
            partition,
            broken: false,
            checkpoint_lost: false,
            inbox: None,
            deferred: VecDeque::new(),
            outgoing: Vec::new(),
            decided: Vec::new(),
            business: HashSet::new(),
            remembered: HashSet::new(),
            checkpointed_ids: HashMap::new(),
        };
        w.note_business();
        w.remembered = w.remembered_entries();
        // The console's paths and last errors, as they were before the restart.
        match w.store.recent_steps(RECENT_STEPS) {
            Ok(steps) => w.recent = steps.into_iter().map(|(v, s)| (v, Recent::Stored(s.to_string().into()))).collect(),
            Err(e) => tracing::warn!("cannot read the latest step events: {e}"),
        }
        // The log after the checkpoint is replayed, and timers due while the runtime was down
        // fire, in the run loop: in bounded slices with checkpoints between them, with the API
        // answering meanwhile.
        w.checkpoint()?;
        Ok(w)
    }

    /// Runs until shutdown: answers what waits in the queue, then does one bounded slice of
    /// work (applying the log, firing due timers), and checkpoints when the work done or the
    /// time since the last checkpoint calls for it.
    pub fn run(mut self, rx: Receiver<Wake>) {
        self.inbox = Some(rx);
        loop {
            self.send_calls();
            let first = match self.deferred.pop_front() {
                Some(m) => Some(m),
                None => {
                    let (busy, wait) = (self.busy(), self.next_wait());
                    let Some(rx) = &self.inbox else { return };
                    if busy {
                        match rx.try_recv() {
                            Ok(m) => Some(m),
                            Err(TryRecvError::Empty) => None,
                            Err(TryRecvError::Disconnected) => return,
                        }
                    } else {
                        match rx.recv_timeout(wait) {
                            Ok(m) => Some(m),
                            Err(RecvTimeoutError::Timeout) => None,
                            Err(RecvTimeoutError::Disconnected) => return,
                        }
                    }
                }
            };
            if let Some(m) = first {
                if !self.handle(m) {
                    return;
                }
                loop {
                    let next = match self.deferred.pop_front() {
                        Some(m) => Some(m),
                        None => self.inbox.as_ref().and_then(|rx| rx.try_recv().ok()),
                    };
                    let Some(m) = next else { break };
                    if !self.handle(m) {
                        return;
                    }
                }
            }
            let stepped = self.step();
            if self.broken {
                tracing::warn!("partition worker stops: {}", stepped.err().unwrap_or_default());
                return;
            }
            if let Err(e) = stepped {
                tracing::error!("applying the log failed: {e}");
                // Not in a tight loop while the store fails.
                std::thread::sleep(Duration::from_millis(100));
            }
            let every = if self.partition.is_some() { PARTITION_CHECKPOINT_EVERY } else { CHECKPOINT_EVERY };
            if self.dirty && (self.work >= CHECKPOINT_WORK || self.last_checkpoint.elapsed() >= every) {
                if let Err(e) = self.checkpoint() {
                    tracing::error!("checkpoint failed: {e}");
                    if self.broken {
                        return;
                    }
                }
            }
        }
    }

    /// Handles one message; false on shutdown (after the final checkpoint).
    fn handle(&mut self, m: Wake) -> bool {
        match m {
            Wake::Appended(end) => {
                self.log_end = self.log_end.max(end);
                self.log_behind |= end > self.applied;
            }
            Wake::Logged(entries) => {
                for e in entries {
                    self.log_end = self.log_end.max(e.seq);
                    self.log_behind |= e.seq > self.applied;
                    // Kept in order and bounded: what is not kept is read back.
                    let after = self.handed.back().map_or(self.applied, |b| b.seq);
                    if e.seq > after && self.handed.len() < HANDED_MAX && self.handed_bytes < HANDED_MAX_BYTES {
                        self.handed_bytes += e.kind.len();
                        self.handed.push_back(e);
                    }
                }
            }
            Wake::CallDone(version, instance, outcome, latency) => {
                self.metrics.call_done(&outcome, latency);
                // The share that runs the instance (the answer's profile reaches the other
                // versions' fan-outs there first).
                let shard = self.shards.iter().position(|s| s.call_holder(version, instance).is_some());
                if let Some(work) = shard.and_then(|s| self.shards[s].complete_call(version, instance, outcome)) {
                    self.work += work;
                    self.dirty = true;
                }
            }
            Wake::Query(q) => self.answer(q),
            Wake::Abandon => {
                if let Some(w) = self.writer.take() {
                    w.finish();
                }
                return false;
            }
            Wake::Shutdown => {
                // From now on a checkpoint the store fails is given up, not tried again.
                if let Some(w) = &self.writer {
                    w.state.stopping.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                if self.checkpoint_lost || self.writer.as_ref().is_some_and(Writer::failing) {
                    tracing::error!(
                        "no last checkpoint: the store fails (the log after the last one stored is replayed at the next start)"
                    );
                } else if let Err(e) = self.checkpoint() {
                    tracing::error!("the last checkpoint failed: {e}");
                }
                if let Some(w) = self.writer.take() {
                    w.finish();
                }
                return false;
            }
        }
        true
    }

    /// Answers the queries waiting in the queue now, keeping the rest for the run loop in
    /// order: a query waits for the run of entries in hand, not for the whole slice.
    fn answer_waiting(&mut self) {
        let Some(rx) = self.inbox.take() else { return };
        while let Ok(m) = rx.try_recv() {
            match m {
                Wake::Query(q) => self.answer(q),
                other => self.deferred.push_back(other),
            }
        }
        self.inbox = Some(rx);
    }

    /// Waits a little (for the checkpoint writer), answering the queries that come meanwhile.
    fn wait_answering(&mut self, wait: Duration) {
        let Some(rx) = self.inbox.take() else {
            std::thread::sleep(wait);
            return;
        };
        match rx.recv_timeout(wait) {
            Ok(Wake::Query(q)) => self.answer(q),
            Ok(other) => self.deferred.push_back(other),
            Err(_) => {}
        }
        self.inbox = Some(rx);
        self.answer_waiting();
    }

    /// Whether work is waiting: a fan-out's next members, log entries to apply or timers due.
    fn busy(&self) -> bool {
        // With a fan-out's calls at the limit and the log waiting for it, the worker waits for
        // their answers (it does not spin on the log or on timers it may not fire yet).
        let log = self.log_behind && self.held.is_none();
        self.fan_out_ready() || log || self.next_due().is_some_and(|d| d <= self.clock_limit())
    }

    /// How far the clocks may go now: the wall, but not up to a log entry waiting for the
    /// fan-outs (what is due from its time on comes after it).
    fn clock_limit(&self) -> i64 {
        let now = wall_ms();
        self.held.map_or(now, |at| now.min(at - 1))
    }

    /// Whether a fan-out is in progress and may start more members now.
    fn fan_out_ready(&self) -> bool {
        self.fanning_out() && self.shards.iter().map(Shard::calls_in_flight).sum::<usize>() < FANOUT_IN_FLIGHT
    }

    fn fanning_out(&self) -> bool {
        self.shards.iter().any(Shard::fanning_out)
    }

    /// Notes the business events of every loaded version.
    fn note_business(&mut self) {
        self.business = self
            .shards
            .first()
            .into_iter()
            .flat_map(|s| &s.versions)
            .flat_map(|v| &v.engine.image().program.journeys)
            .filter_map(|j| match &j.start {
                journey_bytecode::Start::EventForAudience { event, .. } => Some(event.clone()),
                _ => None,
            })
            .collect();
    }

    /// Whether a log entry is a business event, which every share applies.
    fn is_business(&self, e: &Entry) -> bool {
        if self.business.is_empty() {
            return false;
        }
        match event_name(&e.kind) {
            Some(name) => self.business.contains(name),
            // The kind is the first field of what the runtime writes: another kind (a profile
            // write may hold 256 KB) is not decoded to find out.
            None if e.kind.starts_with("{\"kind\":\"") && !e.kind.starts_with("{\"kind\":\"event\"") => false,
            None => matches!(e.decode(), Ok(LogKind::Event { name, .. }) if self.business.contains(&name)),
        }
    }

    /// Whether an entry waits for the fan-outs in progress to finish, as if they had finished
    /// before it: a publish, close or stop (a fan-out starts the journeys open at its event,
    /// and a stop ends every instance, those still to start too); an audience change (a
    /// fan-out's members are the audience's at its event, and a stored cursor is read against
    /// the stored audience); another business event (its members start after the first's).
    /// Events and profile writes go on between the slices.
    fn waits_for_fan_out(&self, e: &Entry) -> bool {
        is_broadcast(e) || is_audience(e) || self.is_business(e)
    }

    fn next_due(&self) -> Option<i64> {
        self.shards.iter().filter_map(Shard::next_due).min()
    }

    fn next_wait(&self) -> Duration {
        let now = wall_ms();
        // A timer held back behind a log entry waits for the fan-out's call answers, which wake
        // the worker.
        let due = self.next_due().filter(|d| self.held.is_none_or(|at| *d < at));
        let until_due = due.map(|d| (d - now).clamp(0, 1_000) as u64).unwrap_or(1_000);
        let until_checkpoint = if self.dirty { 50 } else { 1_000 };
        Duration::from_millis(until_due.min(until_checkpoint))
    }

    /// One slice of work, of about [`SLICE`]: a fan-out's next members, log entries (in order,
    /// each after the timers due before it), then the timers due by the wall clock.
    ///
    /// Entries go in runs: the timers due before a run's first entry are fired first (in bounded
    /// rounds, with checkpoints between), then the run's entries are applied by their shares in
    /// parallel. A run ends before the next timer that was due (so each share fires only the
    /// timers its own entries start in between), and at a publish, close or stop, which every
    /// share applies.
    ///
    /// A business event's fan-out goes on a slice at a time while fewer calls than
    /// [`FANOUT_IN_FLIGHT`] are in flight, and the rest of the log and the timers go on between
    /// its slices, in order: what reaches a member not started yet starts that member first,
    /// alone (see `Engine::reach`). An entry that must come after every member started (see
    /// [`Worker::waits_for_fan_out`]) stops the log until the fan-outs finish, and the timers with it:
    /// none due at or after its time fires before it, and the clocks stay before it.
    fn step(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + SLICE;
        if self.fan_out_ready() {
            let work: usize = each(&mut self.shards, |_, s| s.fan_out(shard::FANOUT_SLICE)).into_iter().sum();
            self.work += work;
            self.dirty = true;
            self.checkpoint_if_full()?;
        }
        if self.held.is_some() && !self.fanning_out() {
            // The fan-outs finished: the entry that waited is read again (or taken from the hand).
            self.held = None;
            self.log_behind = true;
        }
        if self.log_behind && self.held.is_none() {
            let (entries, from_hand) = self.next_entries()?;
            let mut finished = entries.len() < BATCH;
            let mut next = 0;
            while next < entries.len() {
                if self.fanning_out() && self.waits_for_fan_out(&entries[next]) {
                    // Read again once the fan-outs are done; the timers before it fire now.
                    self.held = Some(entries[next].at_ms);
                    finished = false;
                    break;
                }
                if (next > 0 && Instant::now() >= deadline) || self.fire_until(entries[next].at_ms - 1, deadline)? {
                    // Entries not reached in this slice are read again in the next.
                    finished = false;
                    break;
                }
                let horizon = self.next_due().unwrap_or(i64::MAX);
                let fanning = self.fanning_out();
                let mut end = next + 1;
                if !is_broadcast(&entries[next]) && !self.is_business(&entries[next]) {
                    while end < entries.len()
                        && end - next < RUN
                        && !is_broadcast(&entries[end])
                        && !self.is_business(&entries[end])
                        && !(fanning && self.waits_for_fan_out(&entries[end]))
                        && entries[end].at_ms - 1 < horizon
                    {
                        end += 1;
                    }
                }
                self.apply_run(&entries[next..end]);
                let last = entries[end - 1].seq;
                self.applied = last;
                match &self.partition {
                    Some(p) => p.applied.store(last, std::sync::atomic::Ordering::Relaxed),
                    None => self.metrics.applied_seq.store(last, std::sync::atomic::Ordering::Relaxed),
                }
                self.dirty = true;
                self.checkpoint_if_full()?;
                self.answer_waiting();
                next = end;
                if self.fan_out_ready() {
                    // The fan-out's next slice first (the rest is read again then).
                    finished = false;
                    break;
                }
            }
            if from_hand {
                // Those not reached are kept in hand; what follows them may be in the log only.
                for e in entries.into_iter().skip(next).rev() {
                    self.handed_bytes += e.kind.len();
                    self.handed.push_front(e);
                }
                finished = self.handed.is_empty() && self.log_end <= self.applied;
            }
            self.log_behind = !finished;
            if self.log_behind && self.held.is_none() {
                return Ok(());
            }
        }
        // The clocks run at the wall (or up to an entry waiting for the fan-outs). An event
        // acknowledged a moment ago may not be readable yet (its commit, or on a cluster the
        // coordinator's tick, is in flight): it is applied at its own time when read (see
        // `Shard::apply`), as a replay after a crash applies it.
        let to = self.clock_limit();
        if !self.fire_until(to, deadline)? {
            // Nothing is due any more: the clocks move on to `to` (little work: on this thread).
            each_with(&mut self.shards, false, |_, s| s.advance(to, true));
        }
        Ok(())
    }

    /// The first entry in hand, taken.
    fn take_handed(&mut self) -> Option<Entry> {
        let e = self.handed.pop_front()?;
        self.handed_bytes -= e.kind.len();
        Some(e)
    }

    /// The next entries to apply: those in hand when they follow the last one applied, else
    /// read from the log (true: from the hand).
    fn next_entries(&mut self) -> Result<(Vec<Entry>, bool), String> {
        while self.handed.front().is_some_and(|e| e.seq <= self.applied) {
            self.take_handed();
        }
        if self.handed.front().is_some_and(|e| e.seq == self.applied + 1) {
            let mut run = Vec::with_capacity(self.handed.len().min(BATCH));
            while run.len() < BATCH {
                let follows = match (run.last(), self.handed.front()) {
                    (None, Some(_)) => true,
                    (Some(Entry { seq, .. }), Some(e)) => e.seq == seq + 1,
                    (_, None) => false,
                };
                if !follows {
                    break;
                }
                run.extend(self.take_handed());
            }
            return Ok((run, true));
        }
        let entries = self.store.entries_after(self.applied, BATCH).map_err(|e| e.to_string())?;
        self.metrics.entries_read.fetch_add(entries.len() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok((entries, false))
    }

    /// Fires the timers due at or before `to`, every share at once, in rounds of a bounded
    /// amount of work with a checkpoint whenever the work budget fills up; true when it stopped
    /// at `deadline` with more due.
    fn fire_until(&mut self, to: i64, deadline: Instant) -> Result<bool, String> {
        let budget = (CHECKPOINT_WORK / self.shards.len()).max(1);
        loop {
            if self.next_due().is_none_or(|d| d > to) {
                return Ok(false);
            }
            let work: usize = each(&mut self.shards, |_, s| s.fire_until(to, budget)).into_iter().sum();
            self.work += work;
            self.dirty = true;
            self.checkpoint_if_full()?;
            self.answer_waiting();
            if Instant::now() >= deadline {
                return Ok(self.next_due().is_some_and(|d| d <= to));
            }
        }
    }

    fn checkpoint_if_full(&mut self) -> Result<(), String> {
        if self.work >= CHECKPOINT_WORK {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// Applies a run of entries: one that every share applies (publish, close, stop), or
    /// entries each for the share of its profile.
    fn apply_run(&mut self, run: &[Entry]) {
        if let [e] = run {
            if self.is_business(e) {
                if let Some(p) = self.prepare_business(e) {
                    let metrics = self.metrics.clone();
                    let origin = origin_of(e.seq, self.origins_from);
                    let work: usize =
                        each_with(&mut self.shards, false, |_, s| s.apply(e.at_ms, origin, p.clone(), &metrics))
                            .into_iter()
                            .sum();
                    self.work += work;
                }
                self.metrics.events_applied.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return;
            }
            if is_broadcast(e) {
                each_with(&mut self.shards, false, |_, s| s.advance(e.at_ms, false));
                match e.decode() {
                    Ok(LogKind::Publish { version, journeys }) => self.publish(version, &journeys, e.at_ms),
                    Ok(kind @ (LogKind::Close { .. } | LogKind::Stop { .. })) => {
                        let (LogKind::Close { journey } | LogKind::Stop { journey }) = &kind else { return };
                        let stop = matches!(kind, LogKind::Stop { .. });
                        for v in self.shards.iter_mut().flat_map(|s| s.versions.iter_mut()) {
                            if let Some(j) = v.engine.image().program.journeys.iter().position(|x| &x.name == journey) {
                                v.engine.set_open(j as u16, false);
                                if stop {
                                    v.engine.stop_journey(j as u16);
                                }
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(err) => tracing::error!("{err}; skipped"),
                }
                self.work += 1;
                return;
            }
        }
        let count = self.shards.len();
        let mut shares: Vec<Vec<(i64, u32, Prepared)>> = (0..count).map(|_| Vec::new()).collect();
        for e in run {
            if let Some(p) = self.prepare(e) {
                shares[p.share(count as u32)].push((e.at_ms, origin_of(e.seq, self.origins_from), p));
            }
        }
        let metrics = self.metrics.clone();
        let mut shares: Vec<Option<Vec<(i64, u32, Prepared)>>> = shares.into_iter().map(Some).collect();
        let shares = std::sync::Mutex::new(&mut shares);
        let work: usize = each_with(&mut self.shards, run.len() >= PARALLEL_RUN, |i, s| {
            let mine = shares.lock().map(|mut all| all[i].take()).ok().flatten().unwrap_or_default();
            mine.into_iter().map(|(at, origin, p)| s.apply(at, origin, p, &metrics)).sum::<usize>()
        })
        .into_iter()
        .sum();
        self.work += work;
    }

    /// Reads a business event's entry: `None` when its `when` does not hold (or it cannot be
    /// read), judged once for every share.
    fn prepare_business(&mut self, e: &Entry) -> Option<Prepared> {
        let LogKind::Event { name, payload } = e.decode().map_err(|err| tracing::error!("{err}; skipped")).ok()? else {
            return None;
        };
        let router = self.router.as_mut()?;
        let value = router.convert(&name, &payload)?;
        if !router.business_when(&name, &value, e.at_ms) {
            return None;
        }
        let key = router.route(&name, Payload::Json(&payload), e.at_ms, Routing::KeyOnly).ok().flatten();
        Some(Prepared::Business { name, payload, key: key.map(|k| k.to_string()) })
    }

    /// Reads a log entry and finds its profile (`None` for an entry to skip).
    fn prepare(&mut self, e: &Entry) -> Option<Prepared> {
        let one_version = self.shards.first().is_some_and(|s| s.versions.len() == 1);
        let router = self.router.as_mut()?;
        // With one version, an event's payload is read straight from the log's text into the
        // values the program reads (no JSON value in between, no key computed twice).
        if one_version {
            if let Some((name, payload)) = read_event(router, &e.kind) {
                return match router.route(&name, Payload::Read(&payload), e.at_ms, Routing::Count) {
                    Ok(Some(key)) => Some(Prepared::Routed { name, key, payload }),
                    Ok(None) => {
                        self.metrics.events_applied.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        None
                    }
                    Err(err) => {
                        self.metrics.events_applied.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        self.metrics.rejected_at_apply.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tracing::warn!("event `{name}` rejected: {err}");
                        None
                    }
                };
            }
        }
        let kind = match e.decode() {
            Ok(k) => k,
            Err(err) => {
                tracing::error!("{err}; skipped");
                return None;
            }
        };
        Some(match kind {
            LogKind::Event { name, payload } => {
                let key = self.shards.first_mut().and_then(|s| {
                    s.versions.iter_mut().rev().find_map(|v| {
                        v.engine.route(&name, Payload::Json(&payload), e.at_ms, Routing::KeyOnly).ok().flatten()
                    })
                });
                let key = key.map(|k| k.to_string());
                Prepared::Event { name, payload, key }
            }
            LogKind::ProfilePut { key, attributes } => Prepared::Profile { key, attributes, patch: false },
            LogKind::ProfilePatch { key, attributes } => Prepared::Profile { key, attributes, patch: true },
            LogKind::Audience { audience, key, enters } => Prepared::Audience { audience, key, enters },
            LogKind::Publish { .. } | LogKind::Close { .. } | LogKind::Stop { .. } => return None,
        })
    }

    fn publish(&mut self, version: u32, journeys: &[String], at_ms: i64) {
        // Already loaded from the store on a replay after a restart (the publish was not
        // checkpointed yet): only which version takes new entries is set again.
        if !self.shards[0].versions.iter().any(|v| v.number == version) && !self.load_version(version, at_ms) {
            return;
        }
        // The published journeys take new entries in this version and no longer in the others;
        // this version's other journeys take none.
        let published = |name: &str| journeys.is_empty() || journeys.iter().any(|j| j == name);
        for v in self.shards.iter_mut().flat_map(|s| s.versions.iter_mut()) {
            let names: Vec<String> = v.engine.image().program.journeys.iter().map(|j| j.name.clone()).collect();
            for (j, name) in names.iter().enumerate() {
                if v.number == version {
                    v.engine.set_open(j as u16, published(name));
                } else if published(name) {
                    v.engine.set_open(j as u16, false);
                }
            }
        }
        tracing::info!("version {version} is live");
    }

    /// Loads a published version from the store into every share; false when it cannot be.
    fn load_version(&mut self, version: u32, at_ms: i64) -> bool {
        let rows = match self.store.versions() {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("cannot read version {version}: {e}");
                return false;
            }
        };
        let Some(row) = rows.into_iter().find(|r| r.version == version) else {
            tracing::error!("version {version} is not in the store");
            return false;
        };
        let image = match artifact::from_bytes(&row.artifact)
            .map_err(|e| e.to_string())
            .and_then(|a| Image::load(a.program).map_err(|e| e.to_string()))
        {
            Ok(i) => Arc::new(i),
            Err(e) => {
                tracing::error!("version {version} cannot be loaded: {e}");
                return false;
            }
        };
        let count = self.shards.len();
        let horizon = self.shards.first().map(|s| messages::lock(&s.frequency).horizon_ms()).unwrap_or(0);
        let caps = Arc::new(match self.store.cap_backend(version) {
            Some(backend) => SharedCaps::with_backend(backend),
            None => SharedCaps::default(),
        });
        for (i, shard) in self.shards.iter_mut().enumerate() {
            let (index, count) = match &self.partition {
                Some(p) => (p.index as usize, p.count as usize),
                None => (i, count),
            };
            let mut engine = Engine::new(image.clone(), at_ms, shard::options(self.read_rate, index, count, &caps));
            // Profiles and audiences are shared: the new version starts with them.
            if let Some(prev) = shard.versions.last() {
                for (a, k) in prev.engine.memberships() {
                    engine.audience_enter_quiet(&a, &k);
                }
                for (k, p) in prev.engine.profiles_iter() {
                    engine.set_profile(k, p.clone());
                }
            }
            shard.versions.push(Version { number: version, engine });
        }
        // A longer frequency window than the versions before needs older messages: read again
        // from the message log.
        if let Err(e) = rebuild_frequency(self.store.as_mut(), &mut self.shards, Some(horizon)) {
            tracing::error!("cannot read the message log for version {version}'s frequency rules: {e}");
        }
        self.router = Some(router(&image));
        self.note_business();
        true
    }

    /// Sends the calls the engines made. The messages among them are written first, in one
    /// write: a replay after a crash then finds each decided, counts it in the frequency windows
    /// from the start, and sends it again under its id rather than deciding anew (another order
    /// of call answers could otherwise let another message take its place, one over a rule).
    fn send_calls(&mut self) {
        for v in self.shards.iter_mut().flat_map(|s| s.versions.iter_mut()) {
            let calls = v.engine.take_calls();
            if calls.is_empty() {
                continue;
            }
            self.dirty = true;
            self.outgoing.extend(calls.into_iter().map(|c| (v.number, c)));
            self.decided.extend(v.engine.take_sending().into_iter().map(|m| (v.number, m)));
        }
        if self.outgoing.is_empty() {
            return;
        }
        if !self.decided.is_empty() {
            let mut engines: Vec<EngineDelta> = Vec::new();
            for (version, m) in &self.decided {
                if engines.last().is_none_or(|e| e.version != *version) {
                    engines.push(EngineDelta { version: *version, ..Default::default() });
                }
                if let Some(e) = engines.last_mut() {
                    e.messages.push(journey_vm::engine::messages::MessageChange::Record(m.clone()));
                }
            }
            if let Err(e) = self.write_sending(engines) {
                // Kept, and tried again at the next turn; a partition's worker stops (its state is
                // loaded again, by this node or another).
                tracing::error!("writing the messages to send failed: {e}");
                self.broken |= self.partition.is_some();
                return;
            }
            self.decided.clear();
        }
        for (version, c) in std::mem::take(&mut self.outgoing) {
            let Some(v) = self.shards[0].versions.iter().find(|v| v.number == version) else { continue };
            let image = v.engine.image().clone();
            let executor = self.executor.clone();
            let tx = self.wake_tx.clone();
            self.rt.spawn(async move {
                let started = Instant::now();
                let outcome = match executor.call(&image, c.http, &c.args, &c.idempotency_key).await {
                    http::CallOutcome::Ok(v) => CallOutcome::Ok(v),
                    http::CallOutcome::Timeout { reason } => CallOutcome::Timeout(reason),
                    http::CallOutcome::Error { reason } => CallOutcome::Error(reason),
                };
                let _ = tx.send(Wake::CallDone(version, c.instance, outcome, started.elapsed()));
            });
        }
    }

    /// Writes messages decided to go, after the checkpoints handed over before them.
    fn write_sending(&mut self, engines: Vec<EngineDelta>) -> Result<(), String> {
        if self.writer.is_none() {
            return self.store.write_sending(&engines).map_err(|e| e.to_string());
        }
        let (done_tx, done) = std::sync::mpsc::channel();
        self.hand_to_writer(Write::Sending(engines, done_tx))?;
        loop {
            match done.try_recv() {
                Ok(written) => return written,
                Err(TryRecvError::Disconnected) => return Err("the checkpoint writer stopped".into()),
                Err(TryRecvError::Empty) => self.wait_answering(Duration::from_millis(1)),
            }
        }
    }

    /// Hands a write to the writer thread once it takes it, answering queries meanwhile.
    fn hand_to_writer(&mut self, write: Write) -> Result<(), String> {
        let Some(w) = self.writer.take() else { return Err("no checkpoint writer".into()) };
        let mut write = write;
        let sent = loop {
            match w.tx.try_send(write) {
                Ok(()) => break Ok(()),
                Err(TrySendError::Full(back)) => {
                    write = back;
                    self.wait_answering(Duration::from_millis(1));
                    // Stopping while the store fails: not waiting for it any longer (the writer
                    // gives the failing checkpoint up and stores nothing after it).
                    let stopping = w.state.stopping.load(std::sync::atomic::Ordering::Relaxed)
                        || self.deferred.iter().any(|m| matches!(m, Wake::Shutdown | Wake::Abandon));
                    if w.failing() && stopping {
                        w.state.stopping.store(true, std::sync::atomic::Ordering::Relaxed);
                        break Err("the store fails and the worker stops".to_string());
                    }
                }
                Err(TrySendError::Disconnected(_)) => break Err("the checkpoint writer stopped".to_string()),
            }
        };
        self.writer = Some(w);
        sent
    }

    /// The journeys (by version and journey index) whose profiles' last entries are stored:
    /// those that some loaded version of the same journey reads, its `reentry` being `never`
    /// or `after`. Under `reentry always` (in every version) the entry history is never read,
    /// and storing it would cost a row write per entry.
    fn remembered_entries(&self) -> HashSet<(u32, u16)> {
        let versions = &self.shards[0].versions;
        let read: HashSet<&str> = versions
            .iter()
            .flat_map(|v| v.engine.image().program.journeys.iter())
            .filter(|j| !matches!(j.reentry, journey_bytecode::Reentry::Always))
            .map(|j| j.name.as_str())
            .collect();
        let mut out = HashSet::new();
        for v in versions {
            for (j, journey) in v.engine.image().program.journeys.iter().enumerate() {
                if read.contains(journey.name.as_str()) {
                    out.insert((v.number, j as u16));
                }
            }
        }
        out
    }

    /// Writes what changed, with the log position it reflects, in one transaction: each
    /// version's changes gathered from every share's engine.
    pub fn checkpoint(&mut self) -> Result<(), String> {
        if self.checkpoint_lost {
            // Stored past the lost changes, a log position would skip them at the next start.
            return Err("a checkpoint was lost while the store failed: the log is replayed at the next start".into());
        }
        let mut cp = Checkpoint { applied_seq: self.applied, ..Default::default() };
        // A version published with `reentry never` or `after` reads the entries made under
        // `always`, which were kept in memory only: they are stored now.
        let remembered = self.remembered_entries();
        let newly: Vec<(u32, u16)> = remembered.difference(&self.remembered).copied().collect();
        let mut next_ids: Vec<((u32, usize), InstanceId)> = Vec::new();
        // Stored calls written (true) or deleted (false), kept track of once stored.
        let mut calls: Vec<(u32, InstanceId, bool)> = Vec::new();
        // The same for stored messages of live instances.
        let mut msgs: Vec<(u32, InstanceId, bool)> = Vec::new();
        let mut audiences_changed = false;
        let versions = self.shards[0].versions.len();
        for vi in 0..versions {
            let number = self.shards[0].versions[vi].number;
            let mut delta = EngineDelta { version: number, ..Default::default() };
            let mut report: Option<journey_vm::engine::report::Report> = None;
            let mut caps: std::collections::BTreeMap<(u16, u32), i64> = Default::default();
            for (si, shard) in self.shards.iter_mut().enumerate() {
                let v = &mut shard.versions[vi];
                let changes = v.engine.take_changes();
                let names: Vec<String> = v.engine.image().program.journeys.iter().map(|j| j.name.clone()).collect();
                let small = v.engine.small_state();
                // Unknown (a version published since): any may be stored.
                let unstored_from = self.checkpointed_ids.get(&(number, si)).copied().unwrap_or(InstanceId::MAX);
                next_ids.push(((number, si), small.next_id));
                if si == 0 {
                    delta.small = small.clone();
                } else {
                    // Each share's fan-outs in progress (a cursor names its share).
                    delta.small.fanouts.extend(small.fanouts.iter().cloned());
                }
                delta.share_next_ids.push(small.next_id);
                // The next id above every share's; the clock the latest; each cap the sum of
                // the shares' counts.
                delta.small.next_id = delta.small.next_id.max(small.next_id);
                delta.small.now_ms = delta.small.now_ms.max(small.now_ms);
                for (j, n, c) in small.caps {
                    *caps.entry((j, n)).or_default() += c;
                }
                delta.messages.extend(changes.messages);
                for id in changes.instances {
                    match v.engine.instance_messages(id) {
                        Some(m) => {
                            delta.instance_messages.push((id, m));
                            msgs.push((number, id, true));
                        }
                        None if self.stored_msgs.contains(&(number, id)) => {
                            delta.instance_messages_done.push(id);
                            msgs.push((number, id, false));
                        }
                        None => {}
                    }
                    let call = match v.engine.instance(id) {
                        Some(i) if id >= unstored_from => {
                            delta.created.push(i.clone());
                            v.engine.pending_call(id)
                        }
                        Some(i) => {
                            delta.upserts.push(i.clone());
                            v.engine.pending_call(id)
                        }
                        None => {
                            // Made and ended since the last checkpoint, it has no row to delete.
                            if id < unstored_from {
                                delta.removed.push(id);
                            }
                            // Its message's delivery, still in flight, stays stored until answered.
                            v.engine.pending_call(id)
                        }
                    };
                    match call {
                        Some(c) => {
                            delta.calls.push(c.clone());
                            calls.push((number, id, true));
                        }
                        None if self.stored_calls.contains(&(number, id)) => {
                            delta.calls_done.push(id);
                            calls.push((number, id, false));
                        }
                        None => {}
                    }
                }
                for p in changes.goals {
                    let watches = v.engine.goal_watches(&p).map(<[_]>::to_vec).unwrap_or_default();
                    delta.goals.push((p.to_string(), watches));
                }
                for (p, j) in changes.entries {
                    if !remembered.contains(&(number, j)) {
                        continue;
                    }
                    if let (Some(ms), Some(name)) = (v.engine.last_entry(&p, j), names.get(j as usize)) {
                        delta.entries.push((p.to_string(), name.clone(), ms));
                    }
                }
                for &(_, j) in newly.iter().filter(|(n, _)| *n == number) {
                    if let Some(name) = names.get(j as usize) {
                        delta.entries.extend(v.engine.last_entries(j).map(|(p, ms)| (p.to_string(), name.clone(), ms)));
                    }
                }
                for k in changes.profiles {
                    if let Some(p) = v.engine.stored_profile(&k) {
                        cp.profiles.push((k.to_string(), p.clone()));
                    }
                }
                audiences_changed |= changes.audiences;
                match &mut report {
                    Some(r) => r.absorb(v.engine.report()),
                    None => report = Some(v.engine.report().clone()),
                }
                let steps = v.engine.take_steps();
                let kept = steps.len().saturating_sub(RECENT_STEPS);
                cp.steps.reserve(steps.len());
                for (n, s) in steps.into_iter().enumerate() {
                    let s = Arc::new(s);
                    if n >= kept {
                        self.recent.push_back((number, Recent::Made(s.clone())));
                    }
                    cp.steps.push((number, s));
                }
            }
            // Those no longer kept are freed by the writer, with the checkpoint, not on this
            // thread (a storm retires thousands per checkpoint).
            let over = self.recent.len().saturating_sub(RECENT_STEPS);
            cp.retired.extend(self.recent.drain(..over).filter_map(|(_, r)| match r {
                Recent::Made(s) => Some(s),
                Recent::Stored(_) => None,
            }));
            delta.small.caps = caps.into_iter().map(|((j, n), c)| (j, n, c)).collect();
            delta.report = report.unwrap_or_default();
            cp.engines.push(delta);
        }
        if audiences_changed {
            let mut all: Vec<(String, String)> =
                self.shards.iter().filter_map(|s| s.versions.last()).flat_map(|v| v.engine.memberships()).collect();
            all.sort();
            cp.audiences = Some(all);
        }
        if self.writer.is_some() {
            // Written beside the engine, which goes on meanwhile. While the writer still writes
            // the last one, queries are answered.
            if let Err(e) = self.hand_to_writer(Write::Checkpoint(cp)) {
                // Its changes were taken from the engines and are gone with it.
                self.checkpoint_lost = true;
                return Err(e);
            }
        } else {
            if let Err(e) = self.store.checkpoint(&cp) {
                // The changes taken from the engines are gone with the failed write: a
                // partition's worker stops, and the partition is loaded again from its last
                // checkpoint and the log after it (by this node or another).
                self.broken |= self.partition.is_some();
                return Err(e.to_string());
            }
            self.metrics.checkpoints.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        for (version, id, stored) in calls {
            if stored {
                self.stored_calls.insert((version, id));
            } else {
                self.stored_calls.remove(&(version, id));
            }
        }
        for (version, id, stored) in msgs {
            if stored {
                self.stored_msgs.insert((version, id));
            } else {
                self.stored_msgs.remove(&(version, id));
            }
        }
        self.remembered = remembered;
        self.checkpointed_ids = next_ids.into_iter().collect();
        self.last_checkpoint = Instant::now();
        self.dirty = false;
        self.work = 0;
        Ok(())
    }

    fn answer(&mut self, q: Query) {
        match q {
            Query::Journeys(tx) => {
                let _ = tx.send(self.journeys());
            }
            Query::Report(name, since, hours, tx) => {
                let mut versions = Vec::new();
                for vi in 0..self.shards[0].versions.len() {
                    let number = self.shards[0].versions[vi].number;
                    let mut report = self.shards[0].versions[vi].engine.report().clone();
                    for shard in self.shards.iter_mut().skip(1) {
                        report.absorb(shard.versions[vi].engine.report());
                    }
                    let program = &self.shards[0].versions[vi].engine.image().program;
                    let code = program.journeys.iter().find(|j| j.name == name);
                    if let (Some(r), Some(code)) = (report.journeys.iter().find(|r| r.journey == name), code) {
                        let now = self.shards[0].versions[vi].engine.now_ms();
                        let mut report = r.to_json(code, now, since.unwrap_or(now - 86_400_000));
                        if hours {
                            report["hours"] = hours_json(r);
                        }
                        versions.push(json!({"version": number, "report": report}));
                    }
                }
                let _ = tx.send((!versions.is_empty()).then(|| json!({"journey": name, "versions": versions})));
            }
            Query::Instances(key, tx) => {
                let mut out = Vec::new();
                let shard = &self.shards[journey_vm::engine::shard_of(&key, self.shards.len() as u32) as usize];
                for v in &shard.versions {
                    let program = &v.engine.image().program;
                    // Found through the profile table: the time does not grow with the
                    // instances of other profiles.
                    for i in v.engine.profile_instances(&key) {
                        let j = &program.journeys[i.journey as usize];
                        let node = j.nodes.get(i.node as usize);
                        let (waits_for, until) = describe_wait(j, i);
                        // Its path so far, from the step events kept (the latest
                        // `RECENT_STEPS` of all profiles, and those not yet checkpointed).
                        let steps: Vec<Json> = self
                            .recent
                            .iter()
                            .filter(|(version, _)| *version == v.number)
                            .filter_map(|(_, s)| s.json_if(&j.name, Some(i.id)))
                            .chain(
                                v.engine
                                    .steps()
                                    .iter()
                                    .filter(|s| s.instance == i.id && s.journey == j.name)
                                    .map(|s| json!(s)),
                            )
                            .collect();
                        let path: Vec<u32> =
                            steps.iter().filter_map(|s| s["node"].as_u64()).map(|n| n as u32).chain([i.node]).collect();
                        out.push(json!({"journey": j.name, "version": v.number, "instance": i.id,
                            "node": node.map(|n| n.label.clone()), "line": node.map(|n| n.line),
                            "node_id": i.node, "path": path, "steps": steps,
                            "waits_for": waits_for, "until": until.map(journey_vm::engine::clock::rfc3339),
                            "entered": journey_vm::engine::clock::rfc3339(i.entered_ms)}));
                    }
                }
                let _ = tx.send(Json::Array(out));
            }
            Query::Errors(name, tx) => {
                // The latest failures of the journey, newest first, with their messages.
                let errors: Vec<Json> = self
                    .recent
                    .iter()
                    .rev()
                    .filter(|(_, s)| !matches!(s, Recent::Made(e) if e.error.is_none()))
                    .filter_map(|(version, s)| Some((version, s.json_if(&name, None)?)))
                    .filter(|(_, s)| !s["error"].is_null())
                    .take(50)
                    .map(|(version, s)| {
                        let mut j = s;
                        j["version"] = json!(version);
                        j
                    })
                    .collect();
                let _ = tx.send(Json::Array(errors));
            }
            Query::Messages(key, tx) => {
                let images: HashMap<u32, Arc<Image>> =
                    self.shards[0].versions.iter().map(|v| (v.number, v.engine.image().clone())).collect();
                let rows = self.store.profile_messages(&key).map_err(|e| e.to_string());
                let _ = tx.send(rows.map(|rows| messages_json(rows, &images)));
            }
            Query::Status(tx) => {
                let (log, events) = self.store.counts().unwrap_or((0, 0));
                let waiting: usize =
                    self.shards.iter().flat_map(|s| s.versions.iter()).map(|v| v.engine.live().count()).sum();
                let versions = &self.shards[0].versions;
                let _ = tx.send(json!({"versions": versions.len(), "log_entries": log, "events": events,
                    "applied": self.applied, "instances_waiting": waiting, "shards": self.shards.len(),
                    "journeys": versions.last().map(|v| v.engine.image().program.journeys.len()).unwrap_or(0)}));
            }
        }
    }

    /// Each journey with the versions where it changed: every published version holds every
    /// journey, but a journey is listed in a version only where its code differs from the
    /// version before, where it takes new entries, or where instances entered it.
    fn journeys(&mut self) -> Json {
        let mut entered = std::collections::HashSet::new();
        for shard in &mut self.shards {
            for (vi, v) in shard.versions.iter_mut().enumerate() {
                for r in v.engine.report().journeys.iter().filter(|r| r.started > 0) {
                    entered.insert((vi, r.journey.clone()));
                }
            }
        }
        let mut out = serde_json::Map::new();
        let mut before: std::collections::HashMap<String, Vec<u8>> = std::collections::HashMap::new();
        for (vi, v) in self.shards[0].versions.iter().enumerate() {
            for (j, x) in v.engine.image().program.journeys.iter().enumerate() {
                // Compared as stored, so that any change to the journey counts.
                let code = postcard::to_allocvec(x).unwrap_or_default();
                let changed = before.insert(x.name.clone(), code.clone()).is_none_or(|old| old != code);
                let open = v.engine.is_open(j as u16);
                if !(changed || open || entered.contains(&(vi, x.name.clone()))) {
                    continue;
                }
                let entry = out.entry(x.name.clone()).or_insert_with(|| json!({"name": x.name, "versions": []}));
                // Every share applies a stop: the first tells.
                let status = status_word(open, v.engine.is_stopped(j as u16));
                if let Some(list) = entry["versions"].as_array_mut() {
                    list.push(json!({"version": v.number, "open": open, "status": status}));
                }
            }
        }
        Json::Array(out.into_values().collect())
    }
}

/// A profile's messages as `GET /profiles/{key}/messages` lists them: each with its journey,
/// version, send node (label, line, id), channel, template, address, category, outcome, time
/// and reactions.
pub(crate) fn messages_json(rows: Vec<StoredMessage>, images: &HashMap<u32, Arc<Image>>) -> Json {
    rows.into_iter()
        .map(|m| {
            let node = images
                .get(&m.version)
                .and_then(|i| i.program.journeys.iter().find(|j| j.name == m.journey))
                .and_then(|j| j.nodes.get(m.node as usize));
            json!({"id": m.id, "journey": m.journey, "version": m.version,
                "node": node.map(|n| n.label.clone()), "line": node.map(|n| n.line), "node_id": m.node,
                "channel": m.channel, "template": m.template, "to": m.to, "category": m.category,
                "outcome": m.outcome, "time": journey_vm::engine::clock::rfc3339(m.at_ms),
                "opened": m.opened, "clicked": m.clicked})
        })
        .collect()
}

/// Rebuilds the shares' frequency windows from the message log, each shared by the share's
/// engines of every version (a rule counts across versions): the messages inside the longest
/// window of any version; with `before`, only those older than that window (the rest are in
/// memory already).
fn rebuild_frequency(store: &mut dyn Store, shards: &mut [Shard], before: Option<i64>) -> Result<(), String> {
    let mut now = 0;
    for shard in shards.iter_mut() {
        for v in &mut shard.versions {
            now = now.max(v.engine.now_ms());
            v.engine.share_frequency(&shard.frequency);
        }
    }
    let horizon = shards.first().map(|s| messages::lock(&s.frequency).horizon_ms()).unwrap_or(0);
    if horizon == 0 || before.is_some_and(|b| b >= horizon) {
        return Ok(());
    }
    let rows = store.load_frequency(now - horizon).map_err(|e| e.to_string())?;
    let count = shards.len();
    for (shard, rows) in shards.iter_mut().zip(frequency_rows_by_share(rows, count)) {
        let mut f = messages::lock(&shard.frequency);
        for (profile, counted) in rows {
            f.restore(&arcstr::ArcStr::from(profile), counted);
        }
        f.prune(now);
    }
    // At a restart: the messages decided to go before it, which its replay may reach again.
    if before.is_none() {
        for (profile, id) in store.load_sending(now - horizon).map_err(|e| e.to_string())? {
            let share = journey_vm::engine::shard_of(&profile, count as u32) as usize;
            messages::lock(&shards[share].frequency).mark_decided(&id);
        }
    }
    Ok(())
}

/// A journey version's status in `/journeys`: takes entries (`live`), or not: `stopped` once it
/// was stopped (a stored state), else `closed`.
pub(crate) fn status_word(open: bool, stopped: bool) -> &'static str {
    match (open, stopped) {
        (true, _) => "live",
        (false, true) => "stopped",
        (false, false) => "closed",
    }
}

/// A journey report's per-hour entries, for the console's node detail (`?hours=true`).
pub(crate) fn hours_json(r: &journey_vm::engine::report::JourneyReport) -> Json {
    r.hours
        .iter()
        .map(|h| {
            json!({"hour": journey_vm::engine::clock::rfc3339(h.hour * 3_600_000), "started": h.started,
                "entered": h.nodes.iter().map(|c| c.entered).collect::<Vec<_>>()})
        })
        .collect()
}

/// The event name of an event entry as the runtime writes it (`{"kind":"event","name":"N",...`;
/// names are identifiers, never escaped), without reading the rest.
fn event_name(kind: &str) -> Option<&str> {
    let rest = kind.strip_prefix(r#"{"kind":"event","name":""#)?;
    rest.find('"').map(|end| &rest[..end])
}

/// Whether every share applies the entry (publish, close, stop), rather than one.
fn is_broadcast(e: &Entry) -> bool {
    // The kind is the first field of what the runtime writes; anything else is decoded.
    match e.kind.strip_prefix("{\"kind\":\"") {
        Some(rest) => ["publish\"", "close\"", "stop\""].iter().any(|k| rest.starts_with(k)),
        None => matches!(e.decode(), Ok(LogKind::Publish { .. } | LogKind::Close { .. } | LogKind::Stop { .. })),
    }
}

/// Whether an entry changes an audience's members.
fn is_audience(e: &Entry) -> bool {
    match e.kind.strip_prefix("{\"kind\":\"") {
        Some(rest) => rest.starts_with("audience\""),
        None => matches!(e.decode(), Ok(LogKind::Audience { .. })),
    }
}

/// What an instance waits for, in words, and until when.
pub(crate) fn describe_wait(
    j: &journey_bytecode::JourneyCode,
    i: &journey_vm::engine::instance::Instance,
) -> (String, Option<i64>) {
    use journey_vm::engine::instance::Waiting;
    match i.waiting {
        Waiting::Running => ("running".into(), None),
        Waiting::Timer { due } => ("time".into(), Some(due)),
        Waiting::Await { index, due } => {
            let events: Vec<&str> = j.awaits[index as usize].arms.iter().map(|a| a.event.as_str()).collect();
            (format!("event {}", events.join(" | ")), due)
        }
        Waiting::Call { index } => {
            (format!("call #{}", j.calls.get(index as usize).map(|c| c.http).unwrap_or(0)), None)
        }
        Waiting::Send { index } => (format!("send #{index}"), None),
    }
}

/// An event entry's name and payload, read from the log's text with the payload converted as
/// `engine`'s program reads it; `None` when it is not an event, or not one `engine` knows.
fn read_event(engine: &Engine, text: &str) -> Option<(String, Value)> {
    let mut de = serde_json::Deserializer::from_str(text);
    let out = serde::de::DeserializeSeed::deserialize(EventSeed(engine), &mut de).ok()?;
    de.end().ok()?;
    Some(out)
}

/// Reads an event entry (`{"kind": "event", "name": ..., "payload": ...}`) for [`read_event`].
struct EventSeed<'a>(&'a Engine);

/// The fields of a log entry.
#[derive(serde::Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum Field {
    Kind,
    Name,
    Payload,
    #[serde(other)]
    Other,
}

impl<'de> serde::de::DeserializeSeed<'de> for EventSeed<'_> {
    type Value = (String, Value);

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for EventSeed<'_> {
    type Value = (String, Value);

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an event log entry")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        use serde::de::Error;
        let (mut name, mut payload) = (None::<String>, None);
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::Kind => {
                    if map.next_value::<&str>()? != "event" {
                        return Err(A::Error::custom("not an event"));
                    }
                }
                Field::Name => name = Some(map.next_value()?),
                Field::Payload => {
                    // The name comes first in what the runtime writes.
                    let seed = name.as_deref().and_then(|n| self.0.payload_seed(n));
                    let seed =
                        seed.ok_or_else(|| A::Error::custom("an unknown event, or its payload before its name"))?;
                    payload = Some(map.next_value_seed(seed)?);
                }
                Field::Other => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        name.zip(payload).ok_or_else(|| A::Error::custom("not a whole event"))
    }
}

/// Keeps the worker's pending calls typed for the store (re-exported for tests).
pub type Pending = CallRequest;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Result as StoreResult, StoreError, VersionRow};
    use journey_vm::engine::durable::Stored;
    use std::sync::Mutex;

    /// A store whose first `fail` checkpoints fail; it records the log position of each one it
    /// stores. The writer uses nothing else of it.
    struct Flaky {
        fail: usize,
        stored: Arc<Mutex<Vec<i64>>>,
        /// How long a write takes before it fails.
        slow: Duration,
    }

    impl Store for Flaky {
        fn append(&mut self, _: &[crate::store::NewEntry]) -> StoreResult<Vec<crate::store::Appended>> {
            Err(StoreError("not used by the writer".into()))
        }
        fn entries_after(&mut self, _: i64, _: usize) -> StoreResult<Vec<Entry>> {
            Err(StoreError("not used by the writer".into()))
        }
        fn save_version(&mut self, _: u32, _: &[u8], _: i64) -> StoreResult<()> {
            Err(StoreError("not used by the writer".into()))
        }
        fn versions(&mut self) -> StoreResult<Vec<VersionRow>> {
            Err(StoreError("not used by the writer".into()))
        }
        fn checkpoint(&mut self, cp: &Checkpoint) -> StoreResult<()> {
            if self.fail > 0 {
                self.fail -= 1;
                std::thread::sleep(self.slow);
                return Err(StoreError("disk full".into()));
            }
            self.stored.lock().expect("lock").push(cp.applied_seq);
            Ok(())
        }
        fn applied_seq(&mut self) -> StoreResult<i64> {
            Err(StoreError("not used by the writer".into()))
        }
        fn recent_steps(&mut self, _: usize) -> StoreResult<Vec<(u32, Json)>> {
            Err(StoreError("not used by the writer".into()))
        }
        fn load_engine(&mut self, _: u32, _: &[String]) -> StoreResult<Stored> {
            Err(StoreError("not used by the writer".into()))
        }
        fn counts(&mut self) -> StoreResult<(i64, i64)> {
            Err(StoreError("not used by the writer".into()))
        }
    }

    fn at(seq: i64) -> Write {
        Write::Checkpoint(Checkpoint { applied_seq: seq, ..Default::default() })
    }

    #[test]
    fn a_failed_checkpoint_is_written_again_before_the_next_one() {
        let stored = Arc::new(Mutex::new(Vec::new()));
        let store = Flaky { fail: 2, stored: stored.clone(), slow: Duration::ZERO };
        let w = Writer::start(Box::new(store), Arc::default()).expect("writer");
        w.tx.send(at(10)).expect("handed");
        // Taken only once the first is written (after two failures).
        w.tx.send(at(20)).expect("handed");
        w.finish();
        assert_eq!(*stored.lock().expect("lock"), [10, 20], "the changes of the first are not lost");
    }

    /// A server stopped while its store fails to take checkpoints stops (it does not wait for
    /// the store forever) and stores none: the log is replayed at the next start. The stop
    /// comes while the first write (at load) is still failing, before the writer knows.
    #[test]
    fn a_worker_stops_while_its_checkpoints_fail() {
        let dir = std::env::temp_dir().join(format!("journey-worker-stop-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let store = crate::store::sqlite::SqliteStore::open(&dir.join("j.db")).expect("store");
        let stored = Arc::new(Mutex::new(Vec::new()));
        let failing = Flaky { fail: usize::MAX, stored: stored.clone(), slow: Duration::from_millis(500) };
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let executor = Arc::new(rt.block_on(async { HttpExecutor::builder().build() }).expect("executor"));
        let (tx, rx) = std::sync::mpsc::channel();
        let layout = Layout { read_rate: None, shards: Some(1), partition: None };
        let w = Worker::load(
            Box::new(store),
            executor,
            rt.handle().clone(),
            tx.clone(),
            Arc::default(),
            layout,
            Some(Box::new(failing)),
        )
        .expect("load");
        tx.send(Wake::Shutdown).expect("send");
        let thread = std::thread::spawn(move || w.run(rx));
        let deadline = Instant::now() + Duration::from_secs(20);
        while !thread.is_finished() {
            assert!(Instant::now() < deadline, "the worker did not stop while its store failed");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(stored.lock().expect("lock").is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn once_a_failing_checkpoint_is_given_up_no_later_one_is_stored() {
        let stored = Arc::new(Mutex::new(Vec::new()));
        let store = Flaky { fail: 1, stored: stored.clone(), slow: Duration::ZERO };
        let w = Writer::start(Box::new(store), Arc::default()).expect("writer");
        // Stopping: the first failure gives the checkpoint up.
        w.state.stopping.store(true, std::sync::atomic::Ordering::Relaxed);
        w.tx.send(at(10)).expect("handed");
        w.tx.send(at(20)).expect("handed");
        w.finish();
        assert!(stored.lock().expect("lock").is_empty(), "a later position would skip the lost changes");
    }
}
