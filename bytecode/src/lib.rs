//! The journey bytecode: a small stack-machine instruction set for expressions and journey
//! control, the compiled program the VM runs, the versioned artifact `journey build` writes, and
//! the verifier that checks a program once before it runs. `docs/bytecode.md` describes it.
//!
//! This crate knows nothing of the source language: the compiler produces its types, the VM
//! reads them. Every value an instruction or table holds is plain data (indexes, names,
//! constants, types).

#![warn(missing_docs)]

pub mod artifact;
pub mod disasm;
pub mod graph;
pub mod verify;

pub use artifact::{Artifact, ArtifactError, Header};
pub use journey_schema::types;
pub use journey_schema::types::Ty;
pub use verify::{verify, VerifyError};

use serde::{Deserialize, Serialize};

/// The artifact format version; a VM refuses artifacts of another version, except versions 2
/// (before `concurrency`), 3 (before messages), 4 (before goals) and 5 (before canvases), which
/// it reads and upgrades.
pub const FORMAT_VERSION: u32 = 6;

/// The most goals a journey may have: the engine keeps one bit per goal for each entry's
/// conversions, and the checker refuses more (E0038).
pub const MAX_GOALS: usize = 64;

/// Where code starts in a [`Code`] vector.
pub type Addr = u32;

/// The label operand of [`Op::End`] that means "no label".
pub const NO_LABEL: u32 = u32::MAX;

/// One instruction. Operands index the program's tables.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// Push constant `consts[i]`.
    Const(u32),
    /// Push local slot `i`.
    Local(u16),
    /// Pop into local slot `i`.
    SetLocal(u16),
    /// Push the entry event's payload (in an event's `key`/`when`: the incoming payload).
    Event,
    /// Push the value at the journey's `event_paths[i]` (resolved at entry).
    EventPath(u16),
    /// Push the profile's attributes.
    Profile,
    /// Pop a record or map; push its field `names[i]` (null when absent).
    Field(u32),
    /// Pop index and base; push `base[index]`.
    Index,
    /// Pop `argc` arguments; push library function `functions[f]` applied to them.
    Call(u16, u8),
    /// Push the secret `names[i]` from the environment (HTTP option code only).
    Secret(u32),
    /// Unary minus.
    Neg,
    /// Logical not.
    Not,
    /// Binary operators: pop rhs then lhs, push the result.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
    /// `%`.
    Rem,
    /// `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `in` a list.
    In,
    /// Pop hi, lo, value; push `lo <= value < hi` (negated when true).
    InRange(bool),
    /// Pop; push the `is` test's result.
    Is(IsTest),
    /// Pop `n` values; push their texts joined (null joins as empty text).
    Concat(u16),
    /// Pop `n` values; push a list.
    MakeList(u32),
    /// Pop as many values as `shapes[i]` has names; push a record.
    MakeRecord(u32),
    /// Jump to an address.
    Jump(Addr),
    /// Pop; jump when false or null.
    JumpIfFalse(Addr),
    /// `??`: when the top is not null, jump keeping it; otherwise pop it.
    JumpIfNotNull(Addr),
    /// `and`: when the top is false, jump keeping it.
    JumpIfFalseKeep(Addr),
    /// `or`: when the top is true, jump keeping it.
    JumpIfTrueKeep(Addr),
    /// Pop rhs and lhs of `and`; push their three-valued conjunction.
    And,
    /// Pop rhs and lhs of `or`; push their three-valued disjunction.
    Or,
    /// Pop a list; run the lambda `lambdas[i]` on each item; push the result.
    Lambda(u32),
    /// Discard the top.
    Pop,
    /// End of an expression chunk: the value is on top.
    Ret,
    /// An instance enters node `i` (for step events and per-node counts).
    Node(u32),
    /// Pop a duration; suspend until that much time has passed.
    Wait,
    /// Pop a time of day or date-time; suspend until then.
    WaitUntil,
    /// Suspend on `awaits[i]`; the runtime resumes at the chosen arm.
    Await(u32),
    /// Pop the arguments of `calls[i]`; suspend until the call answers; the result goes where
    /// the call says, handlers are jumped to on failure.
    ActionCall(u32),
    /// Choose a branch of `splits[i]` by the stable hash of profile, journey and node.
    Split(u32),
    /// `caps[i]`: the first N profiles fall through, the rest jump to its `otherwise`.
    Cap(u32),
    /// Pop values for `updates[i]`'s paths; write them to the profile.
    UpdateProfile(u32),
    /// Start journey `names[i]` for this profile (unless already in it) and go on.
    JumpJourney(u32),
    /// End the instance with label `names[i]`, or with no label when [`NO_LABEL`].
    End(u32),
    /// Pop consent, address, variables and template; send `sends[i]` through its channel
    /// (checks, then the deliver call); the runtime goes on where the outcome says.
    Send(u32),
}

