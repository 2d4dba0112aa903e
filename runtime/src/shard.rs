//! One share of the profiles: every published version's engine for the profiles whose key
//! [`shard_of`] places in it. Profiles never meet (an instance belongs to one profile), so the
//! shares run in parallel, each on a thread of the worker's, while each profile's log entries
//! are applied one at a time in log order. What journeys share between profiles, `cap`
//! counters, the engines of one version share ([`SharedCaps`]).

use crate::metrics::Metrics;
use arcstr::ArcStr;
use journey_bytecode::Reentry;
use journey_vm::engine::durable::Stored;
use journey_vm::engine::instance::InstanceId;
use journey_vm::engine::{shard_of, CallOutcome, Engine, Options, Payload, Routing, Shard as Share, SharedCaps, To};
use journey_vm::machine::Image;
use journey_vm::value::Value;
use serde_json::Value as Json;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// One published version and its engine.
pub struct Version {
    /// Its number.
    pub number: u32,
    /// Its engine.
    pub engine: Engine,
}

/// A log entry made ready for the share that owns its profile.
#[derive(Clone)]
pub enum Prepared {
    /// An event already read into the values its program reads (one version), with its key.
    Routed {
        /// The event.
        name: String,
        /// The profile key.
        key: ArcStr,
        /// The payload, as the program reads it.
        payload: Value,
    },
    /// An event for several versions, as JSON, with its key if a version gave it one.
    Event {
        /// The event.
        name: String,
        /// Its payload.
        payload: Json,
        /// The profile key.
        key: Option<String>,
    },
    /// A profile written (replaced, or merged with a patch).
    Profile {
        /// The profile key.
        key: String,
        /// The attributes.
        attributes: Json,
        /// Merged (true) or replaced.
        patch: bool,
    },
    /// A business event (`start on E for audience A`), which every share applies: each
    /// starts its own members of the audience.
    Business {
        /// The event.
        name: String,
        /// Its payload.
        payload: Json,
        /// Its profile key, if it has one (that profile's instances get it as any event).
        key: Option<String>,
    },
    /// A profile enters or leaves an audience.
    Audience {
        /// The audience.
        audience: String,
        /// The profile key.
        key: String,
        /// Enters (true) or leaves.
        enters: bool,
    },
}

impl Prepared {
    /// The share that owns it, of `count`.
    pub fn share(&self, count: u32) -> usize {
        let key = match self {
            Prepared::Routed { key, .. } => key.as_str(),
            Prepared::Event { key, .. } | Prepared::Business { key, .. } => key.as_deref().unwrap_or(""),
            Prepared::Profile { key, .. } | Prepared::Audience { key, .. } => key.as_str(),
        };
        shard_of(key, count) as usize
    }
}

/// Members of a business event's audience a share starts at a time (see [`Shard::fan_out`]).
pub const FANOUT_SLICE: usize = 256;

/// The origin (see [`journey_vm::engine::Engine::set_event_origin`]) of the log entry at `seq`,
/// the same for the same entry on every replay: 0 for an entry appended before origins were
/// kept (at or before `from`, see [`crate::store::Store::origins_from`]), else never 0.
pub fn origin_of(seq: i64, from: i64) -> u32 {
    if seq <= from {
        return 0;
    }
    // Two entries get the same origin only 2^32 - 1 positions apart.
    (seq.rem_euclid(i64::from(u32::MAX)) as u32) + 1
}

/// Engine options of share `index` of `count` for one version.
pub fn options(read_rate: Option<u32>, index: usize, count: usize, caps: &Arc<SharedCaps>) -> Options {
    Options {
        step_events: true,
        // An audience read enters each share's members: the rate is split between them, the
        // shares' rates adding up to it.
        read_rate: read_rate.map(|r| share_of_rate(r, index, count)),
        shard: Share { index: index as u32, count: count as u32 },
        shared_caps: (count > 1).then(|| caps.clone()),
        fanout_slice: Some(FANOUT_SLICE),
        ..Options::default()
    }
}

/// Share `index` of `count`'s part of `rate` profiles per second: the parts add up to `rate`
/// (at least one each, the engine's least).
fn share_of_rate(rate: u32, index: usize, count: usize) -> u32 {
    let count = count.max(1) as u32;
    (rate / count + u32::from((index as u32) < rate % count)).max(1)
}

