//! What a durable runtime needs from the engine: the changes since the last checkpoint, a
//! snapshot of the small state, and rebuilding an engine from stored state after a restart.

use super::instance::{Instance, InstanceId, Waiting};
use super::report::Report;
use super::{CallRequest, Engine, Options, TimerKind};
use crate::machine::Image;
use crate::value::Value;
use arcstr::ArcStr;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::Arc;

/// What changed since the last [`Engine::take_changes`].
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// Instances written or ended (look each up: absent means ended).
    pub instances: HashSet<InstanceId>,
    /// Entry history rows written.
    pub entries: HashSet<(ArcStr, u16)>,
    /// Profiles written.
    pub profiles: HashSet<ArcStr>,
    /// Cap counters changed.
    pub caps: bool,
    /// Audience membership changed.
    pub audiences: bool,
    /// Messages decided, delivered or reacted to, in order.
    pub messages: Vec<super::messages::MessageChange>,
    /// Profiles whose goal watches changed (look each up: none left means gone).
    pub goals: HashSet<ArcStr>,
}

/// The engine's small state: counters and clocks, stored whole at each checkpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SmallState {
    /// The next instance id.
    pub next_id: InstanceId,
    /// The clock.
    pub now_ms: i64,
    /// Cap counters: (journey, node, count).
    pub caps: Vec<(u16, u32, i64)>,
    /// Which journeys take new entries.
    pub open: Vec<bool>,
    /// Business events' fan-outs in progress (each share's own).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fanouts: Vec<super::messages::FanoutCursor>,
    /// Which journeys were stopped (empty in a state stored before it was kept).
    #[serde(default)]
    pub stopped: Vec<bool>,
}

impl SmallState {
    /// Whether journey `j` was stopped. A state stored before that was kept tells it as the
    /// report did then: closed, nothing running, and instances that ended `stopped`.
    pub fn is_stopped(&self, j: usize, report: Option<&Report>) -> bool {
        if !self.stopped.is_empty() {
            return self.stopped.get(j).copied().unwrap_or(false);
        }
        let r = report.and_then(|r| r.journeys.get(j));
        !self.open.get(j).copied().unwrap_or(true)
            && r.is_some_and(|r| r.running == 0 && r.ended.contains_key("stopped"))
    }
}

/// Everything stored about an engine, for [`Engine::restore`].
#[derive(Debug, Default)]
pub struct Stored {
    /// Counters and clock.
    pub small: SmallState,
    /// Live instances.
    pub instances: Vec<Instance>,
    /// Calls in flight when the state was stored (re-issued, with their idempotency keys).
    pub pending: Vec<CallRequest>,
    /// Entry history: (profile, journey, last entry ms).
    pub entries: Vec<(String, u16, i64)>,
    /// Profiles.
    pub profiles: Vec<(String, Value)>,
    /// Audience membership: (audience, profile).
    pub audiences: Vec<(String, String)>,
    /// The report so far.
    pub report: Option<Report>,
    /// Frequency windows and the messages of live instances.
    pub messages: Option<super::messages::MessageState>,
}

impl Stored {
    /// The stored state split between `count` engines that share the profiles (see
    /// [`super::Shard`]): each takes the instances, calls, entries, profiles and memberships of
    /// its own profiles. The report and the cap counts go to the first (so that the shares add
    /// up to what was stored); every one continues the instance numbering above the stored one.
    pub fn split(self, count: u32) -> Vec<Stored> {
        let n = count.max(1) as usize;
        let at = |key: &str| super::shard_of(key, n as u32) as usize;
        // Each live instance's messages go with it.
        let owner: std::collections::HashMap<InstanceId, usize> = match &self.messages {
            Some(_) => self.instances.iter().map(|i| (i.id, at(&i.profile))).collect(),
            None => Default::default(),
        };
        let mut out: Vec<Stored> = (0..n)
            .map(|i| Stored {
                small: SmallState {
                    next_id: self.small.next_id,
                    now_ms: self.small.now_ms,
                    caps: if i == 0 { self.small.caps.clone() } else { Vec::new() },
                    open: self.small.open.clone(),
                    // Each cursor names its share: every engine takes its own members of each.
                    fanouts: self.small.fanouts.clone(),
                    stopped: self.small.stopped.clone(),
                },
                report: if i == 0 { self.report.clone() } else { None },
                ..Default::default()
            })
            .collect();
        for inst in self.instances {
            out[at(&inst.profile)].instances.push(inst);
        }
        for c in self.pending {
            out[at(&c.profile)].pending.push(c);
        }
        for e in self.entries {
            out[at(&e.0)].entries.push(e);
        }
        for p in self.profiles {
            out[at(&p.0)].profiles.push(p);
        }
        for m in self.audiences {
            out[at(&m.1)].audiences.push(m);
        }
        if let Some(m) = self.messages {
            let mut parts: Vec<super::messages::MessageState> = (0..n).map(|_| Default::default()).collect();
            for (profile, list) in m.recent {
                parts[at(&profile)].recent.insert(profile, list);
            }
            for (id, list) in m.live {
                if let Some(&i) = owner.get(&id) {
                    parts[i].live.insert(id, list);
                }
            }
            for (id, node) in m.queued {
                if let Some(&i) = owner.get(&id) {
                    parts[i].queued.insert(id, node);
                }
            }
            // Goal watches outlive their instances: they go with the profile.
            for (profile, watches) in m.goals {
                parts[at(&profile)].goals.insert(profile, watches);
            }
            for (part, m) in out.iter_mut().zip(parts) {
                part.messages = Some(m);
            }
        }
        out
    }
}