/// The `is` tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IsTest {
    /// `is null`.
    Null,
    /// `is not null`.
    NotNull,
    /// `has null` (a list holding a null).
    HasNull,
    /// `is integer`.
    Integer,
    /// `is decimal`.
    Decimal,
    /// `is numeric`.
    Numeric,
}

/// The binary operators, as the VM's operator library applies them to values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BinaryOp {
    /// `??`.
    Coalesce,
    /// `or`.
    Or,
    /// `and`.
    And,
    /// `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `in`.
    In,
    /// `not in`.
    NotIn,
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
    /// `%`.
    Rem,
}

/// The unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnaryOp {
    /// `-`.
    Neg,
    /// `not`.
    Not,
}

/// A constant value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Const {
    /// null.
    Null,
    /// bool.
    Bool(bool),
    /// int.
    Int(i64),
    /// number.
    Number(f64),
    /// string.
    Str(String),
    /// duration in milliseconds.
    Duration(i64),
    /// date `YYYY-MM-DD`.
    Date(String),
    /// date-time as written (RFC 3339).
    DateTime(String),
    /// local date-time as written.
    LocalDateTime(String),
    /// time of day as written.
    Time(String),
}

/// How a journey starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Start {
    /// On an event.
    Event(String),
    /// On audience entry.
    AudienceEnters(String),
    /// On audience exit.
    AudienceExits(String),
    /// A scheduled audience read: `every` is `day` or a weekday; or once at a date-time.
    AudienceRead {
        /// The audience read.
        audience: String,
        /// `day` or a weekday; none for a one-off read.
        every: Option<String>,
        /// The time of day, or the date-time of a one-off read, as written.
        at: String,
    },
    /// A business event: one instance for every member of the audience at each arrival.
    /// (Declared after the others so that stored programs keep their encoding.)
    EventForAudience {
        /// The event.
        event: String,
        /// The audience.
        audience: String,
    },
}

/// Re-entry policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Reentry {
    /// Once ever.
    Never,
    /// Whenever the previous instance has ended.
    Always,
    /// After this many milliseconds since the previous entry.
    After(i64),
}

/// Whether an HTTP declaration is an action or a data source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HttpKind {
    /// `action`: called with `call`.
    Action,
    /// `datasource`: read with `fetch`.
    DataSource,
}

/// A compiled program.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Program {
    /// Constants.
    pub consts: Vec<Const>,
    /// Interned names: fields, labels, journeys, secrets.
    pub names: Vec<String>,
    /// Record shapes: the field names of each record literal, by index into `names`.
    pub shapes: Vec<Vec<u32>>,
    /// Library functions called, by name.
    pub functions: Vec<String>,
    /// The profile's type.
    pub profile: Option<Ty>,
    /// Events.
    pub events: Vec<EventCode>,
    /// Actions and data sources.
    pub http: Vec<HttpCode>,
    /// Declared audiences.
    pub audiences: Vec<String>,
    /// Journeys.
    pub journeys: Vec<JourneyCode>,
    /// Tests.
    pub tests: Vec<TestCode>,
    /// Message channels.
    pub channels: Vec<ChannelCode>,
    /// Frequency rules.
    pub frequencies: Vec<FrequencyCode>,
}

/// A compiled channel: where its messages go is computed at each send (its `to` and `consent`
/// are compiled into the sending journey); this is the rest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChannelCode {
    /// Its name.
    pub name: String,
    /// Index of the deliver action in the program's `http`.
    pub deliver: u32,
    /// Quiet hours, marketing only.
    pub quiet: Option<QuietCode>,
    /// `opened on E by f`.
    pub opened: Option<ReactionCode>,
    /// `clicked on E by f`.
    pub clicked: Option<ReactionCode>,
}

