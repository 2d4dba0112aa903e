//! The journey report (per-node counts, ends by label, errors, calls) and step events.

use journey_bytecode::{JourneyCode, NodeKind};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, VecDeque};

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
    /// Per outgoing branch, in the order [`branch_names`] names them: a split's arms, an
    /// await's arms then its timeout, a call's or fetch's outcomes (ok, timeout, error).
    #[serde(default)]
    pub arms: Vec<u64>,
}

impl NodeCounts {
    /// Counts one instance taking branch `arm`.
    pub fn take_arm(&mut self, arm: usize) {
        if self.arms.len() <= arm {
            self.arms.resize(arm + 1, 0);
        }
        self.arms[arm] += 1;
    }

    fn absorb(&mut self, t: &NodeCounts) {
        self.entered += t.entered;
        self.passed += t.passed;
        self.exited += t.exited;
        self.failed += t.failed;
        if self.arms.len() < t.arms.len() {
            self.arms.resize(t.arms.len(), 0);
        }
        for (m, n) in self.arms.iter_mut().zip(&t.arms) {
            *m += n;
        }
    }
}

/// How long hourly counts are kept: enough for "the last 24 hours" from any minute of the
/// current hour.
pub const HOURS_KEPT: usize = 25;

const HOUR_MS: i64 = 3_600_000;

/// One hour's counts of a journey (the report keeps the last [`HOURS_KEPT`] hours, so that
/// the counts of a time window are added up from these, never recomputed from instances).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HourCounts {
    /// The hour, in hours since the Unix epoch.
    pub hour: i64,
    /// Instances started.
    pub started: u64,
    /// Instances ended, by label.
    pub ended: BTreeMap<String, u64>,
    /// Instances that ended with an error.
    pub errors: u64,
    /// Instances that timed out.
    pub timeouts: u64,
    /// Per node, by node id.
    pub nodes: Vec<NodeCounts>,
    /// Conversions in this hour, per goal in the journey's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub goals: Vec<GoalHour>,
}

/// One goal's conversions in one hour.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GoalHour {
    /// Conversions.
    pub converted: u64,
    /// The sum of their values.
    pub value: f64,
}

impl HourCounts {
    fn absorb(&mut self, t: &HourCounts) {
        if self.goals.len() < t.goals.len() {
            self.goals.resize(t.goals.len(), GoalHour::default());
        }
        for (m, g) in self.goals.iter_mut().zip(&t.goals) {
            m.converted += g.converted;
            m.value += g.value;
        }
        self.started += t.started;
        add_counts(&mut self.ended, &t.ended);
        self.errors += t.errors;
        self.timeouts += t.timeouts;
        if self.nodes.len() < t.nodes.len() {
            self.nodes.resize(t.nodes.len(), NodeCounts::default());
        }
        for (m, n) in self.nodes.iter_mut().zip(&t.nodes) {
            m.absorb(n);
        }
    }
}

/// What happened to the messages of one `send` node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendCounts {
    /// Delivered (the deliver action answered).
    pub sent: u64,
    /// Held by a `queue` quiet window (each message once, however often it waited).
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

/// One arm's conversions on one goal.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ArmGoalCounts {
    /// Profiles of the arm that converted.
    pub converted: u64,
    /// The sum of their values.
    pub value: f64,
    /// The sum of the squares of their values (for the spread of the value per profile).
    pub value_sq: f64,
}

impl ArmGoalCounts {
    fn absorb(&mut self, o: &ArmGoalCounts) {
        self.converted += o.converted;
        self.value += o.value;
        self.value_sq += o.value_sq;
    }
}

/// One goal's conversions: in all, and per arm of each experiment the converting instances
/// went through.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GoalCounts {
    /// Conversions (each instance's entry converts at most once).
    pub converted: u64,
    /// The sum of their values.
    pub value: f64,
    /// Per experiment (by its split node), per arm (in the split's order).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub arms: BTreeMap<u32, Vec<ArmGoalCounts>>,
    /// Conversions by the `end` node their instance ended at (instances still running, or
    /// ended otherwise, are not here).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ends: BTreeMap<u32, u64>,
}

