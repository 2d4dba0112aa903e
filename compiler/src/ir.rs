//! The typed IR: what the checker hands to later stages (bytecode, runtime, language server).
//! Names are resolved (locals to slots, declarations to their names), every expression has a type.

use crate::types::Ty;
use journey_grammar::ast::{BinaryOp, HttpKind, IsTest, Span, UnaryOp};
use serde::{Deserialize, Serialize};

/// Constants, start and re-entry rules and call settings are the same data in the IR and in
/// bytecode.
pub use journey_bytecode::{Const, HttpSettings, Reentry, Start};

/// A checked project.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Program {
    /// The profile's type (an empty record when the project declares none).
    pub profile: Option<Ty>,
    /// Events by name, in declaration order.
    pub events: Vec<Event>,
    /// Actions and data sources.
    pub http: Vec<Http>,
    /// Declared audiences.
    pub audiences: Vec<String>,
    /// Journeys.
    pub journeys: Vec<Journey>,
    /// Tests.
    pub tests: Vec<Test>,
    /// Message channels.
    pub channels: Vec<Channel>,
    /// Frequency rules.
    pub frequencies: Vec<Frequency>,
}

/// A checked channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Channel {
    /// Its name.
    pub name: String,
    /// The address (`string?` over `profile`).
    pub to: Expr,
    /// Marketing consent (`bool?` over `profile`); none: allowed.
    pub consent: Option<Expr>,
    /// The deliver action.
    pub deliver: String,
    /// Quiet hours: from and to (ms after midnight), and whether a send is queued (else dropped).
    pub quiet: Option<(i64, i64, bool)>,
    /// `opened on E by f`: the event and the payload field path.
    pub opened: Option<(String, Vec<String>)>,
    /// `clicked on E by f`.
    pub clicked: Option<(String, Vec<String>)>,
}

/// A checked frequency rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Frequency {
    /// The channel; `None` for `any`.
    pub channel: Option<String>,
    /// At most this many marketing messages ...
    pub limit: i64,
    /// ... in any window this long (ms).
    pub window_ms: i64,
}

/// A checked event declaration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    /// Its name.
    pub name: String,
    /// The payload type.
    pub payload: Ty,
    /// The profile key over the payload (payload fields are `Name`s of [`Expr::Field`] on `Payload`).
    pub key: Option<Expr>,
    /// Which payloads count as this event.
    pub when: Option<Expr>,
}

/// A checked action or data source.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Http {
    /// Action or data source.
    pub kind: HttpKind,
    /// Its name.
    pub name: String,
    /// Parameter names and types; parameters are locals 0..n in the option expressions.
    pub params: Vec<(String, Ty)>,
    /// HTTP method.
    pub method: String,
    /// URL template with `{param}` placeholders.
    pub url: String,
    /// Header name -> value.
    pub headers: Vec<(String, Expr)>,
    /// Query name -> value.
    pub query: Vec<(String, Expr)>,
    /// The JSON body.
    pub body: Option<Expr>,
    /// Authentication.
    pub auth: Auth,
    /// How it is called: timeout, retries, throttle, concurrency, cache.
    pub settings: HttpSettings,
    /// The type of a successful response.
    pub returns: Ty,
}

/// Checked authentication, with typed expressions for its values.
pub type Auth = journey_bytecode::AuthCode<Expr>;

/// The labels the engine ends instances with on its own: on the journey timeout, on an exit
/// event, when the journey is stopped, on an error.
pub const OUTCOME_LABELS: [&str; 4] = ["timed-out", "exited", "error", "stopped"];

/// Words an `end` label may not be: the engine's own end labels plus the step outcome
/// `failed`, so a journey's labels never collide with what the engine reports.
pub const RESERVED_LABELS: [&str; 5] = ["timed-out", "exited", "error", "stopped", "failed"];

