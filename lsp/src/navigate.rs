//! Declarations and locals: what a position names, go to definition, find references,
//! rename, and document symbols.

use crate::world::Analysis;
use journey_compiler::check::DeclKind;
use journey_compiler::index::Entry;
use journey_compiler::sources::FileId;
use journey_grammar::ast::{self, ItemKind, Span, StmtKind};
use journey_grammar::keywords;
use std::collections::HashMap;
use tower_lsp_server::ls_types as l;

/// A declaration as written.
#[derive(Debug, Clone)]
pub struct DeclSite {
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: DeclKind,
    /// Its file.
    pub file: FileId,
    /// Its name's span.
    pub name_span: Span,
    /// The whole declaration.
    pub item_span: Span,
    /// Its `///` doc.
    pub doc: Option<String>,
}

/// Every named declaration of the project, in file and source order.
pub fn declarations(a: &Analysis) -> Vec<DeclSite> {
    let mut out = Vec::new();
    for (file, sf) in &a.checked.files {
        for item in &sf.items {
            let Some((kind, name)) = DeclKind::of(&item.kind) else { continue };
            out.push(DeclSite {
                name: name.name.clone(),
                kind,
                file: *file,
                name_span: name.span,
                item_span: item.span,
                doc: item.doc.clone(),
            });
        }
    }
    out
}

/// The first declaration named `name`.
pub fn declaration(a: &Analysis, name: &str) -> Option<DeclSite> {
    declarations(a).into_iter().find(|d| d.name == name)
}

/// What a position names.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A declaration, by name.
    Decl(String),
    /// A local, by the span of its declaration.
    Local {
        /// Its file.
        file: FileId,
        /// Its declaration's name span.
        def: Span,
        /// Its name.
        name: String,
    },
}

fn holds(span: Span, offset: usize) -> bool {
    span.start <= offset && offset <= span.end
}

/// The declaration or local named at `offset`, and the span of the name there.
pub fn target_at(a: &Analysis, file: FileId, offset: usize) -> Option<(Target, Span)> {
    let mut found: Vec<(Target, Span)> = Vec::new();
    for r in a.checked.references.iter().filter(|r| r.file == file && holds(r.span, offset)) {
        found.push((Target::Decl(r.name.clone()), r.span));
    }
    for d in declarations(a).into_iter().filter(|d| d.file == file && holds(d.name_span, offset)) {
        found.push((Target::Decl(d.name), d.name_span));
    }
    for item in a.index.in_file(file).filter(|i| holds(i.span, offset)) {
        if let Entry::Local { local, .. } = &item.entry {
            found.push((Target::Local { file, def: local.def, name: local.name.clone() }, item.span));
        }
    }
    // Prefer a name the cursor is inside over one it merely touches, then the smallest.
    found.into_iter().min_by_key(|(_, s)| (!(s.start < offset && offset < s.end), s.end - s.start))
}

/// The places a target is declared.
pub fn definitions(a: &Analysis, t: &Target) -> Vec<(FileId, Span)> {
    match t {
        Target::Decl(name) => {
            declarations(a).into_iter().filter(|d| d.name == *name).map(|d| (d.file, d.name_span)).collect()
        }
        Target::Local { file, def, .. } => vec![(*file, *def)],
    }
}

/// Every use of a target (declarations not included).
pub fn uses(a: &Analysis, t: &Target) -> Vec<(FileId, Span)> {
    match t {
        Target::Decl(name) => {
            a.checked.references.iter().filter(|r| r.name == *name).map(|r| (r.file, r.span)).collect()
        }
        Target::Local { file, def, .. } => a
            .index
            .in_file(*file)
            .filter_map(|i| match &i.entry {
                Entry::Local { local, is_def: false } if local.def == *def => Some((i.file, i.span)),
                _ => None,
            })
            .collect(),
    }
}

