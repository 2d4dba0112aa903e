//! A journey instance: plain data, no thread and no task while it waits.

use crate::value::Value;
use arcstr::ArcStr;
use serde::{Deserialize, Serialize};

/// Identifies an instance.
pub type InstanceId = u64;

/// What an instance waits for.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Waiting {
    /// Running (between suspension points).
    Running,
    /// A `wait` or `wait until`: until this instant (epoch ms).
    Timer {
        /// When it is due.
        due: i64,
    },
    /// An `await`: its events, or its timeout at `due`.
    Await {
        /// Index into the journey's awaits.
        index: u32,
        /// The `after` deadline, if any.
        due: Option<i64>,
    },
    /// A call or fetch in flight.
    Call {
        /// Index into the journey's calls.
        index: u32,
    },
    /// A message's deliver call in flight (a send queued by quiet hours waits as a `Timer`).
    Send {
        /// Index into the journey's sends.
        index: u32,
    },
}

/// One profile's run through one journey.
///
/// Its local slots and the kept entry-event values share one allocation (`locals()` then
/// `event()`); it is stored (serde) with them as two lists, as [`InstanceData`] shows.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "InstanceData", into = "InstanceData")]
pub struct Instance {
    /// Its id.
    pub id: InstanceId,
    /// Index of its journey in the program.
    pub journey: u16,
    /// The journey version it runs (it finishes on it even when a new one is published).
    pub version: u32,
    /// The profile key.
    pub profile: ArcStr,
    /// Where it goes on.
    pub pc: u32,
    /// Local slots, then the entry event's values at the journey's event paths (only what the
    /// journey reads).
    values: Box<[Value]>,
    /// How many of `values` are local slots.
    locals: u16,
    /// What it waits for.
    pub waiting: Waiting,
    /// When it entered (epoch ms).
    pub entered_ms: i64,
    /// The node it is at (`u32::MAX` before the first).
    pub node: u32,
    /// When it entered that node (epoch ms).
    pub node_ms: i64,
    /// Bumped at each suspension, so stale timers are ignored.
    pub token: u32,
    /// Where its entry came from (see [`InstanceData::origin`]).
    pub origin: u32,
}

/// An instance as it is stored and as it is built: its fields, with the local slots and the
/// entry event's values as two lists.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstanceData {
    /// Its id.
    pub id: InstanceId,
    /// Index of its journey in the program.
    pub journey: u16,
    /// The journey version it runs.
    pub version: u32,
    /// The profile key.
    pub profile: ArcStr,
    /// Where it goes on.
    pub pc: u32,
    /// Local slots.
    pub locals: Box<[Value]>,
    /// The entry event's values at the journey's event paths.
    pub event: Box<[Value]>,
    /// What it waits for.
    pub waiting: Waiting,
    /// When it entered (epoch ms).
    pub entered_ms: i64,
    /// The node it is at (`u32::MAX` before the first).
    pub node: u32,
    /// When it entered that node (epoch ms).
    pub node_ms: i64,
    /// Bumped at each suspension.
    pub token: u32,
    /// Where its entry came from: the entering event's log position in `journey serve`, the
    /// number of events before it dated the same millisecond in `journey run` and `journey
    /// test`, or the instance that jumped into it (0: not known, as for an instance stored
    /// before it was kept). It tells apart two entries of one profile into one journey
    /// dated the same millisecond, and names their messages (`messages::message_id`). Last, so
    /// that a row stored without it is told by its length ([`InstanceDataBeforeOrigin`]).
    pub origin: u32,
}

/// An instance as stored before [`InstanceData::origin`] was kept: read from such a row, it
/// has origin 0, which names its messages as they were named then.
#[derive(Debug, Clone, Deserialize)]
pub struct InstanceDataBeforeOrigin {
    id: InstanceId,
    journey: u16,
    version: u32,
    profile: ArcStr,
    pc: u32,
    locals: Box<[Value]>,
    event: Box<[Value]>,
    waiting: Waiting,
    entered_ms: i64,
    node: u32,
    node_ms: i64,
    token: u32,
}

impl From<InstanceDataBeforeOrigin> for Instance {
    fn from(d: InstanceDataBeforeOrigin) -> Instance {
        Instance::from(InstanceData {
            id: d.id,
            journey: d.journey,
            version: d.version,
            profile: d.profile,
            pc: d.pc,
            locals: d.locals,
            event: d.event,
            waiting: d.waiting,
            entered_ms: d.entered_ms,
            node: d.node,
            node_ms: d.node_ms,
            token: d.token,
            origin: 0,
        })
    }
}