/// `quiet FROM..TO queue|drop`: times of day in milliseconds after midnight, read in the sending
/// journey's time zone; the window is `from <= t < to` and may cross midnight.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QuietCode {
    /// Where it starts (ms after midnight).
    pub from_ms: i64,
    /// Where it ends (excluded).
    pub to_ms: i64,
    /// `queue` (wait for the end) rather than `drop`.
    pub queue: bool,
}

/// A reaction event: which event, and the payload field holding the message id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReactionCode {
    /// The event.
    pub event: String,
    /// The field path of the message id in its payload.
    pub by: Vec<String>,
}

/// `frequency CHANNEL|any N per DURATION`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FrequencyCode {
    /// The channel (index into `channels`); `None` for `any`.
    pub channel: Option<u32>,
    /// At most this many marketing messages ...
    pub limit: i64,
    /// ... in any window this long (ms).
    pub window_ms: i64,
}

/// A `send` of a journey.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendCode {
    /// Its node.
    pub node: u32,
    /// Index into the program's `channels`.
    pub channel: u32,
    /// `transactional`: no consent, frequency or quiet-hours check.
    pub transactional: bool,
    /// The slot `as NAME` binds (`{ id, sentAt }`, null when not sent).
    pub slot: Option<u16>,
    /// The slot of `reason` in `on suppressed`.
    pub reason_slot: Option<u16>,
    /// Where its values are computed (after its `Node`): a queued send runs again from here.
    pub retry: Addr,
    /// `on suppressed` block.
    pub on_suppressed: Option<Addr>,
    /// `on error` block.
    pub on_error: Option<Addr>,
    /// Where execution goes on after the statement.
    pub next: Addr,
}

/// A chunk of code: instructions and lambdas.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Code {
    /// Instructions.
    pub ops: Vec<Op>,
    /// Lambdas: (kind, parameter slot, body address).
    pub lambdas: Vec<LambdaCode>,
}

impl Code {
    /// How many local slots the lambdas' parameters need (the frame of expression code that has
    /// no other locals: an event's `key`/`when`, a test's values, a free-standing expression).
    pub fn lambda_slots(&self) -> usize {
        self.lambdas.iter().map(|l| l.slot as usize + 1).max().unwrap_or(0)
    }
}

/// A lambda given to `all`, `first` or `last`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct LambdaCode {
    /// Which function.
    pub kind: LambdaKind,
    /// The slot of its parameter.
    pub slot: u16,
    /// Where its body (ending in `Ret`) starts.
    pub body: Addr,
}

/// The functions that take a lambda.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LambdaKind {
    /// Items for which it holds.
    All,
    /// The first item for which it holds.
    First,
    /// The last item for which it holds.
    Last,
}

/// A compiled event declaration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventCode {
    /// Its name.
    pub name: String,
    /// The payload's type (to convert JSON: date strings to dates).
    pub payload: Ty,
    /// Code for `key` and `when`; each starts at its address and ends in `Ret`.
    pub code: Code,
    /// Start of the key chunk.
    pub key: Option<Addr>,
    /// Start of the when chunk.
    pub when: Option<Addr>,
}

/// A compiled action or data source: its settings, and its options as chunks of `code`
/// (each ending in `Ret`), evaluated per call with the parameters in local slots `0..n`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HttpCode {
    /// Action or data source.
    pub kind: HttpKind,
    /// Its name.
    pub name: String,
    /// Parameter names and types, in order.
    pub params: Vec<(String, Ty)>,
    /// HTTP method.
    pub method: String,
    /// The URL template, split at its `{param}` placeholders.
    pub url: Vec<UrlPart>,
    /// Header name and value chunk.
    pub headers: Vec<(String, Addr)>,
    /// Query parameter name and value chunk.
    pub query: Vec<(String, Addr)>,
    /// The JSON body's chunk.
    pub body: Option<Addr>,
    /// Authentication.
    pub auth: AuthCode,
    /// How it is called: timeout, retries, throttle, concurrency, cache.
    pub settings: HttpSettings,
    /// The type of a successful response.
    pub returns: Ty,
    /// The option chunks.
    pub code: Code,
}