/// LSP locations of `(file, span)` pairs, without duplicates.
pub fn locations(a: &Analysis, places: Vec<(FileId, Span)>) -> Vec<l::Location> {
    let mut seen = std::collections::HashSet::new();
    places
        .into_iter()
        .filter(|p| seen.insert(*p))
        .map(|(f, s)| l::Location::new(a.files[f].uri.clone(), a.range(f, s)))
        .collect()
}

/// Why `name` cannot be a new name, if it cannot.
pub fn invalid_name(name: &str, local: bool) -> Option<String> {
    let mut chars = name.chars();
    let ok_start = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !ok_start || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Some(format!("`{name}` is not a valid name: use letters, digits and `_`, not starting with a digit"));
    }
    if keywords::is_reserved(name) || (local && keywords::is_expression_word(name)) {
        return Some(format!("`{name}` is a keyword"));
    }
    None
}

/// The edits renaming `t` to `new_name`, or why it cannot be renamed so.
pub fn rename(a: &Analysis, t: &Target, new_name: &str) -> Result<HashMap<l::Uri, Vec<l::TextEdit>>, String> {
    let mut places: Vec<(FileId, Span)> = Vec::new();
    match t {
        Target::Decl(name) => {
            if let Some(why) = invalid_name(new_name, false) {
                return Err(why);
            }
            if new_name != name {
                if let Some(d) = declaration(a, new_name) {
                    return Err(format!("`{new_name}` is already declared (as {} `{}`)", d.kind.word(), d.name));
                }
            }
            places.extend(definitions(a, t));
            for (f, s) in uses(a, t) {
                // `inAudience("VIP")`: the name is inside the quotes.
                let text = &a.text(f)[s.start..s.end];
                if text.starts_with(['"', '\'']) && s.end - s.start >= 2 {
                    places.push((f, Span::new(s.start + 1, s.end - 1)));
                } else {
                    places.push((f, s));
                }
            }
        }
        Target::Local { file, def, name } => {
            if let Some(why) = invalid_name(new_name, true) {
                return Err(why);
            }
            if new_name != name && local_taken(a, *file, *def, new_name) {
                return Err(format!("`{new_name}` already names a value where `{name}` is used"));
            }
            places.extend(definitions(a, t));
            places.extend(uses(a, t));
            places.extend(param_uses(a, *file, *def, name));
        }
    }
    let mut edits: HashMap<l::Uri, Vec<l::TextEdit>> = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    for (f, s) in places {
        if seen.insert((f, s)) {
            edits.entry(a.files[f].uri.clone()).or_default().push(l::TextEdit::new(a.range(f, s), new_name.into()));
        }
    }
    Ok(edits)
}

/// Whether `name` is visible as another value in the declaration holding the local at `def`.
fn local_taken(a: &Analysis, file: FileId, def: Span, name: &str) -> bool {
    if name == "event" || name == "profile" {
        return true;
    }
    let Some(sf) = a.ast(file) else { return false };
    let Some(item) = sf.items.iter().find(|i| i.span.start <= def.start && def.end <= i.span.end) else {
        return false;
    };
    a.index.in_file(file).any(|i| {
        item.span.start <= i.span.start
            && i.span.end <= item.span.end
            && matches!(&i.entry, Entry::Local { local, .. } if local.name == name)
    })
}