impl GoalCounts {
    fn absorb(&mut self, o: &GoalCounts) {
        self.converted += o.converted;
        self.value += o.value;
        for (node, n) in &o.ends {
            *self.ends.entry(*node).or_default() += n;
        }
        for (node, arms) in &o.arms {
            let mine = self.arms.entry(*node).or_default();
            if mine.len() < arms.len() {
                mine.resize(arms.len(), ArmGoalCounts::default());
            }
            for (m, t) in mine.iter_mut().zip(arms) {
                m.absorb(t);
            }
        }
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
    /// The same counts per hour, for the last [`HOURS_KEPT`] hours (oldest first).
    #[serde(default)]
    pub hours: VecDeque<HourCounts>,
    /// Per `send` node (by node id): its messages.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sends: BTreeMap<u32, SendCounts>,
    /// Per goal, in the journey's order (all time).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub goals: Vec<GoalCounts>,
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
    /// The bucket of the hour of `now_ms`, made when the clock reaches a new hour (dropping
    /// buckets past [`HOURS_KEPT`]).
    pub fn hour_mut(&mut self, now_ms: i64) -> &mut HourCounts {
        let hour = now_ms.div_euclid(HOUR_MS);
        if self.hours.back().is_none_or(|b| b.hour < hour) {
            while self.hours.len() >= HOURS_KEPT {
                self.hours.pop_front();
            }
            self.hours.push_back(HourCounts {
                hour,
                nodes: vec![NodeCounts::default(); self.nodes.len()],
                ..Default::default()
            });
        }
        // A clock never goes back, but a bucket restored from another engine may be ahead.
        let at = self.hours.iter().rposition(|b| b.hour <= hour).unwrap_or(0);
        &mut self.hours[at]
    }

    /// Counts a conversion at `now_ms` on goal `goal` (of `goals`) worth `value`: in all, in
    /// its hour, and on each experiment arm the instance took.
    pub fn count_conversion(
        &mut self,
        now_ms: i64,
        goal: usize,
        goals: usize,
        value: f64,
        arms: &[(u32, u16)],
        end: Option<u32>,
    ) {
        if self.goals.len() < goals {
            self.goals.resize(goals, GoalCounts::default());
        }
        let hour = self.hour_mut(now_ms);
        if hour.goals.len() < goals {
            hour.goals.resize(goals, GoalHour::default());
        }
        if let Some(h) = hour.goals.get_mut(goal) {
            h.converted += 1;
            h.value += value;
        }
        let Some(g) = self.goals.get_mut(goal) else { return };
        g.converted += 1;
        g.value += value;
        if let Some(node) = end {
            *g.ends.entry(node).or_default() += 1;
        }
        for (node, arm) in arms {
            let per_arm = g.arms.entry(*node).or_default();
            let k = usize::from(*arm);
            if per_arm.len() <= k {
                per_arm.resize(k + 1, ArmGoalCounts::default());
            }
            per_arm[k].converted += 1;
            per_arm[k].value += value;
            per_arm[k].value_sq += value * value;
        }
    }

    /// Counts at node `n`, in all time and in the current hour.
    pub fn count_node(&mut self, now_ms: i64, n: u32, f: impl Fn(&mut NodeCounts)) {
        if let Some(c) = self.nodes.get_mut(n as usize) {
            f(c);
        }
        if let Some(c) = self.hour_mut(now_ms).nodes.get_mut(n as usize) {
            f(c);
        }
    }

    /// The counts since `since_ms` (from the start of its hour), added up from the hourly
    /// buckets; `None` when the buckets kept do not reach back that far.
    pub fn since(&self, since_ms: i64, now_ms: i64) -> Option<HourCounts> {
        let from = since_ms.div_euclid(HOUR_MS);
        let now = now_ms.div_euclid(HOUR_MS);
        if now - from >= HOURS_KEPT as i64 {
            return None;
        }
        let mut sum =
            HourCounts { hour: from, nodes: vec![NodeCounts::default(); self.nodes.len()], ..Default::default() };
        for b in self.hours.iter().filter(|b| b.hour >= from) {
            sum.absorb(b);
        }
        Some(sum)
    }

    /// The report as `journey run --format json`, `journey test --format json` and `journey
    /// serve` show it (`code` is the journey it counts): each node's counts beside its id, kind,
    /// label and source line, with its arms or handlers by name; the experiments (splits whose
    /// arms all have labels); and `window`, the counts since `since_ms` up to `now_ms`.
    pub fn to_json(&self, code: &JourneyCode, now_ms: i64, since_ms: i64) -> Json {
        let mut nodes: Vec<Json> = self.nodes.iter().enumerate().map(|(i, c)| node_json(code, i, c, true)).collect();
        // An `end` node's conversions (all time), per goal, of the instances that ended there.
        for (i, v) in nodes.iter_mut().enumerate() {
            if !code.goals.is_empty() && code.nodes.get(i).is_some_and(|n| n.kind == NodeKind::End) {
                let goals: serde_json::Map<String, Json> = code
                    .goals
                    .iter()
                    .enumerate()
                    .map(|(g, goal)| {
                        let n = self.goals.get(g).and_then(|c| c.ends.get(&(i as u32))).copied().unwrap_or(0);
                        (goal.name.clone(), json!(n))
                    })
                    .collect();
                v["goals"] = Json::Object(goals);
            }
        }
        // A `send` node's messages (all time): sent, queued, suppressed by reason, failed, reactions.
        for (i, v) in nodes.iter_mut().enumerate() {
            if code.nodes.get(i).is_some_and(|n| n.kind == NodeKind::Send) {
                let m = self.sends.get(&(i as u32)).cloned().unwrap_or_default();
                v["messages"] = serde_json::to_value(m).unwrap_or_default();
            }
        }
        let window = match self.since(since_ms, now_ms) {
            Some(w) => {
                let nodes: Vec<Json> = w.nodes.iter().enumerate().map(|(i, c)| node_json(code, i, c, false)).collect();
                let goals: Vec<Json> = code
                    .goals
                    .iter()
                    .enumerate()
                    .map(|(i, g)| {
                        let c = w.goals.get(i).cloned().unwrap_or_default();
                        json!({"goal": g.name, "converted": c.converted, "value": g.value.map(|_| c.value)})
                    })
                    .collect();
                json!({"since": super::clock::rfc3339(since_ms.div_euclid(HOUR_MS) * HOUR_MS), "until": super::clock::rfc3339(now_ms),
                    "started": w.started, "ended": w.ended, "errors": w.errors, "timeouts": w.timeouts, "nodes": nodes,
                    "goals": goals})
            }
            None => json!({"since": super::clock::rfc3339(since_ms), "until": super::clock::rfc3339(now_ms),
                "error": format!("counts are kept per hour for the last {} hours; this window starts earlier", HOURS_KEPT - 1)}),
        };
        json!({"started": self.started, "ended": self.ended, "errors": self.errors,
            "timeouts": self.timeouts, "running": self.running, "nodes": nodes,
            "goals": self.goals_json(code), "experiments": self.experiments(code), "window": window})
    }

    /// The journey's goals: each with its event, window and (all time) conversions and value
    /// (`value` is null for a goal without one).
    fn goals_json(&self, code: &JourneyCode) -> Vec<Json> {
        code.goals
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let c = self.goals.get(i).cloned().unwrap_or_default();
                json!({"goal": g.name, "event": g.event, "within_ms": g.window_ms,
                    "within": super::goals::duration_text(g.window_ms),
                    "converted": c.converted, "value": g.value.map(|_| c.value)})
            })
            .collect()
    }

    /// The experiments of the journey: its splits whose arms all have labels, with the
    /// profiles assigned to each arm and, per goal, the arm's conversions and value; and
    /// `analysis`, the statistics of [`crate::stats::analyse`] (null without goals).
    fn experiments(&self, code: &JourneyCode) -> Vec<Json> {
        code.splits
            .iter()
            .filter(|s| !s.branches.is_empty() && s.branches.iter().all(|b| b.1.is_some()))
            .map(|s| {
                let labels: Vec<&str> = s.branches.iter().map(|b| b.1.as_deref().unwrap_or_default()).collect();
                let counts = self.nodes.get(s.node as usize);
                let assigned = |k: usize| counts.and_then(|c| c.arms.get(k)).copied().unwrap_or(0);
                let per_arm = |gi: usize, k: usize| {
                    self.goals
                        .get(gi)
                        .and_then(|g| g.arms.get(&s.node))
                        .and_then(|a| a.get(k))
                        .cloned()
                        .unwrap_or_default()
                };
                let arms: Vec<Json> = labels
                    .iter()
                    .enumerate()
                    .map(|(k, l)| {
                        let goals: serde_json::Map<String, Json> = code
                            .goals
                            .iter()
                            .enumerate()
                            .map(|(gi, g)| {
                                let c = per_arm(gi, k);
                                (g.name.clone(), json!({"converted": c.converted, "value": g.value.map(|_| c.value)}))
                            })
                            .collect();
                        let mut arm = json!({"label": l, "assigned": assigned(k)});
                        if !goals.is_empty() {
                            arm["goals"] = Json::Object(goals);
                        }
                        arm
                    })
                    .collect();
                let analysis = (!code.goals.is_empty()).then(|| {
                    let inputs: Vec<(String, Vec<crate::stats::ArmInput>)> = code
                        .goals
                        .iter()
                        .enumerate()
                        .map(|(gi, g)| {
                            let arms = labels
                                .iter()
                                .enumerate()
                                .map(|(k, l)| {
                                    let c = per_arm(gi, k);
                                    // Every assigned profile counts, with 0 for those that did not convert.
                                    let value = g.value.map(|_| crate::stats::Summary {
                                        n: assigned(k),
                                        sum: c.value,
                                        sum_sq: c.value_sq,
                                    });
                                    crate::stats::ArmInput {
                                        label: l.to_string(),
                                        assigned: assigned(k),
                                        converted: c.converted,
                                        value,
                                    }
                                })
                                .collect();
                            (g.name.clone(), arms)
                        })
                        .collect();
                    crate::stats::analyse(&inputs)
                });
                let node = code.nodes.get(s.node as usize);
                json!({"node": s.node, "line": node.map(|n| n.line), "label": node.map(|n| n.label.clone()),
                    "control": labels[crate::stats::control_index(&labels)], "arms": arms, "analysis": analysis})
            })
            .collect()
    }
}

