//! The syntax tree of a `.journey` file. Every node carries a byte [`Span`] into its source.
//!
//! The tree does not expose pest types: later stages (checker, language server, formatter)
//! depend on this module only.

use serde::{Deserialize, Serialize};

/// A byte range `start..end` into one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, PartialOrd, Ord)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`.
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// A name as written, with where it was written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ident {
    /// The name without backticks.
    pub name: String,
    /// Where it stands (including backticks, if any).
    pub span: Span,
}

/// A string literal without interpolation (schema ids, paths, labels, header names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrLit {
    /// The decoded text (escapes resolved).
    pub value: String,
    /// Where it stands, quotes included.
    pub span: Span,
}

/// A duration literal such as `1d12h`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DurationLit {
    /// Its length in milliseconds.
    pub millis: i64,
    /// Where it stands.
    pub span: Span,
}

/// A parsed file: what could be parsed, plus the syntax errors met on the way.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct SourceFile {
    /// Declarations in source order; a declaration that did not parse is [`ItemKind::Error`].
    pub items: Vec<Item>,
    /// Every comment (`//`, `/* */`, `///`) with its span, for the formatter and editors.
    pub comments: Vec<Comment>,
}

/// A comment and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    /// The comment's full text, markers included.
    pub text: String,
    /// Where it stands.
    pub span: Span,
}

/// A top-level declaration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// The `///` lines above it, joined with newlines, markers stripped.
    pub doc: Option<String>,
    /// What it declares.
    pub kind: ItemKind,
    /// The whole declaration (doc comment excluded).
    pub span: Span,
}

/// The kinds of top-level declaration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ItemKind {
    /// `schema Name = xdm "..." with "...", ...` | `json "path"` | a type expression.
    Schema {
        /// Its name.
        name: Ident,
        /// Where its type comes from.
        source: SchemaSource,
    },
    /// `type Name = <type>`.
    Type {
        /// Its name.
        name: Ident,
        /// The type.
        ty: TypeExpr,
    },
    /// `profile = <schema source>`; `keyword` is the span of the word `profile`.
    Profile {
        /// Where the keyword stands.
        keyword: Span,
        /// Where its type comes from.
        source: SchemaSource,
    },
    /// `event Name: Schema { key <expr>  when <expr> }`.
    Event(EventDecl),
    /// `audience Name`.
    Audience {
        /// Its name.
        name: Ident,
    },
    /// `datasource Name(params) = http METHOD "url" { options }`.
    DataSource(HttpDecl),
    /// `action Name(params) = http METHOD "url" { options }`.
    Action(HttpDecl),
    /// `journey Name { settings; statements }`.
    Journey(JourneyDecl),
    /// `test "name" { statements }`.
    Test(TestDecl),
    /// `channel Name { to ...  consent ...  deliver A  quiet ..  opened on E by f }`.
    Channel(ChannelDecl),
    /// `frequency CHANNEL|any N per DURATION`.
    Frequency(FrequencyDecl),
    /// A declaration that did not parse; its syntax error is in the parse result.
    Error,
}

/// Where a schema's type comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SchemaSource {
    /// An XDM class by `$id`, plus field groups by `$id`.
    Xdm {
        /// The class `$id`.
        id: StrLit,
        /// Field group `$id`s.
        with: Vec<StrLit>,
    },
    /// A JSON Schema file, relative to the declaring file's folder.
    Json {
        /// The file, relative to the declaring file.
        path: StrLit,
    },
    /// An inline type or the name of a `type`.
    Type(TypeExpr),
}

/// A type as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypeExpr {
    /// Its form.
    pub kind: TypeExprKind,
    /// Where it stands.
    pub span: Span,
}

/// The forms of a written type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TypeExprKind {
    /// A built-in (`string`, `int`, ...) or a declared `type`/`schema` name.
    Named(Ident),
    /// `list<T>`.
    List(Box<TypeExpr>),
    /// `map<T>`.
    Map(Box<TypeExpr>),
    /// `{ name: T, ... }`.
    Record(Vec<FieldTypeDecl>),
    /// `T?`.
    Optional(Box<TypeExpr>),
}