/// How an action or data source is called, as its declaration's options set it: the same data in
/// the IR and in bytecode. (Postcard writes it as these fields in place, as before it was a
/// struct of its own.)
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HttpSettings {
    /// Per-attempt timeout in milliseconds.
    pub timeout_ms: i64,
    /// Extra attempts after the first.
    pub retries: i64,
    /// Base backoff between attempts in milliseconds.
    pub backoff_ms: i64,
    /// At most `n` calls per `per_ms`.
    pub throttle: Option<(i64, i64)>,
    /// At most this many calls in flight at once to each host, in a limit of the declaration's
    /// own (`concurrency N`); `None`: the calls share the host's default limit.
    pub concurrency: Option<i64>,
    /// Data source cache time to live in milliseconds.
    pub cache_ms: Option<i64>,
}

impl HttpCode {
    /// The local slots its option code needs: the parameters, then any lambda parameters.
    pub fn locals(&self) -> usize {
        self.params.len().max(self.code.lambda_slots())
    }
}

/// A piece of an HTTP declaration's URL template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UrlPart {
    /// Text as written.
    Text(String),
    /// A `{param}` placeholder: the parameter's name and the chunk that reads it.
    Param {
        /// The parameter's name (for messages).
        name: String,
        /// Its value's chunk.
        value: Addr,
    },
}

/// Authentication: its values are chunks (`Addr`) in bytecode, typed expressions in the IR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AuthCode<E = Addr> {
    /// None.
    None,
    /// Basic user and password.
    Basic(E, E),
    /// Bearer token.
    Bearer(E),
    /// A header with a value.
    Header(String, E),
}

impl<E> AuthCode<E> {
    /// The same authentication with each value turned by `f`, in order.
    pub fn map<'a, F>(&'a self, mut f: impl FnMut(&'a E) -> F) -> AuthCode<F> {
        match self {
            AuthCode::None => AuthCode::None,
            AuthCode::Basic(user, pass) => {
                let user = f(user);
                AuthCode::Basic(user, f(pass))
            }
            AuthCode::Bearer(token) => AuthCode::Bearer(f(token)),
            AuthCode::Header(name, value) => AuthCode::Header(name.clone(), f(value)),
        }
    }
}

/// A compiled journey.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JourneyCode {
    /// Its name.
    pub name: String,
    /// How it starts.
    pub start: Start,
    /// Re-entry policy.
    pub reentry: Reentry,
    /// IANA time zone.
    pub timezone: String,
    /// Global timeout.
    pub timeout_ms: i64,
    /// Active window.
    pub active: Option<(String, String)>,
    /// Exit criteria events.
    pub exit_on: Vec<String>,
    /// Local slots.
    pub locals: u16,
    /// Paths into the entry event that the journey reads; resolved once at entry.
    pub event_paths: Vec<Vec<String>>,
    /// The body, then the chunks (await conditions, lambdas) after it.
    pub code: Code,
    /// Nodes by id.
    pub nodes: Vec<NodeInfo>,
    /// Await points.
    pub awaits: Vec<AwaitCode>,
    /// Calls and fetches.
    pub calls: Vec<CallCode>,
    /// Splits.
    pub splits: Vec<SplitCode>,
    /// Caps.
    pub caps: Vec<CapCode>,
    /// Profile updates: the paths of each.
    pub updates: Vec<Vec<Vec<String>>>,
    /// Sends.
    pub sends: Vec<SendCode>,
    /// The chunk of a computed `timezone` (over the profile); `timezone` is then the fallback.
    pub timezone_expr: Option<Addr>,
    /// Goals, in source order.
    pub goals: Vec<GoalCode>,
}