/// One node's entry in a report: with `whole`, its id, kind, label and line beside the counts.
fn node_json(code: &JourneyCode, i: usize, c: &NodeCounts, whole: bool) -> Json {
    let names = branch_names(code, i as u32);
    let mut o = serde_json::Map::new();
    o.insert("node".into(), json!(i));
    if whole {
        let node = code.nodes.get(i);
        o.insert("kind".into(), json!(node.map(|n| n.kind.name())));
        o.insert("label".into(), json!(node.map(|n| n.label.clone())));
        o.insert("line".into(), json!(node.map(|n| n.line)));
    }
    for (k, v) in [("entered", c.entered), ("passed", c.passed), ("exited", c.exited), ("failed", c.failed)] {
        o.insert(k.into(), json!(v));
    }
    if let Some((field, names)) = names {
        let map: serde_json::Map<String, Json> =
            names.into_iter().enumerate().map(|(k, n)| (n, json!(c.arms.get(k).copied().unwrap_or(0)))).collect();
        o.insert(field.into(), Json::Object(map));
    }
    Json::Object(o)
}

/// The names of node `n`'s branches as its report counts them, with the report field they go
/// in: a split's arms by label (`"50%"` for an unlabelled one) and an await's by event (then
/// `after` for its timeout) under `arms`; a call's or fetch's outcomes under `handlers`.
pub fn branch_names(code: &JourneyCode, n: u32) -> Option<(&'static str, Vec<String>)> {
    let kind = code.nodes.get(n as usize)?.kind;
    match kind {
        NodeKind::Split => {
            let s = code.splits.iter().find(|s| s.node == n)?;
            let mut before = 0.0;
            let names = s
                .branches
                .iter()
                .map(|(upper, label, _)| {
                    let share = upper - before;
                    before = *upper;
                    label.clone().unwrap_or_else(|| format!("{}%", (share * 100.0).round() / 100.0))
                })
                .collect();
            Some(("arms", names))
        }
        NodeKind::Await => {
            // The k-th await node is the k-th entry of `awaits`: code generation adds both as
            // it meets the statement.
            let k = code.nodes[..n as usize].iter().filter(|x| x.kind == NodeKind::Await).count();
            let a = code.awaits.get(k)?;
            let mut names: Vec<String> = a.arms.iter().map(|arm| arm.event.clone()).collect();
            if a.after.is_some() {
                names.push("after".into());
            }
            Some(("arms", names))
        }
        NodeKind::Call | NodeKind::Fetch => Some(("handlers", CALL_HANDLERS.iter().map(|s| s.to_string()).collect())),
        _ => None,
    }
}