/// One field of a record type: `name: T`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldTypeDecl {
    /// The field name (may be a quoted string or backticked name).
    pub name: Ident,
    /// Its type.
    pub ty: TypeExpr,
}

/// `event Name: Schema { key ...  when ... }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventDecl {
    /// The event's name.
    pub name: Ident,
    /// The payload's `schema` or `type` name.
    pub schema: Ident,
    /// `key <expr>`: the profile key.
    pub key: Option<Expr>,
    /// `when <expr>`: which payloads count as this event.
    pub when: Option<Expr>,
}

/// `channel Name { clauses }`: where a message goes and what guards it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelDecl {
    /// Its name.
    pub name: Ident,
    /// The clauses in source order.
    pub clauses: Vec<ChannelClause>,
}

/// One clause of a channel and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelClause {
    /// What it says.
    pub kind: ChannelClauseKind,
    /// Where it stands.
    pub span: Span,
}

/// The clauses of a channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ChannelClauseKind {
    /// `to <expr>`: the address (a `string?` over `profile`).
    To(Expr),
    /// `consent <expr>`: whether marketing is allowed (a `bool?` over `profile`).
    Consent(Expr),
    /// `deliver A`: the action that sends each message.
    Deliver(Ident),
    /// `quiet 21:00..08:00 queue|drop`.
    Quiet {
        /// The window (a range of times of day).
        window: Expr,
        /// `queue` (true) or `drop` (false).
        queue: bool,
    },
    /// `opened on E by f` / `clicked on E by f`.
    Reaction {
        /// Which reaction.
        reaction: Reaction,
        /// The reaction event.
        event: Ident,
        /// The payload field holding the message id.
        by: Vec<Ident>,
    },
}

/// A reaction to a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reaction {
    /// `opened`.
    Opened,
    /// `clicked`.
    Clicked,
}

impl Reaction {
    /// The word for it.
    pub fn word(self) -> &'static str {
        match self {
            Reaction::Opened => "opened",
            Reaction::Clicked => "clicked",
        }
    }
}

/// `frequency CHANNEL|any N per DURATION`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrequencyDecl {
    /// The channel, or `any`.
    pub channel: Ident,
    /// How many messages.
    pub limit: IntLit,
    /// In any window this long.
    pub per: DurationLit,
}

/// Whether an HTTP declaration is an action or a data source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HttpKind {
    /// `action`: called with `call`.
    Action,
    /// `datasource`: read with `fetch`.
    DataSource,
}

/// An action or data source over HTTP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpDecl {
    /// Action or data source.
    pub kind: HttpKind,
    /// Its name.
    pub name: Ident,
    /// Its parameters.
    pub params: Vec<Param>,
    /// `GET`, `POST`, ...
    pub method: Ident,
    /// The URL; `{param}` placeholders are filled from parameters.
    pub url: StrLit,
    /// The options in braces, in source order.
    pub options: Vec<HttpOption>,
}

/// A declared parameter `name: T`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Param {
    /// Its name.
    pub name: Ident,
    /// Its type.
    pub ty: TypeExpr,
}

/// One option of an HTTP declaration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpOption {
    /// What it sets.
    pub kind: HttpOptionKind,
    /// Where it stands.
    pub span: Span,
}

/// The options of an HTTP declaration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum HttpOptionKind {
    /// `headers { "Name": expr, ... }`.
    Headers(Vec<RecordEntry>),
    /// `query { name: expr, ... }`.
    Query(Vec<RecordEntry>),
    /// `body <expr>` (usually a record literal).
    Body(Expr),
    /// `auth ...`.
    Auth(Auth),
    /// `timeout <duration>`.
    Timeout(DurationLit),
    /// `retry N backoff <duration>`.
    Retry {
        /// How many.
        count: IntLit,
        /// The base wait between attempts.
        backoff: Option<DurationLit>,
    },
    /// `throttle N per <duration>`.
    Throttle {
        /// How many.
        count: IntLit,
        /// The period.
        per: DurationLit,
    },
    /// `concurrency N`: at most N calls in flight at once.
    Concurrency(IntLit),
    /// `cache <duration>`.
    Cache(DurationLit),
    /// `returns <type>`.
    Returns(TypeExpr),
}

/// An integer literal where only a literal is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IntLit {
    /// Its value.
    pub value: i64,
    /// Where it stands.
    pub span: Span,
}

