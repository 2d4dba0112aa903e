//! The engine loop: one thread owns every published version's engine, applies the log in order,
//! fires timers on the wall clock, sends calls out and takes their answers back, answers queries,
//! and checkpoints its state with the log position it reflects.

use crate::metrics::Metrics;
use crate::store::{Checkpoint, EngineDelta, Entry, LogKind, Store};
use journey_compiler::artifact;
use journey_compiler::ir::Reentry;
use journey_vm::engine::instance::InstanceId;
use journey_vm::engine::{CallOutcome, CallRequest, Engine, Options};
use journey_vm::http::{self, HttpExecutor};
use journey_vm::machine::Image;
use journey_vm::value::Value;
use serde_json::{json, Value as Json};
use std::collections::HashSet;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often state is checkpointed at most (unless the work budget is reached sooner).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);
/// Log entries applied per read.
const BATCH: usize = 2_000;
/// The work (log entries applied, timers fired, step events made) after which a checkpoint is
/// written at once: what a checkpoint holds in memory (changed instances, step events) is
/// bounded by it, however many timers fall due together or however long the log to replay is.
const CHECKPOINT_WORK: usize = 20_000;
/// The longest stretch of work before the worker answers what waits in its queue (queries,
/// call outcomes) again.
const SLICE: Duration = Duration::from_millis(20);

/// A question for the worker, answered between steps.
pub enum Query {
    /// Every journey with its versions and state.
    Journeys(tokio::sync::oneshot::Sender<Json>),
    /// A journey's report (all versions).
    Report(String, tokio::sync::oneshot::Sender<Option<Json>>),
    /// Where a profile is.
    Instances(String, tokio::sync::oneshot::Sender<Json>),
    /// Summary numbers.
    Status(tokio::sync::oneshot::Sender<Json>),
}

/// What wakes the worker.
pub enum Wake {
    /// New log entries up to this position.
    Appended(i64),
    /// A call answered.
    CallDone(u32, u64, CallOutcome, Duration),
    /// A query.
    Query(Query),
    /// Stop after a final checkpoint.
    Shutdown,
}

/// One published version and its engine.
pub struct Version {
    /// Its number.
    pub number: u32,
    /// Its engine.
    pub engine: Engine,
}

/// The worker's state.
pub struct Worker {
    store: Box<dyn Store>,
    versions: Vec<Version>,
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
    /// The calls in flight with a stored row, by version and instance (the rest need no
    /// deleting when their instance goes on).
    stored_calls: HashSet<(u32, InstanceId)>,
    /// Writes checkpoints on a thread of its own (else they are written in line).
    writer: Option<Writer>,
    read_rate: Option<u32>,
}

/// The thread that writes checkpoints, in order, on a connection of its own.
struct Writer {
    tx: std::sync::mpsc::SyncSender<Checkpoint>,
    thread: std::thread::JoinHandle<()>,
}

