//! Declarations: collecting global names, resolving schemas and types, events, actions and
//! data sources.

use super::scope::{Context, Scope};
use super::{CheckError, Duplicated, KeyError, Place, Said, Unknown};
use super::{Checker, Decl, DeclKind};
use crate::ir;
use crate::types::{FieldTy, Ty};
use journey_grammar::ast::{self, HttpOptionKind, ItemKind, SchemaSource, TypeExprKind};
use std::collections::HashMap;
use std::sync::Arc;

/// The most an action or data source may wait for one attempt.
const MAX_TIMEOUT_MS: i64 = 30_000;
/// Default per-attempt timeout.
const DEFAULT_TIMEOUT_MS: i64 = 5_000;
/// The most retries an action may ask for.
const MAX_RETRIES: i64 = 10;
/// The most calls an action or data source may have in flight at once (each holds a connection
/// and a file descriptor).
const MAX_CONCURRENCY: i64 = 1_000;

impl Checker<'_> {
    /// Collects every named declaration; reports duplicates.
    pub(crate) fn collect_decls(&mut self) {
        let mut profile_at: Option<(usize, ast::Span)> = None;
        for (fi, (file, sf)) in self.files.iter().enumerate() {
            self.file = *file;
            let mut test_names: HashMap<&str, ast::Span> = HashMap::new();
            for (ii, item) in sf.items.iter().enumerate() {
                let (kind, name) = match &item.kind {
                    ItemKind::Profile { keyword, .. } => {
                        if let Some((pf, pspan)) = profile_at {
                            self.report(CheckError::Duplicate {
                                what: Duplicated::Profile,
                                at: *keyword,
                                first: Some(Place { file: pf, span: pspan }),
                            });
                        } else {
                            profile_at = Some((*file, *keyword));
                        }
                        continue;
                    }
                    ItemKind::Test(t) => {
                        if let Some(first) = test_names.get(t.name.value.as_str()) {
                            self.report(CheckError::Duplicate {
                                what: Duplicated::Test(t.name.value.clone()),
                                at: t.name.span,
                                first: Some(Place { file: *file, span: *first }),
                            });
                        } else {
                            test_names.insert(&t.name.value, t.name.span);
                        }
                        continue;
                    }
                    other => match DeclKind::of(other) {
                        Some(declared) => declared,
                        None => continue,
                    },
                };
                if let Some(first) = self.decls.get(&name.name) {
                    let e = CheckError::Duplicate {
                        what: Duplicated::Declaration { name: name.name.clone(), first: first.kind },
                        at: name.span,
                        first: Some(Place { file: first.file, span: first.name_span }),
                    };
                    self.report(e);
                    continue;
                }
                self.decls.insert(name.name.clone(), Decl { kind, file: *file, name_span: name.span, at: (fi, ii) });
            }
        }
    }

    /// Resolves every `schema`, `type` and the `profile`.
    pub(crate) fn check_types_and_schemas(&mut self) {
        let names: Vec<String> = self
            .decls
            .iter()
            .filter(|(_, d)| matches!(d.kind, DeclKind::Schema | DeclKind::Type))
            .map(|(n, _)| n.clone())
            .collect();
        for n in names {
            self.resolve_named(&n);
        }
        for (file, sf) in self.files.iter() {
            for item in &sf.items {
                if let ItemKind::Profile { source, .. } = &item.kind {
                    self.file = *file;
                    let ty = self.schema_source(source);
                    if self.profile.is_none() {
                        self.profile = Some(ty);
                    }
                }
            }
        }
    }

    /// The type a `schema` or `type` declaration names (cached; cycles become `any`).
    fn resolve_named(&mut self, name: &str) -> Ty {
        if let Some(t) = self.resolved.get(name) {
            return t.clone();
        }
        let Some(decl) = self.decls.get(name).copied() else { return Ty::Any };
        if !self.resolving.insert(name.to_string()) {
            let said =
                Said::new(decl.name_span, format!("the type `{name}` is defined in terms of itself"), "recursive type")
                    .help("journey types cannot be recursive; use `map<...>` or `list<...>` of a simpler type");
            self.report_in(decl.file, CheckError::TypeMismatch(said));
            return Ty::Any;
        }
        let saved = self.file;
        self.file = decl.file;
        let item = &self.files[decl.at.0].1.items[decl.at.1];
        let ty = match &item.kind {
            ItemKind::Schema { source, .. } => self.schema_source(source),
            ItemKind::Type { ty, .. } => self.type_expr(ty),
            _ => Ty::Any,
        };
        self.file = saved;
        self.resolving.remove(name);
        self.resolved.insert(name.to_string(), ty.clone());
        ty
    }

    fn schema_source(&mut self, source: &SchemaSource) -> Ty {
        match source {
            SchemaSource::Xdm { id, with } => {
                let with_ids: Vec<&str> = with.iter().map(|w| w.value.as_str()).collect();
                match self.registry.xdm(&id.value, &with_ids) {
                    Ok(t) => t,
                    Err(e) => {
                        // Point at the `with` entry the error is about, if it is one of them.
                        let msg = e.to_string();
                        let span = with
                            .iter()
                            .find(|w| msg.contains(&format!("`{}`", w.value)))
                            .map(|w| w.span)
                            .unwrap_or(id.span);
                        self.report(CheckError::Schema { at: span, error: e });
                        Ty::Any
                    }
                }
            }
            SchemaSource::Json { path } => {
                let base = self.sources.get(self.file).path.parent().map(|p| p.to_path_buf()).unwrap_or_default();
                let full = base.join(&path.value);
                match self.registry.json_file(&full) {
                    Ok(t) => t,
                    Err(e) => {
                        self.report(CheckError::Schema { at: path.span, error: e });
                        Ty::Any
                    }
                }
            }
            SchemaSource::Type(t) => self.type_expr(t),
        }
    }

    /// Resolves a written type.
    pub(crate) fn type_expr(&mut self, t: &ast::TypeExpr) -> Ty {
        match &t.kind {
            TypeExprKind::Named(id) => match id.name.as_str() {
                "string" => Ty::String,
                "int" => Ty::Int,
                "number" => Ty::Number,
                "bool" => Ty::Bool,
                "date" => Ty::Date,
                "datetime" => Ty::DateTime,
                "localdatetime" => Ty::LocalDateTime,
                "time" => Ty::Time,
                "duration" => Ty::Duration,
                "any" => Ty::Any,
                _ => {
                    if self.use_decl(id, &[DeclKind::Type, DeclKind::Schema]) {
                        self.resolve_named(&id.name)
                    } else {
                        Ty::Any
                    }
                }
            },
            TypeExprKind::List(inner) => Ty::List(Box::new(self.type_expr(inner))),
            TypeExprKind::Map(inner) => Ty::Map(Box::new(self.type_expr(inner))),
            TypeExprKind::Optional(inner) => self.type_expr(inner).optional(),
            TypeExprKind::Record(fields) => {
                let mut out = Vec::with_capacity(fields.len());
                let mut seen: HashMap<&str, ast::Span> = HashMap::new();
                for f in fields {
                    if let Some(first) = seen.get(f.name.name.as_str()) {
                        self.report(CheckError::Duplicate {
                            what: Duplicated::Field(f.name.name.clone()),
                            at: f.name.span,
                            first: Some(Place { file: self.file, span: *first }),
                        });
                        continue;
                    }
                    seen.insert(&f.name.name, f.name.span);
                    let ty = self.type_expr(&f.ty);
                    let required = !ty.is_nullable();
                    out.push((f.name.name.clone(), FieldTy::plain(ty, required)));
                }
                Ty::record(out)
            }
        }
    }

    /// Checks events: payload schema, `key` and `when`.
    pub(crate) fn check_events(&mut self) -> Vec<ir::Event> {
        let mut out = Vec::new();
        for (file, sf) in self.files.iter() {
            self.file = *file;
            for item in &sf.items {
                let ItemKind::Event(ev) = &item.kind else { continue };
                let payload = if self.use_decl(&ev.schema, &[DeclKind::Schema, DeclKind::Type]) {
                    self.resolve_named(&ev.schema.name)
                } else {
                    Ty::Any
                };
                let mut scope = Scope::new(Context::Payload(payload.clone()));
                let key = ev.key.as_ref().map(|k| self.expr(k, &mut scope));
                if let Some(k) = &key {
                    if !matches!(k.ty.non_null(), Ty::String | Ty::Any) {
                        self.report(CheckError::Key { at: k.span, error: KeyError::NotString { ty: k.ty.clone() } });
                    }
                }
                let when = ev.when.as_ref().map(|w| self.condition(w, &mut scope));
                let e = ir::Event { name: ev.name.name.clone(), payload, key, when };
                if self.decls.get(&ev.name.name).map(|d| d.file == *file && d.name_span == ev.name.span) == Some(true) {
                    self.events.insert(e.name.clone(), Arc::new(e.clone()));
                    out.push(e);
                }
            }
        }
        out
    }

    /// Checks actions and data sources.
    pub(crate) fn check_http(&mut self) -> Vec<ir::Http> {
        let mut out = Vec::new();
        for (file, sf) in self.files.iter() {
            self.file = *file;
            for item in &sf.items {
                let h = match &item.kind {
                    ItemKind::Action(h) | ItemKind::DataSource(h) => h,
                    _ => continue,
                };
                let checked = self.http_decl(h);
                if self.decls.get(&h.name.name).map(|d| d.file == *file && d.name_span == h.name.span) == Some(true) {
                    self.http.insert(checked.name.clone(), Arc::new(checked.clone()));
                    out.push(checked);
                }
            }
        }
        out
    }

    fn http_decl(&mut self, h: &ast::HttpDecl) -> ir::Http {
        let mut scope = Scope::new(Context::Http);
        let mut params = Vec::new();
        for p in &h.params {
            if params.iter().any(|(n, _): &(String, Ty)| *n == p.name.name) {
                let first = h.params.iter().find(|q| q.name.name == p.name.name).map(|q| q.name.span);
                self.report(CheckError::Duplicate {
                    what: Duplicated::Parameter(p.name.name.clone()),
                    at: p.name.span,
                    first: first.map(|span| Place { file: self.file, span }),
                });
                continue;
            }
            let ty = self.type_expr(&p.ty);
            scope.declare(&p.name.name, ty.clone(), p.name.span);
            self.note_def(&p.name.name, &ty, p.name.span);
            params.push((p.name.name.clone(), ty));
        }
        let method = h.method.name.to_ascii_uppercase();
        if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method.as_str()) {
            let said =
                Said::new(h.method.span, format!("unknown HTTP method `{}`", h.method.name), "not an HTTP method")
                    .help("use GET, POST, PUT, PATCH or DELETE");
            self.report(CheckError::InvalidOption(said));
        }
        self.check_url(h, &params);
        let mut out = ir::Http {
            kind: h.kind,
            name: h.name.name.clone(),
            params: params.clone(),
            method,
            url: h.url.value.clone(),
            headers: Vec::new(),
            query: Vec::new(),
            body: None,
            auth: ir::Auth::None,
            settings: ir::HttpSettings {
                timeout_ms: DEFAULT_TIMEOUT_MS,
                retries: 0,
                backoff_ms: 1_000,
                throttle: None,
                concurrency: None,
                cache_ms: None,
            },
            returns: Ty::Any,
        };
        let mut seen: HashMap<&'static str, ast::Span> = HashMap::new();
        for opt in &h.options {
            let word = option_word(&opt.kind);
            if let Some(first) = seen.get(word) {
                let said = Said::new(opt.span, format!("`{word}` is given twice"), "given again")
                    .also(*first, "first given here")
                    .help("keep one of them");
                self.report(CheckError::InvalidOption(said));
                continue;
            }
            seen.insert(word, opt.span);
            match &opt.kind {
                HttpOptionKind::Headers(entries) | HttpOptionKind::Query(entries) => {
                    let mut list = Vec::new();
                    for e in entries {
                        let v = self.expr(&e.value, &mut scope);
                        self.expect_ty(&v, &Ty::String, &format!("the value of `{}`", e.key.name), true);
                        list.push((e.key.name.clone(), v));
                    }
                    if matches!(opt.kind, HttpOptionKind::Headers(_)) {
                        out.headers = list;
                    } else {
                        out.query = list;
                    }
                }
                HttpOptionKind::Body(e) => {
                    if out.method == "GET" {
                        self.report(CheckError::InvalidOption(
                            Said::new(opt.span, "a GET request has no body", "body on a GET")
                                .help("use `query { ... }` for GET parameters, or POST"),
                        ));
                    }
                    out.body = Some(self.expr(e, &mut scope));
                }
                HttpOptionKind::Auth(a) => {
                    out.auth = match a {
                        ast::Auth::None => ir::Auth::None,
                        ast::Auth::Basic { user, pass } => {
                            let u = self.expr(user, &mut scope);
                            let p = self.expr(pass, &mut scope);
                            self.expect_ty(&u, &Ty::String, "the user", true);
                            self.expect_ty(&p, &Ty::String, "the password", true);
                            ir::Auth::Basic(u, p)
                        }
                        ast::Auth::Bearer(t) => {
                            let t = self.expr(t, &mut scope);
                            self.expect_ty(&t, &Ty::String, "the token", true);
                            ir::Auth::Bearer(t)
                        }
                        ast::Auth::Header { name, value } => {
                            let v = self.expr(value, &mut scope);
                            self.expect_ty(&v, &Ty::String, "the header value", true);
                            ir::Auth::Header(name.value.clone(), v)
                        }
                    }
                }
                HttpOptionKind::Timeout(d) => {
                    if d.millis > MAX_TIMEOUT_MS || d.millis <= 0 {
                        self.report(CheckError::InvalidOption(
                            Said::new(
                                d.span,
                                "an action or data source timeout must be more than 0 and at most 30s",
                                "out of range",
                            )
                            .help("use `timeout 30s` or less; slow services should answer asynchronously"),
                        ));
                    }
                    out.settings.timeout_ms = d.millis;
                }
                HttpOptionKind::Retry { count, backoff } => {
                    if count.value < 0 || count.value > MAX_RETRIES {
                        self.report(CheckError::InvalidOption(
                            Said::new(count.span, "`retry` takes 0 to 10 attempts", "out of range")
                                .help("use `retry 3 backoff 2s`"),
                        ));
                    }
                    out.settings.retries = count.value;
                    if let Some(b) = backoff {
                        out.settings.backoff_ms = b.millis;
                    }
                }
                HttpOptionKind::Throttle { count, per } => {
                    if count.value <= 0 || per.millis <= 0 {
                        self.report(CheckError::InvalidOption(
                            Said::new(opt.span, "`throttle` needs a positive count and period", "out of range")
                                .help("use e.g. `throttle 300 per 1s`"),
                        ));
                    }
                    out.settings.throttle = Some((count.value, per.millis));
                }
                HttpOptionKind::Concurrency(n) => {
                    if n.value < 1 || n.value > MAX_CONCURRENCY {
                        self.report(CheckError::InvalidOption(
                            Said::new(
                                n.span,
                                format!("`concurrency` takes 1 to {MAX_CONCURRENCY} calls"),
                                "out of range",
                            )
                            .help("use e.g. `concurrency 16`; without it, calls to a host share a limit of 64"),
                        ));
                    }
                    out.settings.concurrency = Some(n.value);
                }
                HttpOptionKind::Cache(d) => {
                    if h.kind == ast::HttpKind::Action {
                        self.report(CheckError::InvalidOption(
                            Said::new(opt.span, "`cache` is only for data sources", "cache on an action")
                                .help("actions have effects and are never cached; remove `cache`"),
                        ));
                    }
                    out.settings.cache_ms = Some(d.millis);
                }
                HttpOptionKind::Returns(t) => out.returns = self.type_expr(t),
            }
        }
        if h.kind == ast::HttpKind::DataSource && !seen.contains_key("returns") {
            out.returns = Ty::Any;
        }
        out
    }

    fn check_url(&mut self, h: &ast::HttpDecl, params: &[(String, Ty)]) {
        let url = &h.url.value;
        let mut rest = url.as_str();
        let mut offset = 0;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else { break };
            let name = &rest[open + 1..open + close];
            if !params.iter().any(|(n, _)| n == name) {
                // Point inside the literal when the text maps one to one (no escapes before it).
                let start = h.url.span.start + 1 + offset + open;
                let span = ast::Span::new(start, (start + close + 1).min(h.url.span.end));
                let suggestion =
                    crate::suggest::nearest(name, params.iter().map(|(n, _)| n.as_str())).map(str::to_string);
                self.report(CheckError::UnknownName {
                    what: Unknown::UrlParameter { decl: h.name.name.clone() },
                    name: name.to_string(),
                    at: span,
                    suggestion,
                });
            }
            offset += open + close + 1;
            rest = &rest[open + close + 1..];
        }
    }
}

fn option_word(k: &HttpOptionKind) -> &'static str {
    match k {
        HttpOptionKind::Headers(_) => "headers",
        HttpOptionKind::Query(_) => "query",
        HttpOptionKind::Body(_) => "body",
        HttpOptionKind::Auth(_) => "auth",
        HttpOptionKind::Timeout(_) => "timeout",
        HttpOptionKind::Retry { .. } => "retry",
        HttpOptionKind::Throttle { .. } => "throttle",
        HttpOptionKind::Concurrency(_) => "concurrency",
        HttpOptionKind::Cache(_) => "cache",
        HttpOptionKind::Returns(_) => "returns",
    }
}
