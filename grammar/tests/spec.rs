//! Every snippet of docs/language.md parses without errors, into the expected shapes.

use journey_grammar::ast::*;
use journey_grammar::parse;

const SPEC: &str = include_str!("data/spec.journey");

fn items() -> Vec<Item> {
    let parsed = parse(SPEC);
    assert!(parsed.errors.is_empty(), "{:#?}", parsed.errors);
    parsed.file.items
}

fn find(items: &[Item], pred: impl Fn(&ItemKind) -> bool) -> &Item {
    items.iter().find(|i| pred(&i.kind)).expect("item")
}

fn journey<'a>(items: &'a [Item], name: &str) -> &'a JourneyDecl {
    match &find(items, |k| matches!(k, ItemKind::Journey(j) if j.name.name == name)).kind {
        ItemKind::Journey(j) => j,
        _ => unreachable!(),
    }
}

fn text(e: &Expr) -> &str {
    match &e.kind {
        ExprKind::Str(parts) => match parts.as_slice() {
            [StrPart::Text(t)] => t,
            _ => panic!("not plain text: {parts:?}"),
        },
        k => panic!("not a string: {k:?}"),
    }
}

#[test]
fn spec_snippets_parse_cleanly() {
    let items = items();
    assert_eq!(items.len(), 17);
    assert!(items.iter().all(|i| !matches!(i.kind, ItemKind::Error)));
}

#[test]
fn schemas_types_profile() {
    let items = items();
    let cart = find(&items, |k| matches!(k, ItemKind::Schema { name, .. } if name.name == "CartEvent"));
    assert_eq!(
        cart.doc.as_deref(),
        Some("The event's payload type: an XDM class plus field groups, a JSON Schema file, or an inline record.")
    );
    let ItemKind::Schema { source: SchemaSource::Xdm { id, with }, .. } = &cart.kind else { panic!() };
    assert_eq!(id.value, "https://ns.adobe.com/xdm/context/experienceevent");
    assert_eq!(with.len(), 2);
    assert_eq!(&SPEC[cart.span.start..cart.span.start + 16], "schema CartEvent");

    let order = find(&items, |k| matches!(k, ItemKind::Schema { name, .. } if name.name == "Order"));
    assert!(
        matches!(&order.kind, ItemKind::Schema { source: SchemaSource::Json { path }, .. } if path.value == "schemas/order.schema.json")
    );

    let ty = find(&items, |k| matches!(k, ItemKind::Type { .. }));
    let ItemKind::Type { name, ty } = &ty.kind else { panic!() };
    assert_eq!(name.name, "Item");
    let TypeExprKind::Record(fields) = &ty.kind else { panic!() };
    let names: Vec<_> = fields.iter().map(|f| f.name.name.as_str()).collect();
    assert_eq!(names, ["sku", "price", "quantity"]);
    assert!(matches!(&fields[2].ty.kind, TypeExprKind::Named(n) if n.name == "int"));

    let profile = find(&items, |k| matches!(k, ItemKind::Profile { .. }));
    let ItemKind::Profile { keyword, source: SchemaSource::Xdm { with, .. } } = &profile.kind else { panic!() };
    assert_eq!(&SPEC[keyword.start..keyword.end], "profile");
    assert_eq!(with.len(), 3);
    assert_eq!(
        profile.doc.as_deref(),
        Some("The profile every journey reads as `profile`. At most one per project; without one, `profile`\nis an empty record.")
    );
}

#[test]
fn events_and_audiences() {
    let items = items();
    let ev = find(&items, |k| matches!(k, ItemKind::Event(e) if e.name.name == "CartAdd"));
    let ItemKind::Event(e) = &ev.kind else { panic!() };
    assert_eq!(e.schema.name, "CartEvent");
    // key identityMap.Email[0].id
    let key = e.key.as_ref().unwrap();
    let ExprKind::Field { base, name } = &key.kind else { panic!("{key:?}") };
    assert_eq!(name.name, "id");
    assert!(matches!(&base.kind, ExprKind::Index { .. }));
    assert_eq!(&SPEC[key.span.start..key.span.end], "identityMap.Email[0].id");
    let when = e.when.as_ref().unwrap();
    assert!(matches!(&when.kind, ExprKind::Binary { op: BinaryOp::Eq, .. }));
    assert!(find(&items, |k| matches!(k, ItemKind::Audience { name } if name.name == "VIP")).doc.is_none());
}