/// For an action's or data source's parameter: its `{name}` in the URL and the argument names
/// of the calls and expected calls.
fn param_uses(a: &Analysis, file: FileId, def: Span, name: &str) -> Vec<(FileId, Span)> {
    let Some(sf) = a.ast(file) else { return Vec::new() };
    let Some(h) = sf.items.iter().find_map(|i| match &i.kind {
        ItemKind::Action(h) | ItemKind::DataSource(h) if h.params.iter().any(|p| p.name.span == def) => Some(h),
        _ => None,
    }) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let raw = &a.text(file)[h.url.span.start..h.url.span.end];
    let placeholder = format!("{{{name}}}");
    if raw.len() >= 2 && !raw.contains('\\') {
        for (i, _) in raw.match_indices(&placeholder) {
            let start = h.url.span.start + i + 1;
            out.push((file, Span::new(start, start + name.len())));
        }
    }
    for (f, sf) in &a.checked.files {
        for item in &sf.items {
            match &item.kind {
                ItemKind::Journey(j) => each_call(&j.body.stmts, &mut |c| {
                    if c.name.name == h.name.name {
                        for arg in &c.args {
                            if let Some(n) = arg.name.as_ref().filter(|n| n.name == name) {
                                out.push((*f, n.span));
                            }
                        }
                    }
                }),
                ItemKind::Test(t) => {
                    for s in &t.stmts {
                        if let ast::TestStmtKind::ExpectCall { action, args: Some(e), .. } = &s.kind {
                            if let (true, ast::ExprKind::Record(entries)) = (action.name == h.name.name, &e.kind) {
                                out.extend(entries.iter().filter(|en| en.key.name == name).map(|en| (*f, en.key.span)));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// Calls `f` on every `call`/`fetch` in these statements, nested blocks included.
pub fn each_call<'a>(stmts: &'a [ast::Stmt], f: &mut dyn FnMut(&'a ast::ActionCall)) {
    for s in stmts {
        s.walk(&mut |s| {
            if let StmtKind::Call(c) | StmtKind::Let { value: ast::LetValue::Call(c), .. } = &s.kind {
                f(c);
            }
        });
    }
}

/// The outline of a file: its declarations, with a journey's locals and an HTTP
/// declaration's parameters as children.
#[allow(deprecated)]
pub fn symbols(a: &Analysis, file: FileId) -> Vec<l::DocumentSymbol> {
    let Some(sf) = a.ast(file) else { return Vec::new() };
    let sym = |name: String, detail: Option<String>, kind: l::SymbolKind, span: Span, sel: Span, children| {
        l::DocumentSymbol {
            name: if name.is_empty() { "?".into() } else { name },
            detail,
            kind,
            tags: None,
            deprecated: None,
            range: a.range(file, span),
            selection_range: a.range(file, sel),
            children,
        }
    };
    let mut out = Vec::new();
    for item in &sf.items {
        let s = match &item.kind {
            ItemKind::Schema { name, .. } => {
                sym(name.name.clone(), Some("schema".into()), l::SymbolKind::STRUCT, item.span, name.span, None)
            }
            ItemKind::Type { name, .. } => {
                sym(name.name.clone(), Some("type".into()), l::SymbolKind::STRUCT, item.span, name.span, None)
            }
            ItemKind::Profile { keyword, .. } => {
                sym("profile".into(), Some("profile".into()), l::SymbolKind::OBJECT, item.span, *keyword, None)
            }
            ItemKind::Event(e) => sym(
                e.name.name.clone(),
                Some(format!("event: {}", e.schema.name)),
                l::SymbolKind::EVENT,
                item.span,
                e.name.span,
                None,
            ),
            ItemKind::Audience { name } => {
                sym(name.name.clone(), Some("audience".into()), l::SymbolKind::CONSTANT, item.span, name.span, None)
            }
            ItemKind::DataSource(h) | ItemKind::Action(h) => {
                let params = h
                    .params
                    .iter()
                    .map(|p| {
                        let ty = a.text(file).get(p.ty.span.start..p.ty.span.end).map(str::to_string);
                        sym(
                            p.name.name.clone(),
                            ty,
                            l::SymbolKind::VARIABLE,
                            p.name.span.to(p.ty.span),
                            p.name.span,
                            None,
                        )
                    })
                    .collect();
                let (word, kind) = match item.kind {
                    ItemKind::Action(_) => ("action", l::SymbolKind::FUNCTION),
                    _ => ("datasource", l::SymbolKind::INTERFACE),
                };
                sym(h.name.name.clone(), Some(word.into()), kind, item.span, h.name.span, Some(params))
            }
            ItemKind::Journey(j) => {
                let mut children = Vec::new();
                locals_of(&j.body.stmts, &mut |id: &ast::Ident, span: Span| {
                    let ty = a.index.in_file(file).find_map(|i| match &i.entry {
                        Entry::Local { local, is_def: true } if local.def == id.span => Some(local.ty.to_string()),
                        _ => None,
                    });
                    children.push(sym(id.name.clone(), ty, l::SymbolKind::VARIABLE, span, id.span, None));
                });
                sym(
                    j.name.name.clone(),
                    Some("journey".into()),
                    l::SymbolKind::MODULE,
                    item.span,
                    j.name.span,
                    Some(children),
                )
            }
            ItemKind::Test(t) => {
                sym(t.name.value.clone(), Some("test".into()), l::SymbolKind::METHOD, item.span, t.name.span, None)
            }
            ItemKind::Channel(c) => sym(
                c.name.name.clone(),
                Some("channel".into()),
                l::SymbolKind::ENUM_MEMBER,
                item.span,
                c.name.span,
                None,
            ),
            ItemKind::Frequency(f) => sym(
                format!("frequency {}", f.channel.name),
                Some(format!("{} per {}ms", f.limit.value, f.per.millis)),
                l::SymbolKind::PROPERTY,
                item.span,
                f.channel.span,
                None,
            ),
            ItemKind::Error => continue,
        };
        out.push(s);
    }
    out
}

/// Calls `f` with every `let` name and `as` binding (and the span of what declares it).
fn locals_of(stmts: &[ast::Stmt], f: &mut dyn FnMut(&ast::Ident, Span)) {
    for s in stmts {
        if let StmtKind::Let { name, .. } = &s.kind {
            f(name, s.span);
        }
        if let StmtKind::Await { arms, .. } = &s.kind {
            for arm in arms {
                if let Some(b) = &arm.binding {
                    f(b, arm.span);
                }
            }
        }
        for b in s.blocks() {
            locals_of(&b.stmts, f);
        }
    }
}

/// A schema named in a `schema` or `profile` declaration.
#[derive(Debug, Clone, PartialEq)]
pub enum SchemaRef {
    /// `xdm "$id"` or `with "$id"`.
    Id(String, Span),
    /// `json "path"`, resolved against the declaring file's folder.
    File(std::path::PathBuf, Span),
}

/// The schema `$id` or file named at `offset`, if any.
pub fn schema_at(a: &Analysis, file: FileId, offset: usize) -> Option<SchemaRef> {
    let sf = a.ast(file)?;
    let inside = |s: Span| s.start <= offset && offset <= s.end;
    for item in &sf.items {
        let source = match &item.kind {
            ItemKind::Schema { source, .. } | ItemKind::Profile { source, .. } => source,
            _ => continue,
        };
        match source {
            ast::SchemaSource::Xdm { id, with } => {
                if let Some(s) = std::iter::once(id).chain(with).find(|s| inside(s.span)) {
                    return Some(SchemaRef::Id(s.value.clone(), s.span));
                }
            }
            ast::SchemaSource::Json { path } if inside(path.span) => {
                let base = a.sources.get(file).path.parent().map(|p| p.to_path_buf()).unwrap_or_default();
                return Some(SchemaRef::File(base.join(&path.value), path.span));
            }
            _ => {}
        }
    }
    None
}

/// Where a schema reference's file is, when it is a file on disk.
pub fn schema_location(a: &Analysis, r: &SchemaRef) -> Option<l::Location> {
    let path = match r {
        SchemaRef::Id(id, _) => a.registry.source(id)?,
        SchemaRef::File(p, _) => p.clone(),
    };
    let path = path.canonicalize().ok()?;
    let uri = l::Uri::from_file_path(&path)?;
    Some(l::Location::new(uri, l::Range::default()))
}
