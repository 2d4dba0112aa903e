//! Typing expressions.

use super::scope::{Context, Scope};
use super::{assignable, unify, ArgumentError, Assign, CheckError, Checker, DeclKind, Duplicated, FieldOwner, Place};
use super::{Said, Unknown};
use crate::functions::{self, Sig};
use crate::ir::{self, Const, ExprKind as K};
use crate::suggest::nearest;
use crate::types::Ty;
use journey_grammar::ast::{self, BinaryOp, ExprKind as A, IsTest, Span, StrPart, UnaryOp};
use std::sync::Arc;

fn mk(kind: K, ty: Ty, span: Span) -> ir::Expr {
    ir::Expr { kind, ty, span }
}

fn error_expr(span: Span) -> ir::Expr {
    mk(K::Error, Ty::Any, span)
}

/// Applies `T?` to `ty` when any operand may be null.
fn null_if(ty: Ty, operands: &[&ir::Expr]) -> Ty {
    if operands.iter().any(|o| o.ty.is_nullable() && o.ty != Ty::Any) {
        ty.optional()
    } else {
        ty
    }
}

fn is_numeric(t: &Ty) -> bool {
    matches!(t, Ty::Int | Ty::Number)
}

fn is_ordered(t: &Ty) -> bool {
    matches!(
        t,
        Ty::Int | Ty::Number | Ty::String | Ty::Date | Ty::DateTime | Ty::LocalDateTime | Ty::Time | Ty::Duration
    )
}

