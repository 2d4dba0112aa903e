//! The durable store behind the runtime. The [`Store`] trait keeps the runtime independent of
//! the backend: the embedded SQLite one ([`sqlite`]), and PostgreSQL ([`postgres`]), where the
//! log is split into partitions, each applied by the node that holds its lease.
//!
//! Everything that changes state enters through one ordered log ([`LogEntry`]): events,
//! profile writes, audience membership, and journey lifecycle commands. An entry is durable
//! before the client hears "accepted". The engines' state is checkpointed with the log
//! position it reflects, so a restart loads the checkpoint and replays the log after it.

pub mod postgres;
pub mod sqlite;

use journey_vm::engine::durable::Stored;
use journey_vm::engine::goals::GoalWatch;
use journey_vm::engine::instance::{Instance, InstanceId};
use journey_vm::engine::messages::{Counted, InstanceMessages, MessageChange, MessageRecord};
use journey_vm::engine::report::{Report, StepEvent};
use journey_vm::engine::CallRequest;
use journey_vm::value::Value;
use serde::{Deserialize, Serialize};

/// A store error, with what failed.
#[derive(Debug, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(pub String);

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError(e.to_string())
    }
}

/// Reads a row as stored now (`New`), or else as stored before its last field was added
/// (`Old`, which a row of now never is: it is longer).
fn decode_or_older<New: serde::de::DeserializeOwned, Old: serde::de::DeserializeOwned + Into<New>>(
    b: &[u8],
) -> Result<New> {
    postcard::from_bytes::<New>(b).or_else(|err| {
        postcard::from_bytes::<Old>(b).map(Into::into).map_err(|_| StoreError(format!("stored data is damaged: {err}")))
    })
}

/// Reads a stored instance: as stored now, or as stored before instances kept their entry's
/// origin (such a row is read with origin 0, which names its messages as they were named).
pub fn decode_instance(b: &[u8]) -> Result<Instance> {
    decode_or_older::<Instance, journey_vm::engine::instance::InstanceDataBeforeOrigin>(b)
}

/// Reads a stored call: as stored now, or as stored before calls kept their node.
pub fn decode_call(b: &[u8]) -> Result<CallRequest> {
    decode_or_older::<CallRequest, journey_vm::engine::CallRequestBeforeNode>(b)
}

impl StoreError {
    /// The prefix of an error whose cause is that the database cannot be reached (answered 503).
    pub const UNAVAILABLE: &'static str = "the database is unavailable";

    /// Whether the database could not be reached (rather than refusing what was asked).
    pub fn is_unavailable(&self) -> bool {
        self.0.starts_with(Self::UNAVAILABLE)
    }
}

/// Store results.
pub type Result<T> = std::result::Result<T, StoreError>;

/// What a log entry does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LogKind {
    /// An event: `name` and its payload.
    Event {
        /// The event's name.
        name: String,
        /// Its payload.
        payload: serde_json::Value,
    },
    /// Replace a profile's attributes.
    ProfilePut {
        /// The profile key.
        key: String,
        /// The attributes.
        attributes: serde_json::Value,
    },
    /// Merge attributes into a profile (JSON merge patch).
    ProfilePatch {
        /// The profile key.
        key: String,
        /// The attributes to merge.
        attributes: serde_json::Value,
    },
    /// A profile enters or leaves an audience.
    Audience {
        /// The audience.
        audience: String,
        /// The profile key.
        key: String,
        /// Enters (true) or leaves (false).
        enters: bool,
    },
    /// A new version of the project was published (its artifact is in the versions table).
    Publish {
        /// The version number.
        version: u32,
        /// The journeys it publishes (others keep their current version).
        journeys: Vec<String>,
    },
    /// A journey takes no new entries.
    Close {
        /// The journey.
        journey: String,
    },
    /// A journey's instances all end "stopped", and it takes no new entries.
    Stop {
        /// The journey.
        journey: String,
    },
}

/// A log entry to append.
#[derive(Debug, Clone)]
pub struct NewEntry {
    /// The client's idempotency key (events); a repeated one is not appended again.
    pub client_id: Option<String>,
    /// When it happens (epoch ms).
    pub at_ms: i64,
    /// What it does: a [`LogKind`] as JSON, as it is stored.
    pub kind: String,
    /// Whether it is an event (the log counts them).
    pub event: bool,
    /// The profile it belongs to, which picks its partition on a partitioned store; `None` for
    /// an entry every partition applies (publish, close, stop).
    pub key: Option<String>,
}

