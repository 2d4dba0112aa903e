//! Messages: the checks of a `send` (address, consent, frequency, quiet hours), the deliver
//! call, the message log, the per-profile frequency state and reactions.
//!
//! A queued send is an ordinary timer wait: the instance waits (`Waiting::Timer`) until its
//! quiet window ends, then runs the send's statement again from `retry`, checks included. The
//! state that must outlive a restart is the messages frequency rules count ([`Frequency`],
//! rebuilt by a durable runtime from its message log), and each live instance's messages
//! ([`InstanceMessages`]); a durable runtime takes each message's decisions as
//! [`MessageChange`]s with the engine's other changes.

use super::instance::{Instance, InstanceId, Waiting};
use super::report::SendCounts;
use super::{clock, CallOutcome, CallRequest, Engine};
use crate::value::{Record, Value};
use arcstr::ArcStr;
use journey_bytecode::{JourneyCode, SendCode};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The reasons a message is suppressed, in the order the checks run.
pub const REASONS: [&str; 4] = ["no-address", "no-consent", "frequency", "quiet-hours"];

/// A marketing message counted by frequency rules (sent, or being delivered).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Counted {
    /// When it went out (epoch ms).
    pub at_ms: i64,
    /// Its channel, by name (the engines of several versions share these, and their programs
    /// may number the channels differently).
    pub channel: ArcStr,
    /// Its message id (to take it back out when delivery fails).
    pub id: ArcStr,
}

/// A message a live instance sent, for its reactions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveMessage {
    /// Its id.
    pub id: ArcStr,
    /// The send node.
    pub node: u32,
    /// Whether an open was counted.
    pub opened: bool,
    /// Whether a click was counted.
    pub clicked: bool,
}

/// The state that is part of the engine's durable state: live instances' messages and the
/// profiles' goal watches.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MessageState {
    /// Per profile: its marketing messages within the longest frequency window. Restoring adds
    /// them to the engine's [`Frequency`]; [`Engine::message_state`] lists them.
    pub recent: HashMap<ArcStr, Vec<Counted>>,
    /// Per live instance: the messages it sent (reactions count while it runs).
    pub live: HashMap<InstanceId, Vec<LiveMessage>>,
    /// Per profile: the goal watches of its entries into journeys with goals (they outlive
    /// the instances, for the conversions that come after an instance ended).
    #[serde(default)]
    pub goals: HashMap<ArcStr, Vec<super::goals::GoalWatch>>,
    /// Per live instance waiting in a `queue` quiet window: the send node it waits at (its
    /// message counts as queued once, however often it waits).
    #[serde(default)]
    pub queued: HashMap<InstanceId, u32>,
}

/// A business event's fan-out in progress: the members of this engine's share still to start.
#[derive(Debug)]
pub(crate) struct Fanout {
    journey: u16,
    payload: Value,
    /// The event's time: every member enters at it, however many slices later.
    at_ms: i64,
    /// The event's origin (see [`Engine::set_event_origin`]): every member's too.
    origin: u32,
    /// The last member started: the cursor a checkpoint keeps.
    last: Option<ArcStr>,
    /// The members still to start, in key order.
    members: VecDeque<ArcStr>,
    /// Members after `last` already started ahead of their turn (see [`Engine::reach`]): the
    /// cursor skips them. Dropped as the cursor passes them, so it stays as small as the
    /// members reached early.
    early: BTreeSet<ArcStr>,
}

impl Fanout {
    /// Whether `key` is among the members still to start (and not started early).
    fn pending(&self, key: &str) -> bool {
        match (self.members.front(), self.members.back()) {
            (Some(first), Some(last)) if first.as_str() <= key && key <= last.as_str() => {
                !self.early.contains(key) && self.members.binary_search_by(|m| m.as_str().cmp(key)).is_ok()
            }
            _ => false,
        }
    }
}

/// A fan-out in progress as a checkpoint keeps it: of the members of the business event's
/// audience that share `share.0` of `share.1` runs (see [`super::shard_of`]), those after
/// `after` in key order (all without it), except those in `early`, are still to start; the
/// members of the audience are those stored with it (a change to an audience waits until the
/// fan-outs in progress have finished).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FanoutCursor {
    /// The journey (its index in the program).
    pub journey: u16,
    /// The event's payload, as the program reads it.
    pub payload: Value,
    /// The event's time.
    pub at_ms: i64,
    /// The event's origin (0 in a cursor stored before it was kept).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub origin: u32,
    /// The share of the engine that stored it: (index, count).
    pub share: (u32, u32),
    /// The last member started.
    pub after: Option<String>,
    /// Members after `after` started ahead of their turn (something reached them first): not
    /// started again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub early: Vec<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One live instance's share of [`MessageState`], as a durable runtime stores it beside the
/// instance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceMessages {
    /// The messages it sent.
    pub live: Vec<LiveMessage>,
    /// The send node it waits at in a `queue` quiet window.
    pub queued: Option<u32>,
}

/// A change to the message log, for a durable runtime (taken with the engine's other changes).
#[derive(Debug, Clone, PartialEq)]
pub enum MessageChange {
    /// A message decided: queued, suppressed, or being delivered (`sending`); the whole record.
    Record(MessageRecord),
    /// A message's delivery answered: `sent` or `failed`.
    Outcome {
        /// The message.
        id: ArcStr,
        /// `sent` or `failed`.
        outcome: &'static str,
    },
    /// A message's first open (`opened`) or first click (not `opened`).
    Reaction {
        /// The message.
        id: ArcStr,
        /// An open (true) or a click.
        opened: bool,
    },
}