/// `auth none | basic <user> <pass> | bearer <expr> | header "X-Key" <expr>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Auth {
    /// No authentication.
    None,
    /// HTTP basic: user and password expressions.
    Basic {
        /// The user name.
        user: Expr,
        /// The password.
        pass: Expr,
    },
    /// `Authorization: Bearer <token>`.
    Bearer(Expr),
    /// A custom header with a value.
    Header {
        /// The header name.
        name: StrLit,
        /// The header value.
        value: Expr,
    },
}

/// `journey Name { ... }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JourneyDecl {
    /// Its name.
    pub name: Ident,
    /// The settings at the top of the body (`start on`, `timeout`, ...), in source order.
    pub settings: Vec<JourneySetting>,
    /// The statements after the settings.
    pub body: Block,
}

/// One journey setting and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JourneySetting {
    /// What it sets.
    pub kind: JourneySettingKind,
    /// Where it stands.
    pub span: Span,
}

/// The settings of a journey.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum JourneySettingKind {
    /// `start on ...`.
    Start(StartRule),
    /// `reentry never | always | after <duration>`.
    Reentry(Reentry),
    /// `timezone "Europe/Paris"`.
    Timezone(StrLit),
    /// `timezone <expr>`: a zone computed from the profile (any expression but a plain string).
    TimezoneExpr(Expr),
    /// `timeout <duration>`.
    Timeout(DurationLit),
    /// `active from <date> to <date>` (date or date-time literals).
    Active {
        /// The first day.
        from: Expr,
        /// The last day.
        to: Expr,
    },
    /// `exit on E` (exit criteria).
    ExitOn(Ident),
    /// `goal "NAME" on E [as x] [where COND] within DURATION [value EXPR]`.
    Goal(Goal),
}

/// A journey's goal: a profile converts the first time `event` arrives for it (and `condition`
/// holds) within `window` of the instance's entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Goal {
    /// Its name, as reports show it.
    pub name: StrLit,
    /// The event that converts.
    pub event: Ident,
    /// `as x`: the goal event's payload.
    pub binding: Option<Ident>,
    /// `where COND`.
    pub condition: Option<Expr>,
    /// `within DURATION`: the conversion window from entry.
    pub window: DurationLit,
    /// `value EXPR`: what a conversion is worth (a number).
    pub value: Option<Expr>,
}

/// How a journey starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StartRule {
    /// `start on Event`.
    Event(Ident),
    /// `start on Event for audience A`: a business event, one instance per member of `A`.
    EventForAudience {
        /// The event.
        event: Ident,
        /// The audience.
        audience: Ident,
    },
    /// `start on audience A enters`.
    AudienceEnters(Ident),
    /// `start on audience A exits`.
    AudienceExits(Ident),
    /// `start on audience A every day at 09:00` and the other schedules.
    AudienceRead {
        /// The audience.
        audience: Ident,
        /// When the audience is read.
        schedule: Schedule,
    },
}

/// When a scheduled audience read fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Schedule {
    /// `every day at T`, `every monday at T`, ...: `every` is `day` or a weekday name.
    Every {
        /// `day` or a weekday.
        every: Ident,
        /// The time of day.
        at: Expr,
    },
    /// `once at <datetime>`.
    Once {
        /// The date-time.
        at: Expr,
    },
}

/// A journey's re-entry policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Reentry {
    /// A profile enters once, ever.
    Never,
    /// A profile may enter again once its instance has ended.
    Always,
    /// ... and once this long has passed since its previous entry.
    After(DurationLit),
}

/// `{ statements }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Block {
    /// The statements in order.
    pub stmts: Vec<Stmt>,
    /// The braces and what is between them (for a journey body: the statements' extent).
    pub span: Span,
}

/// A statement and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stmt {
    /// What it does.
    pub kind: StmtKind,
    /// Where it stands.
    pub span: Span,
    /// Its leading keyword (`await`, `split`, ...); empty at the start of a broken statement.
    pub keyword: Span,
}