impl NewEntry {
    /// An entry doing `kind`.
    pub fn new(client_id: Option<String>, at_ms: i64, kind: &LogKind) -> Result<NewEntry> {
        let text = serde_json::to_string(kind).map_err(|e| StoreError(format!("cannot encode: {e}")))?;
        let key = match kind {
            LogKind::ProfilePut { key, .. } | LogKind::ProfilePatch { key, .. } | LogKind::Audience { key, .. } => {
                Some(key.clone())
            }
            _ => None,
        };
        Ok(NewEntry { client_id, at_ms, kind: text, event: matches!(kind, LogKind::Event { .. }), key })
    }

    /// An event entry from its name and its payload's JSON text (checked to be JSON by the
    /// caller): the same text as [`NewEntry::new`] of a [`LogKind::Event`] with that payload,
    /// without building the payload's value to write it out again.
    pub fn event(client_id: Option<String>, at_ms: i64, name: &str, payload_json: &str) -> NewEntry {
        let mut kind = String::with_capacity(payload_json.len() + name.len() + 40);
        kind.push_str(r#"{"kind":"event","name":"#);
        // A string always encodes.
        kind.push_str(&serde_json::to_string(name).unwrap_or_else(|_| "\"\"".into()));
        kind.push_str(r#","payload":"#);
        kind.push_str(payload_json);
        kind.push('}');
        NewEntry { client_id, at_ms, kind, event: true, key: None }
    }

    /// The entry with the profile key it belongs to (an event's, from its `key`).
    pub fn keyed(mut self, key: &str) -> NewEntry {
        self.key = Some(key.to_string());
        self
    }
}

/// An appended log entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its position in the log.
    pub seq: i64,
    /// When it happens (epoch ms).
    pub at_ms: i64,
    /// What it does: a [`LogKind`] as JSON ([`Entry::decode`]).
    pub kind: String,
}

impl Entry {
    /// What it does.
    pub fn decode(&self) -> Result<LogKind> {
        serde_json::from_str(&self.kind).map_err(|e| StoreError(format!("log entry {} is damaged: {e}", self.seq)))
    }
}

/// The outcome of appending one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Appended at this position.
    New(i64),
    /// Its client id was already in the log (at this position): nothing appended.
    Duplicate(i64),
}

/// A published version.
#[derive(Debug, Clone)]
pub struct VersionRow {
    /// Its number (1, 2, ...).
    pub version: u32,
    /// The compiled artifact (`journey_bytecode::artifact` bytes): a restart needs no sources.
    pub artifact: Vec<u8>,
    /// When it was published (epoch ms).
    pub published_ms: i64,
}

/// What one engine (version) changed since the last checkpoint.
#[derive(Debug, Default)]
pub struct EngineDelta {
    /// The version.
    pub version: u32,
    /// Instances to write, over their stored row if they have one.
    pub upserts: Vec<Instance>,
    /// Instances made since the last checkpoint, to write: none has a stored row yet.
    pub created: Vec<Instance>,
    /// Instances ended.
    pub removed: Vec<InstanceId>,
    /// Calls in flight to write (by instance).
    pub calls: Vec<CallRequest>,
    /// Instances whose stored call is answered or gone (written or ended without one now).
    pub calls_done: Vec<InstanceId>,
    /// Entry history rows: (profile, journey name, last entry ms).
    pub entries: Vec<(String, String, i64)>,
    /// Counters and clock.
    pub small: journey_vm::engine::durable::SmallState,
    /// The report.
    pub report: Report,
    /// Each share's next instance id, in share order: a restart on as many shares numbers the
    /// instances it replays as the shares did before the crash (their calls' idempotency keys
    /// hold the number).
    pub share_next_ids: Vec<u64>,
    /// The message log's changes, in order: messages decided, delivered, reacted to.
    pub messages: Vec<MessageChange>,
    /// Live instances' messages to write (sent ones for their reactions, a queued one).
    pub instance_messages: Vec<(InstanceId, InstanceMessages)>,
    /// Instances whose stored messages are gone (ended, or nothing left to keep).
    pub instance_messages_done: Vec<InstanceId>,
    /// Profiles' goal watches to write, whole; an empty list deletes them (every goal
    /// converted, or every window passed).
    pub goals: Vec<(String, Vec<GoalWatch>)>,
}