/// A compiled goal: a profile converts the first time `event` arrives for it (and `condition`
/// holds) within `window_ms` of an instance's entry. Its chunks are evaluated in a frame of the
/// journey's `locals` slots (the payload in `slot`) and the instance's entry-event values.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GoalCode {
    /// Its name.
    pub name: String,
    /// The event that converts.
    pub event: String,
    /// Slot for the payload (`as x`).
    pub slot: Option<u16>,
    /// The `where` chunk.
    pub condition: Option<Addr>,
    /// The conversion window from entry, in milliseconds.
    pub window_ms: i64,
    /// The `value` chunk (a number).
    pub value: Option<Addr>,
}

/// A node of the journey, for reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeInfo {
    /// What kind of statement.
    pub kind: NodeKind,
    /// 1-based source line.
    pub line: u32,
    /// A short description: `wait 1h`, `call SendEmail`.
    pub label: String,
}

/// Declares [`NodeKind`] with its names, once: a new kind is one line here, and [`NodeKind::ALL`]
/// and [`NodeKind::name`] (which step events, reports and artifacts use) follow from it.
macro_rules! node_kinds {
    ($($(#[doc = $doc:literal])* $kind:ident => $name:literal,)*) => {
        /// What a node of a journey stands for: in reports and step events (by
        /// [`NodeKind::name`]) and on the canvas of `journey graph` (where it decides the node's
        /// shape).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum NodeKind {
            $($(#[doc = $doc])* $kind,)*
        }

        impl NodeKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [NodeKind] = &[$(NodeKind::$kind),*];

            /// Its name in step events, reports and artifacts: `wait`, `call`, `fetch`, ...
            pub fn name(self) -> &'static str {
                match self {
                    $(NodeKind::$kind => $name,)*
                }
            }
        }
    };
}

node_kinds! {
    /// How the journey starts (on the canvas only: no instance stops there).
    Start => "start",
    /// `wait` and `wait until`.
    Wait => "wait",
    /// `await`: waits for the first of several events.
    Await => "await",
    /// `if`: one outgoing path per branch.
    Condition => "condition",
    /// `split`: one outgoing path per percentage.
    Split => "split",
    /// `cap N`: the first N profiles, else the others.
    Cap => "cap",
    /// `call` of an action.
    Call => "call",
    /// `fetch` from a data source.
    Fetch => "fetch",
    /// `update profile`.
    Update => "update",
    /// `jump J`: starts another journey.
    Jump => "jump",
    /// `end` (or the end of the body).
    End => "end",
    /// `send`: a message through a channel.
    Send => "send",
}

impl NodeKind {
    /// The kind of this name (see [`NodeKind::name`]).
    pub fn from_name(name: &str) -> Option<NodeKind> {
        NodeKind::ALL.iter().copied().find(|k| k.name() == name)
    }
}

impl std::fmt::Display for NodeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

// Written as its name (as when the kind was a string), so artifacts and stored step events keep
// their form.
impl Serialize for NodeKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for NodeKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        NodeKind::from_name(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown node kind `{name}`")))
    }
}

/// An await point.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AwaitCode {
    /// The arms in source order.
    pub arms: Vec<AwaitArmCode>,
    /// Timeout: the duration chunk and where its block starts.
    pub after: Option<(Addr, Addr)>,
}

/// An arm of an await.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AwaitArmCode {
    /// The event.
    pub event: String,
    /// Slot for the payload (`as x`).
    pub slot: Option<u16>,
    /// The condition chunk.
    pub condition: Option<Addr>,
    /// Where its block starts.
    pub target: Addr,
}

/// A call or fetch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallCode {
    /// Index into the program's `http`.
    pub http: u32,
    /// Which parameters were given (the values are on the stack in this order).
    pub given: Vec<bool>,
    /// Slot for the result.
    pub slot: Option<u16>,
    /// `on timeout` block.
    pub on_timeout: Option<Addr>,
    /// `on error` block.
    pub on_error: Option<Addr>,
    /// Where execution goes on after the statement.
    pub next: Addr,
}

/// A split.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SplitCode {
    /// Node id (part of the hash).
    pub node: u32,
    /// (cumulative upper bound in percent, label, target).
    pub branches: Vec<(f64, Option<String>, Addr)>,
}

/// A cap.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CapCode {
    /// Node id (the counter's key).
    pub node: u32,
    /// How many profiles take the first block.
    pub limit: i64,
    /// Where the others go.
    pub otherwise: Addr,
}

