//! Completion: fields after `.`, declarations after the words that name them, keywords that
//! fit the position, and otherwise functions, locals, `event` and `profile`.
//!
//! The type left of a dot comes from checking the project again with a placeholder name
//! inserted at the cursor, so `profile.person.|` types as `profile.person.<placeholder>`; when
//! the line does not parse that way, the expression before the cursor is checked again alone
//! as `let <x> = <expression><placeholder>` in place of the line.

use crate::hover;
use crate::lexer::{self, StrPiece, Tok, Token};
use crate::navigate;
use crate::world::{Analysis, World};
use journey_compiler::check::DeclKind;
use journey_compiler::functions::{self, FUNCTIONS};
use journey_compiler::index::{Entry, Place};
use journey_compiler::types::Ty;
use journey_grammar::keywords::{keyword, with_role, Role};
use std::path::Path;
use tower_lsp_server::ls_types as l;

/// The identifier inserted at the cursor to type what stands there.
const PLACEHOLDER: &str = "__jny_cursor";

// The keyword lists come from the grammar's table; `else` also starts a line, after an `if`'s block.
fn keywords_of(role: Role) -> Vec<&'static str> {
    with_role(role).collect()
}
const TYPES: &[&str] =
    &["string", "int", "number", "bool", "date", "datetime", "localdatetime", "time", "duration", "list", "map"];