/// A message as the store's message log keeps it (`GET /profiles/{key}/messages`).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    /// Its id (the deliver call's idempotency key).
    pub id: String,
    /// The profile.
    pub profile: String,
    /// The journey.
    pub journey: String,
    /// The version whose instance sent it.
    pub version: u32,
    /// That instance.
    pub instance: u64,
    /// The send node.
    pub node: u32,
    /// The channel.
    pub channel: String,
    /// The template.
    pub template: String,
    /// The address (none when there was none).
    pub to: Option<String>,
    /// `marketing` or `transactional`.
    pub category: String,
    /// `sent`, `queued`, `suppressed:REASON`, `failed`, or `sending` while delivered.
    pub outcome: String,
    /// When it was decided (epoch ms): queued, suppressed, or handed to the deliver action.
    pub at_ms: i64,
    /// Opened (the channel's `opened` reaction arrived while its instance ran).
    pub opened: bool,
    /// Clicked.
    pub clicked: bool,
}

/// One message's changes of a checkpoint folded into one write: its whole record when it was
/// decided, its latest outcome, and the reactions counted.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageWrite<'a> {
    /// The message.
    pub id: &'a str,
    /// Its record, when it was decided in this checkpoint (written whole).
    pub record: Option<&'a MessageRecord>,
    /// Its latest outcome, when its delivery answered after that.
    pub outcome: Option<&'static str>,
    /// Opened.
    pub opened: bool,
    /// Clicked.
    pub clicked: bool,
}

impl MessageWrite<'_> {
    /// The outcome to store.
    pub fn outcome(&self) -> Option<&str> {
        self.outcome.or(self.record.map(|r| r.outcome.as_str()))
    }
}

/// The message log's changes folded per message (one write each, in id order), so that a
/// batch never writes one row twice.
pub fn fold_messages(changes: &[MessageChange]) -> Vec<MessageWrite<'_>> {
    let mut by_id: std::collections::BTreeMap<&str, MessageWrite<'_>> = Default::default();
    for c in changes {
        let id = match c {
            MessageChange::Record(r) => r.id.as_str(),
            MessageChange::Outcome { id, .. } | MessageChange::Reaction { id, .. } => id.as_str(),
        };
        let w =
            by_id.entry(id).or_insert(MessageWrite { id, record: None, outcome: None, opened: false, clicked: false });
        match c {
            MessageChange::Record(r) => {
                w.record = Some(r);
                w.outcome = None;
            }
            MessageChange::Outcome { outcome, .. } => w.outcome = Some(outcome),
            MessageChange::Reaction { opened: true, .. } => w.opened = true,
            MessageChange::Reaction { opened: false, .. } => w.clicked = true,
        }
    }
    by_id.into_values().collect()
}

/// The frequency windows of a worker's shares rebuilt from the message log: each share's
/// marketing messages sent or being delivered, by the share of the profile.
pub fn frequency_rows_by_share(rows: Vec<(String, Counted)>, shares: usize) -> Vec<Vec<(String, Counted)>> {
    let mut out: Vec<Vec<(String, Counted)>> = (0..shares.max(1)).map(|_| Vec::new()).collect();
    for (profile, c) in rows {
        let i = journey_vm::engine::shard_of(&profile, shares.max(1) as u32) as usize;
        out[i].push((profile, c));
    }
    out
}

/// One checkpoint: every engine's delta, shared profile and audience writes, and the log
/// position they reflect, written atomically.
#[derive(Debug, Default)]
pub struct Checkpoint {
    /// The last log position applied.
    pub applied_seq: i64,
    /// Per engine.
    pub engines: Vec<EngineDelta>,
    /// Profiles written.
    pub profiles: Vec<(String, Value)>,
    /// The whole audience membership, when it changed.
    pub audiences: Option<Vec<(String, String)>>,
    /// Step events to append, each with the version of the engine that made it.
    pub steps: Vec<(u32, std::sync::Arc<StepEvent>)>,
    /// Step events the worker stopped keeping in memory: not written, only freed with the
    /// checkpoint (on the writer's thread).
    pub retired: Vec<std::sync::Arc<StepEvent>>,
}