#[test]
fn http_declarations() {
    let items = items();
    let ds = find(&items, |k| matches!(k, ItemKind::DataSource(_)));
    let ItemKind::DataSource(d) = &ds.kind else { panic!() };
    assert_eq!(d.kind, HttpKind::DataSource);
    assert_eq!(d.name.name, "Loyalty");
    assert_eq!(d.method.name, "GET");
    assert_eq!(d.url.value, "https://loyalty.example.com/members/{memberId}");
    assert_eq!(d.params.len(), 1);
    let kinds: Vec<_> = d.options.iter().map(|o| std::mem::discriminant(&o.kind)).collect();
    assert_eq!(kinds.len(), 5);
    assert!(matches!(&d.options[0].kind, HttpOptionKind::Headers(h) if h[0].key.name == "Accept"));
    assert!(matches!(&d.options[1].kind, HttpOptionKind::Auth(Auth::Bearer(_))));
    assert!(matches!(&d.options[2].kind, HttpOptionKind::Timeout(t) if t.millis == 2_000));
    assert!(matches!(&d.options[3].kind, HttpOptionKind::Cache(t) if t.millis == 600_000));
    assert!(
        matches!(&d.options[4].kind, HttpOptionKind::Returns(TypeExpr { kind: TypeExprKind::Record(f), .. }) if f.len() == 2)
    );

    let act = find(&items, |k| matches!(k, ItemKind::Action(_)));
    let ItemKind::Action(a) = &act.kind else { panic!() };
    assert_eq!(a.kind, HttpKind::Action);
    assert_eq!(a.method.name, "POST");
    assert_eq!(a.params.len(), 3);
    let vars = &a.params[2].ty;
    assert!(matches!(&vars.kind, TypeExprKind::Optional(inner) if matches!(inner.kind, TypeExprKind::Map(_))));
    assert!(matches!(&a.options[0].kind, HttpOptionKind::Headers(h) if h[0].key.name == "Authorization"
        && matches!(h[0].value.kind, ExprKind::Binary { op: BinaryOp::Add, .. })));
    assert!(matches!(&a.options[1].kind, HttpOptionKind::Body(Expr { kind: ExprKind::Record(r), .. }) if r.len() == 3));
    assert!(
        matches!(&a.options[3].kind, HttpOptionKind::Retry { count, backoff: Some(b) } if count.value == 3 && b.millis == 2_000)
    );
    assert!(
        matches!(&a.options[4].kind, HttpOptionKind::Throttle { count, per } if count.value == 300 && per.millis == 1_000)
    );
}

#[test]
fn cart_recovery_settings() {
    let items = items();
    let j = journey(&items, "CartRecovery");
    let s: Vec<_> = j.settings.iter().map(|s| &s.kind).collect();
    assert_eq!(s.len(), 6);
    assert!(matches!(s[0], JourneySettingKind::Start(StartRule::Event(e)) if e.name == "CartAdd"));
    assert!(matches!(s[1], JourneySettingKind::Reentry(Reentry::After(d)) if d.millis == 7 * 86_400_000));
    assert!(matches!(s[2], JourneySettingKind::Timezone(z) if z.value == "Europe/Stockholm"));
    assert!(matches!(s[3], JourneySettingKind::Timeout(d) if d.millis == 30 * 86_400_000));
    assert!(matches!(s[4], JourneySettingKind::Active { from, to }
        if from.kind == ExprKind::Date("2026-12-01".into()) && to.kind == ExprKind::Date("2027-01-31".into())));
    assert!(matches!(s[5], JourneySettingKind::ExitOn(e) if e.name == "Purchase"));
}