/// The engines of one stored version, one per share. With `next_ids` stored by as many shares,
/// each share goes on numbering instances where it stopped (so a replay after a crash gives
/// the instances it makes again the numbers they had); otherwise every share starts above the
/// highest stored number.
pub fn restore(
    image: &Arc<Image>,
    stored: Stored,
    read_rate: Option<u32>,
    count: usize,
    next_ids: &[u64],
) -> Vec<Engine> {
    let caps = Arc::new(SharedCaps::default());
    caps.add(&stored.small.caps);
    stored
        .split(count as u32)
        .into_iter()
        .enumerate()
        .map(|(i, mut part)| {
            if next_ids.len() == count {
                part.small.next_id = next_ids[i];
            }
            Engine::restore(image.clone(), options(read_rate, i, count, &caps), part)
        })
        .collect()
}

/// The engine of one stored version for partition `index` of `count` of a partitioned store:
/// it numbers its instances as that share does (unique across the partitions), and goes on
/// numbering where the stored state stopped.
pub fn restore_partition(
    image: &Arc<Image>,
    stored: Stored,
    read_rate: Option<u32>,
    (index, count): (u32, u32),
    caps: Option<Arc<journey_vm::engine::CapBackend>>,
) -> Engine {
    let caps = Arc::new(match caps {
        Some(backend) => SharedCaps::with_backend(backend),
        None => SharedCaps::default(),
    });
    caps.add(&stored.small.caps);
    Engine::restore(image.clone(), options(read_rate, index as usize, count as usize, &caps), stored)
}

/// One share of the profiles, with an engine per published version.
#[derive(Default)]
pub struct Shard {
    /// The versions, oldest first (the same numbers in every share).
    pub versions: Vec<Version>,
    /// The messages frequency rules count for this share's profiles, shared by its versions'
    /// engines (a rule counts across every version).
    pub frequency: journey_vm::engine::messages::SharedFrequency,
}

impl Shard {
    /// The next timer due in any version.
    pub fn next_due(&self) -> Option<i64> {
        self.versions.iter().filter_map(|v| v.engine.next_due()).min()
    }

    /// Fires the timers due at or before `to`, in order of their due time across versions,
    /// until about `budget` work (timers fired, step events made) is done; returns the work
    /// done. A slice may end inside one millisecond: a storm of timers all due at once is
    /// worked off in bounded slices too.
    pub fn fire_until(&mut self, to: i64, budget: usize) -> usize {
        /// Timers fired at a time, between looks at the budget.
        const SLICE: usize = 256;
        let mut work = 0;
        while work < budget {
            let Some(due) = self.next_due().filter(|d| *d <= to) else { break };
            for i in 0..self.versions.len() {
                if self.versions[i].engine.next_due().is_none_or(|d| d > due) {
                    continue;
                }
                // While another version fans out, one timer at a time: the profiles it reaches
                // (its instance's, or those an audience read enters) start there first if that
                // fan-out has not reached them (see `Engine::reach`).
                let others = (0..self.versions.len()).any(|k| k != i && self.versions[k].engine.fanning_out());
                // Step events made in every version count: members started in another
                // version's fan-out are work of this slice too.
                let before: usize = self.versions.iter().map(|v| v.engine.steps().len()).sum();
                let max = if others {
                    for p in self.versions[i].engine.next_timer_profiles() {
                        self.reach_except(i, &p);
                    }
                    1
                } else {
                    SLICE
                };
                let fired = self.versions[i].engine.fire_due(due, max);
                let after: usize = self.versions.iter().map(|v| v.engine.steps().len()).sum();
                work += fired + after.saturating_sub(before);
            }
        }
        work
    }

    /// Starts up to about `budget` more members of the business events' fan-outs in progress;
    /// returns the work done (members started, step events made).
    pub fn fan_out(&mut self, budget: usize) -> usize {
        let mut work = 0;
        for v in &mut self.versions {
            if work >= budget {
                break;
            }
            if v.engine.fanning_out() {
                let before = v.engine.steps().len();
                work += v.engine.fan_out(budget - work);
                work += v.engine.steps().len().saturating_sub(before);
            }
        }
        work
    }

    /// Starts profile `key` in the fan-outs of every version but `except` that have not reached
    /// it yet (see `Engine::reach`): what reaches a profile comes after the business events
    /// before it, in every version.
    fn reach_except(&mut self, except: usize, key: &str) {
        for (k, v) in self.versions.iter_mut().enumerate() {
            if k != except {
                v.engine.reach(key);
            }
        }
    }