impl From<InstanceData> for Instance {
    fn from(d: InstanceData) -> Instance {
        let locals = u16::try_from(d.locals.len()).unwrap_or(u16::MAX);
        let values: Box<[Value]> = if d.event.is_empty() {
            d.locals
        } else {
            d.locals.iter().take(locals as usize).cloned().chain(d.event.iter().cloned()).collect()
        };
        Instance {
            id: d.id,
            journey: d.journey,
            version: d.version,
            profile: d.profile,
            pc: d.pc,
            values,
            locals,
            waiting: d.waiting,
            entered_ms: d.entered_ms,
            node: d.node,
            node_ms: d.node_ms,
            token: d.token,
            origin: d.origin,
        }
    }
}

impl From<Instance> for InstanceData {
    fn from(i: Instance) -> InstanceData {
        InstanceData {
            locals: i.locals().into(),
            event: i.event().into(),
            id: i.id,
            journey: i.journey,
            version: i.version,
            profile: i.profile,
            pc: i.pc,
            waiting: i.waiting,
            entered_ms: i.entered_ms,
            node: i.node,
            node_ms: i.node_ms,
            token: i.token,
            origin: i.origin,
        }
    }
}

impl Instance {
    /// Local slots.
    pub fn locals(&self) -> &[Value] {
        &self.values[..self.locals as usize]
    }

    /// Local slots, to change.
    pub fn locals_mut(&mut self) -> &mut [Value] {
        &mut self.values[..self.locals as usize]
    }

    /// The entry event's values at the journey's event paths.
    pub fn event(&self) -> &[Value] {
        &self.values[self.locals as usize..]
    }

    /// The local slots (to change) and the entry event's values, together.
    pub fn frame_values(&mut self) -> (&mut [Value], &[Value]) {
        let (locals, event) = self.values.split_at_mut(self.locals as usize);
        (locals, event)
    }
}

/// How an instance ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// Why it ended.
    pub outcome: Outcome,
    /// Why it failed, for [`Outcome::Error`].
    pub error: Option<String>,
}

/// Why an instance ended: the journey's own `end`, or what the engine ended it for. The
/// engine's reasons are variants of their own, so a journey's label never passes for one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A plain `end`, or the body ran to its end.
    Ended,
    /// `end "label"`.
    Labelled(String),
    /// An exit criterion (`exit on E`) took it out: label `exited`.
    Exited,
    /// The journey's global timeout: label `timed-out`.
    TimedOut,
    /// A call failed with no handler for it, or it ran over its instruction budget: label `error`.
    Error,
    /// Its journey was stopped: label `stopped`.
    Stopped,
}

impl Outcome {
    /// The label reports and `expect ... ended "label"` know it by (`None` for [`Outcome::Ended`]).
    pub fn label(&self) -> Option<&str> {
        match self {
            Outcome::Ended => None,
            Outcome::Labelled(l) => Some(l),
            Outcome::Exited => Some("exited"),
            Outcome::TimedOut => Some("timed-out"),
            Outcome::Error => Some("error"),
            Outcome::Stopped => Some("stopped"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stored with its local slots and event values as two lists, as before they shared one
    /// allocation; read back the same.
    #[test]
    fn stored_form_keeps_locals_and_event_apart() {
        let data = InstanceData {
            id: 7,
            journey: 1,
            version: 1,
            profile: ArcStr::from("ann@example.com"),
            pc: 12,
            locals: vec![Value::Int(1), Value::Null].into(),
            event: vec![Value::str("cart-1")].into(),
            waiting: Waiting::Await { index: 0, due: Some(5) },
            entered_ms: 3,
            node: 2,
            node_ms: 4,
            token: 2,
            origin: 9,
        };
        let inst = Instance::from(data.clone());
        assert_eq!(inst.locals(), &[Value::Int(1), Value::Null]);
        assert_eq!(inst.event(), &[Value::str("cart-1")]);
        let stored = serde_json::to_value(&inst).unwrap();
        assert_eq!(stored, serde_json::to_value(&data).unwrap());
        assert_eq!(stored["locals"].as_array().map(Vec::len), Some(2));
        assert_eq!(stored["event"].as_array().map(Vec::len), Some(1));
        let back: Instance = serde_json::from_value(stored).unwrap();
        assert_eq!(back.locals(), inst.locals());
        assert_eq!(back.event(), inst.event());
        assert_eq!((back.id, back.pc, back.token, back.waiting), (7, 12, 2, Waiting::Await { index: 0, due: Some(5) }));
    }
}
