//! An optional side table for editors: what stands at each span the checker typed (field
//! accesses with their schema field, name uses, locals' declarations, library calls), filled
//! only when asked for ([`check_indexed`]), so `journey check` pays nothing for it.

use crate::check::{self, Defaults};
use crate::diag::Diagnostic;
use crate::sources::{FileId, Sources};
use crate::types::{FieldTy, Ty};
use crate::{Checked, SchemaRegistry};
use journey_grammar::ast::Span;
use journey_grammar::Parsed;
use std::collections::HashMap;

/// A local variable as an editor sees it: its name, type and where it is declared.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalInfo {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: Ty,
    /// The span of its name where it is declared.
    pub def: Span,
}

/// What names mean where an expression stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// An event's `key`/`when`: bare names are payload fields.
    Payload,
    /// A journey body; `event` is usable when the journey starts on an event.
    Journey {
        /// Whether `event` is available.
        event: bool,
    },
    /// An action or data source declaration: its parameters and `secret()`.
    Http,
    /// A test or a setting: literals only.
    Literal,
}

/// What the checker found at one span.
#[derive(Debug, Clone)]
pub enum Entry {
    /// `base.name` (also `base["name"]`, a bare payload field in `key`/`when`, and a profile
    /// path segment in `update profile`); the span is the field name's.
    Field {
        /// The type of the expression left of the dot.
        base: Ty,
        /// The schema field, when `base` is a record that has it.
        field: Option<FieldTy>,
        /// The type of reading it (`any` when unknown).
        ty: Ty,
    },
    /// A use or the declaration of a local (`let`, `as`, a lambda or HTTP parameter).
    Local {
        /// The local.
        local: LocalInfo,
        /// Whether this is its declaration.
        is_def: bool,
    },
    /// `event` in a journey.
    Event(Ty),
    /// `profile` in a journey.
    Profile(Ty),
    /// A library function's name in a call, with the call's type.
    Function {
        /// The function.
        name: String,
        /// The type of the call.
        ty: Ty,
    },
    /// A name that resolves to nothing, with what was visible there (for completion).
    Unknown {
        /// The visible locals, innermost last.
        locals: Vec<LocalInfo>,
        /// What names mean there.
        place: Place,
    },
}

/// One indexed span.
#[derive(Debug, Clone)]
pub struct Item {
    /// The file.
    pub file: FileId,
    /// The span.
    pub span: Span,
    /// What is there.
    pub entry: Entry,
}

/// Every indexed span of a project, plus the resolved declarations editors show.
#[derive(Debug, Clone, Default)]
pub struct Index {
    /// Indexed spans in the order the checker met them.
    pub items: Vec<Item>,
    /// The type each `schema` and `type` declaration resolved to.
    pub types: HashMap<String, Ty>,
    /// The profile's type, when declared.
    pub profile: Option<Ty>,
}

impl Index {
    /// Records what stands at `span` of `file`.
    pub(crate) fn push(&mut self, file: FileId, span: Span, entry: Entry) {
        self.items.push(Item { file, span, entry });
    }

    /// The innermost indexed item of `file` whose span holds `offset` (ends inclusive, so a
    /// cursor just after a name finds it).
    pub fn at(&self, file: FileId, offset: usize) -> Option<&Item> {
        self.items
            .iter()
            .filter(|i| i.file == file && i.span.start <= offset && offset <= i.span.end)
            .min_by_key(|i| i.span.end - i.span.start)
    }

    /// Every item of `file`.
    pub fn in_file(&self, file: FileId) -> impl Iterator<Item = &Item> {
        self.items.iter().filter(move |i| i.file == file)
    }
}

/// Checks already parsed files like [`crate::check`] and fills an [`Index`] on the way. The
/// diagnostics are exactly those of [`crate::check`] on the same texts.
pub fn check_indexed(
    sources: &Sources,
    parsed: Vec<(FileId, Parsed)>,
    registry: &SchemaRegistry,
    defaults: &Defaults,
) -> (Checked, Index) {
    let (checked, index) = crate::check_parsed(sources, parsed, registry, defaults, true);
    (checked, index.unwrap_or_default())
}