impl Stmt {
    /// The blocks directly inside this statement, in source order: the one place that knows
    /// where statements nest (a pass that walks statements recurses through it).
    pub fn blocks(&self) -> Vec<&Block> {
        match &self.kind {
            StmtKind::Await { arms, after } => {
                arms.iter().map(|a| &a.block).chain(after.iter().map(|a| &a.block)).collect()
            }
            StmtKind::If { branches, otherwise } => branches.iter().map(|(_, b)| b).chain(otherwise).collect(),
            StmtKind::Split(branches) => branches.iter().map(|b| &b.block).collect(),
            StmtKind::Cap { body, otherwise, .. } => std::iter::once(body).chain(otherwise).collect(),
            StmtKind::Call(c) | StmtKind::Let { value: LetValue::Call(c), .. } => c.blocks(),
            StmtKind::Send(s) => s.on_suppressed.iter().chain(&s.on_error).collect(),
            StmtKind::Let { value: LetValue::Expr(_), .. }
            | StmtKind::Wait(_)
            | StmtKind::WaitUntil(_)
            | StmtKind::UpdateProfile(_)
            | StmtKind::Jump(_)
            | StmtKind::End(_)
            | StmtKind::Error => Vec::new(),
        }
    }

    /// Calls `f` on this statement and every statement nested in it, in source order.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Stmt)) {
        f(self);
        for b in self.blocks() {
            for s in &b.stmts {
                s.walk(f);
            }
        }
    }
}

impl ActionCall {
    /// Its handler blocks: `on timeout`, then `on error`.
    pub fn blocks(&self) -> Vec<&Block> {
        self.on_timeout.iter().chain(&self.on_error).collect()
    }
}

/// The statements of a journey.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StmtKind {
    /// `let name = expr`, or `let name = call/fetch ...`.
    Let {
        /// The local's name.
        name: Ident,
        /// The value.
        value: LetValue,
    },
    /// `wait <duration expr>`.
    Wait(Expr),
    /// `wait until <time | datetime expr>`.
    WaitUntil(Expr),
    /// `await { on ... -> { } after ... -> { } }`.
    Await {
        /// The `on` arms, in order.
        arms: Vec<AwaitArm>,
        /// The `after` arm: its duration and block.
        after: Option<AfterArm>,
    },
    /// `if c { } else if c { } else { }`.
    If {
        /// The conditions and their blocks, in order.
        branches: Vec<(Expr, Block)>,
        /// The `else` block.
        otherwise: Option<Block>,
    },
    /// `split { 10% "control" -> { } ... }`.
    Split(Vec<SplitBranch>),
    /// `cap N { } else { }`.
    Cap {
        /// How many profiles take the first block.
        limit: Expr,
        /// The block the first profiles take.
        body: Block,
        /// The block the others take.
        otherwise: Option<Block>,
    },
    /// `call A(...)` or `fetch D(...)` as a statement, with handlers.
    Call(ActionCall),
    /// `update profile { path = expr, ... }`.
    UpdateProfile(Vec<Assignment>),
    /// `jump J`.
    Jump(Ident),
    /// `end` or `end "label"`.
    End(Option<StrLit>),
    /// `send [transactional] CHANNEL TEMPLATE [with RECORD] [as NAME] [on suppressed { }] [on error { }]`.
    Send(SendStmt),
    /// A statement that did not parse; its syntax error is in the parse result.
    Error,
}

/// A message send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendStmt {
    /// `transactional`: no consent, frequency or quiet-hours check.
    pub transactional: bool,
    /// The channel.
    pub channel: Ident,
    /// The template's id (a string expression).
    pub template: Expr,
    /// `with RECORD`: the template's variables.
    pub vars: Option<Expr>,
    /// `as NAME`: binds `{ id, sentAt }` (null when not sent).
    pub binding: Option<Ident>,
    /// `on suppressed { }` (`reason` in scope).
    pub on_suppressed: Option<Block>,
    /// `on error { }`.
    pub on_error: Option<Block>,
}

/// The right side of a `let`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LetValue {
    /// A plain expression.
    Expr(Expr),
    /// `call` or `fetch` with optional handlers.
    Call(ActionCall),
}