/// A compiled `test` block: its steps, whose values are chunks of `code` (constant expressions,
/// each ending in `Ret`; a payload may read the messages bound by `expect sent ... as m` from
/// local slots `0..slots`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestCode {
    /// Its name.
    pub name: String,
    /// The file it is in.
    pub file: String,
    /// Its statements, in order.
    pub steps: Vec<TestStep>,
    /// The values' chunks.
    pub code: Code,
    /// The line of each step (from 1), for a failure to point at; not kept in an artifact
    /// (empty when loaded from one: `journey test` compiles its sources).
    #[serde(skip)]
    pub lines: Vec<u32>,
}

impl TestCode {
    /// The local slots its chunks read: the lambdas' parameters and the messages bound by
    /// `expect sent ... as m`.
    pub fn slots(&self) -> usize {
        let bound = self
            .steps
            .iter()
            .filter_map(|s| match s {
                TestStep::ExpectSent { bind: Some(b), .. } => Some(*b as usize + 1),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        bound.max(self.code.lambda_slots())
    }
}

/// A test statement. Its values are of type `E`: chunks (`Addr`) in the bytecode, typed
/// expressions in the compiler's IR, which lowers each with [`TestStep::map`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum TestStep<E = Addr> {
    /// Start the clock at this instant (RFC 3339).
    Start(String),
    /// Set a profile's attributes (the value).
    Profile {
        /// The profile's key; none for the profile of the first event sent.
        key: Option<String>,
        /// The attributes.
        attributes: E,
    },
    /// Put a profile in an audience.
    AudienceHas {
        /// The audience.
        audience: String,
        /// The profile's key.
        key: String,
    },
    /// Mock an action or data source.
    Mock {
        /// The action or data source.
        target: String,
        /// What it answers.
        result: MockResult<E>,
    },
    /// Send an event, after advancing the clock.
    Send {
        /// How far the clock moves first (ms).
        after_ms: i64,
        /// The event.
        event: String,
        /// The payload.
        payload: E,
    },
    /// Advance the clock.
    After(i64),
    /// Expect an ended instance.
    ExpectEnded {
        /// The journey.
        journey: String,
        /// The label it ended with, if the test names one.
        label: Option<String>,
    },
    /// Expect a running instance.
    ExpectRunning {
        /// The journey.
        journey: String,
    },
    /// Expect calls.
    ExpectCall {
        /// The action or data source.
        action: String,
        /// The expected arguments (a record by parameter name), if given.
        args: Option<E>,
        /// How many times, if given.
        times: Option<i64>,
    },
    /// Expect no call.
    ExpectNoCall {
        /// The action or data source.
        action: String,
    },
    /// Expect messages sent (`times: Some(0)` for `expect no sent`); `bind` the most recent
    /// matching one to test slot `bind`.
    ExpectSent {
        /// The channel.
        channel: String,
        /// The template.
        template: Option<String>,
        /// The recipient.
        to: Option<String>,
        /// How many.
        times: Option<i64>,
        /// The test slot `as m` binds.
        bind: Option<u16>,
    },
    /// Expect a suppressed message.
    ExpectSuppressed {
        /// The channel.
        channel: String,
        /// The template.
        template: Option<String>,
        /// The reason.
        reason: String,
    },
    /// Expect the test's profile to have converted on a goal (or, with `no`, not to have).
    ExpectConverted {
        /// `expect no ... converted`.
        no: bool,
        /// The journey.
        journey: String,
        /// The goal.
        goal: String,
    },
    /// Expect the test's instance to have taken an experiment's arm.
    ExpectArm {
        /// The journey.
        journey: String,
        /// The arm's label.
        arm: String,
    },
}

impl<E> TestStep<E> {
    /// The same step with each value turned by `f`, in order (the compiler makes its chunks so).
    pub fn map<'a, F>(&'a self, mut f: impl FnMut(&'a E) -> F) -> TestStep<F> {
        use TestStep as S;
        match self {
            S::Start(at) => S::Start(at.clone()),
            S::Profile { key, attributes } => S::Profile { key: key.clone(), attributes: f(attributes) },
            S::AudienceHas { audience, key } => S::AudienceHas { audience: audience.clone(), key: key.clone() },
            S::Mock { target, result } => S::Mock { target: target.clone(), result: result.map(f) },
            S::Send { after_ms, event, payload } => {
                S::Send { after_ms: *after_ms, event: event.clone(), payload: f(payload) }
            }
            S::After(ms) => S::After(*ms),
            S::ExpectEnded { journey, label } => S::ExpectEnded { journey: journey.clone(), label: label.clone() },
            S::ExpectRunning { journey } => S::ExpectRunning { journey: journey.clone() },
            S::ExpectCall { action, args, times } => {
                S::ExpectCall { action: action.clone(), args: args.as_ref().map(f), times: *times }
            }
            S::ExpectNoCall { action } => S::ExpectNoCall { action: action.clone() },
            S::ExpectSent { channel, template, to, times, bind } => S::ExpectSent {
                channel: channel.clone(),
                template: template.clone(),
                to: to.clone(),
                times: *times,
                bind: *bind,
            },
            S::ExpectSuppressed { channel, template, reason } => {
                S::ExpectSuppressed { channel: channel.clone(), template: template.clone(), reason: reason.clone() }
            }
            S::ExpectConverted { no, journey, goal } => {
                S::ExpectConverted { no: *no, journey: journey.clone(), goal: goal.clone() }
            }
            S::ExpectArm { journey, arm } => S::ExpectArm { journey: journey.clone(), arm: arm.clone() },
        }
    }
}

/// A mock's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum MockResult<E = Addr> {
    /// Answer this value.
    Value(E),
    /// Fail.
    Fail,
    /// Time out.
    Timeout,
}