#[test]
fn cart_recovery_statements() {
    let items = items();
    let j = journey(&items, "CartRecovery");
    let b = &j.body.stmts;
    assert_eq!(b.len(), 12, "{:#?}", b.iter().map(|s| &SPEC[s.span.start..s.span.end]).collect::<Vec<_>>());
    assert!(matches!(&b[0].kind, StmtKind::Let { name, value: LetValue::Expr(_) } if name.name == "items"));
    assert!(matches!(&b[1].kind, StmtKind::Wait(Expr { kind: ExprKind::Duration(3_600_000), .. })));
    let StmtKind::Await { arms, after } = &b[2].kind else { panic!() };
    assert_eq!(arms.len(), 2);
    assert_eq!(arms[0].event.name, "Purchase");
    assert_eq!(arms[0].binding.as_ref().unwrap().name, "p");
    assert!(matches!(&arms[0].condition.as_ref().unwrap().kind, ExprKind::Binary { op: BinaryOp::Gt, .. }));
    assert!(matches!(&arms[0].block.stmts[0].kind, StmtKind::End(Some(l)) if l.value == "converted"));
    assert!(arms[1].binding.is_none() && arms[1].block.stmts.is_empty());
    assert!(matches!(&after.as_ref().unwrap().duration.kind, ExprKind::Duration(7_200_000)));
    let StmtKind::If { branches, otherwise: None } = &b[3].kind else { panic!() };
    assert_eq!(branches.len(), 1);
    let StmtKind::Let { name, value: LetValue::Call(c) } = &b[4].kind else { panic!() };
    assert_eq!(name.name, "member");
    assert_eq!(c.kind, HttpKind::DataSource);
    assert!(c.on_error.is_some() && c.on_timeout.is_none());
    assert_eq!(&SPEC[c.span.start..c.span.end], "fetch Loyalty(profile.loyalty.loyaltyID[0] ?? \"\")");
    let StmtKind::Split(branches) = &b[5].kind else { panic!() };
    let percents: Vec<_> = branches.iter().map(|b| b.percent).collect();
    assert_eq!(percents, [10.0, 45.0, 45.0]);
    assert_eq!(branches[0].label.as_ref().unwrap().value, "control");
    let StmtKind::Call(call) = &branches[1].block.stmts[0].kind else { panic!() };
    assert_eq!(call.args.len(), 2);
    assert_eq!(call.args[0].name.as_ref().unwrap().name, "to");
    let StmtKind::Let { value: LetValue::Call(c), .. } = &b[6].kind else { panic!() };
    assert_eq!(c.kind, HttpKind::Action);
    assert!(c.on_timeout.is_some() && c.on_error.is_some());
    let StmtKind::Cap { limit, body, otherwise: Some(_) } = &b[7].kind else { panic!() };
    assert_eq!(limit.kind, ExprKind::Int(1000));
    let StmtKind::UpdateProfile(assign) = &body.stmts[0].kind else { panic!() };
    let path: Vec<_> = assign[0].path.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(path, ["loyalty", "points"]);
    assert!(matches!(&b[8].kind, StmtKind::WaitUntil(Expr { kind: ExprKind::Time(t), .. }) if t == "09:00"));
    assert!(matches!(&b[9].kind, StmtKind::WaitUntil(Expr { kind: ExprKind::Binary { op: BinaryOp::Add, .. }, .. })));
    let StmtKind::If { branches, .. } = &b[10].kind else { panic!() };
    let ExprKind::Binary { op: BinaryOp::And, lhs, rhs, .. } = &branches[0].0.kind else { panic!() };
    let ExprKind::Binary { op: BinaryOp::In, rhs: range, .. } = &lhs.kind else { panic!() };
    assert!(matches!(range.kind, ExprKind::Range { .. }));
    assert!(
        matches!(&rhs.kind, ExprKind::Binary { op: BinaryOp::In, rhs, .. } if matches!(rhs.kind, ExprKind::List(_)))
    );
    assert!(matches!(&branches[0].1.stmts[0].kind, StmtKind::Jump(j) if j.name == "WeekdayFollowUp"));
    assert!(matches!(&b[11].kind, StmtKind::End(None)));
}

#[test]
fn start_rules() {
    let items = items();
    let start = |name: &str| match &journey(&items, name).settings[0].kind {
        JourneySettingKind::Start(s) => s.clone(),
        k => panic!("{k:?}"),
    };
    assert!(matches!(start("VipWelcome"), StartRule::AudienceEnters(a) if a.name == "VIP"));
    assert!(matches!(start("VipGoodbye"), StartRule::AudienceExits(a) if a.name == "VIP"));
    assert!(matches!(start("WeekdayFollowUp"), StartRule::AudienceRead { schedule: Schedule::Every { every, at }, .. }
        if every.name == "day" && at.kind == ExprKind::Time("09:00".into())));
    assert!(
        matches!(start("MondayRead"), StartRule::AudienceRead { schedule: Schedule::Every { every, .. }, .. } if every.name == "monday")
    );
    assert!(matches!(start("Once"), StartRule::AudienceRead { schedule: Schedule::Once { at }, .. }
        if at.kind == ExprKind::DateTime("2026-12-01T09:00:00Z".into())));
    assert!(matches!(
        &journey(&items, "WeekdayFollowUp").settings[1].kind,
        JourneySettingKind::Reentry(Reentry::Always)
    ));
    assert!(matches!(&journey(&items, "VipWelcome").settings[1].kind, JourneySettingKind::Reentry(Reentry::Never)));
}