/// `call A(args) on timeout { } on error { }` or `fetch D(args) ...`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionCall {
    /// `call` (action) or `fetch` (data source).
    pub kind: HttpKind,
    /// The action or data source.
    pub name: Ident,
    /// The arguments, named or positional.
    pub args: Vec<Arg>,
    /// `on timeout { }`.
    pub on_timeout: Option<Block>,
    /// `on error { }`.
    pub on_error: Option<Block>,
    /// From the keyword to the closing parenthesis of the arguments.
    pub span: Span,
}

/// An argument: `name: expr` or a bare `expr`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Arg {
    /// The argument name, when given.
    pub name: Option<Ident>,
    /// Its value.
    pub value: Expr,
}

/// `on E [as x] [where cond] -> { }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AwaitArm {
    /// The awaited event; for a reaction (`on opened NAME`), the send's name.
    pub event: Ident,
    /// `opened` or `clicked` in `on opened NAME`.
    pub reaction: Option<Reaction>,
    /// `as x`: the awaited event's payload.
    pub binding: Option<Ident>,
    /// `where cond`: correlation.
    pub condition: Option<Expr>,
    /// What happens when it arrives.
    pub block: Block,
    /// Where the arm stands.
    pub span: Span,
}

/// `after <duration> -> { }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AfterArm {
    /// How long to wait (a duration expression).
    pub duration: Expr,
    /// What happens then.
    pub block: Block,
    /// Where the arm stands.
    pub span: Span,
}

/// `10% "label" -> { }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitBranch {
    /// The percentage (0..=100; may have a fraction).
    pub percent: f64,
    /// Where the percentage stands.
    pub percent_span: Span,
    /// The branch label, if given.
    pub label: Option<StrLit>,
    /// What this branch does.
    pub block: Block,
    /// Where the branch stands.
    pub span: Span,
}

/// `a.b.c = expr` inside `update profile { }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    /// The profile field path.
    pub path: Vec<Ident>,
    /// The new value.
    pub value: Expr,
    /// Where it stands.
    pub span: Span,
}

/// `test "name" { ... }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestDecl {
    /// The test's name.
    pub name: StrLit,
    /// Its statements in order.
    pub stmts: Vec<TestStmt>,
}

/// A test statement and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestStmt {
    /// What it does.
    pub kind: TestStmtKind,
    /// Where it stands.
    pub span: Span,
}

/// The statements of a test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TestStmtKind {
    /// `start <datetime>`: the virtual clock's start.
    Start(Expr),
    /// `profile ["key"] { ... }`.
    Profile {
        /// The profile key (the first event's when absent).
        key: Option<StrLit>,
        /// The attributes.
        attributes: Expr,
    },
    /// `audience A has "key"`.
    AudienceHas {
        /// The audience.
        audience: Ident,
        /// The profile key.
        key: StrLit,
    },
    /// `mock A -> record | fail | timeout`.
    Mock {
        /// The action or data source.
        target: Ident,
        /// What it answers.
        result: MockResult,
    },
    /// `[after <duration>] send E { payload }`.
    Send {
        /// How long to wait first, if given.
        after: Option<DurationLit>,
        /// The event.
        event: Ident,
        /// The payload.
        payload: Expr,
    },
    /// `after <duration>`: advance the clock.
    After(DurationLit),
    /// `expect J ended ["label"]`.
    ExpectEnded {
        /// The journey.
        journey: Ident,
        /// The `end` label, if any.
        label: Option<StrLit>,
    },
    /// `expect J running`.
    ExpectRunning {
        /// The journey.
        journey: Ident,
    },
    /// `expect J converted "goal"` (or, with `no`, `expect no J converted "goal"`).
    ExpectConverted {
        /// `expect no`: the test's profile did not convert.
        no: bool,
        /// The journey.
        journey: Ident,
        /// The goal's name.
        goal: StrLit,
    },
    /// `expect J arm "B"`: the arm of an experiment the test's instance took.
    ExpectArm {
        /// The journey.
        journey: Ident,
        /// The arm's label.
        arm: StrLit,
    },
    /// `expect call A [{ args }] [N times]`.
    ExpectCall {
        /// The action or data source.
        action: Ident,
        /// The arguments, if given.
        args: Option<Expr>,
        /// How many times, if given.
        times: Option<IntLit>,
    },
    /// `expect no call A`.
    ExpectNoCall {
        /// The action or data source.
        action: Ident,
    },
    /// `expect sent CHANNEL ["template"] [to "address"] [N times] [as m]`.
    ExpectSent {
        /// The channel.
        channel: Ident,
        /// The template, if given.
        template: Option<StrLit>,
        /// The recipient's address, if given.
        to: Option<StrLit>,
        /// How many messages, if given.
        times: Option<IntLit>,
        /// `as m`: the most recent matching message.
        binding: Option<Ident>,
    },
    /// `expect no sent CHANNEL ["template"]`.
    ExpectNoSent {
        /// The channel.
        channel: Ident,
        /// The template, if given.
        template: Option<StrLit>,
    },
    /// `expect suppressed CHANNEL ["template"] because "REASON"`.
    ExpectSuppressed {
        /// The channel.
        channel: Ident,
        /// The template, if given.
        template: Option<StrLit>,
        /// The reason.
        reason: StrLit,
    },
    /// A test statement that did not parse.
    Error,
}