/// The completions at `offset` of the open document at `path`.
pub fn complete(world: &mut World, path: &Path, offset: usize) -> Vec<l::CompletionItem> {
    let Some(text) = world.doc(path).map(|d| d.text.clone()) else { return Vec::new() };
    let offset = crate::position::floor_boundary(&text, offset);
    let a = world.analysis_of(path);
    let tokens = lexer::lex(&text);
    let prefix_start = word_start(&text, offset);
    // Inside a comment or a string: only interpolations, audience names and schema ids
    // complete. A comment, or a string without its closing quote yet, runs to the end of its
    // line: the end of the line is still inside it.
    let inside = |t: &&Token| {
        t.span.start < offset
            && (offset < t.span.end.max(t.span.start + 1) || offset == t.span.end && open_to_line_end(&text, t))
    };
    if let Some(t) = tokens.iter().find(inside) {
        match t.kind {
            Tok::LineComment | Tok::DocComment | Tok::BlockComment => return Vec::new(),
            Tok::Str | Tok::SqStr => {
                let in_interp = t.kind == Tok::Str
                    && lexer::string_parts(&text, t.span.clone()).iter().any(
                        |p| matches!(p, StrPiece::Interp { expr, .. } if expr.start <= offset && offset <= expr.end),
                    );
                if !in_interp {
                    let before: Vec<&Token> = tokens.iter().filter(|x| x.span.end <= t.span.start).collect();
                    let is_audience_arg = matches!(before.as_slice(), [.., f, p]
                        if f.kind == Tok::Ident && matches!(&text[f.span.clone()], "inAudience" | "inSegment")
                            && p.kind == Tok::LParen);
                    if is_audience_arg {
                        return decls(&a, &[DeclKind::Audience]);
                    }
                    return schema_ids(&a, &text, &before, t.span.clone()).unwrap_or_default();
                }
            }
            _ => {}
        }
    }
    let before: Vec<&Token> = tokens.iter().filter(|t| t.span.end <= prefix_start).collect();
    let words: Vec<&str> =
        before.iter().rev().take(3).map(|t| if t.kind == Tok::Ident { &text[t.span.clone()] } else { "" }).collect();
    let prev = |i: usize| words.get(i).copied().unwrap_or("");
    let ctx = context(&text, &tokens, prefix_start);
    if ctx == Ctx::Update {
        if let Some(items) = profile_path(&a, &text, prefix_start) {
            return items;
        }
    }
    if text[..prefix_start].ends_with('.') {
        return members(world, path, &text, offset, prefix_start);
    }
    // Words that name a declaration next.
    let same_line = |t: Option<&&Token>| t.is_some_and(|t| !text[t.span.end..prefix_start].contains('\n'));
    if same_line(before.last()) {
        let in_journey = matches!(ctx, Ctx::Journey | Ctx::Block | Ctx::Await);
        let kinds: Option<Vec<DeclKind>> = match (prev(1), prev(0)) {
            // Messages: channels after `send`, templates already used after the channel, send
            // names after `on opened` / `on clicked`.
            (_, "send") if in_journey => return with_keywords(decls(&a, &[DeclKind::Channel]), &["transactional"]),
            ("send", "transactional") | ("expect", "sent") | ("no", "sent") | ("expect", "suppressed") => {
                Some(vec![DeclKind::Channel])
            }
            ("send", _) | ("transactional", _)
                if in_journey && a.checked.program.channels.iter().any(|c| c.name == prev(0)) =>
            {
                return templates(&a)
            }
            ("on", "opened") | ("on", "clicked") => return send_names(&text, &tokens, prefix_start),
            (_, "deliver") => Some(vec![DeclKind::Action]),
            (_, "frequency") => return with_keywords(decls(&a, &[DeclKind::Channel]), &["any"]),
            ("start", "on") => return with_keywords(decls(&a, &[DeclKind::Event]), &["audience"]),
            (_, "audience") => Some(vec![DeclKind::Audience]),
            ("exit", "on") => Some(vec![DeclKind::Event]),
            // `goal "NAME" on E`: the goal's event.
            (_, "on") if prev(2) == "goal" => Some(vec![DeclKind::Event]),
            (_, "on") => {
                return with_keywords(
                    decls(&a, &[DeclKind::Event]),
                    &["timeout", "error", "suppressed", "opened", "clicked"],
                )
            }
            ("expect", "call") | ("no", "call") | (_, "mock") => Some(vec![DeclKind::Action, DeclKind::DataSource]),
            (_, "call") => Some(vec![DeclKind::Action]),
            (_, "fetch") => Some(vec![DeclKind::DataSource]),
            (_, "jump") => Some(vec![DeclKind::Journey]),
            (_, "send") => Some(vec![DeclKind::Event]),
            (_, "expect") => {
                return with_keywords(decls(&a, &[DeclKind::Journey]), &["call", "no", "sent", "suppressed"])
            }
            // `expect no call`, `expect no sent`, `expect no J converted "goal"`.
            ("expect", "no") => return with_keywords(decls(&a, &[DeclKind::Journey]), &["call", "sent"]),
            _ => None,
        };
        if let Some(kinds) = kinds {
            return decls(&a, &kinds);
        }
        if before.len() >= 3 && before[before.len() - 1].kind == Tok::Colon && prev(2) == "event" {
            return types(&a);
        }
        if prev(0) == "returns" {
            return types(&a);
        }
    }
    let line_start = before.last().is_none_or(|t| {
        text[t.span.end..prefix_start].contains('\n')
            && !matches!(t.kind, Tok::Op | Tok::Comma | Tok::LParen | Tok::LBracket | Tok::Colon | Tok::Dot)
            || matches!(t.kind, Tok::LBrace | Tok::RBrace)
            || (t.kind == Tok::Op && &text[t.span.clone()] == "->")
    });
    if line_start {
        match ctx {
            Ctx::Top => return keywords(&keywords_of(Role::Declaration)),
            Ctx::Journey => {
                let mut all = keywords_of(Role::Setting);
                all.extend(keywords_of(Role::Statement));
                all.push("else");
                return keywords(&all);
            }
            Ctx::Block => {
                let mut all = keywords_of(Role::Statement);
                all.push("else");
                return keywords(&all);
            }
            Ctx::Await => return keywords(&keywords_of(Role::AwaitArm)),
            Ctx::Test => return keywords(&keywords_of(Role::Test)),
            Ctx::Event => return keywords(&keywords_of(Role::Clause)),
            Ctx::Options => return keywords(&keywords_of(Role::HttpOption)),
            Ctx::Split | Ctx::Update => return Vec::new(),
            Ctx::Params => return types(&a),
            Ctx::Expr => {}
        }
    }
    if ctx == Ctx::Params {
        return types(&a);
    }
    expression(world, path, &text, offset, prefix_start, &a)
}