    /// Answers a call of instance `id` of the version numbered `version` (or the delivery of its
    /// message, when it ended meanwhile), if this share runs it; returns the work done (the
    /// answer, step events made), or `None`. A live instance's profile starts first in the
    /// fan-outs of the other versions that have not reached it (the engine's own reaches it
    /// itself): the answer comes after the business events before it, in every version.
    pub fn complete_call(&mut self, version: u32, id: InstanceId, outcome: CallOutcome) -> Option<usize> {
        let i = self.call_holder(version, id)?;
        if (0..self.versions.len()).any(|k| k != i && self.versions[k].engine.fanning_out()) {
            if let Some(profile) = self.versions[i].engine.instance(id).map(|inst| inst.profile.clone()) {
                self.reach_except(i, &profile);
            }
        }
        let before: usize = self.versions.iter().map(|v| v.engine.steps().len()).sum();
        self.versions[i].engine.complete_call(id, outcome);
        let after: usize = self.versions.iter().map(|v| v.engine.steps().len()).sum();
        Some(1 + after.saturating_sub(before))
    }

    /// Which of this share's versions runs a call of instance `id` of the version numbered
    /// `version` (its instance, or the delivery it left in flight), if any.
    pub fn call_holder(&self, version: u32, id: InstanceId) -> Option<usize> {
        self.versions.iter().position(|v| {
            v.number == version && (v.engine.instance(id).is_some() || v.engine.pending_call(id).is_some())
        })
    }

    /// Whether a business event's fan-out is in progress in some version.
    pub fn fanning_out(&self) -> bool {
        self.versions.iter().any(|v| v.engine.fanning_out())
    }

    /// Calls in flight (sends being delivered included), in every version.
    pub fn calls_in_flight(&self) -> usize {
        self.versions.iter().map(|v| v.engine.calls_in_flight()).sum()
    }

    /// Moves every version's clock to `to` (nothing due before it is left).
    pub fn advance(&mut self, to: i64, inclusive: bool) {
        for v in &mut self.versions {
            v.engine.advance(to, inclusive);
        }
    }

    /// Applies one entry at `at_ms`, after the timers due before it; returns the work done.
    /// `origin` tells it apart from other entries (its log position, see [`origin_of`]): a
    /// replay must give the same.
    pub fn apply(&mut self, at_ms: i64, origin: u32, entry: Prepared, metrics: &Metrics) -> usize {
        let work = 1 + self.fire_until(at_ms - 1, usize::MAX);
        let before: usize = self.versions.iter().map(|v| v.engine.steps().len()).sum();
        self.advance(at_ms, false);
        // At the entry's own time, though the clocks may have passed it (read a moment late): as
        // a replay after a crash applies it.
        for v in &mut self.versions {
            v.engine.set_event_time(Some(at_ms));
            v.engine.set_event_origin(origin);
        }
        // A member that a fan-out in progress has not started yet starts first, in every
        // version (an engine reaches it itself only for what it delivers: an event it knows).
        match &entry {
            Prepared::Routed { key, .. } => self.reach_except(usize::MAX, key),
            Prepared::Event { key: Some(key), .. } | Prepared::Profile { key, .. } => {
                self.reach_except(usize::MAX, key)
            }
            _ => {}
        }
        match entry {
            Prepared::Routed { name, key, payload } => {
                metrics.events_applied.fetch_add(1, Relaxed);
                if let Some(v) = self.versions.first_mut() {
                    if let Err(err) = v.engine.deliver(&name, Payload::Read(&payload), To::Routed(&key)) {
                        metrics.rejected_at_apply.fetch_add(1, Relaxed);
                        tracing::warn!("event `{name}` rejected: {err}");
                    }
                }
            }
            Prepared::Event { name, payload, key } => {
                metrics.events_applied.fetch_add(1, Relaxed);
                self.send_event(&name, &payload, key.as_deref(), metrics);
            }
            Prepared::Business { name, payload, key } => self.send_business(&name, &payload, key.as_deref()),
            Prepared::Profile { key, attributes, patch } => self.write_profile(&key, &attributes, patch),
            Prepared::Audience { audience, key, enters } => {
                for i in 0..self.versions.len() {
                    self.gate(i, &key, |engine| {
                        if enters {
                            engine.audience_enter(&audience, &key)
                        } else {
                            engine.audience_exit(&audience, &key)
                        }
                    });
                }
            }
        }
        for v in &mut self.versions {
            v.engine.set_event_time(None);
            v.engine.set_event_origin(0);
        }
        self.sync_profiles();
        let after: usize = self.versions.iter().map(|v| v.engine.steps().len()).sum();
        work + after.saturating_sub(before)
    }