/// What a mocked action or data source answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MockResult {
    /// This value (usually a record).
    Value(Expr),
    /// The call fails.
    Fail,
    /// The call times out.
    Timeout,
}

/// An expression and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expr {
    /// Its form.
    pub kind: ExprKind,
    /// Where it stands.
    pub span: Span,
}

/// One piece of a double-quoted string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StrPart {
    /// Literal text, escapes decoded.
    Text(String),
    /// `${expr}`.
    Interp(Expr),
}

/// A record literal entry `key: value` (the key may be quoted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordEntry {
    /// The key (decoded, without quotes).
    pub key: Ident,
    /// The value.
    pub value: Expr,
}

/// The forms of an expression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ExprKind {
    /// `42`.
    Int(i64),
    /// `3.14`.
    Number(f64),
    /// A string: one `Text` part when it has no interpolation.
    Str(Vec<StrPart>),
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// `1d12h`, in milliseconds.
    Duration(i64),
    /// `2026-12-24`, as written.
    Date(String),
    /// `2026-12-24T10:00:00Z`, as written.
    DateTime(String),
    /// `09:00`, as written.
    Time(String),
    /// `[a, b]`.
    List(Vec<Expr>),
    /// `{ k: v, "X-K": v }`.
    Record(Vec<RecordEntry>),
    /// A bare name: a local, `event`, `profile`, an `as` binding, or a payload field in `key`/`when`.
    Name(Ident),
    /// `base.name`.
    Field {
        /// What is accessed.
        base: Box<Expr>,
        /// The field.
        name: Ident,
    },
    /// `base[index]`.
    Index {
        /// What is accessed.
        base: Box<Expr>,
        /// The index.
        index: Box<Expr>,
    },
    /// `f(args)`: a library function.
    Call {
        /// The function.
        func: Ident,
        /// The arguments, if given.
        args: Vec<Arg>,
    },
    /// `x -> body` (only valid as a function argument).
    Lambda {
        /// The parameter.
        param: Ident,
        /// The block the first profiles take.
        body: Box<Expr>,
    },
    /// `-e`, `not e`.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        expr: Box<Expr>,
    },
    /// `a op b`.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Where the operator stands.
        op_span: Span,
        /// The left operand.
        lhs: Box<Expr>,
        /// The right operand.
        rhs: Box<Expr>,
    },
    /// `a..b` (`a <= x < b`).
    Range {
        /// The lower bound (included).
        lo: Box<Expr>,
        /// The upper bound (excluded).
        hi: Box<Expr>,
    },
    /// `e is null`, `e is not null`, `e has null`, `e is integer`, ...
    Is {
        /// The operand.
        expr: Box<Expr>,
        /// The test.
        test: IsTest,
    },
    /// `if c then a else b`.
    IfThenElse {
        /// The condition.
        cond: Box<Expr>,
        /// The value when it holds.
        then: Box<Expr>,
        /// The value when it does not hold.
        otherwise: Box<Expr>,
    },
    /// An expression that did not parse.
    Error,
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnaryOp {
    /// `-`.
    Neg,
    /// `not`.
    Not,
}

/// Binary operators.
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

impl BinaryOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Coalesce => "??",
            Or => "or",
            And => "and",
            Eq => "==",
            Ne => "!=",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            In => "in",
            NotIn => "not in",
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Rem => "%",
        }
    }
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
