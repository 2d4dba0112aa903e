//! Declarations other than journeys and tests: schema, type, profile, event, audience, HTTP.

use super::{kids, Lower, P};
use crate::ast::{
    Auth, EventDecl, HttpDecl, HttpKind, HttpOption, HttpOptionKind, Item, ItemKind, Param, SchemaSource,
};
use crate::parser::Rule;

impl Lower<'_> {
    /// An `item` pair.
    pub(crate) fn item(&mut self, p: P) -> Item {
        let span = self.span(&p);
        let Some(d) = p.into_inner().next() else {
            return Item { doc: None, kind: ItemKind::Error, span };
        };
        let kind = match d.as_rule() {
            Rule::schema_decl => {
                let mut k = kids(d);
                match (k.next(), k.next()) {
                    (Some(n), Some(s)) => ItemKind::Schema { name: self.ident(&n), source: self.schema_source(s) },
                    _ => ItemKind::Error,
                }
            }
            Rule::type_decl => {
                let mut k = kids(d);
                match (k.next(), k.next()) {
                    (Some(n), Some(t)) => ItemKind::Type { name: self.ident(&n), ty: self.type_expr(t) },
                    _ => ItemKind::Error,
                }
            }
            Rule::profile_decl => {
                let mut it = d.into_inner();
                let keyword = it.next().map(|k| self.span(&k)).unwrap_or(span);
                match it.find(|c| c.as_rule() == Rule::schema_source) {
                    Some(s) => ItemKind::Profile { keyword, source: self.schema_source(s) },
                    None => ItemKind::Error,
                }
            }
            Rule::event_decl => self.event(d),
            Rule::audience_decl => match kids(d).next() {
                Some(n) => ItemKind::Audience { name: self.ident(&n) },
                None => ItemKind::Error,
            },
            Rule::datasource_decl => self.http(d, HttpKind::DataSource),
            Rule::action_decl => self.http(d, HttpKind::Action),
            Rule::journey_decl => self.journey(d),
            Rule::test_decl => self.test(d),
            Rule::channel_decl => self.channel(d),
            Rule::frequency_decl => {
                let mut k = kids(d);
                match (k.next(), k.next(), k.next()) {
                    (Some(c), Some(n), Some(per)) => ItemKind::Frequency(crate::ast::FrequencyDecl {
                        channel: self.ident(&c),
                        limit: self.int_lit(&n),
                        per: self.duration_lit(&per),
                    }),
                    _ => ItemKind::Error,
                }
            }
            _ => ItemKind::Error,
        };
        Item { doc: None, kind, span }
    }

    fn schema_source(&mut self, p: P) -> SchemaSource {
        let span = self.span(&p);
        let Some(s) = kids(p).next() else {
            return SchemaSource::Json { path: crate::ast::StrLit { value: String::new(), span } };
        };
        match s.as_rule() {
            Rule::xdm_source => {
                let mut strings = kids(s).map(|x| self.str_lit(x));
                let id = strings.next().unwrap_or(crate::ast::StrLit { value: String::new(), span });
                SchemaSource::Xdm { id, with: strings.collect() }
            }
            Rule::json_source => {
                let path = kids(s).next().map(|x| self.str_lit(x));
                SchemaSource::Json { path: path.unwrap_or(crate::ast::StrLit { value: String::new(), span }) }
            }
            _ => SchemaSource::Type(self.type_expr(s)),
        }
    }

    fn event(&mut self, d: P) -> ItemKind {
        let mut k = kids(d);
        let (Some(name), Some(schema)) = (k.next(), k.next()) else {
            return ItemKind::Error;
        };
        let mut decl = EventDecl { name: self.ident(&name), schema: self.ident(&schema), key: None, when: None };
        for body in k {
            let mut prev = None;
            for clause in kids(body) {
                let span = self.span(&clause);
                let good = matches!(clause.as_rule(), Rule::event_key | Rule::event_when);
                match clause.as_rule() {
                    Rule::event_key | Rule::event_when => {
                        let is_key = clause.as_rule() == Rule::event_key;
                        let Some(e) = kids(clause).next().map(|e| self.expr(e)) else { continue };
                        let slot = if is_key { &mut decl.key } else { &mut decl.when };
                        if slot.is_some() {
                            let word = if is_key { "key" } else { "when" };
                            self.error(span, format!("duplicate `{word}` in this event"));
                        } else {
                            *slot = Some(e);
                        }
                    }
                    Rule::bad_clause => {
                        self.report_after(prev, Rule::re_event_next, Rule::re_event, &clause);
                    }
                    Rule::missing_close => self.unclosed(Rule::re_event, &clause),
                    _ => {}
                }
                prev = good.then_some(span.start);
            }
        }
        ItemKind::Event(decl)
    }

    fn channel(&mut self, d: P) -> ItemKind {
        use crate::ast::{ChannelClause, ChannelClauseKind as C, ChannelDecl, Reaction};
        let mut name = None;
        let mut clauses = Vec::new();
        let mut prev = None;
        for c in kids(d) {
            let span = self.span(&c);
            let good = c.as_rule() == Rule::channel_clause;
            match c.as_rule() {
                Rule::decl_name => name = Some(self.ident(&c)),
                Rule::channel_clause => {
                    let Some(inner) = c.into_inner().next() else { continue };
                    let rule = inner.as_rule();
                    let kind = match rule {
                        Rule::channel_to => kids(inner).next().map(|e| C::To(self.expr(e))),
                        Rule::channel_consent => kids(inner).next().map(|e| C::Consent(self.expr(e))),
                        Rule::channel_deliver => kids(inner).next().map(|e| C::Deliver(self.ident(&e))),
                        Rule::channel_quiet => {
                            let queue = inner.clone().into_inner().any(|x| x.as_rule() == Rule::kw_queue);
                            kids(inner).next().map(|e| C::Quiet { window: self.expr(e), queue })
                        }
                        Rule::channel_reaction => {
                            let reaction = if inner.clone().into_inner().any(|x| x.as_rule() == Rule::kw_clicked) {
                                Reaction::Clicked
                            } else {
                                Reaction::Opened
                            };
                            let mut k = kids(inner);
                            match (k.next(), k.next()) {
                                (Some(ev), Some(path)) => Some(C::Reaction {
                                    reaction,
                                    event: self.ident(&ev),
                                    by: kids(path).map(|n| self.ident(&n)).collect(),
                                }),
                                _ => None,
                            }
                        }
                        _ => None,
                    };
                    if let Some(kind) = kind {
                        clauses.push(ChannelClause { kind, span });
                    }
                }
                Rule::bad_channel => {
                    self.report_after(prev, Rule::re_channel, Rule::re_channel, &c);
                }
                Rule::missing_close => self.unclosed(Rule::re_channel, &c),
                _ => {}
            }
            prev = good.then_some(span.start);
        }
        match name {
            Some(name) => ItemKind::Channel(ChannelDecl { name, clauses }),
            None => ItemKind::Error,
        }
    }

    fn http(&mut self, d: P, kind: HttpKind) -> ItemKind {
        let mut name = None;
        let mut params = Vec::new();
        let mut method = None;
        let mut url = None;
        let mut options = Vec::new();
        for c in kids(d) {
            match c.as_rule() {
                Rule::decl_name => name = Some(self.ident(&c)),
                Rule::params => {
                    for param in kids(c) {
                        let mut k = kids(param);
                        if let (Some(n), Some(t)) = (k.next(), k.next()) {
                            params.push(Param { name: self.ident(&n), ty: self.type_expr(t) });
                        }
                    }
                }
                Rule::method => method = Some(self.ident(&c)),
                Rule::string => url = Some(self.str_lit(c)),
                Rule::http_body => {
                    let mut prev = None;
                    for o in kids(c) {
                        let start = self.start(&o);
                        let good = o.as_rule() == Rule::http_option;
                        match o.as_rule() {
                            Rule::http_option => {
                                if let Some(opt) = self.http_option(o) {
                                    options.push(opt);
                                }
                            }
                            Rule::bad_option => {
                                let merged = self.report_after(prev, Rule::re_http_next, Rule::re_http, &o);
                                if merged {
                                    options.pop();
                                }
                            }
                            Rule::missing_close => self.unclosed(Rule::re_http, &o),
                            _ => {}
                        }
                        prev = good.then_some(start);
                    }
                }
                _ => {}
            }
        }
        let (Some(name), Some(method), Some(url)) = (name, method, url) else {
            return ItemKind::Error;
        };
        let decl = HttpDecl { kind, name, params, method, url, options };
        match kind {
            HttpKind::Action => ItemKind::Action(decl),
            HttpKind::DataSource => ItemKind::DataSource(decl),
        }
    }

    fn http_option(&mut self, o: P) -> Option<HttpOption> {
        let span = self.span(&o);
        let opt = o.into_inner().next()?;
        let rule = opt.as_rule();
        let mut k = kids(opt);
        let kind = match rule {
            Rule::headers_opt => HttpOptionKind::Headers(self.record(k.next()?)),
            Rule::query_opt => HttpOptionKind::Query(self.record(k.next()?)),
            Rule::body_opt => HttpOptionKind::Body(self.expr(k.next()?)),
            Rule::auth_opt => {
                let a = k.next()?;
                let rule = a.as_rule();
                let mut parts = kids(a);
                HttpOptionKind::Auth(match rule {
                    Rule::auth_basic => {
                        let user = self.expr(parts.next()?);
                        let pass = self.expr(parts.next()?);
                        Auth::Basic { user, pass }
                    }
                    Rule::auth_bearer => Auth::Bearer(self.expr(parts.next()?)),
                    Rule::auth_header => {
                        let name = self.str_lit(parts.next()?);
                        let value = self.expr(parts.next()?);
                        Auth::Header { name, value }
                    }
                    _ => Auth::None,
                })
            }
            Rule::timeout_opt => HttpOptionKind::Timeout(self.duration_lit(&k.next()?)),
            Rule::retry_opt => {
                let count = self.int_lit(&k.next()?);
                let backoff = k.next().map(|d| self.duration_lit(&d));
                HttpOptionKind::Retry { count, backoff }
            }
            Rule::throttle_opt => {
                let count = self.int_lit(&k.next()?);
                let per = self.duration_lit(&k.next()?);
                HttpOptionKind::Throttle { count, per }
            }
            Rule::concurrency_opt => HttpOptionKind::Concurrency(self.int_lit(&k.next()?)),
            Rule::cache_opt => HttpOptionKind::Cache(self.duration_lit(&k.next()?)),
            Rule::returns_opt => HttpOptionKind::Returns(self.type_expr(k.next()?)),
            _ => return None,
        };
        Some(HttpOption { kind, span })
    }
}