/// A call's or fetch's outcomes, in the order its node's `arms` counts them.
pub const CALL_HANDLERS: [&str; 3] = ["ok", "timeout", "error"];

/// The arm of split node `n` that a profile takes (its index and name), from the stable hash
/// that assigns it: the same in every run, so a path line can name it.
pub fn split_arm(code: &JourneyCode, n: u32, profile: &str) -> Option<(usize, String)> {
    let s = code.splits.iter().find(|s| s.node == n)?;
    let bucket = super::split_bucket(profile, &code.name, n);
    let k = s.branches.iter().position(|(upper, _, _)| bucket < *upper).unwrap_or(s.branches.len().checked_sub(1)?);
    let (_, names) = branch_names(code, n)?;
    Some((k, names.get(k)?.clone()))
}

/// A node's label on a path line: a split names the arm the profile took (`split "B"`).
pub fn path_label(code: &JourneyCode, n: u32, profile: &str) -> Option<String> {
    let node = code.nodes.get(n as usize)?;
    if node.kind == NodeKind::Split {
        if let Some((_, arm)) = split_arm(code, n, profile) {
            return Some(format!("split \"{arm}\""));
        }
    }
    Some(node.label.clone())
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
                m.absorb(t);
            }
            for h in &theirs.hours {
                match mine.hours.iter().position(|b| b.hour >= h.hour) {
                    Some(at) if mine.hours[at].hour == h.hour => mine.hours[at].absorb(h),
                    Some(at) => mine.hours.insert(at, h.clone()),
                    None => mine.hours.push_back(h.clone()),
                }
            }
            while mine.hours.len() > HOURS_KEPT {
                mine.hours.pop_front();
            }
            for (node, t) in &theirs.sends {
                mine.sends.entry(*node).or_default().absorb(t);
            }
            if mine.goals.len() < theirs.goals.len() {
                mine.goals.resize(theirs.goals.len(), GoalCounts::default());
            }
            for (m, t) in mine.goals.iter_mut().zip(&theirs.goals) {
                m.absorb(t);
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
    /// The branch it took: a split's arm by label, an await's event (or `after`), a call's
    /// outcome (`ok`, `timeout`, `error`); absent for other nodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arm: Option<String>,
    /// At a `send` node: `sent`, `queued`, `suppressed:REASON` or `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send: Option<String>,
    /// At a `send` node: the message id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
