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
}

/// One profile's run through one journey.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    /// Local slots.
    pub locals: Box<[Value]>,
    /// The entry event's values at the journey's event paths (only what the journey reads).
    pub event: Box<[Value]>,
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
}

/// How an instance ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ended {
    /// The label: the `end` label, or `timed-out`, `exited`, `error`, `stopped`; `None` for a
    /// plain `end` or running off the end of the body.
    pub label: Option<String>,
    /// Why it failed, for `error`.
    pub error: Option<String>,
}