#[test]
fn test_blocks() {
    let items = items();
    let tests: Vec<_> = items
        .iter()
        .filter_map(|i| match &i.kind {
            ItemKind::Test(t) => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(tests.len(), 2);
    let t = tests[0];
    assert_eq!(t.name.value, "a buyer who converts gets no email");
    let k: Vec<_> = t.stmts.iter().map(|s| &s.kind).collect();
    assert!(
        matches!(k[0], TestStmtKind::Profile { key: None, attributes: Expr { kind: ExprKind::Record(r), .. } } if r.len() == 2)
    );
    assert!(matches!(k[1], TestStmtKind::Mock { target, result: MockResult::Value(_) } if target.name == "SendEmail"));
    assert!(matches!(k[2], TestStmtKind::Mock { result: MockResult::Fail, .. }));
    assert!(matches!(k[3], TestStmtKind::Send { after: None, event, payload: Expr { kind: ExprKind::Record(r), .. } }
        if event.name == "CartAdd" && r.len() == 3));
    assert!(
        matches!(k[4], TestStmtKind::Send { after: Some(d), event, .. } if d.millis == 5_400_000 && event.name == "Purchase")
    );
    assert!(
        matches!(k[5], TestStmtKind::ExpectEnded { journey, label: Some(l) } if journey.name == "CartRecovery" && l.value == "converted")
    );
    assert!(matches!(k[6], TestStmtKind::ExpectNoCall { action } if action.name == "SendEmail"));

    let k: Vec<_> = tests[1].stmts.iter().map(|s| &s.kind).collect();
    assert!(matches!(k[0], TestStmtKind::Start(Expr { kind: ExprKind::DateTime(_), .. })));
    assert!(matches!(k[1], TestStmtKind::Profile { key: Some(key), .. } if key.value == "ann@example.com"));
    assert!(
        matches!(k[2], TestStmtKind::AudienceHas { audience, key } if audience.name == "VIP" && key.value == "ann@example.com")
    );
    assert!(matches!(k[3], TestStmtKind::Mock { result: MockResult::Timeout, .. }));
    assert!(matches!(k[5], TestStmtKind::After(d) if d.millis == 7_200_000));
    assert!(matches!(k[6], TestStmtKind::ExpectRunning { journey } if journey.name == "WeekdayFollowUp"));
    assert!(matches!(k[7], TestStmtKind::ExpectEnded { label: None, .. }));
    assert!(matches!(k[8], TestStmtKind::ExpectCall { args: None, times: None, .. }));
    assert!(matches!(k[9], TestStmtKind::ExpectCall { args: Some(_), times: None, .. }));
    assert!(matches!(k[10], TestStmtKind::ExpectCall { args: None, times: Some(n), .. } if n.value == 2));
    assert!(matches!(k[11], TestStmtKind::ExpectCall { args: Some(_), times: Some(n), .. } if n.value == 1));
}

#[test]
fn comments_are_collected() {
    let parsed = parse(SPEC);
    let comments = &parsed.file.comments;
    assert!(comments.iter().any(|c| c.text == "// the timeout path"));
    for c in comments {
        assert_eq!(&SPEC[c.span.start..c.span.end], c.text);
        assert!(c.text.starts_with("//") || c.text.starts_with("/*"));
    }
    // `//` inside strings is not a comment.
    assert!(!comments.iter().any(|c| c.text.starts_with("//loyalty")));
    let blocks = parse("/* a */ type A = /* b */ int // c\n/// d\ntype B = string");
    let texts: Vec<_> = blocks.file.comments.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, ["/* a */", "/* b */", "// c", "/// d"]);
    assert_eq!(blocks.file.items[1].doc.as_deref(), Some("d"));
    assert_eq!(blocks.file.items[0].doc, None);
}

#[test]
fn text_helpers() {
    let parsed = journey_grammar::parse_expr("'x'").unwrap();
    assert_eq!(text(&parsed), "x");
}

#[test]
fn split_percentages_may_have_fractions() {
    let src = "journey J { split { 33.3% -> { } 66.7% \"b\" -> { end } } }";
    let parsed = parse(src);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    let ItemKind::Journey(j) = &parsed.file.items[0].kind else { panic!() };
    let StmtKind::Split(branches) = &j.body.stmts[0].kind else { panic!() };
    assert_eq!(branches[0].percent, 33.3);
    assert_eq!(&src[branches[0].percent_span.start..branches[0].percent_span.end], "33.3%");
    assert!(branches[0].label.is_none());
    assert_eq!(branches[1].label.as_ref().unwrap().value, "b");
    // `%` outside a split is the remainder operator.
    assert!(matches!(journey_grammar::parse_expr("7 % 2").unwrap().kind, ExprKind::Binary { op: BinaryOp::Rem, .. }));
}

#[test]
fn auth_forms_and_optional_parts() {
    let src = "\
datasource D = http GET \"u\"
action A(u: string) = http PUT \"u\" {
  auth none
}
action B() = http POST \"u\" { auth basic \"user\" secret(\"P\") }
action C() = http POST \"u\" { auth header \"X-Key\" secret(\"K\") query { page: 1 } }
event E: T
";
    let parsed = parse(src);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    let auth = |i: usize| match &parsed.file.items[i].kind {
        ItemKind::Action(a) => a.options[0].kind.clone(),
        k => panic!("{k:?}"),
    };
    assert!(
        matches!(&parsed.file.items[0].kind, ItemKind::DataSource(d) if d.params.is_empty() && d.options.is_empty())
    );
    assert!(matches!(auth(1), HttpOptionKind::Auth(Auth::None)));
    assert!(matches!(auth(2), HttpOptionKind::Auth(Auth::Basic { .. })));
    assert!(matches!(auth(3), HttpOptionKind::Auth(Auth::Header { name, .. }) if name.value == "X-Key"));
    assert!(matches!(&parsed.file.items[4].kind, ItemKind::Event(e) if e.key.is_none() && e.when.is_none()));
}