impl Writer {
    fn start(mut store: Box<dyn Store>, metrics: Arc<Metrics>) -> Result<Writer, String> {
        // A checkpoint is handed over when the last one is written: at most one is written
        // while the next one gathers, and what they hold stays bounded.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Checkpoint>(0);
        let thread = std::thread::Builder::new()
            .name("journey-checkpoint".into())
            .spawn(move || {
                for cp in rx {
                    match store.checkpoint(&cp) {
                        Ok(()) => {
                            metrics.checkpoints.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        Err(e) => tracing::error!("checkpoint failed: {e}"),
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(Writer { tx, thread })
    }

    /// Writes what is queued, then stops.
    fn finish(self) {
        drop(self.tx);
        let _ = self.thread.join();
    }
}

/// Wall-clock milliseconds.
pub fn wall_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn options(read_rate: Option<u32>) -> Options {
    Options { step_events: true, read_rate, ..Options::default() }
}

impl Worker {
    /// Loads every version and its stored state, then replays the log after the checkpoint.
    pub fn load(
        mut store: Box<dyn Store>,
        executor: Arc<HttpExecutor>,
        rt: tokio::runtime::Handle,
        wake_tx: Sender<Wake>,
        metrics: Arc<Metrics>,
        read_rate: Option<u32>,
        checkpoints: Option<Box<dyn Store>>,
    ) -> Result<Worker, String> {
        let w_metrics = metrics.clone();
        let mut versions = Vec::new();
        let mut stored_calls = HashSet::new();
        for row in store.versions().map_err(|e| e.to_string())? {
            let a = artifact::from_bytes(&row.artifact).map_err(|e| format!("version {}: {e}", row.version))?;
            let image = Arc::new(Image::load(a.program).map_err(|e| e.to_string())?);
            let names: Vec<String> = image.program.journeys.iter().map(|j| j.name.clone()).collect();
            let stored = store.load_engine(row.version, &names).map_err(|e| e.to_string())?;
            stored_calls.extend(stored.pending.iter().map(|c| (row.version, c.instance)));
            let engine = Engine::restore(image, options(read_rate), stored);
            versions.push(Version { number: row.version, engine });
        }
        let applied = store.applied_seq().map_err(|e| e.to_string())?;
        metrics.applied_seq.store(applied, std::sync::atomic::Ordering::Relaxed);
        // The log may run ahead of the checkpoint (a crash): its end counts as appended.
        let (entries, _) = store.counts().map_err(|e| e.to_string())?;
        metrics.appended_seq.fetch_max(entries, std::sync::atomic::Ordering::Relaxed);
        let mut w = Worker {
            store,
            versions,
            applied,
            executor,
            rt,
            wake_tx,
            metrics,
            last_checkpoint: Instant::now(),
            dirty: false,
            work: 0,
            log_behind: true,
            stored_calls,
            writer: checkpoints.map(|store| Writer::start(store, w_metrics)).transpose()?,
            read_rate,
        };
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
        loop {
            self.send_calls();
            let first = if self.busy() {
                match rx.try_recv() {
                    Ok(m) => Some(m),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => return,
                }
            } else {
                match rx.recv_timeout(self.next_wait()) {
                    Ok(m) => Some(m),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            };
            if let Some(m) = first {
                if !self.handle(m) {
                    return;
                }
                while let Ok(m) = rx.try_recv() {
                    if !self.handle(m) {
                        return;
                    }
                }
            }
            if let Err(e) = self.step() {
                tracing::error!("applying the log failed: {e}");
                // Not in a tight loop while the store fails.
                std::thread::sleep(Duration::from_millis(100));
            }
            if self.dirty && (self.work >= CHECKPOINT_WORK || self.last_checkpoint.elapsed() >= CHECKPOINT_EVERY) {
                if let Err(e) = self.checkpoint() {
                    tracing::error!("checkpoint failed: {e}");
                }
            }
        }
    }

    /// Handles one message; false on shutdown (after the final checkpoint).
    fn handle(&mut self, m: Wake) -> bool {
        match m {
            Wake::Appended(_) => self.log_behind = true,
            Wake::CallDone(version, instance, outcome, latency) => {
                self.metrics.call_done(&outcome, latency);
                if let Some(v) = self.versions.iter_mut().find(|v| v.number == version) {
                    let before = v.engine.steps.len();
                    v.engine.complete_call(instance, outcome);
                    self.work += 1 + v.engine.steps.len().saturating_sub(before);
                    self.dirty = true;
                }
            }
            Wake::Query(q) => self.answer(q),
            Wake::Shutdown => {
                if let Err(e) = self.checkpoint() {
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

    /// Whether work is waiting: log entries to apply or timers due.
    fn busy(&self) -> bool {
        self.log_behind || self.next_due().is_some_and(|d| d <= wall_ms())
    }

    fn next_due(&self) -> Option<i64> {
        self.versions.iter().filter_map(|v| v.engine.next_due()).min()
    }

    fn next_wait(&self) -> Duration {
        let now = wall_ms();
        let until_due = self.next_due().map(|d| (d - now).clamp(0, 1_000) as u64).unwrap_or(1_000);
        let until_checkpoint = if self.dirty { 50 } else { 1_000 };
        Duration::from_millis(until_due.min(until_checkpoint))
    }

    /// One slice of work, of about [`SLICE`]: log entries first (in order, each after the
    /// timers due before it), then the timers due by the wall clock.
    fn step(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + SLICE;
        if self.log_behind {
            let entries = self.store.entries_after(self.applied, BATCH).map_err(|e| e.to_string())?;
            let mut finished = entries.len() < BATCH;
            for (n, e) in entries.into_iter().enumerate() {
                // Entries not reached in this slice are read again in the next.
                if (n > 0 && Instant::now() >= deadline) || self.fire_until(e.at_ms - 1, deadline)? {
                    finished = false;
                    break;
                }
                self.apply(&e);
                self.applied = e.seq;
                self.metrics.applied_seq.store(e.seq, std::sync::atomic::Ordering::Relaxed);
                self.dirty = true;
                self.work += 1;
                self.checkpoint_if_full()?;
            }
            self.log_behind = !finished;
            if self.log_behind {
                return Ok(());
            }
        }
        let now = wall_ms();
        if !self.fire_until(now, deadline)? {
            // Nothing is due any more: the clocks move on to now.
            for v in &mut self.versions {
                v.engine.advance(now, true);
            }
        }
        Ok(())
    }

    /// Fires the timers due at or before `to`, one due time after another, checkpointing each
    /// time the work budget fills up; true when it stopped at `deadline` with more due.
    ///
    /// The engine fires every timer of one due time (millisecond) at once: a storm of timers all
    /// due in the same millisecond is one slice, however large.
    fn fire_until(&mut self, to: i64, deadline: Instant) -> Result<bool, String> {
        loop {
            let Some(due) = self.next_due().filter(|d| *d <= to) else { return Ok(false) };
            for v in &mut self.versions {
                if v.engine.next_due().is_some_and(|d| d <= due) {
                    let before = v.engine.steps.len();
                    v.engine.advance(due, true);
                    self.work += 1 + v.engine.steps.len().saturating_sub(before);
                }
            }
            self.dirty = true;
            self.checkpoint_if_full()?;
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

    fn apply(&mut self, e: &Entry) {
        for v in &mut self.versions {
            v.engine.advance(e.at_ms, false);
        }
        // With one version, an event's payload is read straight from the log's text into the
        // values the program reads (no JSON value in between, no key computed twice).
        if let [only] = &mut self.versions[..] {
            if let Some((name, payload)) = read_event(&only.engine, &e.kind) {
                self.metrics.events_applied.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if let Err(err) = only.engine.send_converted(&name, payload) {
                    self.metrics.rejected_at_apply.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::warn!("event `{name}` rejected: {err}");
                }
                return;
            }
        }
        let kind = match e.decode() {
            Ok(k) => k,
            Err(err) => {
                tracing::error!("{err}; skipped");
                return;
            }
        };
        match &kind {
            LogKind::Event { name, payload } => {
                self.metrics.events_applied.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                self.send_event(name, payload);
            }
            LogKind::ProfilePut { key, attributes } => self.write_profile(key, attributes, false),
            LogKind::ProfilePatch { key, attributes } => self.write_profile(key, attributes, true),
            LogKind::Audience { audience, key, enters } => {
                for i in 0..self.versions.len() {
                    self.gate(i, key, |engine| {
                        if *enters {
                            engine.audience_enter(audience, key)
                        } else {
                            engine.audience_exit(audience, key)
                        }
                    });
                }
            }
            LogKind::Publish { version, journeys } => self.publish(*version, journeys, e.at_ms),
            LogKind::Close { journey } | LogKind::Stop { journey } => {
                let stop = matches!(kind, LogKind::Stop { .. });
                for v in &mut self.versions {
                    if let Some(j) = v.engine.image().program.journeys.iter().position(|x| &x.name == journey) {
                        v.engine.set_open(j as u16, false);
                        if stop {
                            v.engine.stop_journey(j as u16);
                        }
                    }
                }
            }
        }
        self.sync_profiles();
    }

    fn send_event(&mut self, name: &str, payload: &Json) {
        // Running instances of every version see the event; only open journeys take entries.
        let key = self.versions.iter_mut().rev().find_map(|v| v.engine.key_of(name, payload));
        for i in 0..self.versions.len() {
            let result = match &key {
                Some(k) => self.gate(i, k, |engine| engine.send(name, payload)),
                None => self.versions[i].engine.send(name, payload),
            };
            if let Err(e) = result {
                if i + 1 == self.versions.len() {
                    self.metrics.rejected_at_apply.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::warn!("event `{name}` rejected: {e}");
                }
            }
        }
    }

    /// Runs `f` on version `i`'s engine with journeys closed where the profile is in the same
    /// journey in another version, or where its re-entry rule across versions keeps it out.
    fn gate<T>(&mut self, i: usize, key: &str, f: impl FnOnce(&mut Engine) -> T) -> T {
        let journeys: Vec<(u16, String, Reentry)> = {
            let e = &self.versions[i].engine;
            e.image()
                .program
                .journeys
                .iter()
                .enumerate()
                .filter(|(j, _)| e.is_open(*j as u16))
                .map(|(j, x)| (j as u16, x.name.clone(), x.reentry.clone()))
                .collect()
        };
        let now = self.versions[i].engine.now_ms();
        let mut closed = Vec::new();
        for (j, name, reentry) in journeys {
            let mut blocked = false;
            for (k, other) in self.versions.iter().enumerate() {
                if k == i {
                    continue;
                }
                let Some(oj) = other.engine.image().program.journeys.iter().position(|x| x.name == name) else {
                    continue;
                };
                let oj = oj as u16;
                if other.engine.is_active(key, oj) {
                    blocked = true;
                }
                if let Some(last) = other.engine.last_entry(key, oj) {
                    blocked |= match reentry {
                        Reentry::Never => true,
                        Reentry::Always => false,
                        Reentry::After(ms) => now - last < ms,
                    };
                }
            }
            if blocked {
                self.versions[i].engine.set_open(j, false);
                closed.push(j);
            }
        }
        let out = f(&mut self.versions[i].engine);
        for j in closed {
            self.versions[i].engine.set_open(j, true);
        }
        out
    }

    fn write_profile(&mut self, key: &str, attributes: &Json, patch: bool) {
        let Some(first) = self.versions.last() else { return };
        let current = first.engine.stored_profile(key).cloned().unwrap_or(Value::Null);
        let new = if patch {
            let mut merged = current.to_json();
            merge(&mut merged, attributes);
            merged
        } else {
            attributes.clone()
        };
        for v in &mut self.versions {
            let value = match &v.engine.image().program.profile {
                Some(t) => Value::from_json_typed(&new, t),
                None => Value::from_json(&new),
            };
            v.engine.set_profile(key, value);
        }
    }

    /// Copies profiles written by one version (`update profile`) to the others.
    fn sync_profiles(&mut self) {
        if self.versions.len() < 2 {
            return;
        }
        let mut written: Vec<(String, Value)> = Vec::new();
        for v in &self.versions {
            for k in v.engine.changed_profiles() {
                if let Some(p) = v.engine.stored_profile(&k) {
                    written.push((k.to_string(), p.clone()));
                }
            }
        }
        for (k, p) in written {
            for v in &mut self.versions {
                if v.engine.stored_profile(&k) != Some(&p) {
                    v.engine.set_profile(&k, p.clone());
                }
            }
        }
    }

    fn publish(&mut self, version: u32, journeys: &[String], at_ms: i64) {
        if self.versions.iter().any(|v| v.number == version) {
            // Already loaded from the store (a replay after a restart).
            return;
        }
        let rows = match self.store.versions() {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("cannot read version {version}: {e}");
                return;
            }
        };
        let Some(row) = rows.into_iter().find(|r| r.version == version) else {
            tracing::error!("version {version} is not in the store");
            return;
        };
        let image = match artifact::from_bytes(&row.artifact)
            .map_err(|e| e.to_string())
            .and_then(|a| Image::load(a.program).map_err(|e| e.to_string()))
        {
            Ok(i) => Arc::new(i),
            Err(e) => {
                tracing::error!("version {version} cannot be loaded: {e}");
                return;
            }
        };
        let mut engine = Engine::new(image.clone(), at_ms, options(self.read_rate));
        // Profiles and audiences are shared: the new version starts with them.
        if let Some(prev) = self.versions.last() {
            for (a, k) in prev.engine.memberships() {
                engine.audience_enter_quiet(&a, &k);
            }
            for (k, p) in prev.engine.profiles_iter() {
                engine.set_profile(k, p.clone());
            }
        }
        for (j, x) in image.program.journeys.iter().enumerate() {
            let published = journeys.is_empty() || journeys.contains(&x.name);
            engine.set_open(j as u16, published);
        }
        for v in &mut self.versions {
            for (j, x) in v.engine.image().program.journeys.clone().iter().enumerate() {
                if journeys.is_empty() || journeys.contains(&x.name) {
                    v.engine.set_open(j as u16, false);
                }
            }
        }
        self.versions.push(Version { number: version, engine });
        tracing::info!("version {version} is live");
    }

    fn send_calls(&mut self) {
        for v in &mut self.versions {
            let calls = v.engine.take_calls();
            if calls.is_empty() {
                continue;
            }
            self.dirty = true;
            for c in calls {
                let decl = v.engine.image().program.http[c.http as usize].decl.clone();
                let executor = self.executor.clone();
                let tx = self.wake_tx.clone();
                let version = v.number;
                self.rt.spawn(async move {
                    let started = Instant::now();
                    let outcome = match executor.call(&decl, &c.args, &c.idempotency_key).await {
                        http::CallOutcome::Ok(v) => CallOutcome::Ok(v),
                        http::CallOutcome::Timeout { reason } => CallOutcome::Timeout(reason),
                        http::CallOutcome::Error { reason } => CallOutcome::Error(reason),
                    };
                    let _ = tx.send(Wake::CallDone(version, c.instance, outcome, started.elapsed()));
                });
            }
        }
    }

    /// Writes what changed, with the log position it reflects, in one transaction.
    pub fn checkpoint(&mut self) -> Result<(), String> {
        let mut cp = Checkpoint { applied_seq: self.applied, ..Default::default() };
        // Stored calls written (true) or deleted (false), kept track of once stored.
        let mut calls: Vec<(u32, InstanceId, bool)> = Vec::new();
        let mut audiences_changed = false;
        for v in &mut self.versions {
            let changes = v.engine.take_changes();
            let names: Vec<String> = v.engine.image().program.journeys.iter().map(|j| j.name.clone()).collect();
            let mut delta = EngineDelta { version: v.number, small: v.engine.small_state(), ..Default::default() };
            for id in changes.instances {
                let call = match v.engine.instance(id) {
                    Some(i) => {
                        delta.upserts.push(i.clone());
                        v.engine.pending_call(id)
                    }
                    None => {
                        delta.removed.push(id);
                        None
                    }
                };
                match call {
                    Some(c) => {
                        delta.calls.push(c.clone());
                        calls.push((v.number, id, true));
                    }
                    None if self.stored_calls.contains(&(v.number, id)) => {
                        delta.calls_done.push(id);
                        calls.push((v.number, id, false));
                    }
                    None => {}
                }
            }
            for (p, j) in changes.entries {
                if let (Some(ms), Some(name)) = (v.engine.last_entry(&p, j), names.get(j as usize)) {
                    delta.entries.push((p.to_string(), name.clone(), ms));
                }
            }
            for k in changes.profiles {
                if let Some(p) = v.engine.stored_profile(&k) {
                    cp.profiles.push((k.to_string(), p.clone()));
                }
            }
            audiences_changed |= changes.audiences;
            delta.report = v.engine.report().clone();
            cp.steps.append(&mut v.engine.steps);
            cp.engines.push(delta);
        }
        if audiences_changed {
            cp.audiences = self.versions.last().map(|v| v.engine.memberships());
        }
        match &self.writer {
            // Written beside the engine, which goes on meanwhile.
            Some(w) => w.tx.send(cp).map_err(|_| "the checkpoint writer stopped".to_string())?,
            None => {
                self.store.checkpoint(&cp).map_err(|e| e.to_string())?;
                self.metrics.checkpoints.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        for (version, id, stored) in calls {
            if stored {
                self.stored_calls.insert((version, id));
            } else {
                self.stored_calls.remove(&(version, id));
            }
        }
        self.last_checkpoint = Instant::now();
        self.dirty = false;
        self.work = 0;
        Ok(())
    }

    fn answer(&mut self, q: Query) {
        match q {
            Query::Journeys(tx) => {
                let mut out = serde_json::Map::new();
                for v in &self.versions {
                    for (j, x) in v.engine.image().program.journeys.iter().enumerate() {
                        let entry =
                            out.entry(x.name.clone()).or_insert_with(|| json!({"name": x.name, "versions": []}));
                        if let Some(list) = entry["versions"].as_array_mut() {
                            list.push(json!({"version": v.number, "open": v.engine.is_open(j as u16)}));
                        }
                    }
                }
                let _ = tx.send(Json::Array(out.into_values().collect()));
            }
            Query::Report(name, tx) => {
                let mut versions = Vec::new();
                for v in &mut self.versions {
                    let number = v.number;
                    let report = v.engine.report();
                    if let Some(r) = report.journeys.iter().find(|r| r.journey == name) {
                        versions.push(json!({"version": number, "report": r}));
                    }
                }
                let _ = tx.send((!versions.is_empty()).then(|| json!({"journey": name, "versions": versions})));
            }
            Query::Instances(key, tx) => {
                let mut out = Vec::new();
                for v in &self.versions {
                    let program = &v.engine.image().program;
                    for i in v.engine.live().filter(|i| i.profile.as_str() == key) {
                        let j = &program.journeys[i.journey as usize];
                        let node = j.nodes.get(i.node as usize);
                        let (waits_for, until) = describe_wait(j, i);
                        out.push(json!({"journey": j.name, "version": v.number, "instance": i.id,
                            "node": node.map(|n| n.label.clone()), "line": node.map(|n| n.line),
                            "waits_for": waits_for, "until": until.map(journey_vm::engine::clock::rfc3339),
                            "entered": journey_vm::engine::clock::rfc3339(i.entered_ms)}));
                    }
                }
                let _ = tx.send(Json::Array(out));
            }
            Query::Status(tx) => {
                let (log, events) = self.store.counts().unwrap_or((0, 0));
                let waiting: usize = self.versions.iter().map(|v| v.engine.live().count()).sum();
                let _ = tx.send(json!({"versions": self.versions.len(), "log_entries": log, "events": events,
                    "applied": self.applied, "instances_waiting": waiting,
                    "journeys": self.versions.last().map(|v| v.engine.image().program.journeys.len()).unwrap_or(0)}));
            }
        }
    }
}

fn describe_wait(
    j: &journey_compiler::bytecode::JourneyCode,
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

/// JSON merge patch (RFC 7396).
pub fn merge(target: &mut Json, patch: &Json) {
    match patch {
        Json::Object(p) => {
            if !target.is_object() {
                *target = Json::Object(Default::default());
            }
            if let Json::Object(t) = target {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge(t.entry(k.clone()).or_insert(Json::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// Keeps the worker's pending calls typed for the store (re-exported for tests).
pub type Pending = CallRequest;
