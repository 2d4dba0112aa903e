//! The journey report (per-node counts, ends by label, errors, calls) and step events.

use journey_bytecode::NodeKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How an instance left a node (counted in [`NodeCounts`], written in step events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeOutcome {
    /// It went on past it (or ended there by its own `end`).
    Passed,
    /// It left the journey there: exit criteria, the global timeout, a stop.
    Exited,
    /// It failed there.
    Failed,
}

/// Counts of one node, as the journey report shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeCounts {
    /// Instances that reached it.
    pub entered: u64,
    /// Instances that went on past it.
    pub passed: u64,
    /// Instances that left the journey there (exit criteria, timeout, stop).
    pub exited: u64,
    /// Instances that failed there.
    pub failed: u64,
}

/// What happened to the messages of one `send` node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendCounts {
    /// Delivered (the deliver action answered).
    pub sent: u64,
    /// Held by a `queue` quiet window (each time a message waited for one).
    pub queued: u64,
    /// Not sent, by reason (`no-address`, `no-consent`, `frequency`, `quiet-hours`).
    pub suppressed: BTreeMap<String, u64>,
    /// The deliver action failed.
    pub failed: u64,
    /// Distinct messages opened.
    pub opened: u64,
    /// Distinct messages clicked.
    pub clicked: u64,
}

impl SendCounts {
    fn absorb(&mut self, o: &SendCounts) {
        self.sent += o.sent;
        self.queued += o.queued;
        add_counts(&mut self.suppressed, &o.suppressed);
        self.failed += o.failed;
        self.opened += o.opened;
        self.clicked += o.clicked;
    }
}

/// One journey's report.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct JourneyReport {
    /// The journey.
    pub journey: String,
    /// Instances started.
    pub started: u64,
    /// Instances ended, by label (`""` for an unlabelled end).
    pub ended: BTreeMap<String, u64>,
    /// Instances that ended with an error.
    pub errors: u64,
    /// Instances that timed out (the global timeout).
    pub timeouts: u64,
    /// Instances still waiting.
    pub running: u64,
    /// Per node, by node id.
    pub nodes: Vec<NodeCounts>,
    /// Per `send` node (by node id): its messages.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sends: BTreeMap<u32, SendCounts>,
}

/// The whole run's report.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    /// Events accepted.
    pub events: u64,
    /// Events rejected (unknown event, null key, ...), by reason.
    pub rejected: BTreeMap<String, u64>,
    /// Events whose `when` did not hold.
    pub filtered: u64,
    /// Per journey.
    pub journeys: Vec<JourneyReport>,
    /// Calls by action or data source (calls, not attempts).
    pub calls: BTreeMap<String, u64>,
    /// Failed calls by action or data source.
    pub call_errors: BTreeMap<String, u64>,
}

impl JourneyReport {
    /// The report as `journey run --format json` and `journey serve` show it: each node's
    /// counts beside its id, label and source line (`code` is the journey it counts).
    pub fn to_json(&self, code: &journey_bytecode::JourneyCode) -> serde_json::Value {
        let nodes: Vec<serde_json::Value> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let node = code.nodes.get(i);
                let mut v = serde_json::json!({"node": i, "label": node.map(|n| n.label.clone()), "line": node.map(|n| n.line),
                    "entered": c.entered, "passed": c.passed, "exited": c.exited, "failed": c.failed});
                if node.is_some_and(|n| n.kind == NodeKind::Send) {
                    let m = self.sends.get(&(i as u32)).cloned().unwrap_or_default();
                    v["messages"] = serde_json::to_value(m).unwrap_or_default();
                }
                v
            })
            .collect();
        serde_json::json!({"started": self.started, "ended": self.ended, "errors": self.errors,
            "timeouts": self.timeouts, "running": self.running, "nodes": nodes})
    }
}

impl Report {
    /// Adds another engine's counts (engines that shared one run's profiles).
    pub fn absorb(&mut self, other: &Report) {
        self.events += other.events;
        self.filtered += other.filtered;
        add_counts(&mut self.rejected, &other.rejected);
        add_counts(&mut self.calls, &other.calls);
        add_counts(&mut self.call_errors, &other.call_errors);
        for (mine, theirs) in self.journeys.iter_mut().zip(&other.journeys) {
            mine.started += theirs.started;
            add_counts(&mut mine.ended, &theirs.ended);
            mine.errors += theirs.errors;
            mine.timeouts += theirs.timeouts;
            mine.running += theirs.running;
            for (m, t) in mine.nodes.iter_mut().zip(&theirs.nodes) {
                m.entered += t.entered;
                m.passed += t.passed;
                m.exited += t.exited;
                m.failed += t.failed;
            }
            for (node, t) in &theirs.sends {
                mine.sends.entry(*node).or_default().absorb(t);
            }
        }
    }
}

fn add_counts(to: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (k, n) in from {
        *to.entry(k.clone()).or_default() += n;
    }
}

/// One line per node an instance passes (`--step-events`).
#[derive(Debug, Clone, Serialize)]
pub struct StepEvent {
    /// When it left the node (RFC 3339).
    pub time: String,
    /// The journey.
    pub journey: String,
    /// Its version.
    pub version: u32,
    /// The instance.
    pub instance: u64,
    /// The profile key.
    pub profile: String,
    /// Node id.
    pub node: u32,
    /// Node kind (`wait`, `await`, `call`, ...).
    pub kind: NodeKind,
    /// How it left the node.
    pub outcome: NodeOutcome,
    /// Time spent at the node, in milliseconds.
    pub duration_ms: i64,
    /// Why it failed.
    pub error: Option<String>,
    /// At a `send` node: `sent`, `queued`, `suppressed:REASON` or `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send: Option<String>,
    /// At a `send` node: the message id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
