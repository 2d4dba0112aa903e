//! Goals: a profile converts on a journey's goal the first time the goal's event arrives for it
//! (and its `where` holds) within the goal's window of an instance's entry, whether that
//! instance still runs or has ended.
//!
//! Each entry into a journey with goals leaves a [`GoalWatch`] on its profile: when it entered,
//! the entry event's values its goals read, the goals already converted, and the experiment arms
//! the instance took. The watches are part of [`super::messages::MessageState`] (the per-profile
//! state a durable runtime stores), so a restart keeps them. A watch is dropped once every goal
//! converted or its longest window has passed.

use super::instance::Instance;
use super::{clock, Engine};
use crate::library::EvalContext;
use crate::machine::{self, Frame, DEFAULT_BUDGET};
use crate::value::Value;
use arcstr::ArcStr;
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::HashMap;

/// One entry's watch over its journey's goals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoalWatch {
    /// The journey (index in the program).
    pub journey: u16,
    /// When the instance entered (epoch ms): the windows start here.
    pub entered_ms: i64,
    /// The goals converted so far, one bit per goal in the journey's order.
    pub converted: u64,
    /// The experiment arms the instance took: (split node, arm index).
    pub arms: Vec<(u32, u16)>,
    /// The entry event's values at the journey's event paths (what a goal's `where` and
    /// `value` read of `event`).
    pub event: Box<[Value]>,
    /// The `end` node the instance ended at, once it has (reports count conversions there too).
    #[serde(default)]
    pub end: Option<u32>,
}

/// One conversion, as `journey test` checks them (kept with `keep_paths`).
#[derive(Debug, Clone, PartialEq)]
pub struct Conversion {
    /// The journey.
    pub journey: u16,
    /// The goal (index in the journey's goals).
    pub goal: usize,
    /// The profile.
    pub profile: ArcStr,
    /// When its instance entered (epoch ms).
    pub entered_ms: i64,
    /// When it converted (epoch ms).
    pub at_ms: i64,
    /// What it was worth.
    pub value: f64,
}

/// The most goals a journey may have (one bit each in [`GoalWatch::converted`]).
pub use journey_bytecode::MAX_GOALS;

/// An instance's own goal watch: the newest of its journey and entry time (a profile is in a
/// journey once at a time, so of two entries in one millisecond the earlier has ended).
fn own_watch<'a>(goals: &'a mut HashMap<ArcStr, Vec<GoalWatch>>, inst: &Instance) -> Option<&'a mut GoalWatch> {
    goals
        .get_mut(&inst.profile)?
        .iter_mut()
        .rev()
        .find(|w| w.journey == inst.journey && w.entered_ms == inst.entered_ms)
}

impl Engine {
    /// Every conversion so far, in order (with `keep_paths`).
    pub fn conversions(&self) -> &[Conversion] {
        &self.conversions
    }

    /// The longest goal window of journey `j` (0 without goals).
    fn longest_goal_window(&self, j: u16) -> i64 {
        self.image.program.journeys[j as usize].goals.iter().map(|g| g.window_ms).max().unwrap_or(0)
    }

    /// Starts watching an instance that has just entered a journey with goals.
    pub(super) fn watch_goals(&mut self, inst: &Instance) {
        let window = self.longest_goal_window(inst.journey);
        if window <= 0 {
            return;
        }
        let watch = GoalWatch {
            journey: inst.journey,
            entered_ms: inst.entered_ms,
            converted: 0,
            arms: Vec::new(),
            event: inst.event().into(),
            end: None,
        };
        self.msgs.goals.entry(inst.profile.clone()).or_default().push(watch);
        self.goals_changed(&inst.profile);
        let until = inst.entered_ms.saturating_add(window);
        self.goal_expiry.push(Reverse((until, inst.profile.clone())));
    }

    /// Notes the arm of an experiment an instance took, on its watch.
    pub(super) fn watch_arm(&mut self, inst: &Instance, node: u32, arm: usize) {
        if let Some(w) = own_watch(&mut self.msgs.goals, inst) {
            w.arms.push((node, arm as u16));
            self.goals_changed(&inst.profile);
        }
    }

    /// Notes the `end` node an instance ended at, on its watch.
    pub(super) fn watch_end(&mut self, inst: &Instance, node: u32) {
        if let Some(w) = own_watch(&mut self.msgs.goals, inst) {
            w.end = Some(node);
            self.goals_changed(&inst.profile);
        }
    }

    /// Notes that a profile's goal watches changed, for a durable runtime's checkpoint.
    fn goals_changed(&mut self, key: &ArcStr) {
        if self.track_changes {
            self.changes.goals.insert(key.clone());
        }
    }

