//! What the checker finds wrong, as data: one variant of [`CheckError`] per diagnostic code,
//! holding the spans, the names and the suggested replacement. [`CheckError::diagnostic`] is the
//! one place that words them; editors read the suggestion from [`Diagnostic::fix`].

// Each variant's doc says what its fields hold; the fields are named for it (`at`, `name`,
// `suggestion`), and documenting each again would only repeat the variant's doc.
#![allow(missing_docs)]

use super::{article_word, example_decl, fmt_ms, DeclKind};
use crate::diag::{Diagnostic, Fix};
use crate::sources::FileId;
use crate::types::Ty;
use journey_grammar::ast::Span;
use journey_schema::SchemaError;

/// A span in some file (for labels that may point into another file).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Place {
    /// Which file.
    pub file: FileId,
    /// Where in it.
    pub span: Span,
}

/// The words of a diagnostic whose code covers situations too varied for fixed fields (type
/// mismatches, misplaced constructs, HTTP options): the message, the primary label, the help.
#[derive(Debug, Clone, PartialEq)]
pub struct Said {
    /// Where.
    pub at: Span,
    /// One line saying what is wrong.
    pub message: String,
    /// The primary label.
    pub label: String,
    /// How to fix it.
    pub help: Option<String>,
    /// Other places in the same file, with what to say there.
    pub also: Vec<(Span, String)>,
}

impl Said {
    /// A message at `at` with its label.
    pub fn new(at: Span, message: impl Into<String>, label: impl Into<String>) -> Self {
        Said { at, message: message.into(), label: label.into(), help: None, also: Vec::new() }
    }

    /// With a help line.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// With a help line if there is one.
    pub fn help_opt(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    /// With a secondary label.
    pub fn also(mut self, at: Span, message: impl Into<String>) -> Self {
        self.also.push((at, message.into()));
        self
    }
}

/// The problems of messages, each with its own code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageProblem {
    /// E0027: a channel without `to` or `deliver`.
    ChannelIncomplete,
    /// E0028: a deliver action without `to` or `template` parameters.
    DeliverParams,
    /// E0029: `on opened NAME` / `on clicked NAME` where NAME is not a send in scope.
    NotASend,
    /// E0030: `on opened` for a channel without `opened` (or `clicked` without `clicked`).
    NoReaction,
    /// E0031: a frequency rule of fewer than 1 message or over no time.
    FrequencyLimit,
    /// E0032: a quiet window that is empty.
    EmptyQuiet,
}

impl MessageProblem {
    /// Its code.
    pub fn code(self) -> &'static str {
        match self {
            MessageProblem::ChannelIncomplete => "E0027",
            MessageProblem::DeliverParams => "E0028",
            MessageProblem::NotASend => "E0029",
            MessageProblem::NoReaction => "E0030",
            MessageProblem::FrequencyLimit => "E0031",
            MessageProblem::EmptyQuiet => "E0032",
        }
    }
}

/// The problems of goals and experiments, each with its own code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoalProblem {
    /// E0033: a goal on a name that is not an event.
    UnknownEvent,
    /// E0034: two goals of one journey with the same name.
    Duplicate,
    /// E0035: a goal's `value` that is not a number.
    ValueNotNumber,
    /// E0036: a conversion window of no time, or longer than the journey timeout plus 90 days.
    Window,
    /// E0037: a goal's `where` or `value` that reads the goal event's payload without `as`.
    PayloadWithoutAs,
    /// E0038: more goals in one journey than the engine tracks.
    TooMany,
    /// W0006: a split arm without a label where other arms have one.
    UnlabelledArm,
}

impl GoalProblem {
    /// Its code.
    pub fn code(self) -> &'static str {
        match self {
            GoalProblem::UnknownEvent => "E0033",
            GoalProblem::Duplicate => "E0034",
            GoalProblem::ValueNotNumber => "E0035",
            GoalProblem::Window => "E0036",
            GoalProblem::PayloadWithoutAs => "E0037",
            GoalProblem::TooMany => "E0038",
            GoalProblem::UnlabelledArm => "W0006",
        }
    }
}