impl Engine {
    /// Takes the changes since the last call.
    pub fn take_changes(&mut self) -> Changes {
        std::mem::take(&mut self.changes)
    }

    /// A live instance.
    pub fn instance(&self, id: InstanceId) -> Option<&Instance> {
        self.instances.get(&id)
    }

    /// How many calls instances wait on (sends being delivered included).
    pub fn calls_in_flight(&self) -> usize {
        self.pending.len()
    }

    /// The call an instance waits on, if any.
    pub fn pending_call(&self, id: InstanceId) -> Option<&CallRequest> {
        self.pending.get(&id)
    }

    /// The last entry time of a profile into a journey.
    pub fn last_entry(&self, profile: &str, journey: u16) -> Option<i64> {
        self.slots.last_entry(profile, journey)
    }

    /// Every profile that entered journey `journey`, with when it last did.
    pub fn last_entries(&self, journey: u16) -> impl Iterator<Item = (&ArcStr, i64)> + '_ {
        self.slots.entries(journey)
    }

    /// Whether a profile is in a journey now.
    pub fn is_active(&self, profile: &str, journey: u16) -> bool {
        self.slots.active(profile, journey).is_some()
    }

    /// A profile's live instances (at most one per journey), oldest first: found through the
    /// profile table, without looking at other profiles' instances.
    pub fn profile_instances(&self, profile: &str) -> Vec<&Instance> {
        let mut out: Vec<&Instance> = (0..self.image.program.journeys.len())
            .filter_map(|j| self.slots.active(profile, j as u16))
            .filter_map(|id| self.instances.get(&id))
            .collect();
        out.sort_unstable_by_key(|i| i.id);
        out
    }

    /// A profile's attributes, if set.
    pub fn stored_profile(&self, key: &str) -> Option<&Value> {
        self.profiles.get(key)
    }

    /// Every audience membership pair.
    pub fn memberships(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> =
            self.audiences.iter().flat_map(|(a, m)| m.iter().map(move |k| (a.clone(), k.to_string()))).collect();
        out.sort();
        out
    }

    /// Profiles written since the last checkpoint (without taking them).
    pub fn changed_profiles(&self) -> Vec<ArcStr> {
        self.changes.profiles.iter().cloned().collect()
    }

    /// A profile's goal watches (none once every goal converted or every window passed).
    pub fn goal_watches(&self, profile: &str) -> Option<&[super::goals::GoalWatch]> {
        self.msgs.goals.get(profile).map(Vec::as_slice)
    }

    /// Every stored profile.
    pub fn profiles_iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.profiles.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Adds an audience membership without starting any journey (state copied from elsewhere).
    pub fn audience_enter_quiet(&mut self, audience: &str, key: &str) {
        self.audiences.entry(audience.to_string()).or_default().insert(ArcStr::from(key));
    }

    /// Opens or closes a journey to new entries.
    pub fn set_open(&mut self, journey: u16, open: bool) {
        if let Some(o) = self.open.get_mut(journey as usize) {
            *o = open;
        }
        // Taking entries again (a version published again) ends its being stopped.
        if open {
            if let Some(s) = self.stopped.get_mut(journey as usize) {
                *s = false;
            }
        }
    }

    /// Whether a journey takes new entries.
    pub fn is_open(&self, journey: u16) -> bool {
        self.open.get(journey as usize).copied().unwrap_or(false)
    }

    /// Whether a journey was stopped.
    pub fn is_stopped(&self, journey: u16) -> bool {
        self.stopped.get(journey as usize).copied().unwrap_or(false)
    }

    /// Counters and clocks.
    pub fn small_state(&self) -> SmallState {
        let mut caps: Vec<(u16, u32, i64)> = self.caps.iter().map(|((j, n), c)| (*j, *n, *c)).collect();
        caps.sort_unstable();
        SmallState {
            next_id: self.next_id,
            now_ms: self.now_ms,
            caps,
            open: self.open.clone(),
            fanouts: self.fanout_cursors(),
            stopped: self.stopped.clone(),
        }
    }

    /// Rebuilds an engine from stored state: instances, their timers (a timer due while the
    /// runtime was down fires at the next advance), and the calls in flight (re-issued).
    pub fn restore(image: Arc<Image>, options: Options, stored: Stored) -> Engine {
        let mut e = Engine::new(image, stored.small.now_ms, options);
        // Reads due at the stored clock already ran before it was stored: the next ones are
        // strictly later.
        e.timers.clear();
        e.schedule_reads(stored.small.now_ms);
        // The first id of this engine's numbering (see `Shard`) at or above the stored one.
        let (index, stride) = (u64::from(e.options.shard.index), e.options.shard.stride());
        let next = stored.small.next_id.max(1);
        e.next_id = next + (index + stride - (next - 1) % stride) % stride;
        e.caps = stored.small.caps.iter().map(|(j, n, c)| ((*j, *n), *c)).collect();
        if stored.small.open.len() == e.open.len() {
            e.open = stored.small.open.clone();
            e.stopped = (0..e.open.len()).map(|j| stored.small.is_stopped(j, stored.report.as_ref())).collect();
        }
        for (p, j, ms) in stored.entries {
            e.slots.set_last_entry(&ArcStr::from(p), j, ms);
        }
        for (k, v) in stored.profiles {
            e.profiles.insert(ArcStr::from(k), v);
        }
        for (a, k) in stored.audiences {
            e.audiences.entry(a).or_default().insert(ArcStr::from(k));
        }
        e.resume_fan_outs(stored.small.fanouts);
        if let Some(r) = stored.report {
            if r.journeys.len() == e.report.journeys.len() {
                e.report = r;
            }
        }
        for inst in stored.instances {
            let timeout = e.image.program.journeys.get(inst.journey as usize).map(|j| j.timeout_ms).unwrap_or(0);
            e.push_timer(inst.entered_ms.saturating_add(timeout), TimerKind::Timeout(inst.id));
            let due = match inst.waiting {
                Waiting::Timer { due } => Some(due),
                Waiting::Await { due, .. } => due,
                _ => None,
            };
            if let Some(due) = due {
                e.push_timer(due, TimerKind::Resume(inst.id, inst.token));
            }
            e.slots.set_active(&inst.profile, inst.journey, Some(inst.id));
            e.instances.insert(inst.id, inst);
        }
        for c in stored.pending {
            match e.instances.get(&c.instance) {
                Some(i) if matches!(i.waiting, Waiting::Call { .. } | Waiting::Send { .. }) => {
                    e.pending.insert(c.instance, c.clone());
                    e.calls_out.push(c);
                }
                Some(_) => {}
                // A delivery whose instance ended while it was in flight (only those are stored
                // without their instance): sent again, its answer decides the message.
                None => e.detach_stored(&c),
            }
        }
        if let Some(m) = stored.messages {
            let mut freq = super::messages::lock(&e.freq);
            for (profile, list) in m.recent {
                for c in list {
                    freq.restore(&profile, c);
                }
            }
            freq.prune(e.now_ms);
            drop(freq);
            // Only the messages of live instances: the rest ended with their instances.
            e.msgs.live = m.live.into_iter().filter(|(id, _)| e.instances.contains_key(id)).collect();
            e.msgs.queued = m.queued.into_iter().filter(|(id, _)| e.instances.contains_key(id)).collect();
            e.msgs.goals = m.goals;
            e.requeue_goal_watches();
        }
        e.changes = Changes::default();
        e
    }
}