    /// Rebuilds the expiry queue from the stored watches (after a restore).
    pub(super) fn requeue_goal_watches(&mut self) {
        let mut due: Vec<(i64, ArcStr)> = Vec::new();
        for (key, watches) in &self.msgs.goals {
            for w in watches {
                let window = self
                    .image
                    .program
                    .journeys
                    .get(w.journey as usize)
                    .map_or(0, |j| j.goals.iter().map(|g| g.window_ms).max().unwrap_or(0));
                due.push((w.entered_ms.saturating_add(window), key.clone()));
            }
        }
        self.goal_expiry.extend(due.into_iter().map(Reverse));
    }

    /// Drops the watches whose windows have all passed by `now_ms`.
    pub(super) fn expire_goal_watches(&mut self) {
        let now = self.now_ms;
        while let Some(Reverse((until, _))) = self.goal_expiry.peek() {
            if *until >= now {
                break;
            }
            let Some(Reverse((_, key))) = self.goal_expiry.pop() else { break };
            let image = self.image.clone();
            if let Some(watches) = self.msgs.goals.get_mut(&key) {
                let before = watches.len();
                watches.retain(|w| {
                    let window = image.program.journeys[w.journey as usize].goals.iter().map(|g| g.window_ms).max();
                    w.entered_ms.saturating_add(window.unwrap_or(0)) >= now
                });
                let changed = watches.len() != before;
                if watches.is_empty() {
                    self.msgs.goals.remove(&key);
                }
                if changed {
                    self.goals_changed(&key);
                }
            }
        }
    }

    /// Event `name` arrived for profile `key`: each of its watches converts on the goals this
    /// event reaches in time (and whose `where` holds).
    pub(super) fn convert_goals(&mut self, name: &str, key: &ArcStr, payload: &Value) {
        let Some(mut watches) = self.msgs.goals.remove(key) else { return };
        let image = self.image.clone();
        let now = self.event_time();
        let profile = self.profiles.get(key).cloned().unwrap_or(Value::Null);
        for w in &mut watches {
            let journey = &image.program.journeys[w.journey as usize];
            for (gi, goal) in journey.goals.iter().enumerate().take(MAX_GOALS) {
                let bit = 1u64 << gi;
                if goal.event != name || w.converted & bit != 0 {
                    continue;
                }
                // Within the window of the entry: an event at the instant of entry counts (it
                // is not the entry event itself, which reached the goals before the entry).
                if now < w.entered_ms || now - w.entered_ms > goal.window_ms {
                    continue;
                }
                let mut locals = vec![Value::Null; usize::from(journey.locals)];
                if let Some(s) = goal.slot {
                    if let Some(l) = locals.get_mut(s as usize) {
                        *l = payload.clone();
                    }
                }
                let ctx = EvalContext::new(clock::ts(now), self.tz[w.journey as usize].clone());
                let mut eval = |addr: u32, stack: &mut Vec<Value>| {
                    let mut frame = Frame {
                        locals: &mut locals,
                        event_paths: &w.event,
                        event: &Value::Null,
                        profile: &profile,
                        ctx: &ctx,
                        secret: &|_| None,
                    };
                    let mut budget = DEFAULT_BUDGET;
                    machine::eval_chunk(&image, &journey.code, addr, &mut frame, stack, &mut budget).unwrap_or_default()
                };
                if let Some(c) = goal.condition {
                    if !eval(c, &mut self.stack).truthy() {
                        continue;
                    }
                }
                let value = match goal.value.map(|v| eval(v, &mut self.stack)) {
                    Some(Value::Int(n)) => n as f64,
                    Some(Value::Number(x)) if x.is_finite() => x,
                    _ => 0.0,
                };
                w.converted |= bit;
                if self.track_changes {
                    self.changes.goals.insert(key.clone());
                }
                let r = &mut self.report.journeys[w.journey as usize];
                r.count_conversion(now, gi, journey.goals.len(), value, &w.arms, w.end);
                if self.options.keep_paths {
                    self.conversions.push(Conversion {
                        journey: w.journey,
                        goal: gi,
                        profile: key.clone(),
                        entered_ms: w.entered_ms,
                        at_ms: now,
                        value,
                    });
                }
            }
        }
        // A watch whose every goal converted has nothing left to wait for.
        watches.retain(|w| {
            let n = image.program.journeys[w.journey as usize].goals.len().min(MAX_GOALS);
            let all = if n == MAX_GOALS { u64::MAX } else { (1u64 << n) - 1 };
            w.converted & all != all
        });
        if !watches.is_empty() {
            self.msgs.goals.insert(key.clone(), watches);
        }
    }
}

/// A duration as the language writes it, largest unit first: `7d`, `1d12h`, `90m` is `1h30m`.
pub fn duration_text(ms: i64) -> String {
    const UNITS: [(&str, i64); 5] = [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)];
    if ms <= 0 {
        return "0s".into();
    }
    let mut rest = ms;
    let mut out = String::new();
    for (unit, size) in UNITS {
        if rest >= size {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    out
}