/// What is declared twice (E0002).
#[derive(Debug, Clone, PartialEq)]
pub enum Duplicated {
    /// A second `profile`.
    Profile,
    /// Two tests of one file with this name.
    Test(String),
    /// A global declaration; the first is of this kind.
    Declaration { name: String, first: DeclKind },
    /// A field of a record type.
    Field(String),
    /// A parameter of an action or data source.
    Parameter(String),
    /// A key of a record literal.
    RecordKey(String),
}

/// What kind of name is unknown (E0003).
#[derive(Debug, Clone, PartialEq)]
pub enum Unknown {
    /// A value: a local, `event`, `profile`. `is_declaration` when a declaration has the name.
    Value { is_declaration: bool },
    /// A declaration of one of these kinds.
    Declaration(Vec<DeclKind>),
    /// A `{name}` in the URL of the action or data source `decl`.
    UrlParameter { decl: String },
    /// An `expect ended "label"` label that no `end` of `journey` gives; `own` are its labels.
    Label { journey: String, own: Vec<String> },
    /// An `expect converted "goal"` goal that `journey` does not declare; `own` are its goals.
    Goal { journey: String, own: Vec<String> },
    /// An `expect arm "label"` arm that no experiment of `journey` has; `own` are its arms.
    Arm { journey: String, own: Vec<String> },
}

/// Which record lacks a field (E0004).
#[derive(Debug, Clone, PartialEq)]
pub enum FieldOwner {
    /// A record read with `.name`; `some` lists a few of its fields.
    Record { some: Vec<String> },
    /// The profile, in `update profile`.
    ProfileUpdate,
    /// A record literal given for `what` (`the SignUp payload`); `path` is the full key path.
    Literal { what: String, path: String },
}

/// A problem with call arguments (E0008).
#[derive(Debug, Clone, PartialEq)]
pub enum ArgumentError {
    /// `callee` has no parameter `name`; `signature` lists what it takes.
    Unknown { callee: String, name: String, signature: Option<String> },
    /// A library function given `name:`.
    Named { name: String },
    /// The argument `name` given twice.
    Twice { name: String },
    /// Required arguments left out.
    Missing { callee: String, names: Vec<String>, signature: String },
}

/// A problem with an event's profile key (E0014).
#[derive(Debug, Clone, PartialEq)]
pub enum KeyError {
    /// `event` starts a journey but declares no `key`.
    Missing { event: String, declared: Place },
    /// `event` is a goal's event but declares no `key` (so it finds no profile to convert).
    MissingForGoal { event: String, declared: Place },
    /// The key is not a string.
    NotString { ty: Ty },
}

/// A journey setting given twice or missing (E0019).
#[derive(Debug, Clone, PartialEq)]
pub enum SettingError {
    /// `word` is given twice in `journey`.
    Repeated { word: &'static str, journey: String, first: Span },
    /// `journey` has no `start on`.
    NoStart { journey: String },
}

/// A value outside what it may be (E0025).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutOfRange {
    /// A journey `timeout` of 0 or less.
    JourneyTimeout,
    /// An `active from .. to ..` window that ends before it starts.
    ActiveWindow,
}