/// Goals (docs/language.md, Goals and experiments): every part of the setting, in any order of
/// the optional parts the grammar allows, and the test statements that check them.
#[test]
fn goals_and_their_expectations() {
    let src = r#"
journey CartRecovery {
  start on CartAdd
  goal "purchase" on Purchase as p where p.commerce.order.priceTotal > 0 within 7d value p.commerce.order.priceTotal
  goal "any-visit" on PageView within 3d
  split {
    50% "control" -> { }
    50% "B" -> { }
  }
}
test "t" {
  expect CartRecovery converted "purchase"
  expect no CartRecovery converted "purchase"
  expect CartRecovery arm "B"
}
"#;
    let parsed = parse(src);
    assert!(parsed.errors.is_empty(), "{:#?}", parsed.errors);
    let j = journey(&parsed.file.items, "CartRecovery");
    let goals: Vec<&Goal> = j
        .settings
        .iter()
        .filter_map(|s| match &s.kind {
            JourneySettingKind::Goal(g) => Some(g),
            _ => None,
        })
        .collect();
    assert_eq!(goals.len(), 2);
    let g = goals[0];
    assert_eq!((g.name.value.as_str(), g.event.name.as_str()), ("purchase", "Purchase"));
    assert_eq!(g.binding.as_ref().map(|b| b.name.as_str()), Some("p"));
    assert!(g.condition.is_some() && g.value.is_some());
    assert_eq!(g.window.millis, 7 * 86_400_000);
    let g = goals[1];
    assert!(g.binding.is_none() && g.condition.is_none() && g.value.is_none());
    assert_eq!(g.window.millis, 3 * 86_400_000);
    let t = parsed
        .file
        .items
        .iter()
        .find_map(|i| match &i.kind {
            ItemKind::Test(t) => Some(t),
            _ => None,
        })
        .expect("the test");
    let k: Vec<_> = t.stmts.iter().map(|s| &s.kind).collect();
    assert!(matches!(k[0], TestStmtKind::ExpectConverted { no: false, journey, goal }
        if journey.name == "CartRecovery" && goal.value == "purchase"));
    assert!(matches!(k[1], TestStmtKind::ExpectConverted { no: true, .. }));
    assert!(
        matches!(k[2], TestStmtKind::ExpectArm { journey, arm } if journey.name == "CartRecovery" && arm.value == "B")
    );
}
