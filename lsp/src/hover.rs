//! Hover: a field's type and schema documentation, a local's type, a function's signature,
//! a declaration's doc with its payload, parameters or type.

use crate::navigate::{self, Target};
use crate::world::Analysis;
use journey_compiler::check::DeclKind;
use journey_compiler::functions;
use journey_compiler::index::Entry;
use journey_compiler::sources::FileId;
use journey_compiler::types::{FieldTy, Ty};
use journey_grammar::ast::{ItemKind, Span};
use tower_lsp_server::ls_types as l;

/// The hover at `offset` of `file`.
pub fn hover(a: &Analysis, file: FileId, offset: usize) -> Option<l::Hover> {
    let entry = a.index.at(file, offset).and_then(|i| {
        let written = a.text(file).get(i.span.start..i.span.end).unwrap_or("");
        Some((i.span, entry_text(&i.entry, written.trim_matches(['`', '"', '\'']))?))
    });
    let target = navigate::target_at(a, file, offset).and_then(|(t, span)| match t {
        Target::Decl(name) => Some((span, decl(a, &name)?)),
        Target::Local { .. } => None,
    });
    // The innermost of what the index and the declarations know; else an argument name.
    let (span, text) = match (entry, target) {
        (Some(e), Some(t)) => {
            if t.0.end - t.0.start < e.0.end - e.0.start {
                t
            } else {
                e
            }
        }
        (Some(e), None) => e,
        (None, Some(t)) => t,
        (None, None) => argument(a, file, offset).or_else(|| schema(a, file, offset))?,
    };
    Some(l::Hover {
        contents: l::HoverContents::Markup(l::MarkupContent { kind: l::MarkupKind::Markdown, value: text }),
        range: Some(a.range(file, span)),
    })
}

fn code(s: &str) -> String {
    format!("```journey\n{s}\n```")
}

fn entry_text(e: &Entry, written: &str) -> Option<String> {
    Some(match e {
        Entry::Field { field, ty, .. } => {
            let mut out = code(&format!("(field) {written}: {ty}"));
            if let Some(f) = field {
                out.push_str(&field_doc(f));
            }
            out.push_str(&record_fields(ty));
            out
        }
        Entry::Local { local, .. } => {
            let mut out = code(&format!("(local) {}: {}", local.name, local.ty));
            out.push_str(&record_fields(&local.ty));
            out
        }
        Entry::Event(ty) => {
            let mut out = code(&format!("event: {ty}"));
            out.push_str("\n\nThe payload of the event that started this journey.");
            out.push_str(&record_fields(ty));
            out
        }
        Entry::Profile(ty) => {
            let mut out = code(&format!("profile: {ty}"));
            out.push_str("\n\nThe profile's attributes, as they are when read.");
            out.push_str(&record_fields(ty));
            out
        }
        Entry::Function { name, .. } => function(name)?,
        Entry::Unknown { .. } => return None,
    })
}

/// The schema's title, description and listed values of a field, as markdown.
pub fn field_doc(f: &FieldTy) -> String {
    let mut out = String::new();
    if let Some(t) = &f.title {
        out.push_str(&format!("\n\n**{t}**"));
    }
    if let Some(d) = &f.description {
        out.push_str(&format!("\n\n{d}"));
    }
    if let Some(values) = &f.enum_values {
        let shown: Vec<String> = values.iter().take(12).map(|v| format!("`\"{v}\"`")).collect();
        let more = if values.len() > 12 { format!(", … ({} in all)", values.len()) } else { String::new() };
        out.push_str(&format!("\n\nValues: {}{more}", shown.join(", ")));
    }
    if f.required {
        out.push_str("\n\nRequired by the schema.");
    }
    out
}

/// A record type's fields as a markdown list (the first 30).
fn record_fields(ty: &Ty) -> String {
    let Ty::Record(r) = ty.non_null() else { return String::new() };
    if r.fields.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n\nFields:\n");
    for (name, f) in r.fields.iter().take(30) {
        let title = f.title.as_deref().map(|t| format!(" — {t}")).unwrap_or_default();
        out.push_str(&format!("- `{name}`: `{}`{title}\n", f.ty));
    }
    if r.fields.len() > 30 {
        out.push_str(&format!("- … {} more\n", r.fields.len() - 30));
    }
    out
}

/// A library function's signatures and doc.
pub fn function(name: &str) -> Option<String> {
    let f = functions::lookup(name)?;
    let sigs: Vec<String> = f.sigs.iter().map(|s| functions::display_sig(f.name, s)).collect();
    Some(format!("{}\n\n{}", code(&sigs.join("\n")), f.doc))
}