/// One problem the checker found. Each variant is one code; see [`CheckError::code`].
#[derive(Debug, Clone, PartialEq)]
pub enum CheckError {
    /// E0027..E0032: a problem with a channel, a frequency rule or a reaction (see
    /// [`MessageProblem`]).
    Message { problem: MessageProblem, said: Said },
    /// E0033..E0038, W0006: a problem with a goal or an experiment (see [`GoalProblem`]);
    /// `fix` replaces the text at `said.at`.
    Goal { problem: GoalProblem, said: Said, fix: Option<String> },
    /// E0002: a name declared twice.
    Duplicate { what: Duplicated, at: Span, first: Option<Place> },
    /// E0003: an unknown name, with the nearest known one.
    UnknownName { what: Unknown, name: String, at: Span, suggestion: Option<String> },
    /// E0004: an unknown field, with the nearest known one. `at` is the field's name.
    UnknownField { owner: FieldOwner, field: String, at: Span, suggestion: Option<String> },
    /// E0005: a value of the wrong type.
    TypeMismatch(Said),
    /// E0006: an unknown library function, with the nearest known one.
    UnknownFunction { name: String, at: Span, suggestion: Option<String> },
    /// E0007: the wrong number of arguments.
    Arity(Said),
    /// E0008: a wrong argument name, with the nearest parameter.
    Argument { error: ArgumentError, at: Span, suggestion: Option<String> },
    /// E0009: a lambda outside `all`/`first`/`last` (`function` when it is another one's argument).
    Lambda { at: Span, function: Option<String> },
    /// E0010: split percentages that do not add up to 100.
    SplitSum { keyword: Span, total: f64, branches: Vec<(Span, f64)> },
    /// E0011: a wait (`what`) longer than the journey timeout.
    WaitTooLong { at: Span, what: &'static str, ms: i64, timeout_ms: i64, timeout_at: Option<Span> },
    /// E0012: statements after every path has ended.
    Unreachable { at: Span },
    /// E0013: journeys jumping in a circle; `jumps` are the other jumps on it.
    JumpCycle { file: FileId, at: Span, names: Vec<String>, from: String, to: String, jumps: Vec<(Place, String)> },
    /// E0014: a start event without a usable profile key.
    Key { at: Span, error: KeyError },
    /// E0015: a schema that cannot be loaded.
    Schema { at: Span, error: SchemaError },
    /// E0016: `event` in a journey that has no entry event.
    NoEvent { at: Span, why: &'static str },
    /// E0017: a date or time literal that names no real date or time.
    InvalidLiteral { at: Span, text: String, ty: Ty },
    /// E0018: a declaration of the wrong kind.
    WrongKind {
        name: String,
        at: Span,
        found: DeclKind,
        declared: Place,
        wanted: Vec<DeclKind>,
        suggestion: Option<String>,
    },
    /// E0019: a journey setting repeated or missing.
    Setting { at: Span, error: SettingError },
    /// E0020: an await arm's `where` without `as`.
    WhereWithoutAs { at: Span, event: String },
    /// E0021: a construct where it has no meaning.
    NotAllowed(Said),
    /// E0022: an action or data source option out of range or misplaced.
    InvalidOption(Said),
    /// E0024: a time zone that is not in the IANA database; `abbreviation` when `suggestion`
    /// comes from the table of common abbreviations (`PST`).
    UnknownTimeZone { at: Span, zone: String, suggestion: Option<String>, abbreviation: bool },
    /// E0025: a value outside what it may be.
    OutOfRange { at: Span, what: OutOfRange },
    /// E0026: an `end` label that the engine gives to an outcome of its own.
    ReservedLabel { at: Span, label: String },
    /// W0001: an `await` without `after`.
    AwaitNoTimeout { keyword: Span },
    /// W0002: a possibly null value where null is not accepted (`what` is `the argument `to``).
    PossiblyNull { at: Span, what: String, want: Ty, found: Ty },
    /// W0003: a string compared with a field whose schema lists its values.
    UnlistedValue { at: Span, value: String, field: Span, listed: Vec<String>, suggestion: Option<String> },
    /// W0005: the longest path of waits reaches the journey timeout. `at` ends that path;
    /// `waits` are its waits with their lengths.
    TimeoutHidesPath { at: Span, path_ms: i64, timeout_ms: i64, timeout_at: Option<Span>, waits: Vec<(Span, i64)> },
}

impl CheckError {
    /// The diagnostic code.
    pub fn code(&self) -> &'static str {
        match self {
            CheckError::Message { problem, .. } => problem.code(),
            CheckError::Goal { problem, .. } => problem.code(),
            CheckError::Duplicate { .. } => "E0002",
            CheckError::UnknownName { .. } => "E0003",
            CheckError::UnknownField { .. } => "E0004",
            CheckError::TypeMismatch(_) => "E0005",
            CheckError::UnknownFunction { .. } => "E0006",
            CheckError::Arity(_) => "E0007",
            CheckError::Argument { .. } => "E0008",
            CheckError::Lambda { .. } => "E0009",
            CheckError::SplitSum { .. } => "E0010",
            CheckError::WaitTooLong { .. } => "E0011",
            CheckError::Unreachable { .. } => "E0012",
            CheckError::JumpCycle { .. } => "E0013",
            CheckError::Key { .. } => "E0014",
            CheckError::Schema { .. } => "E0015",
            CheckError::NoEvent { .. } => "E0016",
            CheckError::InvalidLiteral { .. } => "E0017",
            CheckError::WrongKind { .. } => "E0018",
            CheckError::Setting { .. } => "E0019",
            CheckError::WhereWithoutAs { .. } => "E0020",
            CheckError::NotAllowed(_) => "E0021",
            CheckError::InvalidOption(_) => "E0022",
            CheckError::UnknownTimeZone { .. } => "E0024",
            CheckError::OutOfRange { .. } => "E0025",
            CheckError::ReservedLabel { .. } => "E0026",
            CheckError::AwaitNoTimeout { .. } => "W0001",
            CheckError::PossiblyNull { .. } => "W0002",
            CheckError::UnlistedValue { .. } => "W0003",
            CheckError::TimeoutHidesPath { .. } => "W0005",
        }
    }

    /// The diagnostic for this problem in `file`, whose text is `text` (used to write the
    /// suggested replacement the way the original is quoted).
    pub fn diagnostic(self, file: FileId, text: &str) -> Diagnostic {
        let code = self.code();
        let err = |at: Span, message: String, label: String| Diagnostic::error(code, message, file, at, label);
        let said = |s: Said, warn: bool| {
            let mut d = if warn {
                Diagnostic::warning(code, s.message, file, s.at, s.label)
            } else {
                Diagnostic::error(code, s.message, file, s.at, s.label)
            };
            for (at, m) in s.also {
                d = d.with_label(file, at, m);
            }
            d.with_help_opt(s.help)
        };
        let fix = |at: Span, x: &Option<String>| x.as_ref().map(|x| replacement(text, at, x));
        match self {
            CheckError::Duplicate { what, at, first } => {
                let (message, label, first_label, help) = match &what {
                    Duplicated::Profile => (
                        "a project has at most one `profile` declaration".to_string(),
                        "a second profile".to_string(),
                        "the profile is first declared here".to_string(),
                        Some("add field groups to the first declaration with `with \"...\"` instead"),
                    ),
                    Duplicated::Test(name) => (
                        format!("two tests in this file are named \"{name}\""),
                        "second test with this name".into(),
                        "first test with this name".into(),
                        Some("give each test its own name, so failures say which one"),
                    ),
                    Duplicated::Declaration { name, first } => (
                        format!("`{name}` is declared twice"),
                        format!("second declaration of `{name}`"),
                        format!("first declared here as {}", article_word(first.word())),
                        Some("names are global to the project: rename one of them or delete the copy"),
                    ),
                    Duplicated::Field(name) => (
                        format!("the field `{name}` is declared twice"),
                        "declared again here".into(),
                        "first declared here".into(),
                        None,
                    ),
                    Duplicated::Parameter(name) => (
                        format!("the parameter `{name}` is declared twice"),
                        "declared again".into(),
                        "first declared here".into(),
                        Some("give each parameter its own name"),
                    ),
                    Duplicated::RecordKey(name) => (
                        format!("the key `{name}` is given twice"),
                        "given again here".into(),
                        "first given here".into(),
                        Some("remove one of them"),
                    ),
                };
                let mut d = err(at, message, label);
                if let Some(p) = first {
                    d = d.with_label(p.file, p.span, first_label);
                }
                d.with_help_opt(help.map(str::to_string))
            }
            CheckError::UnknownName { what, name, at, suggestion } => {
                let (message, label, fallback) = match &what {
                    Unknown::Value { is_declaration } => (
                        format!("unknown name `{name}`"),
                        "not found in this scope".to_string(),
                        is_declaration.then(|| {
                            format!("`{name}` is a declaration, not a value; values here are locals, `event` and `profile`")
                        }),
                    ),
                    Unknown::Declaration(kinds) => {
                        let want = kinds.iter().map(|k| k.word()).collect::<Vec<_>>().join(" or ");
                        (
                            format!("unknown {want} `{name}`"),
                            format!("no {want} is named `{name}`"),
                            kinds.first().map(|k| format!("declare it, e.g. `{}`", example_decl(*k, &name))),
                        )
                    }
                    Unknown::UrlParameter { decl } => (
                        format!("the URL uses `{{{name}}}`, which is not a parameter"),
                        "unknown parameter".into(),
                        Some(format!("add a parameter `{name}: string` to `{decl}`")),
                    ),
                    Unknown::Goal { journey, own } => (
                        format!("journey `{journey}` has no goal \"{name}\""),
                        "no such goal".into(),
                        Some(if own.is_empty() {
                            format!("`{journey}` declares no goals; add one such as `goal \"{name}\" on Purchase within 7d`")
                        } else {
                            let own: Vec<String> = own.iter().map(|g| format!("\"{g}\"")).collect();
                            format!("`{journey}` has the goals {}", own.join(", "))
                        }),
                    ),
                    Unknown::Arm { journey, own } => (
                        format!("no experiment of journey `{journey}` has an arm \"{name}\""),
                        "no such arm".into(),
                        Some(if own.is_empty() {
                            format!("`{journey}` has no experiment: a `split` whose arms all have labels")
                        } else {
                            let own: Vec<String> = own.iter().map(|g| format!("\"{g}\"")).collect();
                            format!("its arms are {}", own.join(", "))
                        }),
                    ),
                    Unknown::Label { journey, own } => (
                        format!("journey `{journey}` never ends with the label \"{name}\""),
                        "no `end` gives this label".into(),
                        Some(if own.is_empty() {
                            format!(
                                "`{journey}` has no `end \"...\"` labels; it can end {}",
                                or_list(&crate::ir::OUTCOME_LABELS.map(|l| format!("\"{l}\"")))
                            )
                        } else {
                            let own: Vec<String> = own.iter().map(|l| format!("\"{l}\"")).collect();
                            format!("`{journey}` ends with {}", own.join(", "))
                        }),
                    ),
                };
                let help = did_you_mean(&suggestion).or(fallback);
                err(at, message, label).with_help_opt(help).with_fix(fix(at, &suggestion))
            }
            CheckError::UnknownField { owner, field, at, suggestion } => {
                let (message, label, fallback) = match &owner {
                    FieldOwner::Record { some } => (
                        format!("unknown field `{field}`"),
                        "no such field in this record".to_string(),
                        Some(if some.is_empty() {
                            "this record has no fields".to_string()
                        } else {
                            let some: Vec<_> = some.iter().map(|k| format!("`{k}`")).collect();
                            format!("its fields include {}", some.join(", "))
                        }),
                    ),
                    FieldOwner::ProfileUpdate => {
                        (format!("the profile has no field `{field}` here"), "unknown profile field".into(), None)
                    }
                    FieldOwner::Literal { what, path } => {
                        (format!("`{field}` is not a field of {what}"), format!("unknown field `{path}`"), None)
                    }
                };
                let help = did_you_mean(&suggestion).or(fallback);
                err(at, message, label).with_help_opt(help).with_fix(fix(at, &suggestion))
            }
            CheckError::TypeMismatch(s) | CheckError::Arity(s) | CheckError::NotAllowed(s) | CheckError::InvalidOption(s) => {
                said(s, false)
            }
            CheckError::UnknownFunction { name, at, suggestion } => {
                let help = did_you_mean(&suggestion)
                    .unwrap_or_else(|| "`journey explain E0006` lists where the library is described".into());
                err(at, format!("unknown function `{name}`"), "no such function".into())
                    .with_help(help)
                    .with_fix(fix(at, &suggestion))
            }
            CheckError::Argument { error, at, suggestion } => {
                let (message, label, fallback) = match error {
                    ArgumentError::Unknown { callee, name, signature } => (
                        format!("`{callee}` has no parameter `{name}`"),
                        "unknown argument".to_string(),
                        signature.map(|s| format!("`{callee}` takes {s}")),
                    ),
                    ArgumentError::Named { name } => (
                        format!("library functions take positional arguments, not `{name}:`"),
                        "named argument".into(),
                        Some(format!("remove `{name}:`")),
                    ),
                    ArgumentError::Twice { name } => (
                        format!("the argument `{name}` is given twice"),
                        "given again".into(),
                        Some("remove one of them".into()),
                    ),
                    ArgumentError::Missing { callee, names, signature } => {
                        let list = names.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ");
                        (
                            format!("missing argument{} {list} for `{callee}`", if names.len() == 1 { "" } else { "s" }),
                            "missing arguments".into(),
                            Some(format!("`{callee}` takes {signature}")),
                        )
                    }
                };
                let help = did_you_mean(&suggestion).or(fallback);
                err(at, message, label).with_help_opt(help).with_fix(fix(at, &suggestion))
            }
            CheckError::Lambda { at, function } => match function {
                None => err(
                    at,
                    "a lambda is only allowed as an argument of `all`, `first` or `last`".into(),
                    "lambda not allowed here".into(),
                )
                .with_help("write `all(list, x -> condition)`, or pass a value"),
                Some(f) => err(at, format!("`{f}` does not take a lambda"), "lambda not allowed here".into())
                    .with_help("lambdas are arguments of `all`, `first` and `last`"),
            },
            CheckError::SplitSum { keyword, total, branches } => {
                let mut d = err(
                    keyword,
                    format!("the split's percentages sum to {}%, not 100%", fmt_percent(total)),
                    format!("sums to {}%", fmt_percent(total)),
                );
                for (at, p) in branches {
                    d = d.with_label(file, at, format!("{}%", fmt_percent(p)));
                }
                let help = if total < 100.0 {
                    format!("add a branch of {}% (a control group), or raise the others", fmt_percent(100.0 - total))
                } else {
                    format!("lower the percentages by {}% in all", fmt_percent(total - 100.0))
                };
                d.with_help(help)
            }
            CheckError::WaitTooLong { at, what, ms, timeout_ms, timeout_at } => {
                let d = err(
                    at,
                    format!("{what} ({}) is longer than the journey timeout ({})", fmt_ms(ms), fmt_ms(timeout_ms)),
                    "longer than the journey timeout".into(),
                );
                let d = match timeout_at {
                    Some(s) => d.with_label(file, s, "the journey times out here"),
                    None => d.with_note(NO_TIMEOUT_NOTE),
                };
                d.with_help(format!("shorten it, or raise the journey's `timeout` to at least {}", fmt_ms(ms)))
            }
            CheckError::Unreachable { at } => {
                err(at, "unreachable code: every path before this ends".into(), "never runs".into())
                    .with_help("delete these statements, or move the `end` after them")
            }
            CheckError::JumpCycle { file, at, names, from, to, jumps } => {
                let mut d = Diagnostic::error(
                    code,
                    format!("journeys jump in a cycle: {} -> {}", names.join(" -> "), names[0]),
                    file,
                    at,
                    format!("`{from}` jumps back to `{to}`"),
                );
                for (p, n) in jumps {
                    d = d.with_label(p.file, p.span, format!("jump to `{n}`"));
                }
                d.with_help("remove one of the jumps so a profile cannot be handed around forever")
            }
            CheckError::Key { at, error } => match error {
                KeyError::Missing { event, declared } => err(
                    at,
                    format!("`{event}` cannot start a journey: it declares no `key`"),
                    "no profile key".into(),
                )
                .with_label(declared.file, declared.span, "declared here without `key`")
                .with_help("add `key <string expression over the payload>` to the event, e.g. `key identityMap.Email[0].id`"),
                KeyError::MissingForGoal { event, declared } => err(
                    at,
                    format!("`{event}` cannot be a goal's event: it declares no `key`"),
                    "no profile key".into(),
                )
                .with_label(declared.file, declared.span, "declared here without `key`")
                .with_note("a conversion is counted for the profile the goal event's `key` names")
                .with_help("add `key <string expression over the payload>` to the event, e.g. `key identityMap.Email[0].id`"),
                KeyError::NotString { ty } => err(
                    at,
                    format!("an event's `key` must be a `string`, but this is `{ty}`"),
                    format!("this is `{ty}`"),
                )
                .with_help("convert it: `key toString(...)`, or use an identity such as `identityMap.Email[0].id`"),
            },
            CheckError::Schema { at, error } => {
                let d = err(at, error.to_string(), "cannot load this schema".into()).with_help(error.help());
                let suggestion = match &error {
                    SchemaError::UnknownId { suggestion, .. } => suggestion.clone(),
                    _ => None,
                };
                d.with_fix(fix(at, &suggestion))
            }
            CheckError::NoEvent { at, why } => {
                err(at, format!("`event` is not available: {why}"), "no entry event here".into())
                    .with_help("read the profile, or fetch what you need from a data source")
            }
            CheckError::InvalidLiteral { at, text, ty } => {
                let example = match ty {
                    Ty::Date => "2026-12-24",
                    Ty::DateTime => "2026-12-24T10:00:00Z",
                    Ty::LocalDateTime => "2026-12-24T10:00:00",
                    _ => "09:30",
                };
                err(at, format!("`{text}` is not a valid {ty}"), format!("not a valid {ty}"))
                    .with_help(format!("write a real {ty}, e.g. `{example}`"))
            }
            CheckError::WrongKind { name, at, found, declared, wanted, suggestion } => {
                let want = wanted.iter().map(|k| k.word()).collect::<Vec<_>>().join(" or ");
                err(
                    at,
                    format!("`{name}` is {} {}, not {}", super::article(found.word()), found.word(), article_word(&want)),
                    format!("expected {}", article_word(&want)),
                )
                .with_label(
                    declared.file,
                    declared.span,
                    format!("`{name}` is declared here as {}", article_word(found.word())),
                )
                .with_help_opt(did_you_mean(&suggestion))
                .with_fix(fix(at, &suggestion))
            }
            CheckError::Setting { at, error } => match error {
                SettingError::Repeated { word, journey, first } => {
                    err(at, format!("`{word}` is given twice in journey `{journey}`"), "given again".into())
                        .with_label(file, first, "first given here")
                        .with_help("a journey has one of each setting; keep one")
                }
                SettingError::NoStart { journey } => {
                    err(at, format!("journey `{journey}` has no `start on`"), "never starts".into())
                        .with_help("add a line such as `start on SomeEvent` or `start on audience VIP enters`")
                }
            },
            CheckError::WhereWithoutAs { at, event } => err(
                at,
                "`where` needs the awaited event to be named with `as`".into(),
                "no `as` before this `where`".into(),
            )
            .with_help(format!("write `on {event} as e where e.... -> {{ }}`")),
            CheckError::UnknownTimeZone { at, zone, suggestion, abbreviation } => {
                let help = match (&suggestion, abbreviation) {
                    (Some(s), true) => format!(
                        "\"{zone}\" is an abbreviation, not a time zone; did you mean `{s}`? (a zone name also follows daylight saving time)"
                    ),
                    (Some(s), false) => format!("did you mean `{s}`?"),
                    (None, _) => "use an IANA time zone name such as `Europe/Paris` or `America/New_York`".into(),
                };
                err(at, format!("unknown time zone \"{zone}\""), "not an IANA time zone".into())
                    .with_help(help)
                    .with_fix(fix(at, &suggestion))
            }
            CheckError::OutOfRange { at, what } => match what {
                OutOfRange::JourneyTimeout => {
                    err(at, "a journey timeout must be longer than 0".into(), "not a valid timeout".into())
                        .with_help("write a duration such as `timeout 30d`, or leave `timeout` out for the default (91d)")
                }
                OutOfRange::ActiveWindow => {
                    err(at, "the active window ends before it starts".into(), "empty window".into())
                        .with_help("swap the dates")
                }
            },
            CheckError::Message { said: s, .. } => said(s, false),
            CheckError::Goal { problem, said: s, fix: x } => {
                let at = s.at;
                said(s, problem == GoalProblem::UnlabelledArm).with_fix(fix(at, &x))
            }
            CheckError::ReservedLabel { at, label } => err(
                at,
                format!("\"{label}\" is an outcome the engine gives, so it cannot be an `end` label"),
                "reserved outcome".into(),
            )
            .with_note(format!(
                "instances that time out, exit, stop or fail end {}; a journey's own label must differ, or reports and `expect ended` could not tell them apart",
                or_list(&crate::ir::RESERVED_LABELS.map(|l| format!("\"{l}\"")))
            ))
            .with_help(format!("name the outcome in your words, e.g. `end \"{}\"`", own_label(&label))),
            CheckError::AwaitNoTimeout { keyword } => {
                Diagnostic::warning(code, "this `await` has no timeout path", file, keyword, "waits with no `after`")
                    .with_note("if none of the events arrives, the instance waits until the journey's timeout and ends `timed-out`")
                    .with_help("add an arm such as `after 3d -> { end \"no-response\" }`")
            }
            CheckError::PossiblyNull { at, what, want, found } => Diagnostic::warning(
                code,
                format!("{what} may be null, but `{want}` is needed"),
                file,
                at,
                format!("this is `{found}`"),
            )
            .with_help("give a default with `??`, e.g. `... ?? \"\"`, or check `is not null` first"),
            CheckError::UnlistedValue { at, value, field, listed, suggestion } => {
                let help = match &suggestion {
                    Some(n) => format!("did you mean `\"{n}\"`?"),
                    None => {
                        let some: Vec<_> = listed.iter().take(5).map(|v| format!("\"{v}\"")).collect();
                        format!("the schema lists {}{}", some.join(", "), if listed.len() > 5 { ", ..." } else { "" })
                    }
                };
                Diagnostic::warning(
                    code,
                    format!("\"{value}\" is not one of the values the schema lists for this field"),
                    file,
                    at,
                    "not a listed value",
                )
                .with_label(file, field, format!("this field lists {} values", listed.len()))
                .with_help(help)
                .with_fix(fix(at, &suggestion))
            }
            CheckError::TimeoutHidesPath { at, path_ms, timeout_ms, timeout_at, waits } => {
                let mut d = Diagnostic::warning(
                    code,
                    format!(
                        "this path waits {} in all, which reaches the journey timeout ({})",
                        fmt_ms(path_ms),
                        fmt_ms(timeout_ms)
                    ),
                    file,
                    at,
                    format!("reached after {}", fmt_ms(path_ms)),
                );
                for (s, ms) in waits.iter().filter(|(s, _)| *s != at) {
                    d = d.with_label(file, *s, format!("waits {}", fmt_ms(*ms)));
                }
                let mut note =
                    "an instance on this path ends `timed-out` before it gets here, so the branch designed for it never runs"
                        .to_string();
                match timeout_at {
                    Some(s) => d = d.with_label(file, s, "the journey times out here"),
                    None => note = format!("{note}; {NO_TIMEOUT_NOTE}"),
                }
                d.with_note(note)
                .with_help(format!(
                    "raise the journey's `timeout` above {} (e.g. `timeout {}`), or shorten the waits",
                    fmt_ms(path_ms),
                    fmt_ms(path_ms + 86_400_000 - path_ms.rem_euclid(86_400_000))
                ))
            }
        }
    }
}

const NO_TIMEOUT_NOTE: &str =
    "the journey has no `timeout`, so the project default applies (91d unless journey.toml says otherwise)";

fn did_you_mean(s: &Option<String>) -> Option<String> {
    s.as_ref().map(|x| format!("did you mean `{x}`?"))
}

/// A user label close in meaning to a reserved one.
fn own_label(label: &str) -> &'static str {
    match label {
        "timed-out" => "no-response",
        "exited" | "stopped" => "left",
        _ => "failed-payment",
    }
}

fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The fix replacing the text at `at` with `x`, quoted as that text is: a string literal keeps
/// its quotes, a backticked name its backticks, a URL placeholder its braces; a name that needs
/// backticks gets them.
fn replacement(text: &str, at: Span, x: &str) -> Fix {
    let written = text.get(at.start..at.end).unwrap_or("");
    let replacement = match written.chars().next() {
        Some(q @ ('"' | '\'')) if !x.starts_with(['"', '\'']) => format!("{q}{x}{q}"),
        Some('{') if written.ends_with('}') => format!("{{{x}}}"),
        Some('`') if !is_ident(x) => format!("`{x}`"),
        Some(c) if (c.is_alphanumeric() || c == '_') && !is_ident(x) => format!("`{x}`"),
        _ => x.to_string(),
    };
    Fix { span: at, replacement }
}

fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn fmt_percent(p: f64) -> String {
    if p.fract() == 0.0 {
        format!("{}", p as i64)
    } else {
        format!("{p}")
    }
}
