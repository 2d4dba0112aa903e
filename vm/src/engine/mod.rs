//! The journey engine: instances per profile and journey, driven by events, timers and call
//! answers on a clock it is given (virtual in `journey run` and `journey test`).
//!
//! It is deterministic: the same events, clock, call outcomes and seed take the same paths.
//! Calls go out through [`Engine::take_calls`] and come back through [`Engine::complete_call`],
//! so the same engine serves mocks, dry runs and real HTTP.

pub mod clock;
pub mod durable;
pub mod goals;
pub mod instance;
pub mod messages;
pub mod report;
pub(crate) mod tables;

use crate::library::EvalContext;
use crate::machine::{self, Frame, Image, Stop, DEFAULT_BUDGET};
use crate::value::{Record, Value};
use arcstr::ArcStr;
use instance::{Ended, Instance, InstanceData, InstanceId, Outcome, Waiting};
use journey_bytecode::{EventCode, JourneyCode, Reentry, Start};
use report::{JourneyReport, NodeCounts, NodeOutcome, Report, StepEvent};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use tables::{Instances, Profiles};

/// A call or fetch an instance waits on.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CallRequest {
    /// The waiting instance.
    pub instance: InstanceId,
    /// Its journey.
    pub journey: String,
    /// Its profile.
    pub profile: ArcStr,
    /// Index of the action or data source in the program.
    pub http: u32,
    /// Its name.
    pub target: String,
    /// Arguments by parameter (null for an omitted optional one).
    pub args: Vec<Value>,
    /// The same for every retry of this call, so a receiver can drop duplicates.
    pub idempotency_key: String,
    /// When it was made (epoch ms).
    pub at_ms: i64,
    /// The node that made it (its `send` node for a message's delivery); [`CallRequest::NO_NODE`]
    /// in a call stored before it was kept. Last, so that such a row is told by its length
    /// ([`CallRequestBeforeNode`]).
    pub node: u32,
}

impl CallRequest {
    /// The node of a call stored before calls kept theirs.
    pub const NO_NODE: u32 = u32::MAX;
}

/// A call as stored before [`CallRequest::node`] was kept.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct CallRequestBeforeNode {
    instance: InstanceId,
    journey: String,
    profile: ArcStr,
    http: u32,
    target: String,
    args: Vec<Value>,
    idempotency_key: String,
    at_ms: i64,
}

impl From<CallRequestBeforeNode> for CallRequest {
    fn from(c: CallRequestBeforeNode) -> CallRequest {
        CallRequest {
            instance: c.instance,
            journey: c.journey,
            profile: c.profile,
            http: c.http,
            target: c.target,
            args: c.args,
            idempotency_key: c.idempotency_key,
            at_ms: c.at_ms,
            node: CallRequest::NO_NODE,
        }
    }
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq)]
pub enum CallOutcome {
    /// It answered this value.
    Ok(Value),
    /// It timed out.
    Timeout(String),
    /// It failed.
    Error(String),
}

/// Why an incoming event was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// No event of that name is declared.
    #[error("unknown event `{0}`")]
    UnknownEvent(String),
    /// Its key is null or empty.
    #[error("event `{0}` has a null or empty key")]
    NoKey(String),
}

/// What happened to an accepted event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Its `when` did not hold: it counts as no event.
    Filtered,
    /// Handled (entries, awaits, exits — possibly none).
    Handled,
}

/// An event's payload as it reaches the engine.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// JSON, converted here to what the program reads of it.
    Json(&'a serde_json::Value),
    /// Already converted: read from text with [`Engine::payload_seed`] (or converted by
    /// `Value::from_json_projected` with the event's projection).
    Read(&'a Value),
}

/// Which profile a delivered event goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum To<'a> {
    /// The one its `key` names, when its `when` holds (both judged here, at the clock).
    Key,
    /// This one, which [`Engine::route`] gave it (its `when` held there).
    Routed(&'a str),
}

/// What [`Engine::route`] judges, and whether it counts what it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    /// The event's `when` and `key`, counting a filtered or rejected event in this engine's
    /// report as delivering it here would (a router in front of the engines that handle it).
    Count,
    /// The same, leaving the report alone (to check an event before accepting it).
    Check,
    /// Its `key` alone, leaving the report alone: whether its `when` holds is for the engine
    /// that handles it.
    KeyOnly,
}

/// A finished instance, kept for reports and tests.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Its id.
    pub id: InstanceId,
    /// Its journey.
    pub journey: u16,
    /// The profile.
    pub profile: ArcStr,
    /// How it ended.
    pub ended: Ended,
    /// The nodes it passed, in order.
    pub path: Vec<u32>,
    /// When it ended (epoch ms).
    pub at_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKind {
    /// A wait, await timeout: valid while the instance's token matches.
    Resume(InstanceId, u32),
    /// The journey's global timeout.
    Timeout(InstanceId),
    /// A scheduled audience read of journey `j`.
    Schedule(u16),
    /// The next slice of a rate-limited audience read of journey `j`.
    ReadMore(u16),
}

/// Engine options.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Keep each instance's node path and every call made (for `journey run` output and tests).
    pub keep_paths: bool,
    /// Emit step events.
    pub step_events: bool,
    /// Seed of the random source.
    pub seed: u64,
    /// Scheduled audience reads enter at most this many profiles per second (all at once when
    /// unset; Adobe's range is 500 to 20,000).
    pub read_rate: Option<u32>,
    /// Which share of the profiles this engine runs, when several engines share the work.
    pub shard: Shard,
    /// Counters of `cap` nodes shared by the engines of one run (each engine's own when unset).
    pub shared_caps: Option<Arc<SharedCaps>>,
    /// A business event starts at most this many members when it arrives, the rest by
    /// [`Engine::fan_out`] (all at once when unset). Whatever else reaches the engine first
    /// finishes the fan-out.
    pub fanout_slice: Option<usize>,
}

/// One engine's share of the profiles: engine `index` of `count` runs the profiles whose key
/// [`shard_of`] places there, and numbers its instances `index + 1`, `index + 1 + count`, ...
/// so that ids stay unique across the engines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shard {
    /// This engine's number, from 0.
    pub index: u32,
    /// How many engines share the profiles (0 and 1 both mean one).
    pub count: u32,
}

impl Shard {
    fn stride(self) -> u64 {
        u64::from(self.count.max(1))
    }
}

/// The engine (of `count`) that runs a profile: a stable hash of its key, the same on every
/// machine and in every run.
pub fn shard_of(key: &str, count: u32) -> u32 {
    if count <= 1 {
        return 0;
    }
    (key_hash(key) % u64::from(count)) as u32
}