/// Whether a token runs on to the end of its line (a line comment, an unterminated block
/// comment or string), so a cursor right after it is still inside it.
fn open_to_line_end(text: &str, t: &Token) -> bool {
    match t.kind {
        Tok::LineComment | Tok::DocComment => true,
        Tok::BlockComment => !text[t.span.clone()].ends_with("*/") || t.span.len() < 4,
        Tok::Str | Tok::SqStr => !lexer::string_closed(text, t.span.clone()),
        _ => false,
    }
}

/// Where in a file a position stands, by the braces around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    /// Between declarations.
    Top,
    /// A journey's body, where settings and statements go.
    Journey,
    /// A nested block of statements.
    Block,
    /// `await { ... }`: its arms.
    Await,
    /// `split { ... }`: its branches.
    Split,
    /// `update profile { ... }`.
    Update,
    /// A test's body.
    Test,
    /// An event's `key`/`when`.
    Event,
    /// An action's or data source's options.
    Options,
    /// An action's or data source's parameter list.
    Params,
    /// Inside an expression (a record, a list, arguments).
    Expr,
}

fn context(text: &str, tokens: &[Token], upto: usize) -> Ctx {
    let mut stack: Vec<Ctx> = Vec::new();
    let mut item = "";
    let mut prev: Option<&Token> = None;
    let mut prev2: Option<&Token> = None;
    for t in tokens.iter().take_while(|t| t.span.end <= upto) {
        let word = |x: Option<&Token>| x.filter(|x| x.kind == Tok::Ident).map(|x| &text[x.span.clone()]).unwrap_or("");
        match t.kind {
            Tok::Ident if stack.is_empty() => {
                let w = &text[t.span.clone()];
                let at_line_start = prev.is_none_or(|p| text[p.span.end..t.span.start].contains('\n'));
                if at_line_start && keyword(w).is_some_and(|k| k.is(Role::Declaration)) {
                    item = w;
                }
            }
            Tok::LBrace => {
                let top = stack.last().copied();
                let opens_value = prev.is_some_and(|p| {
                    matches!(p.kind, Tok::Op | Tok::Comma | Tok::LParen | Tok::LBracket | Tok::Colon)
                        && &text[p.span.clone()] != "->"
                });
                let ctx = match top {
                    None => match item {
                        "journey" => Ctx::Journey,
                        "test" => Ctx::Test,
                        "event" => Ctx::Event,
                        "action" | "datasource" => Ctx::Options,
                        _ => Ctx::Expr,
                    },
                    Some(Ctx::Journey | Ctx::Block | Ctx::Await | Ctx::Split) if !opens_value => match word(prev) {
                        "await" => Ctx::Await,
                        "split" => Ctx::Split,
                        "profile" if word(prev2) == "update" => Ctx::Update,
                        _ => Ctx::Block,
                    },
                    _ => Ctx::Expr,
                };
                stack.push(ctx);
            }
            Tok::LParen => {
                let params = stack.is_empty() && matches!(item, "action" | "datasource");
                stack.push(if params { Ctx::Params } else { Ctx::Expr });
            }
            Tok::LBracket => stack.push(Ctx::Expr),
            Tok::RBrace | Tok::RParen | Tok::RBracket => {
                stack.pop();
            }
            _ => {}
        }
        prev2 = prev;
        prev = Some(t);
    }
    stack.last().copied().unwrap_or(Ctx::Top)
}

fn word_start(text: &str, offset: usize) -> usize {
    let b = text.as_bytes();
    let mut i = offset;
    while i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
        i -= 1;
    }
    i
}