    /// A business event, which every share applies: in a version where it starts journeys
    /// for an audience, routed, so that only the share of its own profile (if any) delivers it
    /// there, and one share counts it; in a version where it is an ordinary event, only the
    /// share that owns the key that version reads delivers it (else each share would start
    /// that profile's journeys once).
    fn send_business(&mut self, name: &str, payload: &Json, key: Option<&str>) {
        for i in 0..self.versions.len() {
            let engine = &mut self.versions[i].engine;
            if engine.is_business(name) {
                let _ = engine.deliver(name, Payload::Json(payload), To::Routed(key.unwrap_or("")));
                continue;
            }
            if engine.event_index(name).is_none() {
                continue;
            }
            let share = engine.share();
            let at = engine.event_time();
            match engine.route(name, Payload::Json(payload), at, Routing::KeyOnly) {
                Ok(Some(k)) if shard_of(&k, share.count) == share.index => {
                    let _ = self.gate(i, &k, |e| e.deliver(name, Payload::Json(payload), To::Key));
                }
                Ok(Some(_)) => {}
                // Without a key it is rejected there: counted by the first share alone.
                _ if share.index == 0 => {
                    let _ = engine.deliver(name, Payload::Json(payload), To::Key);
                }
                _ => {}
            }
        }
    }

    fn send_event(&mut self, name: &str, payload: &Json, key: Option<&str>, metrics: &Metrics) {
        // Running instances of every version see the event; only open journeys take entries.
        for i in 0..self.versions.len() {
            let result = match key {
                Some(k) => self.gate(i, k, |engine| engine.deliver(name, Payload::Json(payload), To::Key)),
                None => self.versions[i].engine.deliver(name, Payload::Json(payload), To::Key),
            };
            if let Err(e) = result {
                if i + 1 == self.versions.len() {
                    metrics.rejected_at_apply.fetch_add(1, Relaxed);
                    tracing::warn!("event `{name}` rejected: {e}");
                }
            }
        }
    }

    /// Runs `f` on version `i`'s engine with journeys closed where the profile is in the same
    /// journey in another version, or where its re-entry rule across versions keeps it out.
    pub fn gate<T>(&mut self, i: usize, key: &str, f: impl FnOnce(&mut Engine) -> T) -> T {
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
        let now = self.versions[i].engine.event_time();
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
}

/// Runs `f` on every share at once, each on a thread of its own (the calling one for a single
/// share), and returns what each gave, in order.
pub fn each<T: Send>(shards: &mut [Shard], f: impl Fn(usize, &mut Shard) -> T + Sync) -> Vec<T> {
    each_with(shards, true, f)
}

/// As [`each`] when `parallel`; else one share after another on the calling thread. The
/// threads are started for the call: that is worth it for a large amount of work only (with
/// one event per request the engine applies a few entries at a time, and starting and joining
/// two threads for them cost more than the entries).
pub fn each_with<T: Send>(shards: &mut [Shard], parallel: bool, f: impl Fn(usize, &mut Shard) -> T + Sync) -> Vec<T> {
    if !parallel || shards.len() == 1 {
        return shards.iter_mut().enumerate().map(|(i, s)| f(i, s)).collect();
    }
    std::thread::scope(|s| {
        let f = &f;
        let handles: Vec<_> = shards.iter_mut().enumerate().map(|(i, shard)| s.spawn(move || f(i, shard))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    })
}

/// JSON merge patch (RFC 7396).
fn merge(target: &mut Json, patch: &Json) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Entries from before origins were kept have none; the rest have one, each its own.
    #[test]
    fn origins_start_after_the_threshold() {
        assert_eq!(origin_of(7, 7), 0);
        assert_eq!(origin_of(1, 7), 0);
        assert_ne!(origin_of(8, 7), 0);
        assert_ne!(origin_of(8, 0), origin_of(9, 0));
        assert_ne!(origin_of(i64::from(u32::MAX) - 1, 0), 0, "never 0 past the threshold");
        assert_ne!(origin_of(i64::from(u32::MAX), 0), 0);
    }

    #[test]
    fn the_shares_rates_add_up_to_the_read_rate() {
        for (rate, count) in [(500, 2), (501, 2), (20_000, 3), (7, 3), (1, 1)] {
            let parts: Vec<u32> = (0..count).map(|i| share_of_rate(rate, i, count)).collect();
            assert_eq!(parts.iter().sum::<u32>(), rate, "{rate} over {count}: {parts:?}");
        }
    }

    #[test]
    fn a_merge_patch_sets_replaces_and_removes() {
        let mut target = serde_json::json!({"a": 1, "b": {"c": 2, "d": 3}});
        merge(&mut target, &serde_json::json!({"a": null, "b": {"c": 5}, "e": [1]}));
        assert_eq!(target, serde_json::json!({"b": {"c": 5, "d": 3}, "e": [1]}));
    }
}