impl Checker<'_> {
    /// Types an expression.
    pub(crate) fn expr(&mut self, e: &ast::Expr, scope: &mut Scope) -> ir::Expr {
        let span = e.span;
        match &e.kind {
            A::Int(i) => mk(K::Const(Const::Int(*i)), Ty::Int, span),
            A::Number(n) => mk(K::Const(Const::Number(*n)), Ty::Number, span),
            A::Bool(b) => mk(K::Const(Const::Bool(*b)), Ty::Bool, span),
            A::Null => mk(K::Const(Const::Null), Ty::Null, span),
            A::Duration(ms) => mk(K::Const(Const::Duration(*ms)), Ty::Duration, span),
            A::Str(parts) => self.string(parts, span, scope),
            A::Date(s) => {
                self.validate_literal(s, Ty::Date, span);
                mk(K::Const(Const::Date(s.clone())), Ty::Date, span)
            }
            A::DateTime(s) => {
                self.validate_literal(s, Ty::DateTime, span);
                mk(K::Const(Const::DateTime(s.clone())), Ty::DateTime, span)
            }
            A::Time(s) => {
                self.validate_literal(s, Ty::Time, span);
                mk(K::Const(Const::Time(s.clone())), Ty::Time, span)
            }
            A::List(items) => self.list(items, span, scope),
            A::Record(entries) => self.record(entries, span, scope),
            A::Name(id) => self.name(id, scope),
            A::Field { base, name } => {
                let base = self.expr(base, scope);
                self.field(base, name, span)
            }
            A::Index { base, index } => self.index(base, index, span, scope),
            A::Call { func, args } => self.call(func, args, span, scope),
            A::Lambda { .. } => {
                self.report(CheckError::Lambda { at: span, function: None });
                error_expr(span)
            }
            A::Unary { op, expr } => self.unary(*op, expr, span, scope),
            A::Binary { op, op_span, lhs, rhs } => self.binary(*op, *op_span, lhs, rhs, span, scope),
            A::Range { .. } => {
                let said = Said::new(span, "a range `a..b` is only allowed after `in`", "range not allowed here")
                    .help("write `x in a..b`");
                self.report(CheckError::NotAllowed(said));
                error_expr(span)
            }
            A::Is { expr, test } => {
                let inner = self.expr(expr, scope);
                if *test == IsTest::HasNull && !matches!(inner.ty.non_null(), Ty::List(_) | Ty::Any) {
                    self.mismatch(inner.span, "`has null` needs a list", &inner.ty);
                }
                mk(K::Is(Box::new(inner), *test), Ty::Bool, span)
            }
            A::IfThenElse { cond, then, otherwise } => {
                let c = self.condition(cond, scope);
                let t = self.expr(then, scope);
                let o = self.expr(otherwise, scope);
                let ty = match unify(&t.ty, &o.ty) {
                    Some(ty) => ty,
                    None => {
                        let said = Said::new(
                            o.span,
                            format!("the branches of `if then else` have different types: `{}` and `{}`", t.ty, o.ty),
                            format!("this is `{}`", o.ty),
                        )
                        .also(t.span, format!("this is `{}`", t.ty))
                        .help("make both branches the same type, e.g. with `toString(...)`");
                        self.report(CheckError::TypeMismatch(said));
                        Ty::Any
                    }
                };
                mk(K::If(Box::new(c), Box::new(t), Box::new(o)), ty, span)
            }
            A::Error => error_expr(span),
        }
    }

    /// Types a condition: it must be a bool (null counts as false).
    pub(crate) fn condition(&mut self, e: &ast::Expr, scope: &mut Scope) -> ir::Expr {
        let c = self.expr(e, scope);
        self.bool_condition(c)
    }

    /// Checks that a typed condition is a bool (null counts as false).
    pub(crate) fn bool_condition(&mut self, c: ir::Expr) -> ir::Expr {
        if !matches!(c.ty.non_null(), Ty::Bool | Ty::Any | Ty::Null) {
            let help = match c.ty.non_null() {
                Ty::String => "compare it: `x != \"\"`, or test it: `x is not null`",
                Ty::Int | Ty::Number => "compare it: `x > 0`",
                Ty::List(_) => "test its size: `count(x) > 0`",
                _ => "compare it with a value, or test it with `is not null`",
            };
            let said = Said::new(
                c.span,
                format!("a condition must be a `bool`, but this is `{}`", c.ty),
                format!("this is `{}`", c.ty),
            )
            .help(help);
            self.report(CheckError::TypeMismatch(said));
        }
        c
    }

    /// Reports a type mismatch `what` at `span`.
    pub(crate) fn mismatch(&mut self, span: Span, what: &str, found: &Ty) {
        self.report(CheckError::TypeMismatch(Said::new(
            span,
            format!("type mismatch: {what}"),
            format!("this is `{found}`"),
        )));
    }

    /// Checks that `e` fits `want`; warns on a possibly-null value when `warn_null`.
    pub(crate) fn expect_ty(&mut self, e: &ir::Expr, want: &Ty, what: &str, warn_null: bool) {
        match assignable(&e.ty, want) {
            Assign::Yes => {}
            Assign::MaybeNull => {
                if warn_null {
                    self.report(CheckError::PossiblyNull {
                        at: e.span,
                        what: what.to_string(),
                        want: want.clone(),
                        found: e.ty.clone(),
                    });
                }
            }
            Assign::No(None) => {
                let msg = format!("{what} must be `{want}`, but it is `{}`", e.ty);
                let said = Said::new(e.span, msg, format!("this is `{}`", e.ty)).help_opt(conversion_help(&e.ty, want));
                self.report(CheckError::TypeMismatch(said));
            }
            Assign::No(Some(path)) => {
                let at = field_value(e, &path).unwrap_or(e);
                let last = path.rsplit('.').next().unwrap_or(&path).to_string();
                match target_field(want, &path) {
                    Some(field_ty) => {
                        let msg = format!("the field `{path}` of {what} must be `{field_ty}`, but it is `{}`", at.ty);
                        let said = Said::new(at.span, msg, format!("this is `{}`", at.ty))
                            .help_opt(conversion_help(&at.ty, &field_ty));
                        self.report(CheckError::TypeMismatch(said));
                    }
                    None => {
                        // Point at the misspelled key, not at its value.
                        let key = self.record_keys.get(&(self.file, at.span)).copied().unwrap_or(at.span);
                        let suggestion = self.field_suggestion(want, &path);
                        self.report(CheckError::UnknownField {
                            owner: FieldOwner::Literal { what: what.to_string(), path: path.clone() },
                            field: last,
                            at: key,
                            suggestion,
                        });
                    }
                }
            }
        }
    }

    /// For an unknown field path `a.b` of a record literal, suggests the nearest field.
    fn field_suggestion(&self, want: &Ty, path: &str) -> Option<String> {
        let mut ty = want.non_null().clone();
        let parts: Vec<&str> = path.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let Ty::Record(r) = ty.non_null() else { return None };
            match r.fields.get(*part) {
                Some(f) if i + 1 < parts.len() => ty = f.ty.non_null().clone(),
                Some(_) => return None,
                None => return nearest(part, r.fields.keys().map(String::as_str)).map(str::to_string),
            }
        }
        None
    }

    fn validate_literal(&mut self, text: &str, ty: Ty, span: Span) {
        let ok = match ty {
            Ty::Date => text.parse::<jiff::civil::Date>().is_ok(),
            Ty::DateTime => text.parse::<jiff::Timestamp>().is_ok(),
            Ty::LocalDateTime => text.parse::<jiff::civil::DateTime>().is_ok(),
            Ty::Time => text.parse::<jiff::civil::Time>().is_ok(),
            _ => true,
        };
        if !ok {
            self.report(CheckError::InvalidLiteral { at: span, text: text.to_string(), ty });
        }
    }

    fn string(&mut self, parts: &[StrPart], span: Span, scope: &mut Scope) -> ir::Expr {
        if let [StrPart::Text(t)] = parts {
            return mk(K::Const(Const::Str(t.clone())), Ty::String, span);
        }
        if parts.is_empty() {
            return mk(K::Const(Const::Str(String::new())), Ty::String, span);
        }
        let items = parts
            .iter()
            .map(|p| match p {
                StrPart::Text(t) => mk(K::Const(Const::Str(t.clone())), Ty::String, span),
                StrPart::Interp(e) => self.expr(e, scope),
            })
            .collect();
        mk(K::Interpolate(items), Ty::String, span)
    }

    fn list(&mut self, items: &[ast::Expr], span: Span, scope: &mut Scope) -> ir::Expr {
        let mut out = Vec::with_capacity(items.len());
        let mut item_ty: Option<Ty> = None;
        for item in items {
            let e = self.expr(item, scope);
            item_ty = match item_ty {
                None => Some(e.ty.clone()),
                Some(t) => match unify(&t, &e.ty) {
                    Some(u) => Some(u),
                    None => {
                        self.mismatch(e.span, &format!("list items must share one type; the list holds `{t}`"), &e.ty);
                        Some(t)
                    }
                },
            };
            out.push(e);
        }
        let ty = Ty::List(Box::new(item_ty.unwrap_or(Ty::Any)));
        mk(K::List(out), ty, span)
    }

    fn record(&mut self, entries: &[ast::RecordEntry], span: Span, scope: &mut Scope) -> ir::Expr {
        let mut fields = Vec::with_capacity(entries.len());
        let mut seen: Vec<(String, Span)> = Vec::new();
        for entry in entries {
            if let Some((_, first)) = seen.iter().find(|(k, _)| *k == entry.key.name) {
                self.report(CheckError::Duplicate {
                    what: Duplicated::RecordKey(entry.key.name.clone()),
                    at: entry.key.span,
                    first: Some(Place { file: self.file, span: *first }),
                });
            }
            seen.push((entry.key.name.clone(), entry.key.span));
            self.record_keys.insert((self.file, entry.value.span), entry.key.span);
            let value = self.expr(&entry.value, scope);
            fields.push((entry.key.name.clone(), value));
        }
        let ty = Ty::record(fields.iter().map(|(k, v)| {
            (k.clone(), crate::types::FieldTy::plain(v.ty.clone(), !v.ty.is_nullable() || v.ty == Ty::Any))
        }));
        mk(K::Record(fields), ty, span)
    }

    pub(crate) fn name_typed(&mut self, id: &ast::Ident, scope: &mut Scope) -> ir::Expr {
        let span = id.span;
        if let Some(local) = scope.lookup(&id.name) {
            return mk(K::Local(local.slot), local.ty.clone(), span);
        }
        match scope.context.clone() {
            Context::Payload(payload) => {
                let event = mk(K::Event, payload.clone(), span);
                if let Ty::Record(r) = payload.non_null() {
                    if r.fields.contains_key(&id.name) {
                        return self.field(event, id, span);
                    }
                }
                if id.name == "event" || id.name == "profile" {
                    let said = Said::new(
                        span,
                        format!("`{}` is not available in an event's `key` or `when`", id.name),
                        "not available here",
                    )
                    .help("the payload's fields are in scope by their bare names: write `identityMap.Email[0].id`, not `event.identityMap...`");
                    self.report(CheckError::NotAllowed(said));
                    return error_expr(span);
                }
                return self.field(event, id, span);
            }
            Context::Journey { event } => match id.name.as_str() {
                "event" => {
                    return match event {
                        Ok(ty) => mk(K::Event, ty, span),
                        Err(why) => {
                            self.report(CheckError::NoEvent { at: span, why });
                            error_expr(span)
                        }
                    };
                }
                "profile" => return mk(K::Profile, self.profile_ty(), span),
                _ => {}
            },
            Context::Http | Context::Test => {}
        }
        let mut names = scope.names();
        if matches!(scope.context, Context::Journey { .. }) {
            names.extend(["event", "profile"]);
        }
        let suggestion = nearest(&id.name, names.iter().copied()).map(str::to_string);
        let is_declaration = self.decls.contains_key(&id.name);
        self.report(CheckError::UnknownName {
            what: Unknown::Value { is_declaration },
            name: id.name.clone(),
            at: span,
            suggestion,
        });
        error_expr(span)
    }

    /// The profile's type: the declared one, or an empty record.
    pub(crate) fn profile_ty(&self) -> Ty {
        self.profile.clone().unwrap_or_else(|| Ty::record([]))
    }

    /// Types `base.name` (the index hook [`Checker::field`] wraps it).
    pub(crate) fn field_typed(&mut self, base: ir::Expr, name: &ast::Ident, span: Span) -> ir::Expr {
        let nullable = base.ty.is_nullable();
        let ty = match base.ty.non_null() {
            Ty::Any => Ty::Any,
            Ty::Record(r) => match r.fields.get(&name.name) {
                Some(f) => {
                    if let Some(values) = &f.enum_values {
                        self.enums.insert((self.file, span), Arc::new(values.clone()));
                    }
                    if nullable {
                        f.ty.clone().optional()
                    } else {
                        f.ty.clone()
                    }
                }
                None => {
                    let suggestion = nearest(&name.name, r.fields.keys().map(String::as_str)).map(str::to_string);
                    self.report(CheckError::UnknownField {
                        owner: FieldOwner::Record { some: r.fields.keys().take(6).cloned().collect() },
                        field: name.name.clone(),
                        at: name.span,
                        suggestion,
                    });
                    return error_expr(span);
                }
            },
            Ty::Map(t) => (**t).clone().optional(),
            Ty::List(_) => {
                let said = Said::new(
                    name.span,
                    format!("a list has no field `{}`", name.name),
                    format!("this is `{}`", base.ty),
                )
                .help(match name.name.as_str() {
                    "size" | "length" | "len" | "count" => "count the items with `count(list)`".to_string(),
                    _ => format!("take an item first: `[0].{}`, or use `first(list, x -> ...)`", name.name),
                });
                self.report(CheckError::TypeMismatch(said));
                return error_expr(span);
            }
            other => {
                let other = other.clone();
                let said = Said::new(
                    name.span,
                    format!("`{other}` has no fields"),
                    format!("`.{}` on a `{other}`", name.name),
                );
                self.report(CheckError::TypeMismatch(said));
                return error_expr(span);
            }
        };
        mk(K::Field(Box::new(base), name.name.clone()), ty, span)
    }

    fn index(&mut self, base: &ast::Expr, index: &ast::Expr, span: Span, scope: &mut Scope) -> ir::Expr {
        let b = self.expr(base, scope);
        let i = self.expr(index, scope);
        let ty = match (b.ty.non_null(), i.ty.non_null()) {
            (Ty::Any, _) => Ty::Any,
            (Ty::List(t), Ty::Int | Ty::Any) => (**t).clone().optional(),
            (Ty::Map(t), Ty::String | Ty::Any) => (**t).clone().optional(),
            (Ty::Record(_), Ty::String) => {
                if let ast::ExprKind::Str(parts) = &index.kind {
                    if let [StrPart::Text(key)] = parts.as_slice() {
                        let id = ast::Ident { name: key.clone(), span: index.span };
                        return self.field(b, &id, span);
                    }
                }
                Ty::Any
            }
            (Ty::List(_), _) => {
                self.mismatch(i.span, "a list index must be an `int`", &i.ty);
                Ty::Any
            }
            (Ty::Map(_), _) => {
                self.mismatch(i.span, "a map key must be a `string`", &i.ty);
                Ty::Any
            }
            (other, _) => {
                let other = other.clone();
                self.mismatch(b.span, &format!("`{other}` cannot be indexed"), &b.ty);
                Ty::Any
            }
        };
        mk(K::Index(Box::new(b), Box::new(i)), ty, span)
    }

    pub(crate) fn call_typed(
        &mut self,
        func: &ast::Ident,
        args: &[ast::Arg],
        span: Span,
        scope: &mut Scope,
    ) -> ir::Expr {
        for a in args {
            if let Some(n) = &a.name {
                self.report(CheckError::Argument {
                    error: ArgumentError::Named { name: n.name.clone() },
                    at: n.span,
                    suggestion: None,
                });
            }
        }
        match func.name.as_str() {
            "date" => return self.date_literal(func, args, span, scope),
            "secret" => return self.secret(args, span, scope),
            _ => {}
        }
        let Some(f) = functions::lookup(&func.name) else {
            for a in args {
                if !matches!(a.value.kind, A::Lambda { .. }) {
                    self.expr(&a.value, scope);
                }
            }
            let suggestion = nearest(&func.name, functions::FUNCTIONS.iter().map(|f| f.name)).map(str::to_string);
            self.report(CheckError::UnknownFunction { name: func.name.clone(), at: func.span, suggestion });
            return error_expr(span);
        };
        let sigs: Vec<Sig> = f.sigs.iter().map(|s| Sig::parse(s)).collect();
        let arity_ok: Vec<usize> = (0..sigs.len())
            .filter(|&i| {
                let (min, max) = sigs[i].arity();
                args.len() >= min && max.is_none_or(|m| args.len() <= m)
            })
            .collect();
        // Type the non-lambda arguments first; lambdas need the list's item type.
        let mut typed: Vec<Option<ir::Expr>> = Vec::with_capacity(args.len());
        for (i, a) in args.iter().enumerate() {
            if let A::Lambda { .. } = a.value.kind {
                if !sigs.iter().any(|s| s.is_lambda(i)) {
                    self.report(CheckError::Lambda { at: a.value.span, function: Some(f.name.to_string()) });
                    typed.push(Some(error_expr(a.value.span)));
                } else {
                    typed.push(None);
                }
            } else {
                typed.push(Some(self.expr(&a.value, scope)));
            }
        }
        let shown: Vec<String> = f.sigs.iter().map(|s| functions::display_sig(f.name, s)).collect();
        if arity_ok.is_empty() {
            let said = Said::new(
                span,
                format!("`{}` takes {}, but {} given", f.name, arity_words(&sigs), args.len()),
                format!("{} argument{}", args.len(), if args.len() == 1 { "" } else { "s" }),
            )
            .help(format!("the signature is {}", shown.join(" or ")));
            self.report(CheckError::Arity(said));
            return error_expr(span);
        }
        let arg_tys: Vec<Option<Ty>> = typed.iter().map(|t| t.as_ref().map(|e| e.ty.clone())).collect();
        let mut first_err = None;
        for &i in &arity_ok {
            match functions::match_sig(f.name, &sigs[i], &arg_tys) {
                Ok(m) => {
                    let mut out = Vec::with_capacity(args.len());
                    for (a, t) in args.iter().zip(typed) {
                        match t {
                            Some(e) => out.push(e),
                            None => out.push(self.lambda(&a.value, m.lambda_param.clone().unwrap_or(Ty::Any), scope)),
                        }
                    }
                    if matches!(f.name, "inAudience" | "inSegment") {
                        self.audience_literal(&out[0]);
                    }
                    return mk(K::Call(f.name.to_string(), out), m.ret, span);
                }
                Err(e) if first_err.is_none() => first_err = Some(e),
                Err(_) => {}
            }
        }
        if let Some(err) = first_err {
            let arg = typed[err.index].as_ref().map(|e| (e.span, e.ty.clone()));
            let (aspan, aty) = arg.unwrap_or((args[err.index].value.span, Ty::Any));
            let said = Said::new(
                aspan,
                format!("argument {} of `{}` must be {}, but it is `{}`", err.index + 1, f.name, err.expected, aty),
                format!("this is `{aty}`"),
            )
            .help(format!("the signature is {}", shown.join(" or ")));
            self.report(CheckError::TypeMismatch(said));
        }
        error_expr(span)
    }

    fn lambda(&mut self, e: &ast::Expr, param_ty: Ty, scope: &mut Scope) -> ir::Expr {
        let A::Lambda { param, body } = &e.kind else { return self.expr(e, scope) };
        scope.push();
        self.note_def(&param.name, &param_ty, param.span);
        let slot = scope.declare(&param.name, param_ty, param.span);
        let body = self.condition(body, scope);
        scope.pop();
        mk(K::Lambda(slot, Box::new(body)), Ty::Bool, e.span)
    }

    fn audience_literal(&mut self, arg: &ir::Expr) {
        if let K::Const(Const::Str(name)) = &arg.kind {
            let id = ast::Ident { name: name.clone(), span: arg.span };
            if self.decls.get(name).map(|d| d.kind) != Some(DeclKind::Audience) {
                self.use_decl(&id, &[DeclKind::Audience]);
            } else {
                self.references.push(super::Reference { file: self.file, span: arg.span, name: name.clone() });
            }
        }
    }

    fn date_literal(&mut self, func: &ast::Ident, args: &[ast::Arg], span: Span, scope: &mut Scope) -> ir::Expr {
        if args.len() != 1 {
            let said = Said::new(
                span,
                format!("`date` takes 1 argument, but {} given", args.len()),
                "wrong number of arguments",
            )
            .help("write `date(\"2026-12-24\")`");
            self.report(CheckError::Arity(said));
            return error_expr(span);
        }
        let arg = self.expr(&args[0].value, scope);
        let K::Const(Const::Str(text)) = &arg.kind else {
            self.mismatch(arg.span, "`date` takes a string literal", &arg.ty);
            return error_expr(span);
        };
        let _ = func;
        let time_part = text.get(10..).unwrap_or("");
        let (ty, c) = if time_part.is_empty() {
            (Ty::Date, Const::Date(text.clone()))
        } else if text.ends_with('Z') || time_part.contains(['+', '-']) {
            (Ty::DateTime, Const::DateTime(text.clone()))
        } else {
            (Ty::LocalDateTime, Const::LocalDateTime(text.clone()))
        };
        self.validate_literal(text, ty.clone(), arg.span);
        mk(K::Const(c), ty, span)
    }

    fn secret(&mut self, args: &[ast::Arg], span: Span, scope: &mut Scope) -> ir::Expr {
        if !matches!(scope.context, Context::Http) {
            let said = Said::new(
                span,
                "`secret()` is only allowed in an action or data source declaration",
                "secret used here",
            )
            .help("read the secret in the action's `headers` or `auth`, so its value never enters journey data");
            self.report(CheckError::NotAllowed(said));
            return error_expr(span);
        }
        let name = match args {
            [a] => match &a.value.kind {
                A::Str(parts) => match parts.as_slice() {
                    [StrPart::Text(t)] => Some(t.clone()),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        };
        match name {
            Some(n) => mk(K::Secret(n), Ty::String, span),
            None => {
                let said = Said::new(
                    span,
                    "`secret` takes one string literal: the environment variable's name",
                    "expected `secret(\"NAME\")`",
                );
                self.report(CheckError::TypeMismatch(said));
                error_expr(span)
            }
        }
    }

    fn unary(&mut self, op: UnaryOp, expr: &ast::Expr, span: Span, scope: &mut Scope) -> ir::Expr {
        let e = self.expr(expr, scope);
        let ty = match (op, e.ty.non_null()) {
            (_, Ty::Any) => Ty::Any,
            (UnaryOp::Neg, t @ (Ty::Int | Ty::Number | Ty::Duration)) => t.clone(),
            (UnaryOp::Not, Ty::Bool | Ty::Null) => Ty::Bool,
            (UnaryOp::Neg, _) => {
                self.mismatch(e.span, "`-` needs a number or a duration", &e.ty);
                Ty::Any
            }
            (UnaryOp::Not, _) => {
                self.mismatch(e.span, "`not` needs a `bool`", &e.ty);
                Ty::Any
            }
        };
        let ty = null_if(ty, &[&e]);
        mk(K::Unary(op, Box::new(e)), ty, span)
    }

    fn binary(
        &mut self,
        op: BinaryOp,
        op_span: Span,
        lhs: &ast::Expr,
        rhs: &ast::Expr,
        span: Span,
        scope: &mut Scope,
    ) -> ir::Expr {
        if matches!(op, BinaryOp::In | BinaryOp::NotIn) {
            if let A::Range { lo, hi } = &rhs.kind {
                return self.in_range(op == BinaryOp::NotIn, lhs, lo, hi, span, scope);
            }
        }
        let l = self.expr(lhs, scope);
        let r = self.expr(rhs, scope);
        let (lt, rt) = (l.ty.non_null().clone(), r.ty.non_null().clone());
        let any = lt == Ty::Any || rt == Ty::Any;
        use BinaryOp::*;
        let ty = match op {
            Coalesce => match unify(&lt, &rt) {
                Some(u) if r.ty.is_nullable() => u.optional(),
                Some(u) => u.non_null().clone(),
                None => self.op_mismatch(op, op_span, &l, &r),
            },
            Or | And => {
                for side in [&l, &r] {
                    if !matches!(side.ty.non_null(), Ty::Bool | Ty::Any | Ty::Null) {
                        self.mismatch(side.span, &format!("`{}` needs `bool` operands", op.symbol()), &side.ty);
                    }
                }
                null_if(Ty::Bool, &[&l, &r])
            }
            Eq | Ne => {
                if !any && lt != Ty::Null && rt != Ty::Null && unify(&lt, &rt).is_none() {
                    self.op_mismatch(op, op_span, &l, &r);
                }
                self.check_enum(&l, &r);
                self.check_enum(&r, &l);
                Ty::Bool
            }
            Lt | Le | Gt | Ge => {
                let ok = any
                    || (is_numeric(&lt) && is_numeric(&rt))
                    || (lt == rt && is_ordered(&lt))
                    || lt == Ty::Null
                    || rt == Ty::Null;
                if !ok {
                    self.op_mismatch(op, op_span, &l, &r);
                }
                null_if(Ty::Bool, &[&l, &r])
            }
            In | NotIn => {
                match &rt {
                    Ty::Any => {}
                    Ty::List(item) => {
                        if !any && lt != Ty::Null && unify(&lt, item.non_null()).is_none() && **item != Ty::Any {
                            self.op_mismatch(op, op_span, &l, &r);
                        }
                    }
                    _ => {
                        let said = Said::new(
                            r.span,
                            format!("`{}` needs a list or a range on its right, but this is `{}`", op.symbol(), r.ty),
                            format!("this is `{}`", r.ty),
                        )
                        .help("write `x in [a, b]` or `x in a..b`");
                        self.report(CheckError::TypeMismatch(said));
                    }
                }
                Ty::Bool
            }
            Add => {
                if lt == Ty::String || rt == Ty::String {
                    // String joining: null joins as empty text.
                    Ty::String
                } else {
                    let t = self.arith(op, op_span, &l, &r);
                    null_if(t, &[&l, &r])
                }
            }
            Sub | Mul | Div | Rem => {
                let t = self.arith(op, op_span, &l, &r);
                null_if(t, &[&l, &r])
            }
        };
        mk(K::Binary(op, Box::new(l), Box::new(r)), ty, span)
    }

    fn arith(&mut self, op: BinaryOp, op_span: Span, l: &ir::Expr, r: &ir::Expr) -> Ty {
        use Ty::*;
        let (lt, rt) = (l.ty.non_null(), r.ty.non_null());
        match (op, lt, rt) {
            (_, Any, _) | (_, _, Any) => Any,
            (_, Null, t) | (_, t, Null) if is_numeric(t) || *t == Duration || *t == Null => t.clone(),
            (_, Int, Int) => Int,
            (_, Int | Number, Int | Number) => Number,
            (BinaryOp::Add | BinaryOp::Sub, d @ (DateTime | LocalDateTime | Date), Duration) => d.clone(),
            (BinaryOp::Add, Duration, d @ (DateTime | LocalDateTime | Date)) => d.clone(),
            (BinaryOp::Add | BinaryOp::Sub, Duration, Duration) => Duration,
            (BinaryOp::Sub, DateTime, DateTime) | (BinaryOp::Sub, LocalDateTime, LocalDateTime) => Duration,
            (BinaryOp::Mul, Duration, Int | Number) | (BinaryOp::Mul, Int | Number, Duration) => Duration,
            _ => self.op_mismatch(op, op_span, l, r),
        }
    }

    fn op_mismatch(&mut self, op: BinaryOp, op_span: Span, l: &ir::Expr, r: &ir::Expr) -> Ty {
        let help = match (op, l.ty.non_null(), r.ty.non_null()) {
            (BinaryOp::Eq | BinaryOp::Ne, Ty::String, Ty::Int | Ty::Number)
            | (BinaryOp::Eq | BinaryOp::Ne, Ty::Int | Ty::Number, Ty::String) => {
                Some("convert one side: `toString(x)` or `toInteger(x)`".to_string())
            }
            (BinaryOp::Coalesce, a, b) => Some(format!("the default after `??` must be a `{a}` too, not a `{b}`")),
            _ => None,
        };
        let said = Said::new(
            op_span,
            format!("`{}` cannot be applied to `{}` and `{}`", op.symbol(), l.ty, r.ty),
            format!("`{}` here", op.symbol()),
        )
        .also(l.span, format!("this is `{}`", l.ty))
        .also(r.span, format!("this is `{}`", r.ty))
        .help_opt(help);
        self.report(CheckError::TypeMismatch(said));
        Ty::Any
    }

    fn in_range(
        &mut self,
        negated: bool,
        value: &ast::Expr,
        lo: &ast::Expr,
        hi: &ast::Expr,
        span: Span,
        scope: &mut Scope,
    ) -> ir::Expr {
        let v = self.expr(value, scope);
        let l = self.expr(lo, scope);
        let h = self.expr(hi, scope);
        for bound in [&l, &h] {
            let (vt, bt) = (v.ty.non_null(), bound.ty.non_null());
            let ok = matches!(vt, Ty::Any)
                || matches!(bt, Ty::Any)
                || (is_numeric(vt) && is_numeric(bt))
                || (vt == bt && is_ordered(vt));
            if !ok {
                self.mismatch(
                    bound.span,
                    &format!("a range bound must be a `{}` like the value tested", v.ty),
                    &bound.ty,
                );
            }
        }
        let ty = null_if(Ty::Bool, &[&v]);
        mk(K::InRange { value: Box::new(v), lo: Box::new(l), hi: Box::new(h), negated }, ty, span)
    }

    /// Warns when a string literal is compared with a field whose schema lists its values.
    fn check_enum(&mut self, field: &ir::Expr, value: &ir::Expr) {
        let Some(values) = self.enums.get(&(self.file, field.span)).cloned() else { return };
        let K::Const(Const::Str(s)) = &value.kind else { return };
        if values.iter().any(|v| v == s) {
            return;
        }
        let suggestion = nearest(s, values.iter().map(String::as_str)).map(str::to_string);
        self.report(CheckError::UnlistedValue {
            at: value.span,
            value: s.clone(),
            field: field.span,
            listed: values.to_vec(),
            suggestion,
        });
    }
}

/// The value expression at a field path inside nested record literals.
fn field_value<'e>(e: &'e ir::Expr, path: &str) -> Option<&'e ir::Expr> {
    let mut cur = e;
    for seg in path.split('.') {
        let K::Record(fields) = &cur.kind else { return None };
        cur = &fields.iter().find(|(n, _)| n == seg)?.1;
    }
    Some(cur)
}