/// Checks the project with the placeholder at the cursor, then with the line replaced by a
/// `let` of the expression before the cursor; returns the probe and the placeholder's entry.
fn probe(world: &mut World, path: &Path, text: &str, offset: usize, prefix_start: usize) -> Option<(Analysis, usize)> {
    let mut attempts = Vec::new();
    attempts.push((format!("{}{PLACEHOLDER}{}", &text[..offset], &text[offset..]), offset));
    let line_start = text[..prefix_start].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line_end = text[offset..].find('\n').map(|i| offset + i).unwrap_or(text.len());
    let expr_start = expression_start(text, line_start, prefix_start);
    let head = "let __jny_probe = ";
    let replaced =
        format!("{}{head}{}{PLACEHOLDER}{}", &text[..line_start], &text[expr_start..offset], &text[line_end..]);
    attempts.push((replaced, line_start + head.len() + (offset - expr_start)));
    for (probe_text, at) in attempts {
        let Some(a) = world.probe(path, probe_text) else { continue };
        let Some(file) = a.file_of(path) else { continue };
        let hit = a.index.in_file(file).any(|i| i.span.start <= at && at + PLACEHOLDER.len() <= i.span.end);
        if hit {
            return Some((a, at));
        }
    }
    None
}

/// The start of the expression chain (`a.b[0].c`, `f(x).y`) that ends at `end`.
fn expression_start(text: &str, line_start: usize, end: usize) -> usize {
    let b = text.as_bytes();
    let mut i = end;
    let mut depth = 0i32;
    while i > line_start {
        let c = b[i - 1];
        match c {
            b')' | b']' => depth += 1,
            b'(' | b'[' if depth > 0 => depth -= 1,
            b'(' | b'[' => break,
            _ if depth > 0 => {}
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'`' || c == b'@' => {}
            _ => break,
        }
        i -= 1;
    }
    i
}

fn entry_at(a: &Analysis, path: &Path, at: usize) -> Option<Entry> {
    let file = a.file_of(path)?;
    a.index
        .in_file(file)
        .filter(|i| i.span.start <= at && at + PLACEHOLDER.len() <= i.span.end)
        .min_by_key(|i| i.span.end - i.span.start)
        .map(|i| i.entry.clone())
}

/// After a dot: the fields of the record left of it.
fn members(world: &mut World, path: &Path, text: &str, offset: usize, prefix_start: usize) -> Vec<l::CompletionItem> {
    let Some((a, at)) = probe(world, path, text, offset, prefix_start) else { return Vec::new() };
    match entry_at(&a, path, at) {
        Some(Entry::Field { base, .. }) => fields(&base),
        _ => Vec::new(),
    }
}

/// In an expression: what the placeholder could be.
fn expression(
    world: &mut World,
    path: &Path,
    text: &str,
    offset: usize,
    prefix_start: usize,
    a: &Analysis,
) -> Vec<l::CompletionItem> {
    let mut out = Vec::new();
    let probed = probe(world, path, text, offset, prefix_start);
    let entry = probed.as_ref().and_then(|(p, at)| entry_at(p, path, *at));
    let mut place = Place::Journey { event: true };
    match entry {
        Some(Entry::Unknown { locals, place: p }) => {
            place = p;
            let mut seen = std::collections::HashSet::new();
            for local in locals.iter().rev() {
                if seen.insert(local.name.clone()) {
                    out.push(item(&local.name, l::CompletionItemKind::VARIABLE, Some(local.ty.to_string()), None));
                }
            }
        }
        Some(Entry::Field { base, .. }) => {
            // A bare name in an event's `key`/`when` is a payload field.
            place = Place::Payload;
            out.extend(fields(&base));
        }
        _ => {}
    }
    if let Place::Journey { event } = place {
        if event {
            out.push(item("event", l::CompletionItemKind::VARIABLE, Some("the entry event's payload".into()), None));
        }
        let profile = a.index.profile.as_ref().map(|t| t.to_string()).unwrap_or_else(|| "{ }".into());
        out.push(item("profile", l::CompletionItemKind::VARIABLE, Some(profile), None));
    }
    if place != Place::Literal {
        for f in FUNCTIONS {
            if f.name == "secret" && place != Place::Http {
                continue;
            }
            let sigs: Vec<String> = f.sigs.iter().map(|s| functions::display_sig(f.name, s)).collect();
            let detail =
                if sigs.len() > 1 { format!("{} (+{} more)", sigs[0], sigs.len() - 1) } else { sigs[0].clone() };
            out.push(item(f.name, l::CompletionItemKind::FUNCTION, Some(detail), hover::function(f.name)));
        }
    }
    out.extend(keywords(&keywords_of(Role::Expression)));
    out
}