/// A step event as the `steps` table keeps it: its JSON with `engine_version` beside.
pub fn step_row(version: u32, step: &StepEvent) -> Result<String> {
    // Written straight to text (a storm writes hundreds of thousands): the object's closing
    // brace makes room for one more field.
    let mut row = serde_json::to_string(step).map_err(|e| StoreError(format!("cannot encode: {e}")))?;
    row.pop();
    use std::fmt::Write as _;
    let _ = write!(row, ",\"engine_version\":{version}}}");
    Ok(row)
}

/// A `steps` row read back: (engine version, the step event's JSON).
pub fn step_from_row(row: &str) -> Option<(u32, serde_json::Value)> {
    let mut v: serde_json::Value = serde_json::from_str(row).ok()?;
    let version = v.as_object_mut()?.remove("engine_version").and_then(|n| n.as_u64()).unwrap_or(1) as u32;
    Some((version, v))
}

/// The durable store.
pub trait Store: Send {
    /// Appends entries in one durable transaction (group commit), in order.
    fn append(&mut self, entries: &[NewEntry]) -> Result<Vec<Appended>>;
    /// Entries after a position, in order, at most `limit`.
    fn entries_after(&mut self, seq: i64, limit: usize) -> Result<Vec<Entry>>;
    /// Stores a published version's artifact.
    fn save_version(&mut self, version: u32, artifact: &[u8], published_ms: i64) -> Result<()>;
    /// Every published version, oldest first.
    fn versions(&mut self) -> Result<Vec<VersionRow>>;
    /// Writes a checkpoint atomically.
    fn checkpoint(&mut self, cp: &Checkpoint) -> Result<()>;
    /// The last applied log position of the stored checkpoint.
    fn applied_seq(&mut self) -> Result<i64>;
    /// The log position up to which entries were appended before instances kept their entry's
    /// origin (0 in a database made since): a replay of those entries gives their instances
    /// origin 0, so their messages keep the ids a binary of then gave them.
    fn origins_from(&mut self) -> Result<i64> {
        Ok(0)
    }
    /// The latest `limit` step events stored, oldest first, each as JSON with the version of
    /// the engine that made it (the console's paths and errors outlive a restart).
    fn recent_steps(&mut self, limit: usize) -> Result<Vec<(u32, serde_json::Value)>>;
    /// The stored state of one engine (version), with the shared profiles and audiences.
    fn load_engine(&mut self, version: u32, journey_names: &[String]) -> Result<Stored>;
    /// Checkpoints need not reach the disk before the call returns (the log they are derived
    /// from does): after a power loss the last ones may be missing, and the log after the last
    /// one kept is replayed.
    fn relax_checkpoint_sync(&mut self) -> Result<()> {
        Ok(())
    }
    /// The number of log entries and accepted events (for status).
    fn counts(&mut self) -> Result<(i64, i64)>;
    /// Where the `cap` counters of one version are kept when they are shared with other
    /// processes (a cluster's database); `None`: in this process.
    fn cap_backend(&self, version: u32) -> Option<std::sync::Arc<journey_vm::engine::CapBackend>> {
        let _ = version;
        None
    }
    /// Each share's next instance id of one version at the stored checkpoint (empty when not
    /// stored).
    fn share_next_ids(&mut self, version: u32) -> Result<Vec<u64>> {
        let _ = version;
        Ok(Vec::new())
    }
    /// The messages frequency rules count, from the message log: marketing messages sent or
    /// being delivered after `since_ms`, oldest first, with their profiles.
    fn load_frequency(&mut self, since_ms: i64) -> Result<Vec<(String, Counted)>> {
        let _ = since_ms;
        Ok(Vec::new())
    }
    /// The marketing messages decided to go (`sending`) after `since_ms`: (profile, id). At a
    /// restart, those whose send the replay reaches again are sent again under their ids.
    fn load_sending(&mut self, since_ms: i64) -> Result<Vec<(String, String)>> {
        let _ = since_ms;
        Ok(Vec::new())
    }
    /// Writes messages decided to go (each engine's `messages`, records with outcome `sending`)
    /// durably, before their deliver calls leave: a restart counts them, and its replay sends
    /// them again under the same ids rather than deciding anew.
    fn write_sending(&mut self, engines: &[EngineDelta]) -> Result<()> {
        let _ = engines;
        Ok(())
    }
    /// A profile's messages from the message log, oldest first.
    fn profile_messages(&mut self, key: &str) -> Result<Vec<StoredMessage>> {
        let _ = key;
        Ok(Vec::new())
    }
}