/// A checked journey.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Journey {
    /// Its name.
    pub name: String,
    /// How it starts.
    pub start: Start,
    /// Re-entry policy.
    pub reentry: Reentry,
    /// IANA time zone (the fallback of a computed one).
    pub timezone: String,
    /// A `timezone` computed from the profile.
    pub timezone_expr: Option<Expr>,
    /// Global timeout in milliseconds.
    pub timeout_ms: i64,
    /// Active window (inclusive dates or date-times as written).
    pub active: Option<(String, String)>,
    /// Exit criteria events.
    pub exit_on: Vec<String>,
    /// Goals, in source order.
    pub goals: Vec<Goal>,
    /// Number of local slots the body uses.
    pub locals: usize,
    /// The body.
    pub body: Vec<Stmt>,
    /// The journey's name span (for reports that point back at source).
    pub span: Span,
    /// The file it is declared in.
    pub file: usize,
}

/// A checked goal: a profile converts the first time `event` arrives (and `condition` holds)
/// within `window_ms` of an instance's entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Goal {
    /// Its name.
    pub name: String,
    /// The event that converts.
    pub event: String,
    /// The slot that holds the goal event's payload (`as x`), one of the journey's.
    pub slot: Option<usize>,
    /// `where`.
    pub condition: Option<Expr>,
    /// The conversion window from entry, in milliseconds.
    pub window_ms: i64,
    /// `value` (a number).
    pub value: Option<Expr>,
}

/// A checked statement; `id` numbers nodes for reports and step events.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stmt {
    /// Node number, unique within the journey.
    pub id: u32,
    /// What it does.
    pub kind: StmtKind,
    /// Where it stands.
    pub span: Span,
}

/// Checked statements.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum StmtKind {
    /// Store a value in a local slot.
    Let {
        /// The local slot.
        slot: usize,
        /// The value.
        value: Expr,
    },
    /// Wait a duration.
    Wait(Expr),
    /// Wait until a time of day or a date-time.
    WaitUntil(Expr),
    /// Wait for the first of several events, or a timeout.
    Await {
        /// The `on` arms, in order.
        arms: Vec<AwaitArm>,
        /// The `after` arm: its duration and block.
        after: Option<(Expr, Vec<Stmt>)>,
    },
    /// Conditional branches.
    If {
        /// The conditions and their blocks, in order.
        branches: Vec<(Expr, Vec<Stmt>)>,
        /// The `else` block.
        otherwise: Vec<Stmt>,
    },
    /// Percentage split.
    Split(Vec<(f64, Option<String>, Vec<Stmt>)>),
    /// The first `limit` profiles take `body`.
    Cap {
        /// How many profiles take the first block.
        limit: Expr,
        /// The block the first profiles take.
        body: Vec<Stmt>,
        /// The block the others take.
        otherwise: Vec<Stmt>,
    },
    /// Call an action or fetch a data source; the result goes to `slot`.
    Call {
        /// The call.
        call: Call,
        /// The slot the result goes to (`let x = call ...`).
        slot: Option<usize>,
    },
    /// Update profile attributes.
    UpdateProfile(Vec<(Vec<String>, Expr)>),
    /// Start another journey for this profile.
    Jump(String),
    /// End the instance with a label.
    End(Option<String>),
    /// Send a message through a channel.
    Send(Send),
}

/// A checked `send`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Send {
    /// No consent, frequency or quiet-hours check.
    pub transactional: bool,
    /// The channel.
    pub channel: String,
    /// The template's id.
    pub template: Expr,
    /// The template's variables.
    pub vars: Option<Expr>,
    /// `as NAME`: its slot.
    pub slot: Option<usize>,
    /// The slot of `reason` in `on suppressed`.
    pub reason_slot: Option<usize>,
    /// `on suppressed` block.
    pub on_suppressed: Option<Vec<Stmt>>,
    /// `on error` block.
    pub on_error: Option<Vec<Stmt>>,
}