/// The random source of an instance: from what it is (profile, journey, entry time), not from
/// its id, so `random()` takes the same values however many engines share the profiles.
fn instance_seed(seed: u64, inst: &Instance) -> u64 {
    seed ^ key_hash(&inst.profile)
        ^ (u64::from(inst.journey) << 48)
        ^ (inst.entered_ms as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// FNV-1a: stable across runs and builds (the default hasher is randomly keyed).
fn key_hash(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// How many profiles have taken each `cap` node's first block, shared by the engines that split
/// one run's profiles between them (so a cap of N holds across all of them).
#[derive(Default)]
pub struct SharedCaps(std::sync::Mutex<HashMap<(u16, u32), i64>>, Option<Arc<CapBackend>>);

/// Counters of `cap` nodes kept outside the process (a cluster's database, shared by engines in
/// several processes): takes one more profile through `(journey, node)` for instance `id` if
/// fewer than `limit` went through; asked again for the same instance (a replay after a crash),
/// it answers as it did.
pub type CapBackend = dyn Fn((u16, u32), i64, InstanceId) -> bool + Send + Sync;

impl std::fmt::Debug for SharedCaps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SharedCaps").field(&self.0).field(&self.1.is_some()).finish()
    }
}

impl SharedCaps {
    /// Counters kept by `backend` instead of in this process.
    pub fn with_backend(backend: Arc<CapBackend>) -> SharedCaps {
        SharedCaps(Default::default(), Some(backend))
    }

    /// Counts one more profile through the node if fewer than `limit` went through yet.
    fn take(&self, key: (u16, u32), limit: i64, instance: InstanceId) -> bool {
        if let Some(backend) = &self.1 {
            return backend(key, limit, instance);
        }
        let mut counts = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = counts.entry(key).or_default();
        let taken = *count < limit;
        if taken {
            *count += 1;
        }
        taken
    }

    /// Adds counts (one engine's stored share, when engines are restored).
    pub fn add(&self, counts: &[(u16, u32, i64)]) {
        let mut map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (j, n, c) in counts {
            *map.entry((*j, *n)).or_default() += c;
        }
    }
}

/// The journey engine.
pub struct Engine {
    image: Arc<Image>,
    tz: Vec<jiff::tz::TimeZone>,
    now_ms: i64,
    next_id: InstanceId,
    instances: Instances,
    /// Per profile and journey: the running instance and the last entry.
    slots: Profiles,
    timers: BinaryHeap<Reverse<(i64, u64, TimerKind)>>,
    timer_seq: u64,
    profiles: HashMap<ArcStr, Value, KeyHash>,
    audiences: HashMap<String, HashSet<ArcStr, KeyHash>>,
    caps: HashMap<(u16, u32), i64>,
    calls_out: Vec<CallRequest>,
    paths: HashMap<InstanceId, Vec<u32>, IdHash>,
    /// Finished instances (with `keep_paths`).
    finished: Vec<Finished>,
    /// Step events produced since the last take (with `step_events`).
    steps: Vec<StepEvent>,
    /// Every call made (with `keep_paths`), for `expect call`.
    call_log: Vec<CallRequest>,
    /// The report.
    report: Report,
    options: Options,
    secrets: Box<SecretFn>,
    stack: Vec<Value>,
    event_index: HashMap<String, u16>,
    /// Calls in flight, by instance (so a durable runtime can re-issue them after a restart).
    pending: HashMap<InstanceId, CallRequest, IdHash>,
    /// What changed since the last `take_changes`.
    changes: durable::Changes,
    /// Whether `changes` is kept (on unless turned off: `journey run` and benchmarks take none).
    track_changes: bool,
    /// Which journeys may take new entries (a closed or stopped journey takes none).
    open: Vec<bool>,
    /// Which journeys were stopped (kept, so that a stopped journey is told from a closed one
    /// whatever its instances did).
    stopped: Vec<bool>,
    /// Audience reads in progress: the members still to enter, per journey.
    reads: HashMap<u16, std::collections::VecDeque<ArcStr>>,
    /// The branch an instance took at the node it is at (instance, branch), named on the step
    /// event when it leaves the node; branches are taken without a suspension in between.
    taken: Option<(InstanceId, u32)>,
    /// The messages of live instances (durable; `recent` unused: see `freq`).
    msgs: messages::MessageState,
    /// The messages frequency rules count (shared with the engines of other versions).
    freq: messages::SharedFrequency,
    /// Business events' fan-outs in progress, oldest first (see [`Engine::fan_out`]).
    fanouts: std::collections::VecDeque<messages::Fanout>,
    /// Every message (with `keep_paths`), for `expect sent` and `journey run`.
    message_log: Vec<messages::MessageRecord>,
    /// The messages handed to their deliver calls since the last [`Engine::take_sending`]
    /// (with change tracking).
    sending: Vec<messages::MessageRecord>,
    /// The time of the event being applied, when a durable runtime applies it behind the clock
    /// (see [`Engine::set_event_time`]).
    event_ms: Option<i64>,
    /// Where the event being applied came from (see [`Engine::set_event_origin`]).
    event_origin: u32,
    /// The outcome and message id of the send an instance is leaving, for its step event.
    send_outcomes: HashMap<InstanceId, (String, String), IdHash>,
    /// Per event (by index): whether some journey has a goal on it.
    goal_events: Vec<bool>,
    /// When each goal watch's longest window ends, with its profile (earliest first).
    goal_expiry: BinaryHeap<Reverse<(i64, ArcStr)>>,
    /// Every conversion (with `keep_paths`), for `expect converted`.
    conversions: Vec<goals::Conversion>,
    /// Deliveries in flight whose instance ended before the answer (an exit, a stop, a
    /// timeout), by instance: their call stays in `pending` and its answer still decides the
    /// message's outcome (see [`Engine::complete_call`]). With the journey and, when known, the
    /// send node whose report counts it.
    detached: HashMap<InstanceId, (u16, Option<u32>), IdHash>,
}

/// Hashing of profile keys: keyed per process (keys come from outside), and fast.
type KeyHash = foldhash::fast::RandomState;

/// Hashing of instance ids: engine-made sequential numbers, so a multiply-and-fold hash spreads
/// them well at a fraction of the default (DoS-resistant) hasher's cost.
type IdHash = std::hash::BuildHasherDefault<IdHasher>;

/// See [`IdHash`].
#[derive(Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        let m = u128::from(self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835);
        self.0 = (m as u64) ^ ((m >> 64) as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Reads a secret by name.
type SecretFn = dyn Fn(&str) -> Option<String> + Send + Sync;

fn env_secret(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl Engine {
    /// An engine for a loaded program, with its clock at `now_ms`.
    pub fn new(image: Arc<Image>, now_ms: i64, options: Options) -> Engine {
        let p = &image.program;
        let tz = p
            .journeys
            .iter()
            .map(|j| crate::library::date::zone(&j.timezone).unwrap_or(jiff::tz::TimeZone::UTC))
            .collect();
        let report = Report {
            journeys: p
                .journeys
                .iter()
                .map(|j| JourneyReport {
                    journey: j.name.clone(),
                    nodes: vec![NodeCounts::default(); j.nodes.len()],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let event_index: HashMap<String, u16> =
            p.events.iter().enumerate().map(|(i, e)| (e.name.clone(), i as u16)).collect();
        let goal_events =
            p.events.iter().map(|e| p.journeys.iter().any(|j| j.goals.iter().any(|g| g.event == e.name))).collect();
        let mut engine = Engine {
            tz,
            now_ms,
            next_id: u64::from(options.shard.index) + 1,
            instances: Instances::default(),
            slots: Profiles::new(p.journeys.len()),
            timers: BinaryHeap::new(),
            timer_seq: 0,
            profiles: HashMap::default(),
            audiences: HashMap::new(),
            caps: HashMap::new(),
            calls_out: Vec::new(),
            paths: HashMap::default(),
            finished: Vec::new(),
            steps: Vec::new(),
            call_log: Vec::new(),
            report,
            options,
            secrets: Box::new(env_secret),
            stack: Vec::with_capacity(64),
            event_index,
            pending: HashMap::default(),
            changes: durable::Changes::default(),
            track_changes: true,
            open: vec![true; image.program.journeys.len()],
            stopped: vec![false; image.program.journeys.len()],
            reads: HashMap::new(),
            taken: None,
            msgs: messages::MessageState::default(),
            freq: Arc::new(std::sync::Mutex::new(messages::Frequency::new(
                p.frequencies.iter().map(|f| f.window_ms).max().unwrap_or(0),
            ))),
            fanouts: Default::default(),
            message_log: Vec::new(),
            sending: Vec::new(),
            event_ms: None,
            event_origin: 0,
            send_outcomes: HashMap::default(),
            goal_events,
            goal_expiry: BinaryHeap::new(),
            conversions: Vec::new(),
            detached: HashMap::default(),
            image,
        };
        // The first read is the first such time at or after the journey goes live.
        engine.schedule_reads(now_ms.saturating_sub(1));
        engine
    }

    /// Turns the record of changed instances, entries and profiles (for
    /// [`Engine::take_changes`]) on or off; it is on by default. An engine whose changes are never
    /// taken (a one-off run) saves the time and memory of keeping them.
    pub fn set_change_tracking(&mut self, on: bool) {
        self.track_changes = on;
        if !on {
            self.changes = durable::Changes::default();
        }
    }

    /// Reads secrets through `f` instead of the environment.
    pub fn with_secrets(mut self, f: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        self.secrets = Box::new(f);
        self
    }

    /// The loaded program.
    pub fn image(&self) -> &Arc<Image> {
        &self.image
    }

    /// Which share of the profiles this engine runs.
    pub fn share(&self) -> Shard {
        self.options.shard
    }

    /// The clock (epoch ms).
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// Applies what comes next (events, profile and audience changes, until set to `None`) at
    /// `at_ms` rather than at the clock, where they are judged by time: an instance enters at
    /// that time (its `active` window, its re-entry rule, its timeout, its message ids), and a
    /// goal event converts by it. A durable runtime whose clock runs at the wall sets its log
    /// entries' own times, so that an entry read late (its commit still in flight when the
    /// clock passed it) is applied as a replay after a crash applies it.
    pub fn set_event_time(&mut self, at_ms: Option<i64>) {
        self.event_ms = at_ms;
    }

    /// Where what comes next came from (until set to 0): a number that tells apart entries of
    /// one profile into one journey dated the same millisecond. A durable runtime gives its
    /// log entry's position, `journey run` and `journey test` the number of events before it
    /// dated the same millisecond. It
    /// names the messages of the instances it starts ([`messages::message_id`]), so a replay
    /// must give the same entry the same origin.
    pub fn set_event_origin(&mut self, origin: u32) {
        self.event_origin = origin;
    }

    /// The time an event is applied at: its own (see [`Engine::set_event_time`]), or the clock.
    pub fn event_time(&self) -> i64 {
        self.event_ms.map_or(self.now_ms, |at| at.min(self.now_ms))
    }

    /// Instances not yet ended.
    pub fn live(&self) -> impl Iterator<Item = &Instance> {
        self.instances.values()
    }

    /// Sets a profile's attributes.
    pub fn set_profile(&mut self, key: &str, attributes: Value) {
        self.reach(key);
        let key = ArcStr::from(key);
        if self.track_changes {
            self.changes.profiles.insert(key.clone());
        }
        self.profiles.insert(key, attributes);
    }

    /// A profile's attributes.
    pub fn profile(&self, key: &str) -> Value {
        self.profiles.get(key).cloned().unwrap_or(Value::Null)
    }

    /// Finished instances, in the order they ended (with `keep_paths`).
    pub fn finished(&self) -> &[Finished] {
        &self.finished
    }

    /// Every call made, in order (with `keep_paths`).
    pub fn call_log(&self) -> &[CallRequest] {
        &self.call_log
    }

    /// Step events produced since the last take (with `step_events`).
    pub fn steps(&self) -> &[StepEvent] {
        &self.steps
    }

    /// Takes the step events produced since the last take.
    pub fn take_steps(&mut self) -> Vec<StepEvent> {
        std::mem::take(&mut self.steps)
    }

    /// The calls made since the last take; answer each with [`Engine::complete_call`].
    pub fn take_calls(&mut self) -> Vec<CallRequest> {
        std::mem::take(&mut self.calls_out)
    }

    /// The messages handed to their deliver calls (among [`Engine::take_calls`]' calls) since
    /// the last take, as decided (`sending`): a durable runtime writes them before the calls
    /// leave, so that a replay after a crash decides as this run did.
    pub fn take_sending(&mut self) -> Vec<messages::MessageRecord> {
        std::mem::take(&mut self.sending)
    }

    fn push_timer(&mut self, due: i64, kind: TimerKind) {
        self.timer_seq += 1;
        self.timers.push(Reverse((due, self.timer_seq, kind)));
    }

    fn schedule_reads(&mut self, after_ms: i64) {
        for j in 0..self.image.program.journeys.len() {
            self.schedule_read(j as u16, after_ms);
        }
    }

    fn schedule_read(&mut self, j: u16, after_ms: i64) {
        if let Start::AudienceRead { every, at, .. } = &self.image.program.journeys[j as usize].start {
            if let Some(due) = clock::next_fire(every.as_deref(), at, after_ms, &self.tz[j as usize]) {
                self.push_timer(due, TimerKind::Schedule(j));
            }
        }
    }

    /// The next timer's due time, if any.
    pub fn next_due(&self) -> Option<i64> {
        self.timers.peek().map(|Reverse((due, _, _))| *due)
    }

    /// Moves the clock to `to_ms`, firing every timer due at or before it. With `inclusive`
    /// false (an event arrives at `to_ms`), deadlines due exactly then stay for after the event,
    /// which wins over them; a `wait` ending then has ended, so what follows it meets the event.
    pub fn advance(&mut self, to_ms: i64, inclusive: bool) {
        let mut deferred = Vec::new();
        while let Some(&Reverse((due, seq, kind))) = self.timers.peek() {
            if due > to_ms {
                break;
            }
            self.timers.pop();
            if !inclusive && due == to_ms && !self.ends_a_wait(kind) {
                deferred.push(Reverse((due, seq, kind)));
                continue;
            }
            self.now_ms = self.now_ms.max(due);
            self.reach_timer(kind);
            self.fire(kind);
        }
        self.timers.extend(deferred);
        self.now_ms = self.now_ms.max(to_ms);
        if !self.goal_expiry.is_empty() {
            self.expire_goal_watches();
        }
        self.prune_frequency();
    }

    /// Fires at most `max` of the timers due at or before `to_ms`, in order; returns how many
    /// it fired. The clock moves to the last one fired (not to `to_ms`), so a storm of timers
    /// due in the same millisecond can be worked off in bounded slices, with the rest of that
    /// millisecond's timers fired by the next call. [`Engine::advance`] fires them all.
    pub fn fire_due(&mut self, to_ms: i64, max: usize) -> usize {
        let mut fired = 0;
        while fired < max {
            let Some(&Reverse((due, _, kind))) = self.timers.peek() else { break };
            if due > to_ms {
                break;
            }
            self.timers.pop();
            self.now_ms = self.now_ms.max(due);
            self.reach_timer(kind);
            self.fire(kind);
            fired += 1;
        }
        if !self.goal_expiry.is_empty() {
            self.expire_goal_watches();
        }
        fired
    }

    /// Whether a timer ends a live `wait` (rather than being a deadline or a schedule).
    fn ends_a_wait(&self, kind: TimerKind) -> bool {
        matches!(kind, TimerKind::Resume(id, token)
            if self.instances.get(&id).is_some_and(|i| i.token == token && matches!(i.waiting, Waiting::Timer { .. })))
    }

    /// Before a timer fires while fan-outs are in progress: its profile, if a member not
    /// started yet, starts first (see [`Engine::reach`]). An audience read reaches the members
    /// it enters one by one ([`Engine::read_slice`]).
    fn reach_timer(&mut self, kind: TimerKind) {
        if !self.fanning_out() {
            return;
        }
        if let TimerKind::Resume(id, _) | TimerKind::Timeout(id) = kind {
            if let Some(profile) = self.instances.get(&id).map(|i| i.profile.clone()) {
                self.reach(&profile);
            }
        }
    }

    /// The profiles the next timer reaches (none without a timer): the profile of the
    /// instance it is for, or the members the slice of an audience read it makes enters. A
    /// caller that runs several engines starts them in the others' fan-outs first.
    pub fn next_timer_profiles(&self) -> Vec<ArcStr> {
        let Some(Reverse((_, _, kind))) = self.timers.peek() else { return Vec::new() };
        match *kind {
            TimerKind::Resume(id, _) | TimerKind::Timeout(id) => {
                self.instances.get(&id).map(|i| i.profile.clone()).into_iter().collect()
            }
            TimerKind::Schedule(j) => {
                let mut members = self.read_members(j).unwrap_or_default();
                members.truncate(self.read_slice_len(members.len()));
                members
            }
            TimerKind::ReadMore(j) => self
                .reads
                .get(&j)
                .map(|q| q.iter().take(self.read_slice_len(q.len())).cloned().collect())
                .unwrap_or_default(),
        }
    }

    /// The members a scheduled audience read of journey `j` reads now, in key order (`None`
    /// for a journey not started by an audience read).
    fn read_members(&self, j: u16) -> Option<Vec<ArcStr>> {
        let Start::AudienceRead { audience, .. } = &self.image.program.journeys[j as usize].start else {
            return None;
        };
        let mut members: Vec<ArcStr> =
            self.audiences.get(audience).map(|m| m.iter().cloned().collect()).unwrap_or_default();
        members.sort();
        Some(members)
    }

    /// How many of `queued` members an audience read enters at a time (all without a read
    /// rate).
    fn read_slice_len(&self, queued: usize) -> usize {
        self.options.read_rate.map(|r| r.max(1) as usize).unwrap_or(usize::MAX).min(queued)
    }

    fn fire(&mut self, kind: TimerKind) {
        match kind {
            TimerKind::Resume(id, token) => {
                let Some(inst) = self.instances.get(&id) else { return };
                if inst.token != token {
                    return;
                }
                match inst.waiting {
                    Waiting::Timer { .. } => self.resume(id, None),
                    Waiting::Await { index, .. } => {
                        let j = inst.journey as usize;
                        let a = &self.image.program.journeys[j].awaits[index as usize];
                        let (target, arm) = (a.after.map(|(_, t)| t), a.arms.len() as u32);
                        if let Some(t) = target {
                            self.take_branch(id, arm);
                            self.resume(id, Some(t));
                        }
                    }
                    _ => {}
                }
            }
            TimerKind::Timeout(id) => {
                if self.instances.contains_key(&id) {
                    self.finish(id, Outcome::TimedOut, None);
                }
            }
            TimerKind::Schedule(j) => {
                let Some(members) = self.read_members(j) else { return };
                // The members at read time; a read still in progress is replaced by this one.
                self.reads.insert(j, members.into());
                self.read_slice(j);
                let now = self.now_ms;
                self.schedule_read(j, now);
            }
            TimerKind::ReadMore(j) => self.read_slice(j),
        }
    }

    /// Enters the next slice of an audience read (all of it without a read rate).
    fn read_slice(&mut self, j: u16) {
        let Some(queued) = self.reads.get(&j).map(|q| q.len()) else { return };
        let n = self.read_slice_len(queued);
        let Some(queue) = self.reads.get_mut(&j) else { return };
        let slice: Vec<ArcStr> = queue.drain(..n).collect();
        let more = !queue.is_empty();
        if !more {
            self.reads.remove(&j);
        }
        for m in slice {
            self.reach(&m);
            self.enter(j, &m, None);
        }
        if more {
            let due = self.now_ms + 1_000;
            self.push_timer(due, TimerKind::ReadMore(j));
        }
    }

    /// A profile enters an audience: journeys that start on entering it start.
    pub fn audience_enter(&mut self, audience: &str, key: &str) {
        self.finish_fan_outs();
        let key = ArcStr::from(key);
        let added = self.audiences.entry(audience.to_string()).or_default().insert(key.clone());
        self.changes.audiences |= added;
        if added {
            self.audience_start(audience, &key, true);
        }
    }

    /// A profile leaves an audience: journeys that start on leaving it start.
    pub fn audience_exit(&mut self, audience: &str, key: &str) {
        self.finish_fan_outs();
        let key = ArcStr::from(key);
        let removed = self.audiences.get_mut(audience).is_some_and(|m| m.remove(&key));
        self.changes.audiences |= removed;
        if removed {
            self.audience_start(audience, &key, false);
        }
    }

    fn audience_start(&mut self, audience: &str, key: &ArcStr, enters: bool) {
        for j in 0..self.image.program.journeys.len() {
            let starts = match &self.image.program.journeys[j].start {
                Start::AudienceEnters(a) => enters && a == audience,
                Start::AudienceExits(a) => !enters && a == audience,
                _ => false,
            };
            if starts {
                self.enter(j as u16, key, None);
            }
        }
    }

    /// Delivers an event at the current clock (call [`Engine::advance`] first): the one way an
    /// event reaches the engine's instances. With [`To::Key`] its `when` and `key` are judged
    /// here, and an unknown, filtered or keyless event is counted in the report; with
    /// [`To::Routed`] they were judged by [`Engine::route`].
    pub fn deliver(&mut self, name: &str, payload: Payload<'_>, to: To<'_>) -> Result<Delivery, Rejected> {
        let Some(&ei) = self.event_index.get(name) else {
            if to == To::Key {
                self.count_route(&Err(Rejected::UnknownEvent(name.to_string())));
            }
            return Err(Rejected::UnknownEvent(name.to_string()));
        };
        let converted;
        let value = match payload {
            Payload::Json(json) => {
                converted = self.convert_at(ei, json);
                &converted
            }
            Payload::Read(v) => v,
        };
        let key = match to {
            To::Key if self.is_business(name) => {
                // A business event: its keyed profile (if any) gets it as any event, then each
                // member of the audience starts the journeys on it.
                let image = self.image.clone();
                let decl = &image.program.events[ei as usize];
                if let Some(w) = decl.when {
                    if !self.event_chunk(decl, w, value, self.event_time()).truthy() {
                        self.report.filtered += 1;
                        return Ok(Delivery::Filtered);
                    }
                }
                if decl.key.is_some() {
                    if let Ok(Some(key)) = self.event_key(ei, value, self.event_time(), false) {
                        let key = self.slots.key(&key).cloned().unwrap_or(key);
                        self.handle(ei, key, value);
                    }
                } else {
                    self.report.events += 1;
                }
                self.business(name, value);
                return Ok(Delivery::Handled);
            }
            To::Routed(key) if self.is_business(name) => {
                // Routed by `journey run` to every engine: each starts its share of the
                // members; the engine that runs the event's own profile (if it has a key)
                // delivers it there too.
                let image = self.image.clone();
                let decl = &image.program.events[ei as usize];
                let shard = self.options.shard;
                let own = match self.event_key(ei, value, self.event_time(), false) {
                    Ok(Some(k)) if shard_of(&k, shard.count) == shard.index => Some(k),
                    _ => None,
                };
                if let Some(k) = own {
                    let k = self.slots.key(&k).cloned().unwrap_or(k);
                    self.handle(ei, k, value);
                } else if decl.key.is_none() && shard.index == 0 && key.is_empty() {
                    self.report.events += 1;
                }
                self.business(name, value);
                return Ok(Delivery::Handled);
            }
            To::Key => {
                let routed = self.event_key(ei, value, self.event_time(), true);
                self.count_route(&routed);
                match routed? {
                    None => return Ok(Delivery::Filtered),
                    Some(key) => self.slots.key(&key).cloned().unwrap_or(key),
                }
            }
            To::Routed(key) => self.slots.key(key).cloned().unwrap_or_else(|| ArcStr::from(key)),
        };
        self.handle(ei, key, value);
        Ok(Delivery::Handled)
    }

    /// Where an event at `at_ms` goes, without delivering it: `Ok(None)` when its `when` does
    /// not hold (judged unless [`Routing::KeyOnly`]), else its profile key. Deliver a routed
    /// event with [`To::Routed`], on the engine that runs its profile.
    pub fn route(
        &mut self,
        name: &str,
        payload: Payload<'_>,
        at_ms: i64,
        routing: Routing,
    ) -> Result<Option<ArcStr>, Rejected> {
        let routed = match self.event_index.get(name) {
            None => Err(Rejected::UnknownEvent(name.to_string())),
            Some(&ei) => {
                let converted;
                let value = match payload {
                    Payload::Json(json) => {
                        converted = self.convert_at(ei, json);
                        &converted
                    }
                    Payload::Read(v) => v,
                };
                self.event_key(ei, value, at_ms, routing != Routing::KeyOnly)
            }
        };
        if routing == Routing::Count {
            self.count_route(&routed);
        }
        routed
    }

    /// How to read event `name`'s payload straight from JSON text (with `serde`), converting
    /// only what the program reads; hand the value over as [`Payload::Read`]. `None` for an
    /// unknown event.
    pub fn payload_seed(&self, name: &str) -> Option<crate::json::PayloadSeed<'_>> {
        let ei = *self.event_index.get(name)? as usize;
        Some(crate::json::PayloadSeed { ty: &self.image.program.events[ei].payload, part: &self.image.projections[ei] })
    }

    /// Event `name`'s payload converted as the program reads it (`None` for an unknown event).
    pub fn convert(&self, name: &str, payload: &serde_json::Value) -> Option<Value> {
        Some(self.convert_at(*self.event_index.get(name)?, payload))
    }

    /// The index of event `name` in the program.
    pub fn event_index(&self, name: &str) -> Option<u16> {
        self.event_index.get(name).copied()
    }

    /// Event `ei`'s JSON payload converted as the program reads it (only what it reads).
    fn convert_at(&self, ei: u16, payload: &serde_json::Value) -> Value {
        let ei = ei as usize;
        Value::from_json_projected(payload, &self.image.program.events[ei].payload, &self.image.projections[ei])
    }

    /// Counts an event that goes nowhere in the report: filtered by its `when`, or rejected.
    fn count_route(&mut self, routed: &Result<Option<ArcStr>, Rejected>) {
        match routed {
            Ok(Some(_)) => {}
            Ok(None) => self.report.filtered += 1,
            Err(Rejected::UnknownEvent(name)) => {
                *self.report.rejected.entry(format!("unknown event `{name}`")).or_default() += 1;
            }
            Err(Rejected::NoKey(_)) => *self.report.rejected.entry("null or empty key".into()).or_default() += 1,
        }
    }

    /// The profile key of event `ei` at `at_ms`: `Ok(None)` when `check_when` and its `when`
    /// does not hold; an error when the key is null or empty.
    fn event_key(&mut self, ei: u16, value: &Value, at_ms: i64, check_when: bool) -> Result<Option<ArcStr>, Rejected> {
        let image = self.image.clone();
        let decl = &image.program.events[ei as usize];
        if let (true, Some(w)) = (check_when, decl.when) {
            if !self.event_chunk(decl, w, value, at_ms).truthy() {
                return Ok(None);
            }
        }
        let key = decl.key.map(|k| self.event_chunk(decl, k, value, at_ms)).unwrap_or(Value::Null);
        match key {
            Value::Str(k) if !k.is_empty() => Ok(Some(k)),
            _ => Err(Rejected::NoKey(decl.name.clone())),
        }
    }

    fn handle(&mut self, ei: u16, key: ArcStr, value: &Value) {
        // A member that fan-outs in progress have not started yet starts first.
        self.reach(&key);
        let image = self.image.clone();
        let name = image.program.events[ei as usize].name.as_str();
        self.report.events += 1;
        // Goals first: a conversion does not depend on what the event does to instances, and
        // an event that starts an instance is not a conversion of that instance.
        if self.goal_events.get(ei as usize).copied().unwrap_or(false) {
            self.convert_goals(name, &key, value);
        }
        // Instances already running for this profile: awaits first, then exit criteria.
        let mut ids: Vec<(InstanceId, u16)> = (0..image.program.journeys.len())
            .filter_map(|j| self.slots.active(&key, j as u16).map(|id| (id, j as u16)))
            .collect();
        ids.sort_unstable();
        for &(id, _) in &ids {
            self.deliver_to(id, name, value);
        }
        // A profile is in a journey at most once at a time, judged when the event arrives: an
        // event that a running instance took (or that ended it) does not also start a new one.
        for (j, journey) in image.program.journeys.iter().enumerate() {
            if ids.iter().any(|&(_, in_j)| usize::from(in_j) == j) {
                continue;
            }
            if matches!(&journey.start, Start::Event(e) if e == name) {
                self.enter(j as u16, &key, Some(value));
            }
        }
    }

    fn event_chunk(&mut self, decl: &EventCode, addr: u32, payload: &Value, now_ms: i64) -> Value {
        let ctx = EvalContext::new(clock::ts(now_ms), jiff::tz::TimeZone::UTC);
        // Slots for the parameters of the chunk's lambdas (`first(items, i -> ...)`).
        let mut locals = vec![Value::Null; decl.code.lambda_slots()];
        let mut frame = Frame {
            locals: &mut locals,
            event_paths: &[],
            event: payload,
            profile: &Value::Null,
            ctx: &ctx,
            secret: &|_| None,
        };
        let mut budget = DEFAULT_BUDGET;
        machine::eval_chunk(&self.image, &decl.code, addr, &mut frame, &mut self.stack, &mut budget).unwrap_or_default()
    }

    /// Hands an event to one running instance: its await, then its exit criteria.
    fn deliver_to(&mut self, id: InstanceId, event: &str, payload: &Value) {
        let image = self.image.clone();
        let Some(inst) = self.instances.get(&id) else { return };
        let journey = &image.program.journeys[inst.journey as usize];
        let j = inst.journey;
        if !image.program.channels.is_empty() {
            self.count_reaction(id, j, event, payload);
        }
        let Some(inst) = self.instances.get(&id) else { return };
        if let Waiting::Await { index, .. } = inst.waiting {
            let a = &journey.awaits[index as usize];
            for (k, arm) in a.arms.iter().enumerate().filter(|(_, arm)| arm.event == event) {
                let mut inst = self.instances.remove(&id).expect("instance present");
                if let Some(slot) = arm.slot {
                    inst.locals_mut()[slot as usize] = payload.clone();
                }
                let holds = match arm.condition {
                    None => true,
                    Some(c) => self.eval_in(&mut inst, journey, c).truthy(),
                };
                let target = arm.target;
                self.instances.insert(id, inst);
                if holds {
                    self.take_branch(id, k as u32);
                    self.resume(id, Some(target));
                    return;
                }
            }
        }
        if journey.exit_on.iter().any(|e| e == event) {
            self.finish(id, Outcome::Exited, None);
        }
    }

    fn eval_in(&mut self, inst: &mut Instance, journey: &JourneyCode, addr: u32) -> Value {
        // Times of day in a condition or duration are read in the profile's zone too.
        let tz = self.zone_of(inst);
        self.eval_with_tz(inst, journey, addr, tz)
    }

    fn eval_with_tz(&mut self, inst: &mut Instance, journey: &JourneyCode, addr: u32, tz: jiff::tz::TimeZone) -> Value {
        let profile = self.profiles.get(&inst.profile).cloned().unwrap_or(Value::Null);
        let audiences = &self.audiences;
        let key = inst.profile.clone();
        let member = move |a: &str| audiences.get(a).is_some_and(|m| m.contains(&key));
        let ctx = EvalContext::new(clock::ts(self.now_ms), tz)
            .with_seed(instance_seed(self.options.seed, inst))
            .with_audiences(&member);
        let secrets = &self.secrets;
        let (locals, event_paths) = inst.frame_values();
        let mut frame =
            Frame { locals, event_paths, event: &Value::Null, profile: &profile, ctx: &ctx, secret: &|n| secrets(n) };
        let mut budget = DEFAULT_BUDGET;
        machine::eval_chunk(&self.image, &journey.code, addr, &mut frame, &mut self.stack, &mut budget)
            .unwrap_or_default()
    }

    /// Starts journey `j` for a profile, if its rules let it in.
    fn enter(&mut self, j: u16, key: &ArcStr, payload: Option<&Value>) -> bool {
        let image = self.image.clone();
        let journey = &image.program.journeys[j as usize];
        if self.slots.active(key, j).is_some() || !self.open[j as usize] {
            return false;
        }
        // The event's own time, where a durable runtime applies it behind the clock.
        let at = self.event_time();
        if let Some((from, to)) = &journey.active {
            if !clock::in_window(from, to, at, &self.tz[j as usize]) {
                return false;
            }
        }
        if let Some(last) = self.slots.last_entry(key, j) {
            let allowed = match journey.reentry {
                Reentry::Never => false,
                Reentry::Always => true,
                Reentry::After(ms) => at - last >= ms,
            };
            if !allowed {
                return false;
            }
        }
        let id = self.next_id;
        self.next_id += self.options.shard.stride();
        let event: Box<[Value]> = match payload {
            Some(p) => journey
                .event_paths
                .iter()
                .map(|path| match at_path(p, path) {
                    // A kept value equal to the profile key (the key is often read from the event
                    // too) shares the key's allocation.
                    Value::Str(s) if s == *key => Value::Str(key.clone()),
                    v => v,
                })
                .collect(),
            None => vec![Value::Null; journey.event_paths.len()].into(),
        };
        let inst = Instance::from(InstanceData {
            id,
            journey: j,
            version: 1,
            profile: key.clone(),
            pc: 0,
            locals: vec![Value::Null; journey.locals as usize].into(),
            event,
            waiting: Waiting::Running,
            entered_ms: at,
            node: u32::MAX,
            node_ms: at,
            token: 0,
            origin: self.event_origin,
        });
        if !journey.goals.is_empty() {
            self.watch_goals(&inst);
        }
        self.instances.insert(id, inst);
        self.slots.set_active(key, j, Some(id));
        if self.track_changes {
            self.changes.entries.insert((key.clone(), j));
        }
        self.slots.set_last_entry(key, j, at);
        let r = &mut self.report.journeys[j as usize];
        r.started += 1;
        r.hour_mut(at).started += 1;
        if self.options.keep_paths {
            self.paths.insert(id, Vec::new());
        }
        let timeout = at.saturating_add(journey.timeout_ms);
        self.push_timer(timeout, TimerKind::Timeout(id));
        self.resume(id, None);
        true
    }

    /// Answers a call an instance waits on (or the delivery of a message whose instance ended
    /// while it was in flight).
    pub fn complete_call(&mut self, id: InstanceId, outcome: CallOutcome) {
        if let Some((journey, node)) = self.detached.remove(&id) {
            return self.detached_done(id, journey, node, outcome);
        }
        // The instance goes on: its profile, if a fan-out has not reached it yet, starts first.
        if self.fanning_out() {
            if let Some(profile) = self.instances.get(&id).map(|i| i.profile.clone()) {
                self.reach(&profile);
            }
        }
        let image = self.image.clone();
        let Some(inst) = self.instances.get_mut(&id) else { return };
        if let Waiting::Send { index } = inst.waiting {
            self.pending.remove(&id);
            let Some(mut inst) = self.instances.remove(&id) else { return };
            let (delivered, error) = match outcome {
                CallOutcome::Ok(_) => (true, None),
                CallOutcome::Timeout(why) => (false, Some(format!("timed out: {why}"))),
                CallOutcome::Error(why) => (false, Some(why)),
            };
            if !delivered {
                let target = image.program.http[image.program.channels
                    [image.program.journeys[inst.journey as usize].sends[index as usize].channel as usize]
                    .deliver as usize]
                    .name
                    .clone();
                *self.report.call_errors.entry(target).or_default() += 1;
            }
            let next = self.send_done(&mut inst, index, delivered);
            self.instances.insert(id, inst);
            return match next {
                Some(pc) => self.resume(id, Some(pc)),
                None => self.finish(id, Outcome::Error, error),
            };
        }
        let Waiting::Call { index } = inst.waiting else { return };
        self.pending.remove(&id);
        let journey = &image.program.journeys[inst.journey as usize];
        let call = &journey.calls[index as usize];
        let target = image.program.http[call.http as usize].name.clone();
        let handler = match outcome {
            CallOutcome::Ok(_) => 0,
            CallOutcome::Timeout(_) => 1,
            CallOutcome::Error(_) => 2,
        };
        let (target_pc, error) = match outcome {
            CallOutcome::Ok(v) => {
                if let Some(s) = call.slot {
                    inst.locals_mut()[s as usize] = v;
                }
                (Some(call.next), None)
            }
            CallOutcome::Timeout(why) => {
                *self.report.call_errors.entry(target).or_default() += 1;
                if let Some(s) = call.slot {
                    inst.locals_mut()[s as usize] = Value::Null;
                }
                (call.on_timeout.or(call.on_error), Some(format!("timed out: {why}")))
            }
            CallOutcome::Error(why) => {
                *self.report.call_errors.entry(target).or_default() += 1;
                if let Some(s) = call.slot {
                    inst.locals_mut()[s as usize] = Value::Null;
                }
                (call.on_error, Some(why))
            }
        };
        self.take_branch(id, handler);
        match target_pc {
            Some(pc) => self.resume(id, Some(pc)),
            None => self.finish(id, Outcome::Error, error),
        }
    }

    /// Runs an instance from its pc (or `at`) until it suspends or ends.
    fn resume(&mut self, id: InstanceId, at: Option<u32>) {
        let image = self.image.clone();
        let Some(mut inst) = self.instances.remove(&id) else { return };
        if let Some(pc) = at {
            inst.pc = pc;
        }
        inst.waiting = Waiting::Running;
        let j = inst.journey as usize;
        let journey = &image.program.journeys[j];
        let mut budget = DEFAULT_BUDGET;
        // Read again after anything that may change it (an update, a jump that runs another
        // journey).
        let mut profile = self.profiles.get(&inst.profile).cloned().unwrap_or(Value::Null);
        // The profile's time zone, when the journey computes one (read again after an update).
        let mut tz = self.zone_of(&mut inst);
        loop {
            let stop = {
                let audiences = &self.audiences;
                let key = inst.profile.clone();
                let member = move |a: &str| audiences.get(a).is_some_and(|m| m.contains(&key));
                let ctx = EvalContext::new(clock::ts(self.now_ms), tz.clone())
                    .with_seed(instance_seed(self.options.seed, &inst).wrapping_mul(0x9E37_79B9) ^ u64::from(inst.pc))
                    .with_audiences(&member);
                let secrets = &self.secrets;
                let mut pc = inst.pc;
                let (locals, event_paths) = inst.frame_values();
                let mut frame = Frame {
                    locals,
                    event_paths,
                    event: &Value::Null,
                    profile: &profile,
                    ctx: &ctx,
                    secret: &|n| secrets(n),
                };
                let stop = machine::run(&image, &journey.code, &mut pc, &mut frame, &mut self.stack, &mut budget);
                inst.pc = pc;
                stop
            };
            match stop {
                Stop::Node(n) => self.enter_node(&mut inst, n),
                Stop::Wait(d) => {
                    let ms = match d {
                        Value::Duration(ms) => ms,
                        _ => 0,
                    };
                    if ms > 0 {
                        return self.suspend(inst, Waiting::Timer { due: self.now_ms.saturating_add(ms) });
                    }
                }
                Stop::WaitUntil(v) => {
                    if let Some(due) = clock::until(&v, self.now_ms, &tz) {
                        if due > self.now_ms {
                            return self.suspend(inst, Waiting::Timer { due });
                        }
                    }
                }
                Stop::Await(i) => {
                    let a = &journey.awaits[i as usize];
                    let due = match a.after {
                        Some((d, _)) => match self.eval_in(&mut inst, journey, d) {
                            Value::Duration(ms) => Some(self.now_ms.saturating_add(ms.max(0))),
                            _ => Some(self.now_ms),
                        },
                        None => None,
                    };
                    return self.suspend(inst, Waiting::Await { index: i, due });
                }
                Stop::Call(i) => {
                    let call = &journey.calls[i as usize];
                    let given = call.given.iter().filter(|g| **g).count();
                    let at = self.stack.len().saturating_sub(given);
                    let mut values = self.stack.split_off(at).into_iter();
                    let args: Vec<Value> = call
                        .given
                        .iter()
                        .map(|g| if *g { values.next().unwrap_or_default() } else { Value::Null })
                        .collect();
                    let http = &image.program.http[call.http as usize];
                    count(&mut self.report.calls, &http.name);
                    let req = CallRequest {
                        instance: inst.id,
                        journey: journey.name.clone(),
                        profile: inst.profile.clone(),
                        http: call.http,
                        target: http.name.clone(),
                        args,
                        idempotency_key: format!("{}-{}-{}", inst.id, inst.node, inst.pc),
                        at_ms: self.now_ms,
                        node: inst.node,
                    };
                    if self.options.keep_paths {
                        self.call_log.push(req.clone());
                    }
                    self.pending.insert(inst.id, req.clone());
                    self.calls_out.push(req);
                    return self.suspend(inst, Waiting::Call { index: i });
                }
                Stop::Split(i) => {
                    let s = &journey.splits[i as usize];
                    let bucket = split_bucket(&inst.profile, &journey.name, s.node);
                    let target = s.branches.iter().find(|(upper, _, _)| bucket < *upper).or(s.branches.last());
                    if let Some((_, _, t)) = target {
                        inst.pc = *t;
                    }
                    let k = target.map_or(0, |t| s.branches.iter().position(|b| std::ptr::eq(b, t)).unwrap_or(0));
                    let now = self.now_ms;
                    self.report.journeys[j].count_node(now, inst.node, |c| c.take_arm(k));
                    self.taken = Some((inst.id, k as u32));
                    // An experiment's arm counts towards the goals the instance converts on.
                    if !journey.goals.is_empty() && s.branches.iter().all(|b| b.1.is_some()) {
                        let node = s.node;
                        self.watch_arm(&inst, node, k);
                    }
                }
                Stop::Cap(i) => {
                    let c = &journey.caps[i as usize];
                    let key = (inst.journey, c.node);
                    let count = self.caps.entry(key).or_default();
                    // With shared counters this engine's own count is its share, kept so that
                    // the shares of restored engines add up to the total again.
                    let taken = match &self.options.shared_caps {
                        Some(shared) => shared.take(key, c.limit, inst.id),
                        None => *count < c.limit,
                    };
                    if taken {
                        *count += 1;
                        self.changes.caps = true;
                    } else {
                        inst.pc = c.otherwise;
                    }
                }
                Stop::Update(i) => {
                    let paths = &journey.updates[i as usize];
                    let at = self.stack.len().saturating_sub(paths.len());
                    let values = self.stack.split_off(at);
                    let mut p = std::mem::take(&mut profile);
                    for (path, v) in paths.iter().zip(values) {
                        p = set_path(&p, path, v);
                    }
                    if self.track_changes {
                        self.changes.profiles.insert(inst.profile.clone());
                    }
                    profile = p.clone();
                    self.profiles.insert(inst.profile.clone(), p);
                    if journey.timezone_expr.is_some() {
                        tz = self.zone_of(&mut inst);
                    }
                }
                Stop::Send(i) => {
                    let at = self.stack.len().saturating_sub(4);
                    let mut v = self.stack.split_off(at).into_iter();
                    let mut next = || v.next().unwrap_or_default();
                    let values = [next(), next(), next(), next()];
                    match self.send(inst, journey, i, values, &tz) {
                        Some(back) => inst = back,
                        None => return,
                    }
                }
                Stop::JumpJourney(n) => {
                    let name = image.name(n).clone();
                    if let Some(t) = image.program.journeys.iter().position(|x| x.name == name.as_str()) {
                        // The target sees this journey's entry event when both start on the same
                        // event; it is re-read from the kept event paths only as far as they go.
                        let same_start = matches!((&journey.start, &image.program.journeys[t].start), (Start::Event(a), Start::Event(b)) if a == b);
                        let payload = same_start.then(|| event_record(journey, inst.event()));
                        let key = inst.profile.clone();
                        // Its origin names the jumping instance and node, so that two jumps into
                        // one journey in one millisecond (from two journeys one event started)
                        // give its messages ids of their own; an instance without an origin
                        // (stored before they were kept) jumps as it did then.
                        let origin = match inst.origin {
                            0 => self.event_origin,
                            o => jump_origin(o, inst.journey, inst.node),
                        };
                        let saved = std::mem::replace(&mut self.event_origin, origin);
                        self.instances.insert(id, inst);
                        self.enter(t as u16, &key, payload.as_ref());
                        self.event_origin = saved;
                        let Some(back) = self.instances.remove(&id) else { return };
                        inst = back;
                        profile = self.profiles.get(&inst.profile).cloned().unwrap_or(Value::Null);
                    }
                }
                Stop::End(label) => {
                    self.instances.insert(id, inst);
                    let outcome = match label {
                        Some(l) => Outcome::Labelled(image.name(l).to_string()),
                        None => Outcome::Ended,
                    };
                    return self.finish(id, outcome, None);
                }
                Stop::Budget => {
                    self.instances.insert(id, inst);
                    return self.finish(id, Outcome::Error, Some("instruction budget exceeded".into()));
                }
                Stop::Ret(_) => {
                    self.instances.insert(id, inst);
                    return self.finish(id, Outcome::Ended, None);
                }
            }
        }
    }

    fn suspend(&mut self, mut inst: Instance, waiting: Waiting) {
        inst.token = inst.token.wrapping_add(1);
        inst.waiting = waiting;
        let due = match waiting {
            Waiting::Timer { due } => Some(due),
            Waiting::Await { due, .. } => due,
            _ => None,
        };
        if let Some(due) = due {
            self.push_timer(due, TimerKind::Resume(inst.id, inst.token));
        }
        if self.track_changes {
            self.changes.instances.insert(inst.id);
        }
        self.instances.insert(inst.id, inst);
    }

    fn enter_node(&mut self, inst: &mut Instance, node: u32) {
        if inst.node != u32::MAX {
            self.leave_node(inst, NodeOutcome::Passed, None);
        }
        inst.node = node;
        inst.node_ms = self.now_ms;
        let now = self.now_ms;
        self.report.journeys[inst.journey as usize].count_node(now, node, |c| c.entered += 1);
        if let Some(p) = self.paths.get_mut(&inst.id) {
            p.push(node);
        }
    }

    fn leave_node(&mut self, inst: &Instance, outcome: NodeOutcome, error: Option<&str>) {
        let now = self.now_ms;
        self.report.journeys[inst.journey as usize].count_node(now, inst.node, |c| match outcome {
            NodeOutcome::Exited => c.exited += 1,
            NodeOutcome::Failed => c.failed += 1,
            NodeOutcome::Passed => c.passed += 1,
        });
        let taken = match self.taken {
            Some((id, arm)) if id == inst.id => {
                self.taken = None;
                Some(arm)
            }
            _ => None,
        };
        let journey = &self.image.program.journeys[inst.journey as usize];
        if let (true, Some(node)) = (self.options.step_events, journey.nodes.get(inst.node as usize)) {
            self.steps.push(StepEvent {
                time: clock::rfc3339(self.now_ms),
                journey: journey.name.clone(),
                version: inst.version,
                instance: inst.id,
                profile: inst.profile.to_string(),
                node: inst.node,
                kind: node.kind,
                outcome,
                duration_ms: self.now_ms - inst.node_ms,
                error: error.map(str::to_string),
                arm: taken.and_then(|k| {
                    report::branch_names(journey, inst.node).and_then(|(_, names)| names.into_iter().nth(k as usize))
                }),
                send: None,
                message: None,
            });
        }
        // A send's outcome goes on the step event that leaves its node.
        if let Some((outcome, id)) = self.send_outcomes.remove(&inst.id) {
            if let Some(step) = self.steps.last_mut().filter(|s| s.instance == inst.id && s.node == inst.node) {
                step.send = Some(outcome);
                step.message = Some(id);
            }
        }
    }

    /// Counts branch `arm` of the node instance `id` is at (an await's arm or timeout, a call's
    /// outcome), and keeps it for the instance's step event there.
    fn take_branch(&mut self, id: InstanceId, arm: u32) {
        let Some(inst) = self.instances.get(&id) else { return };
        let (j, node, now) = (inst.journey as usize, inst.node, self.now_ms);
        self.report.journeys[j].count_node(now, node, |c| c.take_arm(arm as usize));
        self.taken = Some((id, arm));
    }

    /// Ends an instance.
    fn finish(&mut self, id: InstanceId, outcome: Outcome, error: Option<String>) {
        let Some(inst) = self.instances.remove(&id) else { return };
        if self.track_changes {
            self.changes.instances.insert(id);
        }
        match inst.waiting {
            // The message was handed to its deliver call: the provider may have it, so its
            // outcome is still what the answer says (it counts meanwhile, as one being sent).
            Waiting::Send { index } if self.pending.contains_key(&id) => {
                let node = self.image.program.journeys[inst.journey as usize].sends.get(index as usize).map(|s| s.node);
                self.detached.insert(id, (inst.journey, node));
            }
            _ => {
                self.pending.remove(&id);
            }
        }
        self.msgs.live.remove(&id);
        self.msgs.queued.remove(&id);
        let left = match outcome {
            Outcome::Exited | Outcome::TimedOut | Outcome::Stopped => NodeOutcome::Exited,
            Outcome::Error => NodeOutcome::Failed,
            Outcome::Ended | Outcome::Labelled(_) => NodeOutcome::Passed,
        };
        if inst.node != u32::MAX {
            self.leave_node(&inst, left, error.as_deref());
            let code = &self.image.program.journeys[inst.journey as usize];
            let at_end = !code.goals.is_empty()
                && code.nodes.get(inst.node as usize).is_some_and(|n| n.kind == journey_bytecode::NodeKind::End);
            if at_end && matches!(outcome, Outcome::Ended | Outcome::Labelled(_)) {
                self.watch_end(&inst, inst.node);
            }
        }
        let r = &mut self.report.journeys[inst.journey as usize];
        count(&mut r.ended, outcome.label().unwrap_or_default());
        let hour = r.hour_mut(self.now_ms);
        count(&mut hour.ended, outcome.label().unwrap_or_default());
        match outcome {
            Outcome::Error => {
                r.errors += 1;
                r.hour_mut(self.now_ms).errors += 1;
            }
            Outcome::TimedOut => {
                r.timeouts += 1;
                r.hour_mut(self.now_ms).timeouts += 1;
            }
            Outcome::Ended | Outcome::Labelled(_) | Outcome::Exited | Outcome::Stopped => {}
        }
        self.slots.set_active(&inst.profile, inst.journey, None);
        if self.options.keep_paths {
            let path = self.paths.remove(&id).unwrap_or_default();
            self.finished.push(Finished {
                id,
                journey: inst.journey,
                profile: inst.profile,
                ended: Ended { outcome, error },
                path,
                at_ms: self.now_ms,
            });
        }
    }

    /// Stops every instance of a journey (label `stopped`), and marks it stopped.
    pub fn stop_journey(&mut self, j: u16) {
        if let Some(s) = self.stopped.get_mut(j as usize) {
            *s = true;
        }
        let mut ids: Vec<InstanceId> = self.instances.values().filter(|i| i.journey == j).map(|i| i.id).collect();
        ids.sort_unstable();
        for id in ids {
            self.finish(id, Outcome::Stopped, None);
        }
    }

    /// Counts an event refused before it could be delivered (its payload does not fit its
    /// schema), under `reason`, as the engine counts the events it rejects itself.
    pub fn count_rejected(&mut self, reason: String) {
        *self.report.rejected.entry(reason).or_default() += 1;
    }

    /// The report with the current running counts.
    pub fn report(&mut self) -> &Report {
        for (j, r) in self.report.journeys.iter_mut().enumerate() {
            r.running = self.instances.live_in(j as u16);
        }
        &self.report
    }

    /// The node path of a live instance (with `keep_paths`).
    pub fn path_of(&self, id: InstanceId) -> Option<&[u32]> {
        self.paths.get(&id).map(Vec::as_slice)
    }

    /// Ends by label so far, per journey name (for summaries).
    pub fn ends(&self) -> BTreeMap<String, BTreeMap<String, u64>> {
        self.report.journeys.iter().map(|r| (r.journey.clone(), r.ended.clone())).collect()
    }
}

/// Adds one to a counter by name (allocating the name only the first time).
fn count(counts: &mut BTreeMap<String, u64>, name: &str) {
    match counts.get_mut(name) {
        Some(c) => *c += 1,
        None => {
            counts.insert(name.to_string(), 1);
        }
    }
}

/// A stable bucket in [0, 100) from profile, journey and node (FNV-1a), so a profile always
/// takes the same branch of a split.
pub fn split_bucket(profile: &str, journey: &str, node: u32) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in profile.bytes().chain([0]).chain(journey.bytes()).chain([0]).chain(node.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % 10_000) as f64 / 100.0
}

/// The item number of an event-path element `[n]` (a constant list index).
pub(crate) fn list_index(element: &str) -> Option<usize> {
    let digits = element.strip_prefix('[')?.strip_suffix(']')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The value at an event path: field names, and `[n]` for item `n` of a list.
fn at_path(payload: &Value, path: &[String]) -> Value {
    let mut v = payload;
    for f in path {
        v = match (v, list_index(f)) {
            (Value::List(items), Some(i)) => items.get(i).unwrap_or(&crate::value::NULL),
            _ => v.field_ref(f),
        };
    }
    v.clone()
}

/// The origin of an instance that a `jump` at `node` of `journey` starts, from the jumping
/// instance's origin: never 0, the same on a replay.
fn jump_origin(origin: u32, journey: u16, node: u32) -> u32 {
    let h = [u64::from(origin), u64::from(journey), u64::from(node)]
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, v| (h ^ v).wrapping_mul(0x0100_0000_01b3));
    ((h ^ (h >> 32)) as u32).max(1)
}

/// Rebuilds a record from kept event paths (for a journey started by `jump`).
fn event_record(journey: &JourneyCode, values: &[Value]) -> Value {
    let mut out = Value::Record(Arc::new(Record::new()));
    for (path, v) in journey.event_paths.iter().zip(values) {
        if path.is_empty() {
            return v.clone();
        }
        out = set_event_path(&out, path, v.clone());
    }
    out
}

/// [`set_path`] for event paths: a `[n]` element makes a list with `v`'s branch at item `n`
/// (nulls before it; an index past 1,024 is not rebuilt).
fn set_event_path(base: &Value, path: &[String], v: Value) -> Value {
    let Some((first, rest)) = path.split_first() else { return v };
    match list_index(first) {
        Some(i) if i < 1024 => {
            let mut items = base.as_list().map(<[Value]>::to_vec).unwrap_or_default();
            if items.len() <= i {
                items.resize(i + 1, Value::Null);
            }
            items[i] = set_event_path(&items[i], rest, v);
            Value::list(items)
        }
        Some(_) => base.clone(),
        None => {
            let mut r = base.as_record().cloned().unwrap_or_default();
            let inner = r.get(first).cloned().unwrap_or(Value::Null);
            r.insert(first.as_str(), set_event_path(&inner, rest, v));
            Value::Record(Arc::new(r))
        }
    }
}

/// The record with `path` set to `v`, creating records on the way.
pub fn set_path(base: &Value, path: &[String], v: Value) -> Value {
    let Some((first, rest)) = path.split_first() else { return v };
    let mut r = base.as_record().cloned().unwrap_or_default();
    let inner = r.get(first).cloned().unwrap_or(Value::Null);
    r.insert(first.as_str(), set_path(&inner, rest, v));
    Value::Record(Arc::new(r))
}