/// The most messages one prune drops (a clock tick, a send's check): bounded work per tick.
pub const PRUNE_SLICE: usize = 8_192;

/// Hashing of profile keys (keyed per process: keys come from outside).
type KeyHash = foldhash::fast::RandomState;

/// The messages frequency rules count: per profile, its marketing messages sent (or being
/// delivered) within the longest window of the engines that share it. The engines of one share
/// of the profiles share one (a rule counts across every version of the project).
///
/// Memory follows the messages inside the longest window, not the profiles ever messaged: what
/// leaves it is dropped, oldest first, as the clock moves ([`Frequency::prune`]).
#[derive(Debug, Default)]
pub struct Frequency {
    by_profile: HashMap<ArcStr, Vec<Counted>, KeyHash>,
    /// (when counted, profile), oldest first: what leaves the windows is found at the front.
    order: VecDeque<(i64, ArcStr)>,
    /// The longest window of the engines that share it (ms); 0 counts nothing.
    horizon_ms: i64,
    /// Messages a durable runtime found decided to go (written before their delivery) when it
    /// restarted: a replay that reaches their send sends them again under their id, whatever
    /// the checks say then (the provider may have them already). Few: those in flight at a crash.
    decided: HashSet<ArcStr>,
}

/// A [`Frequency`] shared by engines.
pub type SharedFrequency = Arc<Mutex<Frequency>>;

impl Frequency {
    /// Empty, keeping messages for `horizon_ms`.
    pub fn new(horizon_ms: i64) -> Frequency {
        Frequency { horizon_ms: horizon_ms.max(0), ..Default::default() }
    }

    /// Keeps messages for `window_ms` at least (an engine with a longer rule shares it).
    pub fn widen(&mut self, window_ms: i64) {
        self.horizon_ms = self.horizon_ms.max(window_ms);
    }

    /// How long messages are kept (ms): the longest window.
    pub fn horizon_ms(&self) -> i64 {
        self.horizon_ms
    }

    /// Counts a message of `profile` again after a restart, unless it is counted already (read
    /// twice from a message log).
    pub fn restore(&mut self, profile: &ArcStr, counted: Counted) {
        if !self.of(profile).iter().any(|m| m.id == counted.id) {
            self.add(profile, counted);
        }
    }

    /// Counts a message of `profile`.
    pub fn add(&mut self, profile: &ArcStr, counted: Counted) {
        let list = self.by_profile.entry(profile.clone()).or_default();
        let at = counted.at_ms;
        list.push(counted);
        // In time order; a message counted out of order (restored, or by an engine whose clock is
        // a little behind) is put in its place.
        let i = if self.order.back().is_none_or(|(t, _)| *t <= at) {
            self.order.len()
        } else {
            self.order.partition_point(|(t, _)| *t <= at)
        };
        self.order.insert(i, (at, profile.clone()));
    }

    /// Marks a counted message as decided to go before a restart (see [`Frequency::take_decided`]).
    pub fn mark_decided(&mut self, id: &str) {
        self.decided.insert(ArcStr::from(id));
    }

    /// Whether message `id` was decided to go before a restart (once: the mark is taken).
    pub fn take_decided(&mut self, id: &str) -> bool {
        !self.decided.is_empty() && self.decided.remove(id)
    }

    /// Takes a message back out (its delivery failed: it was not sent).
    pub fn remove(&mut self, profile: &str, id: &str) {
        if let Some(list) = self.by_profile.get_mut(profile) {
            list.retain(|m| m.id.as_str() != id);
            if list.is_empty() {
                self.by_profile.remove(profile);
                self.give_back();
            }
        }
    }

    /// Drops the messages that left every window at `now_ms` (those counted at or before
    /// `now_ms - horizon`); a profile with none left costs nothing.
    pub fn prune(&mut self, now_ms: i64) {
        while self.prune_some(now_ms, PRUNE_SLICE) == PRUNE_SLICE {}
    }

    /// As [`Frequency::prune`], dropping at most `max` messages; returns how many it dropped.
    /// What leaves the windows at once (a million messages sent in the same second) leaves
    /// over the following ticks, a slice at a time; the rules count by time meanwhile, so a
    /// message past its window that is still kept counts for nothing.
    pub fn prune_some(&mut self, now_ms: i64, max: usize) -> usize {
        let cutoff = now_ms.saturating_sub(self.horizon_ms);
        let mut dropped = 0;
        while dropped < max && self.order.front().is_some_and(|(t, _)| *t <= cutoff) {
            let Some((_, profile)) = self.order.pop_front() else { break };
            dropped += 1;
            if let Some(list) = self.by_profile.get_mut(&profile) {
                list.retain(|m| m.at_ms > cutoff);
                if list.is_empty() {
                    self.by_profile.remove(&profile);
                }
            }
        }
        if dropped > 0 {
            self.give_back();
        }
        dropped
    }

    /// Gives back the memory of a table that emptied: a map or queue keeps its size when its
    /// entries leave, so without this the profiles messaged once went on costing their
    /// table's slots (86 bytes a profile) long after their messages left the windows. Shrunk
    /// to twice what is left when a quarter or less of it is used: the rehash is paid for by
    /// the removals since the last resize, as growing is by the insertions.
    fn give_back(&mut self) {
        const SMALL: usize = 64;
        let (len, cap) = (self.by_profile.len(), self.by_profile.capacity());
        if cap > SMALL && len <= cap / 4 {
            self.by_profile.shrink_to(len * 2);
        }
        let (len, cap) = (self.order.len(), self.order.capacity());
        if cap > SMALL && len <= cap / 4 {
            self.order.shrink_to(len * 2);
        }
    }