/// Inside the string after `xdm` (classes) or `with` (the class's field groups): schema
/// `$id`s, replacing the string's text.
fn schema_ids(
    a: &Analysis,
    text: &str,
    before: &[&Token],
    string: std::ops::Range<usize>,
) -> Option<Vec<l::CompletionItem>> {
    use journey_schema::registry::SchemaKind;
    let word = |t: &Token| if t.kind == Tok::Ident { &text[t.span.clone()] } else { "" };
    let prev = before.last()?;
    let ids: Vec<&str> = if word(prev) == "xdm" {
        a.registry
            .ids()
            .filter(|id| matches!(a.registry.kind(id), Some(SchemaKind::Class | SchemaKind::Schema)))
            .collect()
    } else if word(prev) == "with" || prev.kind == Tok::Comma {
        // The class: the string after the nearest `xdm` before this one.
        let at = before.iter().rposition(|t| word(t) == "xdm")?;
        let class = before.get(at + 1).filter(|t| t.kind == Tok::Str)?;
        let class = text[class.span.clone()].trim_matches('"');
        let groups: Vec<&str> = a.registry.field_groups_for(class).collect();
        if groups.is_empty() {
            a.registry.ids().filter(|id| a.registry.kind(id) == Some(SchemaKind::FieldGroup)).collect()
        } else {
            groups
        }
    } else {
        return None;
    };
    let lines = crate::position::LineIndex::new(text);
    let inner_start = string.start + 1;
    let closed = lexer::string_closed(text, string.clone());
    // Without its closing quote the string runs to the end of the line (its `\r` aside); the
    // chosen id then closes it.
    let inner_end = if closed { string.end - 1 } else { string.end - text[..string.end].ends_with('\r') as usize };
    let close = if closed { "" } else { "\"" };
    let range = lines.range(text, journey_grammar::ast::Span::new(inner_start, inner_end.max(inner_start)));
    Some(
        ids.into_iter()
            .map(|id| {
                let title = a.registry.title(id).map(str::to_string);
                let mut it = item(id, l::CompletionItemKind::MODULE, title, None);
                it.text_edit = Some(l::CompletionTextEdit::Edit(l::TextEdit::new(range, format!("{id}{close}"))));
                it.filter_text = Some(id.to_string());
                it
            })
            .collect(),
    )
}

/// Inside `update profile { }`: the profile's fields at the path written so far on the line.
fn profile_path(a: &Analysis, text: &str, prefix_start: usize) -> Option<Vec<l::CompletionItem>> {
    let line_start = text[..prefix_start].rfind(['\n', '{', ',']).map(|i| i + 1).unwrap_or(0);
    let written = text[line_start..prefix_start].trim();
    if written.contains('=') {
        return None;
    }
    let Some(mut ty) = a.index.profile.clone() else { return Some(Vec::new()) };
    for seg in written.split('.').filter(|s| !s.is_empty()) {
        let next = match ty.non_null() {
            Ty::Record(r) => r.fields.get(seg.trim_matches('`')).map(|f| f.ty.clone()),
            _ => None,
        };
        let Some(next) = next else { return Some(Vec::new()) };
        ty = next;
    }
    Some(fields(&ty))
}

/// The fields of a record type as completion items.
fn fields(ty: &Ty) -> Vec<l::CompletionItem> {
    let Ty::Record(r) = ty.non_null() else { return Vec::new() };
    r.fields
        .iter()
        .map(|(name, f)| {
            let mut doc = String::new();
            doc.push_str(&hover::field_doc(f));
            let mut it = item(name, l::CompletionItemKind::FIELD, Some(f.ty.to_string()), Some(doc.trim().to_string()));
            if !is_ident(name) {
                it.insert_text = Some(format!("`{name}`"));
            }
            it
        })
        .collect()
}

fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn decls(a: &Analysis, kinds: &[DeclKind]) -> Vec<l::CompletionItem> {
    navigate::declarations(a)
        .into_iter()
        .filter(|d| kinds.contains(&d.kind))
        .map(|d| {
            let kind = match d.kind {
                DeclKind::Event => l::CompletionItemKind::EVENT,
                DeclKind::Action => l::CompletionItemKind::FUNCTION,
                DeclKind::DataSource => l::CompletionItemKind::INTERFACE,
                DeclKind::Journey => l::CompletionItemKind::MODULE,
                DeclKind::Audience => l::CompletionItemKind::CONSTANT,
                DeclKind::Channel => l::CompletionItemKind::ENUM_MEMBER,
                DeclKind::Schema | DeclKind::Type => l::CompletionItemKind::STRUCT,
            };
            let doc = hover::decl(a, &d.name);
            item(&d.name, kind, Some(d.kind.word().to_string()), doc)
        })
        .collect()
}

/// The templates the project's sends already use, as string literals.
fn templates(a: &Analysis) -> Vec<l::CompletionItem> {
    let mut seen = std::collections::BTreeSet::new();
    for j in &a.checked.program.journeys {
        journey_compiler::ir::walk(&j.body, &mut |s| {
            if let journey_compiler::ir::StmtKind::Send(send) = &s.kind {
                if let journey_compiler::ir::ExprKind::Const(journey_compiler::ir::Const::Str(t)) = &send.template.kind
                {
                    seen.insert(t.clone());
                }
            }
        });
    }
    seen.into_iter()
        .map(|t| item(&format!("\"{t}\""), l::CompletionItemKind::VALUE, Some("template".into()), None))
        .collect()
}

/// The names `send ... as NAME` binds before `upto` in this file (for `on opened NAME`).
fn send_names(text: &str, tokens: &[Token], upto: usize) -> Vec<l::CompletionItem> {
    let mut names = Vec::new();
    let mut in_send = false;
    for (i, t) in tokens.iter().enumerate().take_while(|(_, t)| t.span.end <= upto) {
        if t.kind != Tok::Ident {
            continue;
        }
        let w = &text[t.span.clone()];
        if w == "send" {
            in_send = true;
        } else if in_send && w == "as" {
            if let Some(n) = tokens.get(i + 1).filter(|n| n.kind == Tok::Ident && n.span.end <= upto) {
                names.push(text[n.span.clone()].to_string());
            }
            in_send = false;
        }
        if i > 0 && text[tokens[i - 1].span.end..t.span.start].contains('\n') && w != "send" && w != "on" {
            in_send = false;
        }
    }
    names.dedup();
    names.into_iter().map(|n| item(&n, l::CompletionItemKind::VARIABLE, Some("message".into()), None)).collect()
}

fn types(a: &Analysis) -> Vec<l::CompletionItem> {
    let mut out = decls(a, &[DeclKind::Schema, DeclKind::Type]);
    out.extend(TYPES.iter().map(|t| item(t, l::CompletionItemKind::KEYWORD, Some("type".into()), None)));
    out
}

fn keywords(words: &[&str]) -> Vec<l::CompletionItem> {
    words.iter().map(|w| item(w, l::CompletionItemKind::KEYWORD, None, None)).collect()
}

fn with_keywords(mut items: Vec<l::CompletionItem>, words: &[&str]) -> Vec<l::CompletionItem> {
    items.extend(keywords(words));
    items
}

fn item(label: &str, kind: l::CompletionItemKind, detail: Option<String>, doc: Option<String>) -> l::CompletionItem {
    l::CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        detail,
        documentation: doc
            .filter(|d| !d.is_empty())
            .map(|d| l::Documentation::MarkupContent(l::MarkupContent { kind: l::MarkupKind::Markdown, value: d })),
        ..Default::default()
    }
}