/// A declaration's hover: its header, doc, and what it carries.
pub fn decl(a: &Analysis, name: &str) -> Option<String> {
    let d = navigate::declaration(a, name)?;
    let p = &a.checked.program;
    let (header, body) = match d.kind {
        DeclKind::Event => {
            let schema = a.ast(d.file).and_then(|sf| {
                sf.items.iter().find_map(|i| match &i.kind {
                    ItemKind::Event(e) if e.name.span == d.name_span => Some(e.schema.name.clone()),
                    _ => None,
                })
            });
            let payload = p.events.iter().find(|e| e.name == name).map(|e| e.payload.clone());
            let header = format!("event {name}: {}", schema.unwrap_or_default());
            (header, payload.map(|t| format!("\n\nPayload `{t}`{}", record_fields(&t))).unwrap_or_default())
        }
        DeclKind::Action | DeclKind::DataSource => {
            let h = p.http.iter().find(|h| h.name == name)?;
            let params: Vec<String> = h.params.iter().map(|(n, t)| format!("{n}: {t}")).collect();
            let word = if d.kind == DeclKind::Action { "action" } else { "datasource" };
            let header = format!("{word} {name}({}) -> {}", params.join(", "), h.returns);
            (header, format!("\n\n`{} {}`{}", h.method, h.url, record_fields(&h.returns)))
        }
        DeclKind::Schema | DeclKind::Type => {
            let word = if d.kind == DeclKind::Schema { "schema" } else { "type" };
            let ty = a.index.types.get(name);
            let header = format!("{word} {name}");
            (header, ty.map(|t| format!("\n\n`{t}`{}", record_fields(t))).unwrap_or_default())
        }
        DeclKind::Journey => {
            let j = p.journeys.iter().find(|j| j.name == name);
            let start = j.map(|j| {
                let mut text = format!("\n\nStarts {}; times out after {}.", start_words(&j.start), fmt(j.timeout_ms));
                for g in &j.goals {
                    let value = if g.value.is_some() { ", with a value" } else { "" };
                    text.push_str(&format!(
                        "\n\nGoal \"{}\": converts on `{}` within {} of entry{value}.",
                        g.name,
                        g.event,
                        fmt(g.window_ms)
                    ));
                }
                text
            });
            (format!("journey {name}"), start.unwrap_or_default())
        }
        DeclKind::Audience => (format!("audience {name}"), String::new()),
        DeclKind::Channel => {
            let c = p.channels.iter().find(|c| c.name == name)?;
            let text =
                |e: &journey_compiler::ir::Expr| a.text(d.file).get(e.span.start..e.span.end).unwrap_or("").to_string();
            let mut lines = vec![format!("To `{}`; delivered by `{}`.", text(&c.to), c.deliver)];
            match &c.consent {
                Some(e) => lines.push(format!("Marketing needs consent: `{}`.", text(e))),
                None => lines.push("Marketing needs no consent check.".into()),
            }
            if let Some((from, to, queue)) = c.quiet {
                let hm = |ms: i64| format!("{:02}:{:02}", ms / 3_600_000, (ms / 60_000) % 60);
                let how = if queue { "queued until it ends" } else { "dropped" };
                lines.push(format!("Quiet hours {}..{}: marketing is {how}.", hm(from), hm(to)));
            }
            for (word, r) in [("Opened", &c.opened), ("Clicked", &c.clicked)] {
                if let Some((event, by)) = r {
                    lines.push(format!("{word} on `{event}` by `{}`.", by.join(".")));
                }
            }
            let rules: Vec<String> = p
                .frequencies
                .iter()
                .filter(|f| f.channel.as_deref().is_none_or(|ch| ch == name))
                .map(|f| {
                    let on = if f.channel.is_some() { name.to_string() } else { "any".into() };
                    format!("`frequency {on} {} per {}`", f.limit, fmt(f.window_ms))
                })
                .collect();
            if !rules.is_empty() {
                lines.push(format!("Frequency: {}.", rules.join(", ")));
            }
            (format!("channel {name}"), format!("\n\n{}", lines.join("\n\n")))
        }
    };
    let doc = d.doc.map(|doc| format!("\n\n{doc}")).unwrap_or_default();
    Some(format!("{}{doc}{body}", code(&header)))
}

fn fmt(ms: i64) -> String {
    journey_compiler::check::fmt_ms(ms)
}

fn start_words(s: &journey_compiler::ir::Start) -> String {
    use journey_compiler::ir::Start;
    match s {
        Start::Event(e) => format!("on `{e}`"),
        Start::EventForAudience { event, audience } => format!("on `{event}`, for every member of `{audience}`"),
        Start::AudienceEnters(a) => format!("when a profile enters `{a}`"),
        Start::AudienceExits(a) => format!("when a profile exits `{a}`"),
        Start::AudienceRead { audience, every, at } => match every {
            Some(e) => format!("for the members of `{audience}` every {e} at {at}"),
            None => format!("for the members of `{audience}` once at {at}"),
        },
    }
}

/// An argument name of a `call`/`fetch`: the parameter it fills.
fn argument(a: &Analysis, file: FileId, offset: usize) -> Option<(Span, String)> {
    let sf = a.ast(file)?;
    let mut found = None;
    for item in &sf.items {
        if let ItemKind::Journey(j) = &item.kind {
            navigate::each_call(&j.body.stmts, &mut |c| {
                for arg in &c.args {
                    if let Some(n) = arg.name.as_ref().filter(|n| n.span.start <= offset && offset <= n.span.end) {
                        found = Some((c.name.name.clone(), n.name.clone(), n.span));
                    }
                }
            });
        }
    }
    let (target, param, span) = found?;
    let h = a.checked.program.http.iter().find(|h| h.name == target)?;
    let (_, ty) = h.params.iter().find(|(n, _)| *n == param)?;
    Some((span, format!("{}\n\nParameter of `{target}`.", code(&format!("(parameter) {param}: {ty}")))))
}

/// A schema `$id` or file named in a `schema` or `profile` declaration.
fn schema(a: &Analysis, file: FileId, offset: usize) -> Option<(Span, String)> {
    match navigate::schema_at(a, file, offset)? {
        navigate::SchemaRef::Id(id, span) => {
            let Some(kind) = a.registry.kind(&id) else {
                return Some((span, format!("`{id}`\n\nNo schema with this `$id` is known.")));
            };
            let title = a.registry.title(&id).map(|t| format!("**{t}** — ")).unwrap_or_default();
            let source = a.registry.source(&id).map(|p| format!("\n\nFrom `{}`.", p.display())).unwrap_or_default();
            Some((span, format!("{title}XDM {kind}\n\n`{id}`{source}")))
        }
        navigate::SchemaRef::File(path, span) => Some((span, format!("JSON Schema file `{}`", path.display()))),
    }
}