    /// A profile's counted messages, oldest first.
    pub fn of(&self, profile: &str) -> &[Counted] {
        self.by_profile.get(profile).map(Vec::as_slice).unwrap_or_default()
    }

    /// How many profiles have messages counted.
    pub fn profiles(&self) -> usize {
        self.by_profile.len()
    }

    /// How many messages are kept (taken back ones included until they leave the window).
    pub fn kept(&self) -> usize {
        self.order.len()
    }

    /// Every counted message, by profile.
    pub fn snapshot(&self) -> HashMap<ArcStr, Vec<Counted>> {
        self.by_profile.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

/// Locks a shared [`Frequency`] (a panic elsewhere leaves it usable: each change is whole).
pub fn lock(f: &SharedFrequency) -> MutexGuard<'_, Frequency> {
    f.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One message, as `journey test` and `journey run` list them (with `keep_paths`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageRecord {
    /// Its id (the deliver call's idempotency key).
    pub id: String,
    /// The instance that sent it.
    #[serde(skip)]
    pub instance: InstanceId,
    /// The profile.
    pub profile: String,
    /// The journey.
    pub journey: String,
    /// The send node.
    pub node: u32,
    /// The channel.
    pub channel: String,
    /// The template.
    pub template: String,
    /// The address (null when there was none).
    pub to: Option<String>,
    /// `marketing` or `transactional`.
    pub category: &'static str,
    /// `sent`, `queued`, `suppressed:REASON`, `failed`, or `sending` while delivered.
    pub outcome: String,
    /// When (epoch ms).
    pub at_ms: i64,
}

/// What the checks decided.
enum Check {
    Pass,
    Suppressed(&'static str),
    Queue(i64),
}

/// The message id of an instance's send node: unique and stable. It is made from what the
/// instance is (profile, journey, entry time, the entry's origin) and the node, not from the
/// instance's number, so a replay, a restart or another split of the profiles between engines
/// gives the same id. The origin (see [`Engine::set_event_origin`]) tells apart two
/// entries of one profile into one journey dated the same millisecond; an instance without one
/// (origin 0: stored before it was kept) keeps the id it had then.
pub fn message_id(inst: &Instance, journey: &str, node: u32) -> String {
    use std::io::Write;
    // FNV-1a of `profile \0 journey \0 entered_ms [\0 origin] \0 node`, hashed piece by piece (every send
    // and every delivery computes it, so without building that text first).
    let fnv = |h: u64, bytes: &[u8]| bytes.iter().fold(h, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3));
    let mut h = fnv(0xcbf2_9ce4_8422_2325, inst.profile.as_bytes());
    h = fnv(h, b"\0");
    h = fnv(h, journey.as_bytes());
    let mut tail = [0u8; 48];
    let room = {
        let mut w = &mut tail[..];
        // At most 1 + 20 + 1 + 10 + 1 + 10 bytes: always fits.
        let _ = match inst.origin {
            0 => write!(w, "\0{}\0{node}", inst.entered_ms),
            origin => write!(w, "\0{}\0{origin}\0{node}", inst.entered_ms),
        };
        w.len()
    };
    h = fnv(h, &tail[..tail.len() - room]);
    format!("msg-{h:016x}")
}

impl Engine {
    /// The message state: the live instances' messages, and the messages frequency rules count.
    pub fn message_state(&self) -> MessageState {
        MessageState { recent: lock(&self.freq).snapshot(), ..self.msgs.clone() }
    }

    /// What a live instance's messages need kept (`None` when nothing).
    pub fn instance_messages(&self, id: InstanceId) -> Option<InstanceMessages> {
        let live = self.msgs.live.get(&id).cloned().unwrap_or_default();
        let queued = self.msgs.queued.get(&id).copied();
        (!live.is_empty() || queued.is_some()).then_some(InstanceMessages { live, queued })
    }

    /// The messages frequency rules count, shared with other engines by
    /// [`Engine::share_frequency`].
    pub fn frequency(&self) -> &SharedFrequency {
        &self.freq
    }

    /// Counts frequency rules over `shared` from now on, with the engines of other versions that
    /// share it (the messages this engine counted so far move there).
    pub fn share_frequency(&mut self, shared: &SharedFrequency) {
        if Arc::ptr_eq(&self.freq, shared) {
            return;
        }
        let mine = lock(&self.freq).snapshot();
        let mut to = lock(shared);
        to.widen(self.longest_window());
        for (profile, list) in mine {
            for m in list {
                to.add(&profile, m);
            }
        }
        drop(to);
        self.freq = shared.clone();
    }

    /// Drops the counted messages that left every window, a slice at a time (see
    /// [`Frequency::prune_some`]): each clock tick and each send's check drops some.
    pub(crate) fn prune_frequency(&mut self) {
        if !self.image.program.channels.is_empty() {
            lock(&self.freq).prune_some(self.now_ms, PRUNE_SLICE);
        }
    }

    /// Every message so far, in order (with `keep_paths`).
    pub fn message_log(&self) -> &[MessageRecord] {
        &self.message_log
    }

    /// The longest frequency window (ms), 0 without rules.
    pub(crate) fn longest_window(&self) -> i64 {
        self.image.program.frequencies.iter().map(|f| f.window_ms).max().unwrap_or(0)
    }

    /// The counts of a send node.
    fn send_counts(&mut self, journey: u16, node: u32) -> &mut SendCounts {
        self.report.journeys[journey as usize].sends.entry(node).or_default()
    }

    /// The time zone an instance reads times of day in: its journey's computed `timezone`
    /// when it names a known zone, else the journey's (the project's default, or UTC).
    pub(crate) fn zone_of(&mut self, inst: &mut Instance) -> jiff::tz::TimeZone {
        let image = self.image.clone();
        let journey = &image.program.journeys[inst.journey as usize];
        let fallback = self.tz[inst.journey as usize].clone();
        let Some(addr) = journey.timezone_expr else { return fallback.clone() };
        match self.eval_with_tz(inst, journey, addr, fallback.clone()) {
            Value::Str(name) => crate::library::date::zone(&name).unwrap_or(fallback),
            _ => fallback,
        }
    }

    fn check(
        &mut self,
        inst: &Instance,
        send: &SendCode,
        to: &Value,
        consent: &Value,
        tz: &jiff::tz::TimeZone,
    ) -> Check {
        let addressed = matches!(to, Value::Str(s) if !s.is_empty());
        if !addressed {
            return Check::Suppressed("no-address");
        }
        if send.transactional {
            return Check::Pass;
        }
        if *consent != Value::Bool(true) {
            return Check::Suppressed("no-consent");
        }
        let now = self.now_ms;
        let program = &self.image.program;
        if !program.frequencies.is_empty() {
            let mut freq = lock(&self.freq);
            freq.prune_some(now, PRUNE_SLICE);
            let list = freq.of(&inst.profile);
            let full = !list.is_empty()
                && program.frequencies.iter().any(|f| {
                    let applies = f.channel.is_none_or(|c| c == send.channel);
                    // Counted by channel name: the engines sharing the windows may number the
                    // channels differently.
                    let name = f.channel.map(|c| &program.channels[c as usize].name);
                    let n = list
                        .iter()
                        .filter(|m| {
                            name.is_none_or(|c| c.as_str() == m.channel.as_str()) && m.at_ms > now - f.window_ms
                        })
                        .count() as i64;
                    applies && n >= f.limit
                });
            if full {
                return Check::Suppressed("frequency");
            }
        }
        let channel = &self.image.program.channels[send.channel as usize];
        if let Some(q) = channel.quiet {
            let local = tz.to_datetime(clock::ts(now)).time();
            let t = i64::from(local.hour()) * 3_600_000
                + i64::from(local.minute()) * 60_000
                + i64::from(local.second()) * 1_000
                + i64::from(local.subsec_nanosecond()) / 1_000_000;
            let inside =
                if q.from_ms < q.to_ms { q.from_ms <= t && t < q.to_ms } else { t >= q.from_ms || t < q.to_ms };
            if inside {
                if !q.queue {
                    return Check::Suppressed("quiet-hours");
                }
                let secs = q.to_ms / 1_000;
                let end = jiff::civil::Time::new((secs / 3600) as i8, ((secs / 60) % 60) as i8, (secs % 60) as i8, 0)
                    .unwrap_or(jiff::civil::Time::midnight());
                let due = clock::until(&Value::Time(end), now, tz).unwrap_or(now + 60_000);
                // Never queue for no time (a window's end repeated by a clock change).
                return Check::Queue(due.max(now + 1));
            }
        }
        Check::Pass
    }

    /// Runs `send` for an instance stopped at it, with its values popped. Returns the instance
    /// when it goes on at once (its pc set), or `None` when it now waits (queued or delivering).
    pub(crate) fn send(
        &mut self,
        mut inst: Instance,
        journey: &JourneyCode,
        index: u32,
        values: [Value; 4],
        tz: &jiff::tz::TimeZone,
    ) -> Option<Instance> {
        let [template, vars, to, consent] = values;
        let send = &journey.sends[index as usize];
        let id = message_id(&inst, &journey.name, send.node);
        let image = self.image.clone();
        let channel_name = image.program.channels[send.channel as usize].name.as_str();
        let category = if send.transactional { "transactional" } else { "marketing" };
        let record = |outcome: String, now: i64| MessageRecord {
            id: id.clone(),
            instance: inst.id,
            profile: inst.profile.to_string(),
            journey: journey.name.clone(),
            node: send.node,
            channel: channel_name.to_string(),
            template: template.as_str().map(str::to_string).unwrap_or_default(),
            to: to.as_str().map(str::to_string),
            category,
            outcome,
            at_ms: now,
        };
        // A message decided to go before a crash goes again, under the same id.
        let decided = lock(&self.freq).take_decided(&id);
        let check = if decided { Check::Pass } else { self.check(&inst, send, &to, &consent, tz) };
        match check {
            Check::Queue(due) => {
                // Waiting again at the same send (a window's end moved by a clock or time zone
                // change) is the same message: counted and logged as queued once.
                let again = self.msgs.queued.insert(inst.id, send.node) == Some(send.node);
                if !again {
                    self.send_counts(inst.journey, send.node).queued += 1;
                    if self.options.keep_paths || self.track_changes {
                        let r = record("queued".into(), self.now_ms);
                        self.log_message(r);
                    }
                }
                self.send_step(&inst, "queued", &id);
                inst.pc = send.retry;
                self.suspend(inst, Waiting::Timer { due });
                None
            }
            Check::Suppressed(reason) => {
                self.msgs.queued.remove(&inst.id);
                *self.send_counts(inst.journey, send.node).suppressed.entry(reason.to_string()).or_default() += 1;
                let outcome = format!("suppressed:{reason}");
                if self.options.keep_paths || self.track_changes {
                    let r = record(outcome.clone(), self.now_ms);
                    self.log_message(r);
                }
                if self.options.step_events {
                    self.send_outcomes.insert(inst.id, (outcome, id));
                }
                if let Some(s) = send.slot {
                    inst.locals_mut()[s as usize] = Value::Null;
                }
                match send.on_suppressed {
                    Some(pc) => {
                        if let Some(s) = send.reason_slot {
                            inst.locals_mut()[s as usize] = Value::str(reason);
                        }
                        inst.pc = pc;
                    }
                    None => inst.pc = send.next,
                }
                Some(inst)
            }
            Check::Pass => {
                self.msgs.queued.remove(&inst.id);
                let channel = &self.image.program.channels[send.channel as usize];
                let http = &self.image.program.http[channel.deliver as usize];
                let args: Vec<Value> = http
                    .params
                    .iter()
                    .map(|(p, _)| match p.as_str() {
                        "to" => to.clone(),
                        "template" => template.clone(),
                        "vars" => vars.clone(),
                        "messageId" => Value::str(id.as_str()),
                        "channel" => Value::str(channel_name),
                        "journey" => Value::str(journey.name.as_str()),
                        "category" => Value::str(category),
                        _ => Value::Null,
                    })
                    .collect();
                super::count(&mut self.report.calls, &http.name);
                let req = CallRequest {
                    instance: inst.id,
                    journey: journey.name.clone(),
                    profile: inst.profile.clone(),
                    http: channel.deliver,
                    target: http.name.clone(),
                    args,
                    idempotency_key: id.clone(),
                    at_ms: self.now_ms,
                    node: send.node,
                };
                if !send.transactional {
                    // Counted from now: a message being delivered takes its place in every
                    // window, so that no other send can pass the rule meanwhile.
                    let mut freq = lock(&self.freq);
                    if freq.horizon_ms() > 0 {
                        let counted = Counted {
                            at_ms: self.now_ms,
                            channel: ArcStr::from(channel_name),
                            id: ArcStr::from(id.as_str()),
                        };
                        // Counted once: a message decided before a restart is counted already.
                        freq.restore(&inst.profile, counted);
                    }
                }
                if self.options.keep_paths || self.track_changes {
                    let r = record("sending".into(), self.now_ms);
                    if self.track_changes {
                        self.sending.push(r.clone());
                    }
                    self.log_message(r);
                }
                if self.options.keep_paths {
                    self.call_log.push(req.clone());
                }
                self.pending.insert(inst.id, req.clone());
                self.calls_out.push(req);
                self.suspend(inst, Waiting::Send { index });
                None
            }
        }
    }

    /// A send's deliver call answered: `Ok(())` when delivered, else why it failed. Returns
    /// where the instance goes on, or `None` when it ends `error`.
    pub(crate) fn send_done(&mut self, inst: &mut Instance, index: u32, delivered: bool) -> Option<u32> {
        let image = self.image.clone();
        let journey = &image.program.journeys[inst.journey as usize];
        let send = &journey.sends[index as usize];
        let id = message_id(inst, &journey.name, send.node);
        let outcome = if delivered { "sent" } else { "failed" };
        if let Some(r) = self.message_log.iter_mut().rev().find(|r| r.id == id && r.outcome == "sending") {
            r.outcome = outcome.into();
        }
        if self.track_changes {
            self.changes.messages.push(MessageChange::Outcome { id: ArcStr::from(id.as_str()), outcome });
        }
        if self.options.step_events {
            self.send_outcomes.insert(inst.id, (outcome.into(), id.clone()));
        }
        let counts = self.send_counts(inst.journey, send.node);
        if delivered {
            counts.sent += 1;
            if let Some(s) = send.slot {
                let mut r = Record::new();
                r.insert("id", Value::str(id.as_str()));
                r.insert("sentAt", Value::datetime(clock::ts(self.now_ms), 0));
                inst.locals_mut()[s as usize] = Value::record(r);
            }
            // Kept for its reactions, so only on a channel that has some.
            let channel = &image.program.channels[send.channel as usize];
            if channel.opened.is_some() || channel.clicked.is_some() {
                self.msgs.live.entry(inst.id).or_default().push(LiveMessage {
                    id: ArcStr::from(id.as_str()),
                    node: send.node,
                    opened: false,
                    clicked: false,
                });
            }
            Some(send.next)
        } else {
            counts.failed += 1;
            // A failed message was not sent: it leaves the frequency windows.
            if !send.transactional {
                lock(&self.freq).remove(&inst.profile, &id);
            }
            if let Some(s) = send.slot {
                inst.locals_mut()[s as usize] = Value::Null;
            }
            send.on_error
        }
    }

    /// The answer to the delivery of a message whose instance ended while it was in flight
    /// (see [`Engine::complete_call`]): the message ends `sent` or `failed` as the answer says,
    /// as it would have with its instance waiting; a failed one leaves the frequency windows.
    pub(crate) fn detached_done(&mut self, id: InstanceId, journey: u16, node: Option<u32>, outcome: CallOutcome) {
        let Some(req) = self.pending.remove(&id) else { return };
        let delivered = matches!(outcome, CallOutcome::Ok(_));
        let result = if delivered { "sent" } else { "failed" };
        let msg = req.idempotency_key.as_str();
        // Restored from before a restart, its send is not decided again: its mark goes here.
        lock(&self.freq).take_decided(msg);
        if let Some(r) = self.message_log.iter_mut().rev().find(|r| r.id == msg && r.outcome == "sending") {
            r.outcome = result.into();
        }
        if self.track_changes {
            self.changes.messages.push(MessageChange::Outcome { id: ArcStr::from(msg), outcome: result });
            // Its stored call is done.
            self.changes.instances.insert(id);
        }
        if !delivered {
            *self.report.call_errors.entry(req.target.clone()).or_default() += 1;
            // Not counted when transactional: taking it out then changes nothing.
            lock(&self.freq).remove(&req.profile, msg);
        }
        if let Some(node) = node {
            let counts = self.send_counts(journey, node);
            if delivered {
                counts.sent += 1;
            } else {
                counts.failed += 1;
            }
        }
    }

    /// The deliveries in flight whose instance ended (see [`Engine::complete_call`]), taken up
    /// again from stored calls that have no instance: each with its journey and its send node
    /// (for a call stored before calls kept their node: when the journey has one send through
    /// the channel of that deliver action, that send's).
    pub(crate) fn detach_stored(&mut self, c: &CallRequest) {
        let image = self.image.clone();
        let Some(j) = image.program.journeys.iter().position(|j| j.name == c.journey) else { return };
        // Only a message's delivery is kept without its instance; any other stored call is not
        // made again.
        if !image.program.channels.iter().any(|ch| ch.deliver == c.http) {
            return;
        }
        let journey = &image.program.journeys[j];
        let mut nodes = journey
            .sends
            .iter()
            .filter(|s| image.program.channels.get(s.channel as usize).is_some_and(|ch| ch.deliver == c.http))
            .map(|s| s.node);
        let node = if c.node == CallRequest::NO_NODE {
            match (nodes.next(), nodes.next()) {
                (Some(n), None) => Some(n),
                _ => None,
            }
        } else {
            nodes.find(|&n| n == c.node)
        };
        self.pending.insert(c.instance, c.clone());
        self.calls_out.push(c.clone());
        self.detached.insert(c.instance, (j as u16, node));
    }

    /// Counts a reaction event reaching a live instance: an open or click of a message it sent
    /// (each message counted once). A reaction to a message it did not send counts nothing.
    pub(crate) fn count_reaction(&mut self, id: InstanceId, journey: u16, event: &str, payload: &Value) {
        let image = self.image.clone();
        for c in &image.program.channels {
            for (opened, r) in [(true, &c.opened), (false, &c.clicked)] {
                let Some(r) = r.as_ref().filter(|r| r.event == event) else { continue };
                let value = super::at_path(payload, &r.by);
                let Some(msg_id) = value.as_str() else { continue };
                let Some(list) = self.msgs.live.get_mut(&id) else { return };
                let Some(m) = list.iter_mut().find(|m| m.id.as_str() == msg_id) else { continue };
                let first = if opened {
                    !std::mem::replace(&mut m.opened, true)
                } else {
                    !std::mem::replace(&mut m.clicked, true)
                };
                let node = m.node;
                if first {
                    if self.track_changes {
                        // The flag is kept with the instance, and on the message in the log.
                        self.changes.instances.insert(id);
                        self.changes.messages.push(MessageChange::Reaction { id: ArcStr::from(msg_id), opened });
                    }
                    let counts = self.send_counts(journey, node);
                    if opened {
                        counts.opened += 1;
                    } else {
                        counts.clicked += 1;
                    }
                }
            }
        }
    }

    /// Keeps a message's decision: in the message log (with `keep_paths`) and in the changes
    /// for a durable runtime.
    fn log_message(&mut self, record: MessageRecord) {
        if self.track_changes {
            let change = MessageChange::Record(record.clone());
            self.changes.messages.push(change);
        }
        if self.options.keep_paths {
            self.message_log.push(record);
        }
    }

    /// A step event for a send that does not leave its node (a queued one).
    fn send_step(&mut self, inst: &Instance, outcome: &str, id: &str) {
        if !self.options.step_events {
            return;
        }
        let journey = &self.image.program.journeys[inst.journey as usize];
        if let Some(node) = journey.nodes.get(inst.node as usize) {
            self.steps.push(super::report::StepEvent {
                time: clock::rfc3339(self.now_ms),
                journey: journey.name.clone(),
                version: inst.version,
                instance: inst.id,
                profile: inst.profile.to_string(),
                node: inst.node,
                kind: node.kind,
                outcome: super::report::NodeOutcome::Passed,
                duration_ms: self.now_ms - inst.node_ms,
                error: None,
                arm: None,
                send: Some(outcome.to_string()),
                message: Some(id.to_string()),
            });
        }
    }

    /// Starts a business event's journeys: one instance per current member of each one's
    /// audience (re-entry rules apply per profile), in key order. With
    /// [`super::Options::fanout_slice`] the first slice starts here and the rest are left to
    /// [`Engine::fan_out`]; without, every member starts here.
    pub(crate) fn business(&mut self, event: &str, payload: &Value) {
        let image = self.image.clone();
        let at_ms = self.event_time();
        for (j, journey) in image.program.journeys.iter().enumerate() {
            let journey_bytecode::Start::EventForAudience { event: e, audience } = &journey.start else { continue };
            if e != event {
                continue;
            }
            let shard = self.options.shard;
            let mut members: Vec<ArcStr> = self
                .audiences
                .get(audience)
                .map(|m| m.iter().filter(|k| super::shard_of(k, shard.count) == shard.index).cloned().collect())
                .unwrap_or_default();
            if members.is_empty() {
                continue;
            }
            members.sort_unstable();
            self.fanouts.push_back(Fanout {
                journey: j as u16,
                payload: payload.clone(),
                at_ms,
                origin: self.event_origin,
                last: None,
                members: members.into(),
                early: BTreeSet::new(),
            });
        }
        self.fan_out(self.options.fanout_slice.unwrap_or(usize::MAX));
    }

    /// Starts at most `max` more members of the business events' fan-outs in progress (oldest
    /// first), each at its event's time; returns how many it started (or found already in
    /// the journey). A caller that answers calls between slices keeps a fan-out's pending
    /// instances and sends to a slice's worth, where starting every member at once kept them
    /// all pending (2.3 KB a member).
    pub fn fan_out(&mut self, max: usize) -> usize {
        let mut done = 0;
        let saved = (self.event_ms, self.event_origin);
        while done < max {
            let Some(mut f) = self.fanouts.pop_front() else { break };
            self.event_ms = Some(f.at_ms);
            self.event_origin = f.origin;
            while done < max {
                let Some(m) = f.members.pop_front() else { break };
                // One started early is passed over (it counts towards nothing: its calls were
                // made then).
                if !f.early.remove(&m) {
                    self.enter(f.journey, &m, Some(&f.payload));
                    done += 1;
                }
                f.last = Some(m);
            }
            if !f.members.is_empty() {
                self.fanouts.push_front(f);
            }
        }
        (self.event_ms, self.event_origin) = saved;
        done
    }

    /// Whether a business event's fan-out is in progress (see [`Engine::fan_out`]).
    pub fn fanning_out(&self) -> bool {
        !self.fanouts.is_empty()
    }

    /// Before anything reaches profile `key` while fan-outs are in progress (an event, a
    /// profile write, one of its timers or call answers, an audience read entering it): starts
    /// it, alone and ahead of its turn, in each fan-out that has not reached it yet (oldest
    /// first, each at its event's time), so that it sees the business events before what came
    /// after them, as if every fan-out had finished first. The fan-out's cursor skips it when
    /// it gets there. Starting only that member keeps the calls in flight at a slice's worth
    /// plus one per member reached early (starting every member up to it would not).
    pub fn reach(&mut self, key: &str) {
        if self.fanouts.is_empty() {
            return;
        }
        let saved = (self.event_ms, self.event_origin);
        for i in 0..self.fanouts.len() {
            let f = &mut self.fanouts[i];
            if !f.pending(key) {
                continue;
            }
            let Ok(at) = f.members.binary_search_by(|m| m.as_str().cmp(key)) else { continue };
            let member = f.members[at].clone();
            f.early.insert(member.clone());
            let (journey, payload, at_ms, origin) = (f.journey, f.payload.clone(), f.at_ms, f.origin);
            self.event_ms = Some(at_ms);
            self.event_origin = origin;
            self.enter(journey, &member, Some(&payload));
        }
        (self.event_ms, self.event_origin) = saved;
    }

    /// Finishes the fan-outs in progress: what comes after (here an audience change: a
    /// fan-out's members are the audience's at its event) comes after every member started,
    /// as without slices.
    pub(crate) fn finish_fan_outs(&mut self) {
        if !self.fanouts.is_empty() {
            self.fan_out(usize::MAX);
        }
    }

    /// The fan-outs in progress as a checkpoint keeps them.
    pub(crate) fn fanout_cursors(&self) -> Vec<FanoutCursor> {
        let shard = self.options.shard;
        self.fanouts
            .iter()
            .map(|f| FanoutCursor {
                journey: f.journey,
                payload: f.payload.clone(),
                at_ms: f.at_ms,
                origin: f.origin,
                share: (shard.index, shard.count.max(1)),
                after: f.last.as_ref().map(|k| k.to_string()),
                early: f.early.iter().map(|k| k.to_string()).collect(),
            })
            .collect()
    }

    /// Takes up stored fan-outs (after the audiences are restored): the members of this
    /// engine's share that each cursor had not reached yet. A cursor names the share of the
    /// engine that stored it, so the shares may be split differently now.
    pub(crate) fn resume_fan_outs(&mut self, cursors: Vec<FanoutCursor>) {
        let image = self.image.clone();
        let shard = self.options.shard;
        for c in cursors {
            let Some(journey) = image.program.journeys.get(c.journey as usize) else { continue };
            let journey_bytecode::Start::EventForAudience { audience, .. } = &journey.start else { continue };
            let early: BTreeSet<&str> = c.early.iter().map(String::as_str).collect();
            let reached = |k: &str| c.after.as_deref().is_some_and(|a| k <= a) || early.contains(k);
            let mut members: Vec<ArcStr> = self
                .audiences
                .get(audience)
                .map(|m| {
                    m.iter()
                        .filter(|k| {
                            super::shard_of(k, shard.count) == shard.index
                                && super::shard_of(k, c.share.1) == c.share.0
                                && !reached(k)
                        })
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            if members.is_empty() {
                continue;
            }
            members.sort_unstable();
            self.fanouts.push_back(Fanout {
                journey: c.journey,
                payload: c.payload,
                at_ms: c.at_ms,
                origin: c.origin,
                last: c.after.map(ArcStr::from),
                members: members.into(),
                early: BTreeSet::new(),
            });
        }
    }

    /// Whether a business event's `when` holds at `at_ms` (a filtered one is counted).
    pub fn business_when(&mut self, event: &str, payload: &Value, at_ms: i64) -> bool {
        let Some(ei) = self.event_index(event) else { return false };
        let image = self.image.clone();
        let decl = &image.program.events[ei as usize];
        let holds = decl.when.is_none_or(|w| self.event_chunk(decl, w, payload, at_ms).truthy());
        if !holds {
            self.report.filtered += 1;
        }
        holds
    }

    /// Whether some journey starts on `event` for an audience (a business event).
    pub fn is_business(&self, event: &str) -> bool {
        self.image
            .program
            .journeys
            .iter()
            .any(|j| matches!(&j.start, journey_bytecode::Start::EventForAudience { event: e, .. } if e == event))
    }
}

/// The most recent message matching a test's `expect sent`, as `as m` binds it.
pub fn bound(record: &MessageRecord) -> Value {
    let mut r = Record::new();
    r.insert("id", Value::str(record.id.as_str()));
    r.insert("sentAt", Value::datetime(clock::ts(record.at_ms), 0));
    Value::record(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn counted(at_ms: i64, id: &str) -> Counted {
        Counted { at_ms, channel: ArcStr::from("email"), id: ArcStr::from(id) }
    }

    /// Old messages leave the window in bounded memory: a profile whose messages all left the
    /// longest window is gone, however many there were, and the rest are kept whole.
    #[test]
    fn messages_that_left_the_longest_window_cost_nothing() {
        let mut f = Frequency::new(7 * DAY);
        for p in 0..1_000 {
            f.add(&ArcStr::from(format!("p{p}")), counted(0, &format!("m{p}")));
        }
        let ann = ArcStr::from("ann");
        f.add(&ann, counted(3 * DAY, "a1"));
        f.add(&ann, counted(6 * DAY, "a2"));
        assert_eq!((f.profiles(), f.kept()), (1_001, 1_002));
        // Inside the window (`now - 7d < t`): nothing goes.
        f.prune(7 * DAY - 1);
        assert_eq!((f.profiles(), f.kept()), (1_001, 1_002));
        // At 7 days the first thousand leave; ann keeps both.
        f.prune(7 * DAY);
        assert_eq!((f.profiles(), f.kept()), (1, 2));
        assert_eq!(f.of("p0"), []);
        assert_eq!(f.of("ann").len(), 2);
        f.prune(10 * DAY);
        assert_eq!(f.of("ann").iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["a2"]);
        // A year later: nothing is kept at all.
        f.prune(365 * DAY);
        assert_eq!((f.profiles(), f.kept()), (0, 0));
        assert_eq!(f.snapshot(), HashMap::new());
    }

    /// Messages counted out of order (restored, or from an engine whose clock is behind) leave
    /// in time order; one counted twice (restored twice) counts once; one taken back (failed)
    /// no longer counts.
    #[test]
    fn out_of_order_repeated_and_taken_back_messages() {
        let mut f = Frequency::new(DAY);
        let (ann, bob) = (ArcStr::from("ann"), ArcStr::from("bob"));
        f.add(&ann, counted(5_000, "late"));
        f.add(&bob, counted(1_000, "early"));
        f.restore(&bob, counted(1_000, "early"));
        assert_eq!(f.of("bob").len(), 1, "the same message restored again counts once");
        f.prune(DAY + 1_000);
        assert_eq!((f.profiles(), f.kept()), (1, 1), "bob's left though it was counted after ann's");
        f.remove("ann", "late");
        assert_eq!(f.of("ann"), []);
        assert_eq!(f.profiles(), 0, "a profile with nothing counted costs no entry");
        f.prune(DAY + 5_000);
        assert_eq!(f.kept(), 0);
    }

    /// What leaves the windows at once leaves a slice at a time, each prune bounded.
    #[test]
    fn a_prune_drops_at_most_a_slice() {
        let mut f = Frequency::new(DAY);
        for p in 0..10 {
            f.add(&ArcStr::from(format!("p{p}")), counted(0, &format!("m{p}")));
        }
        assert_eq!(f.prune_some(DAY, 4), 4);
        assert_eq!((f.profiles(), f.kept()), (6, 6));
        assert_eq!(f.prune_some(DAY, 4), 4);
        assert_eq!(f.prune_some(DAY, 4), 2);
        assert_eq!(f.prune_some(DAY, 4), 0);
        assert_eq!((f.profiles(), f.kept()), (0, 0));
    }

    /// A horizon of 0 (no rules) keeps nothing past the moment; widening keeps the longest.
    #[test]
    fn the_horizon_is_the_longest_window_of_the_engines_sharing_it() {
        let mut f = Frequency::new(DAY);
        f.widen(3 * DAY);
        f.widen(2 * DAY);
        assert_eq!(f.horizon_ms(), 3 * DAY);
        f.add(&ArcStr::from("ann"), counted(0, "m"));
        f.prune(2 * DAY);
        assert_eq!(f.kept(), 1, "kept for the longest rule");
    }
}