impl<E> MockResult<E> {
    /// The same answer with its value turned by `f`.
    pub fn map<'a, F>(&'a self, f: impl FnOnce(&'a E) -> F) -> MockResult<F> {
        match self {
            MockResult::Value(v) => MockResult::Value(f(v)),
            MockResult::Fail => MockResult::Fail,
            MockResult::Timeout => MockResult::Timeout,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The node kind is stored by its name, as when it was a string: artifacts written before it
    /// became an enum still load, and step events keep their text.
    #[test]
    fn node_kinds_are_stored_by_name() {
        #[derive(Serialize)]
        struct Before {
            kind: String,
            line: u32,
            label: String,
        }
        for &kind in NodeKind::ALL {
            let now = NodeInfo { kind, line: 3, label: "x".into() };
            let before = Before { kind: kind.name().to_string(), line: 3, label: "x".into() };
            let bytes = postcard::to_stdvec(&now).unwrap();
            assert_eq!(bytes, postcard::to_stdvec(&before).unwrap(), "{kind}");
            assert_eq!(postcard::from_bytes::<NodeInfo>(&bytes).unwrap().kind, kind);
            assert_eq!(serde_json::to_value(kind).unwrap(), serde_json::json!(kind.name()));
        }
        let bad = postcard::to_stdvec(&Before { kind: "teleport".into(), line: 1, label: String::new() }).unwrap();
        assert!(postcard::from_bytes::<NodeInfo>(&bad).is_err());
    }

    /// docs/bytecode.md describes every instruction: each variant of `Op` (read from this file)
    /// has a row there, as `` `Name` `` or `` `Name(...)` ``.
    #[test]
    fn every_op_is_documented() {
        let src = include_str!("lib.rs");
        let body = src.split("pub enum Op {").nth(1).expect("enum Op");
        let body = &body[..body.find("\n}\n").expect("its end")];
        let ops: Vec<&str> = body
            .lines()
            .filter_map(|l| l.strip_prefix("    "))
            .filter(|l| l.starts_with(|c: char| c.is_ascii_uppercase()))
            .map(|l| l.split(|c: char| !c.is_ascii_alphanumeric()).next().unwrap_or_default())
            .collect();
        assert!(ops.len() > 40, "{ops:?}");
        let docs = include_str!("../../docs/bytecode.md");
        let missing: Vec<&&str> =
            ops.iter().filter(|op| !docs.contains(&format!("`{op}`")) && !docs.contains(&format!("`{op}("))).collect();
        assert!(missing.is_empty(), "instructions missing from docs/bytecode.md: {missing:?}");
    }
}