/// The diagnostics of one file's syntax errors, as [`crate::check`] reports them.
pub fn syntax_diagnostics(file: FileId, parsed: &Parsed) -> Vec<Diagnostic> {
    parsed.errors.iter().map(|e| crate::syntax_diagnostic(file, e.clone())).collect()
}

impl check::Checker<'_> {
    /// Turns on the index.
    pub fn with_index(mut self) -> Self {
        self.index = Some(Box::default());
        self
    }

    /// Records what stands at `span` of the current file, when indexing.
    pub(crate) fn note(&mut self, span: Span, entry: impl FnOnce() -> Entry) {
        if let Some(ix) = &mut self.index {
            ix.push(self.file, span, entry());
        }
    }

    /// Records a local's declaration, when indexing.
    pub(crate) fn note_def(&mut self, name: &str, ty: &Ty, span: Span) {
        self.note(span, || Entry::Local {
            local: LocalInfo { name: name.to_string(), ty: ty.clone(), def: span },
            is_def: true,
        });
    }
}

use crate::check::scope::{Context, Scope};
use crate::ir::ExprKind as K;
use journey_grammar::ast;

impl check::Checker<'_> {
    /// Types `base.name`, indexing the field.
    pub(crate) fn field(&mut self, base: crate::ir::Expr, name: &ast::Ident, span: Span) -> crate::ir::Expr {
        let base_ty = self.index.is_some().then(|| base.ty.clone());
        let out = self.field_typed(base, name, span);
        if let Some(base) = base_ty {
            let field = match base.non_null() {
                Ty::Record(r) => r.fields.get(&name.name).cloned(),
                _ => None,
            };
            let ty = out.ty.clone();
            self.note(name.span, || Entry::Field { base, field, ty });
        }
        out
    }

    /// Types a library call, indexing the function's name.
    pub(crate) fn call(
        &mut self,
        func: &ast::Ident,
        args: &[ast::Arg],
        span: Span,
        scope: &mut Scope,
    ) -> crate::ir::Expr {
        let out = self.call_typed(func, args, span, scope);
        if crate::functions::lookup(&func.name).is_some() {
            let (name, ty) = (func.name.clone(), out.ty.clone());
            self.note(func.span, || Entry::Function { name, ty });
        }
        out
    }

    /// Types a bare name, indexing what it resolved to.
    pub(crate) fn name(&mut self, id: &ast::Ident, scope: &mut Scope) -> crate::ir::Expr {
        let out = self.name_typed(id, scope);
        if self.index.is_none() {
            return out;
        }
        match (&out.kind, &scope.context) {
            (K::Local(_), _) => {
                if let Some(l) = scope.lookup(&id.name) {
                    let local = LocalInfo { name: l.name.clone(), ty: l.ty.clone(), def: l.span };
                    self.note(id.span, || Entry::Local { local, is_def: false });
                }
            }
            (K::Event, Context::Journey { .. }) => {
                let ty = out.ty.clone();
                self.note(id.span, || Entry::Event(ty));
            }
            (K::Profile, _) => {
                let ty = out.ty.clone();
                self.note(id.span, || Entry::Profile(ty));
            }
            (K::Error, context) if id.name != "event" && id.name != "profile" => {
                let place = match context {
                    Context::Payload(_) => return out,
                    Context::Journey { event } => Place::Journey { event: event.is_ok() },
                    Context::Http => Place::Http,
                    Context::Test => Place::Literal,
                };
                let locals =
                    scope.locals().map(|l| LocalInfo { name: l.name.clone(), ty: l.ty.clone(), def: l.span }).collect();
                self.note(id.span, || Entry::Unknown { locals, place });
            }
            _ => {}
        }
        out
    }
}