impl Stmt {
    /// Calls `f` on each block directly inside this statement, in source order: the one place
    /// that knows where statements nest (a pass that walks statements recurses through it; no
    /// list is built).
    pub fn for_each_block<'a>(&'a self, mut f: impl FnMut(&'a [Stmt])) {
        match &self.kind {
            StmtKind::Await { arms, after } => {
                arms.iter().for_each(|a| f(&a.body));
                after.iter().for_each(|(_, b)| f(b));
            }
            StmtKind::If { branches, otherwise } => {
                branches.iter().for_each(|(_, b)| f(b));
                f(otherwise);
            }
            StmtKind::Split(branches) => branches.iter().for_each(|(_, _, b)| f(b)),
            StmtKind::Cap { body, otherwise, .. } => {
                f(body);
                f(otherwise);
            }
            StmtKind::Call { call, .. } => call.on_timeout.iter().chain(&call.on_error).for_each(|b| f(b)),
            StmtKind::Send(s) => s.on_suppressed.iter().chain(&s.on_error).for_each(|b| f(b)),
            StmtKind::Let { .. }
            | StmtKind::Wait(_)
            | StmtKind::WaitUntil(_)
            | StmtKind::UpdateProfile(_)
            | StmtKind::Jump(_)
            | StmtKind::End(_) => {}
        }
    }
}

/// Calls `f` on every statement of `stmts` and every statement nested in them, in source order.
pub fn walk<'a>(stmts: &'a [Stmt], f: &mut dyn FnMut(&'a Stmt)) {
    for s in stmts {
        f(s);
        s.for_each_block(|b| walk(b, f));
    }
}

/// A checked `call` or `fetch`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Call {
    /// Action or data source.
    pub kind: HttpKind,
    /// Its name.
    pub target: String,
    /// Arguments in parameter order (`None` for an omitted optional one).
    pub args: Vec<Option<Expr>>,
    /// `on timeout` block.
    pub on_timeout: Option<Vec<Stmt>>,
    /// `on error` block.
    pub on_error: Option<Vec<Stmt>>,
}

/// An await arm.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AwaitArm {
    /// The event.
    pub event: String,
    /// For `on opened NAME` / `on clicked NAME`: the reaction and the send's name.
    pub reaction: Option<(String, String)>,
    /// The slot that holds its payload (`as x`).
    pub slot: Option<usize>,
    /// Correlation condition.
    pub condition: Option<Expr>,
    /// What happens then.
    pub body: Vec<Stmt>,
}

/// A checked test.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Test {
    /// Its name.
    pub name: String,
    /// The file it is in.
    pub file: String,
    /// Its statements (expressions are constant record/list/scalar literals).
    pub stmts: Vec<TestStmt>,
    /// The line of each statement (from 1), for a failure to point at.
    pub lines: Vec<u32>,
}

/// A checked test statement: the bytecode's step, with typed expressions (constant
/// record/list/scalar literals) for its values.
pub type TestStmt = journey_bytecode::TestStep<Expr>;

/// A mock's answer, with a typed expression for its value.
pub type MockResult = journey_bytecode::MockResult<Expr>;

/// A typed expression.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Expr {
    /// Its form.
    pub kind: ExprKind,
    /// Its type.
    pub ty: Ty,
    /// Where it stands.
    pub span: Span,
}

/// Typed expression forms.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ExprKind {
    /// A constant.
    Const(Const),
    /// A string with interpolated parts.
    Interpolate(Vec<Expr>),
    /// A list literal.
    List(Vec<Expr>),
    /// A record literal.
    Record(Vec<(String, Expr)>),
    /// A local slot (lets, `as` bindings, parameters, lambda parameters).
    Local(usize),
    /// The entry event's payload (or, in an event's `key`/`when`, the incoming payload).
    Event,
    /// The profile's attributes.
    Profile,
    /// A field of a record, or a key of a map.
    Field(Box<Expr>, String),
    /// `base[index]`.
    Index(Box<Expr>, Box<Expr>),
    /// A library function.
    Call(String, Vec<Expr>),
    /// `secret("NAME")`: read from the environment at run time.
    Secret(String),
    /// A lambda with its parameter slot.
    Lambda(usize, Box<Expr>),
    /// Unary operator.
    Unary(UnaryOp, Box<Expr>),
    /// Binary operator.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `x in lo..hi`.
    InRange {
        /// The value tested.
        value: Box<Expr>,
        /// The lower bound (included).
        lo: Box<Expr>,
        /// The upper bound (excluded).
        hi: Box<Expr>,
        /// Whether it is `not in`.
        negated: bool,
    },
    /// `e is ...`.
    Is(Box<Expr>, IsTest),
    /// `if c then a else b`.
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// An expression with an error (the program is not run).
    Error,
}
