//! The checker: resolves names, types every expression and statement, and builds the IR.

mod decls;
mod error;
mod expr;
mod journey;
mod messages;
pub(crate) mod scope;
mod testblock;
mod typing;

pub use error::{
    ArgumentError, CheckError, Duplicated, FieldOwner, GoalProblem, KeyError, MessageProblem, OutOfRange, Place, Said,
    SettingError, Unknown,
};
pub use journey::{const_duration, const_int, fmt_ms, DEFAULT_TIMEOUT_MS};
pub use typing::{assignable, unify, Assign};

use crate::diag::Diagnostic;
use crate::ir;
use crate::sources::{FileId, Sources};
use crate::types::Ty;
use indexmap::IndexMap;
use journey_grammar::ast::{self, Span};
use journey_schema::SchemaRegistry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Project-wide defaults from `journey.toml`.
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    /// Default journey time zone.
    pub timezone: Option<String>,
    /// Default journey timeout in milliseconds.
    pub timeout_ms: Option<i64>,
}

/// What kind of thing a global name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclKind {
    /// `schema`.
    Schema,
    /// `type`.
    Type,
    /// `event`.
    Event,
    /// `audience`.
    Audience,
    /// `datasource`.
    DataSource,
    /// `action`.
    Action,
    /// `journey`.
    Journey,
    /// `channel`.
    Channel,
}

impl DeclKind {
    /// What a top-level item declares by name, and the name; none for a profile, a frequency
    /// rule, a test or an item that did not parse.
    pub fn of(item: &ast::ItemKind) -> Option<(DeclKind, &ast::Ident)> {
        use ast::ItemKind as I;
        Some(match item {
            I::Schema { name, .. } => (DeclKind::Schema, name),
            I::Type { name, .. } => (DeclKind::Type, name),
            I::Event(e) => (DeclKind::Event, &e.name),
            I::Audience { name } => (DeclKind::Audience, name),
            I::DataSource(h) => (DeclKind::DataSource, &h.name),
            I::Action(h) => (DeclKind::Action, &h.name),
            I::Journey(j) => (DeclKind::Journey, &j.name),
            I::Channel(c) => (DeclKind::Channel, &c.name),
            I::Profile { .. } | I::Frequency(_) | I::Test(_) | I::Error => return None,
        })
    }

    /// The word for it in messages.
    pub fn word(self) -> &'static str {
        match self {
            DeclKind::Schema => "schema",
            DeclKind::Type => "type",
            DeclKind::Event => "event",
            DeclKind::Audience => "audience",
            DeclKind::DataSource => "data source",
            DeclKind::Action => "action",
            DeclKind::Journey => "journey",
            DeclKind::Channel => "channel",
        }
    }
}

/// A global declaration: where it is.
#[derive(Debug, Clone, Copy)]
pub struct Decl {
    /// Its kind.
    pub kind: DeclKind,
    /// The file it is in.
    pub file: FileId,
    /// The span of its name.
    pub name_span: Span,
    /// Index into the parsed files, then into the file's items.
    pub at: (usize, usize),
}

/// Reference from a use site to a declaration, for go-to-definition and find-references.
#[derive(Debug, Clone)]
pub struct Reference {
    /// The file of the use.
    pub file: FileId,
    /// The use's span.
    pub span: Span,
    /// The declaration's name.
    pub name: String,
}

/// The checker's state while it walks a project.
pub struct Checker<'a> {
    pub(crate) sources: &'a Sources,
    pub(crate) files: &'a [(FileId, ast::SourceFile)],
    pub(crate) registry: &'a SchemaRegistry,
    pub(crate) defaults: &'a Defaults,
    pub(crate) diags: Vec<Diagnostic>,
    pub(crate) decls: IndexMap<String, Decl>,
    pub(crate) resolved: HashMap<String, Ty>,
    pub(crate) resolving: HashSet<String>,
    pub(crate) profile: Option<Ty>,
    pub(crate) http: HashMap<String, Arc<ir::Http>>,
    pub(crate) events: HashMap<String, Arc<ir::Event>>,
    pub(crate) channels: HashMap<String, Arc<ir::Channel>>,
    /// The local slots that `send ... as NAME` binds in the journey being checked, with the
    /// send's channel (for `on opened NAME`).
    pub(crate) send_slots: HashMap<usize, String>,
    /// Enum values of the field read at a span (for the listed-values warning).
    pub(crate) enums: HashMap<(FileId, Span), Arc<Vec<String>>>,
    pub(crate) references: Vec<Reference>,
    /// The key span of each record literal entry, by its value's span (to point at a key).
    pub(crate) record_keys: HashMap<(FileId, Span), Span>,
    /// The file being checked now.
    pub(crate) file: FileId,
    /// The editors' index, when asked for (see [`crate::index`]).
    pub(crate) index: Option<Box<crate::index::Index>>,
}

impl<'a> Checker<'a> {
    /// A checker over parsed files.
    pub fn new(
        sources: &'a Sources,
        files: &'a [(FileId, ast::SourceFile)],
        registry: &'a SchemaRegistry,
        defaults: &'a Defaults,
    ) -> Self {
        Checker {
            sources,
            files,
            registry,
            defaults,
            diags: Vec::new(),
            decls: IndexMap::new(),
            resolved: HashMap::new(),
            resolving: HashSet::new(),
            profile: None,
            http: HashMap::new(),
            events: HashMap::new(),
            channels: HashMap::new(),
            send_slots: HashMap::new(),
            enums: HashMap::new(),
            references: Vec::new(),
            record_keys: HashMap::new(),
            file: 0,
            index: None,
        }
    }