/// The declared type of a field path of a record type, if every segment exists.
fn target_field(ty: &Ty, path: &str) -> Option<Ty> {
    let mut cur = ty.non_null().clone();
    for seg in path.split('.') {
        cur = match cur.non_null() {
            Ty::Record(r) => r.fields.get(seg)?.ty.clone(),
            Ty::Map(t) => (**t).clone(),
            _ => return None,
        };
    }
    Some(cur)
}

fn arity_words(sigs: &[Sig]) -> String {
    let mut counts: Vec<String> = sigs
        .iter()
        .map(|s| match s.arity() {
            (min, None) => format!("{min} or more"),
            (n, Some(_)) => n.to_string(),
        })
        .collect();
    counts.dedup();
    let last = counts.pop().unwrap_or_default();
    let n = if counts.is_empty() { last.clone() } else { format!("{} or {last}", counts.join(", ")) };
    let plural = n != "1";
    format!("{n} argument{}", if plural { "s" } else { "" })
}

fn conversion_help(from: &Ty, to: &Ty) -> Option<String> {
    Some(match (from.non_null(), to.non_null()) {
        (_, Ty::String) => "convert it with `toString(...)`".into(),
        (Ty::String, Ty::Int) => "convert it with `toInteger(...)`".into(),
        (Ty::String, Ty::Number) => "convert it with `toDecimal(...)`".into(),
        (Ty::String, Ty::DateTime) => "convert it with `toDateTime(...)`".into(),
        (Ty::String, Ty::Duration) => "write a duration literal like `30m`, or `toDuration(\"PT30M\")`".into(),
        (Ty::Int, Ty::Duration) => "write a duration literal like `30m`".into(),
        _ => return None,
    })
}