/// Counts a stored message row again (the columns `load_frequency` reads).
pub fn counted(at_ms: i64, channel: &str, id: &str) -> Counted {
    Counted { at_ms, channel: channel.into(), id: id.into() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use journey_bytecode::NodeKind;
    use journey_vm::engine::report::NodeOutcome;

    /// An instance row stored before instances kept their entry's origin (the same fields,
    /// without the last) still reads, with origin 0, and names its messages as it did; a row of
    /// today keeps its origin.
    #[test]
    fn an_instance_stored_before_origins_reads_with_origin_zero() {
        use journey_vm::engine::instance::{InstanceData, Waiting};
        let data = |origin| InstanceData {
            id: 7,
            journey: 0,
            version: 1,
            profile: "ann".into(),
            pc: 3,
            locals: vec![Value::Int(1)].into(),
            event: vec![Value::str("cart")].into(),
            waiting: Waiting::Timer { due: 9 },
            entered_ms: 1_000,
            node: 2,
            node_ms: 1_000,
            token: 1,
            origin,
        };
        let now = postcard::to_stdvec(&Instance::from(data(300))).expect("encode");
        assert_eq!(decode_instance(&now).expect("today's row").origin, 300);
        // Origin 0 is one byte at the end: without it, the row as stored before.
        let mut before = postcard::to_stdvec(&Instance::from(data(0))).expect("encode");
        assert_eq!(before.pop(), Some(0));
        let old = decode_instance(&before).expect("an old row");
        assert_eq!((old.id, old.pc, old.token, old.origin), (7, 3, 1, 0));
        assert_eq!((old.locals(), old.event()), (&[Value::Int(1)][..], &[Value::str("cart")][..]));
        // The id such an instance's message had before origins were kept: FNV-1a of
        // `ann \0 Flow \0 1000 \0 2`.
        assert_eq!(journey_vm::engine::messages::message_id(&old, "Flow", 2), "msg-9e8c901cb5780193");
        assert!(decode_instance(&before[..before.len() - 1]).is_err(), "a damaged row is an error");
    }

    /// A call row stored before calls kept their node still reads, with no node.
    #[test]
    fn a_call_stored_before_nodes_reads_without_one() {
        let call = |node| CallRequest {
            instance: 4,
            journey: "Flow".into(),
            profile: "ann".into(),
            http: 1,
            target: "Mail".into(),
            args: vec![Value::str("ann@example.com")],
            idempotency_key: "msg-1".into(),
            at_ms: 5,
            node,
        };
        let now = postcard::to_stdvec(&call(3)).expect("encode");
        assert_eq!(decode_call(&now).expect("today's row").node, 3);
        // Node 3 is one byte at the end: without it, the row as stored before.
        let before = &now[..now.len() - 1];
        let old = decode_call(before).expect("an old row");
        assert_eq!((old.instance, old.idempotency_key.as_str(), old.node), (4, "msg-1", CallRequest::NO_NODE));
    }

    /// A step row is the step event's own JSON with the engine version beside it, whatever the
    /// event holds (quotes and newlines in a reason, optional fields present or absent).
    #[test]
    fn a_step_row_reads_back_as_the_step_event_and_its_version() {
        let mut step = StepEvent {
            time: "2026-12-07T10:00:00Z".into(),
            journey: "Flow".into(),
            version: 2,
            instance: 41,
            profile: "ann \"the\" first".into(),
            node: 3,
            kind: NodeKind::Call,
            outcome: NodeOutcome::Failed,
            duration_ms: 12,
            error: Some("action `Down`: connection refused\nline 2".into()),
            arm: None,
            send: None,
            message: None,
        };
        for version in [1, 7, u32::MAX] {
            let row = step_row(version, &step).expect("row");
            let (read, json) = step_from_row(&row).expect("a row reads back");
            assert_eq!(read, version);
            assert_eq!(json, serde_json::to_value(&step).expect("json"), "{row}");
            step.arm = Some("B".into());
            step.send = Some("sent".into());
            step.message = Some("m-1".into());
            step.error = None;
        }
    }
}