    /// Checks everything and returns the program with every diagnostic found.
    pub fn run(self) -> (ir::Program, Vec<Diagnostic>, Vec<Reference>) {
        let (program, diags, references, _) = self.run_indexed();
        (program, diags, references)
    }

    /// [`Checker::run`], also returning the index when [`Checker::with_index`] turned it on.
    pub fn run_indexed(mut self) -> (ir::Program, Vec<Diagnostic>, Vec<Reference>, Option<crate::index::Index>) {
        self.collect_decls();
        let mut program = ir::Program::default();
        self.check_types_and_schemas();
        program.profile = self.profile.clone();
        program.events = self.check_events();
        program.http = self.check_http();
        program.channels = self.check_channels();
        program.frequencies = self.check_frequencies();
        program.audiences =
            self.decls.iter().filter(|(_, d)| d.kind == DeclKind::Audience).map(|(n, _)| n.clone()).collect();
        program.journeys = self.check_journeys();
        self.check_jump_cycles(&program.journeys);
        program.tests = self.check_tests(&program.journeys);
        let index = self.index.take().map(|mut ix| {
            ix.types = self.resolved.clone();
            ix.profile = self.profile.clone();
            *ix
        });
        let mut diags = self.diags;
        crate::diag::sort(&mut diags);
        (program, diags, self.references, index)
    }

    /// Types one free-standing expression (for `journey eval`): `event` and `profile` have the
    /// given types, nothing else is declared.
    pub fn expression(mut self, file: FileId, e: &ast::Expr, event: Ty, profile: Ty) -> (ir::Expr, Vec<Diagnostic>) {
        self.file = file;
        self.profile = Some(profile);
        let mut scope = scope::Scope::new(scope::Context::Journey { event: Ok(event) });
        let out = self.expr(e, &mut scope);
        let mut diags = self.diags;
        crate::diag::sort(&mut diags);
        (out, diags)
    }

    /// Reports a problem in the file being checked.
    pub(crate) fn report(&mut self, e: CheckError) {
        self.report_in(self.file, e);
    }

    /// Reports a problem in `file`.
    pub(crate) fn report_in(&mut self, file: FileId, e: CheckError) {
        let d = e.diagnostic(file, &self.sources.get(file).text);
        self.diags.push(d);
    }

    /// Names of declarations of one kind, for suggestions.
    pub(crate) fn names_of(&self, kind: DeclKind) -> Vec<&str> {
        self.decls.iter().filter(|(_, d)| d.kind == kind).map(|(n, _)| n.as_str()).collect()
    }

    /// Resolves a use of a declaration of the expected kind; reports unknown names and
    /// wrong kinds. Returns whether it names such a declaration.
    pub(crate) fn use_decl(&mut self, name: &ast::Ident, kinds: &[DeclKind]) -> bool {
        match self.decls.get(&name.name).copied() {
            Some(d) if kinds.contains(&d.kind) => {
                self.references.push(Reference { file: self.file, span: name.span, name: name.name.clone() });
                true
            }
            Some(d) => {
                let mut names = Vec::new();
                for k in kinds {
                    names.extend(self.names_of(*k));
                }
                let suggestion = crate::suggest::nearest(&name.name, names).map(str::to_string);
                self.report(CheckError::WrongKind {
                    name: name.name.clone(),
                    at: name.span,
                    found: d.kind,
                    declared: Place { file: d.file, span: d.name_span },
                    wanted: kinds.to_vec(),
                    suggestion,
                });
                false
            }
            None => {
                let mut names = Vec::new();
                for k in kinds {
                    names.extend(self.names_of(*k));
                }
                let suggestion = crate::suggest::nearest(&name.name, names).map(str::to_string);
                self.report(CheckError::UnknownName {
                    what: Unknown::Declaration(kinds.to_vec()),
                    name: name.name.clone(),
                    at: name.span,
                    suggestion,
                });
                false
            }
        }
    }
}

fn example_decl(kind: DeclKind, name: &str) -> String {
    match kind {
        DeclKind::Schema => format!("schema {name} = json \"schemas/{}.json\"", name.to_lowercase()),
        DeclKind::Type => format!("type {name} = {{ id: string }}"),
        DeclKind::Event => format!("event {name}: SomeSchema {{ key id }}"),
        DeclKind::Audience => format!("audience {name}"),
        DeclKind::DataSource => format!("datasource {name}(id: string) = http GET \"https://...\" {{ returns {{ }} }}"),
        DeclKind::Action => format!("action {name}(to: string) = http POST \"https://...\" {{ }}"),
        DeclKind::Journey => format!("journey {name} {{ start on SomeEvent }}"),
        DeclKind::Channel => format!("channel {name} {{ to profile.email  deliver SendEmail }}"),
    }
}

/// "a schema", "an event".
pub(crate) fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

pub(crate) fn article_word(word: &str) -> String {
    format!("{} {word}", article(word))
}
