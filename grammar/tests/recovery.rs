//! Error recovery: every broken declaration or statement is reported, the rest is kept.

use journey_grammar::ast::*;
use journey_grammar::{parse, Parsed};

fn line_of(src: &str, pos: usize) -> usize {
    src[..pos].matches('\n').count() + 1
}

fn lines(src: &str, parsed: &Parsed) -> Vec<usize> {
    parsed.errors.iter().map(|e| line_of(src, e.span.start)).collect()
}

fn journey<'a>(parsed: &'a Parsed, name: &str) -> &'a JourneyDecl {
    parsed
        .file
        .items
        .iter()
        .find_map(|i| match &i.kind {
            ItemKind::Journey(j) if j.name.name == name => Some(j),
            _ => None,
        })
        .expect("journey")
}

fn stmt_kinds(stmts: &[Stmt]) -> Vec<&'static str> {
    stmts
        .iter()
        .map(|s| match &s.kind {
            StmtKind::Let { .. } => "let",
            StmtKind::Wait(_) => "wait",
            StmtKind::WaitUntil(_) => "wait until",
            StmtKind::Await { .. } => "await",
            StmtKind::If { .. } => "if",
            StmtKind::Split(_) => "split",
            StmtKind::Cap { .. } => "cap",
            StmtKind::Call(_) => "call",
            StmtKind::UpdateProfile(_) => "update",
            StmtKind::Jump(_) => "jump",
            StmtKind::End(_) => "end",
            StmtKind::Send(_) => "send",
            StmtKind::Error => "ERROR",
        })
        .collect()
}

#[test]
fn three_broken_statements() {
    let src = "\
event E: T { key a }
journey J {
  start on E
  wait 1h
  let x = = 3
  wait 2h
  = oops
  if x > 1 { end \"big\" }
  let y 4
  end \"ok\"
}
";
    let parsed = parse(src);
    assert_eq!(lines(src, &parsed), [5, 7, 9], "{:#?}", parsed.errors);
    let e = &parsed.errors[1];
    assert_eq!(e.message, "expected `}` or a statement, found `=`");
    assert_eq!(e.expected, ["`}`", "a statement"]);
    assert_eq!(&src[e.span.start..e.span.end], "=");
    assert_eq!(parsed.errors[0].message, "expected an expression, found `=`");
    assert_eq!(parsed.errors[2].message, "expected `=`, found `4`");
    assert_eq!(&src[parsed.errors[2].span.start..parsed.errors[2].span.end], "4");
    let j = journey(&parsed, "J");
    assert_eq!(j.settings.len(), 1);
    assert_eq!(stmt_kinds(&j.body.stmts), ["wait", "ERROR", "wait", "ERROR", "if", "ERROR", "end"]);
    let bad = &j.body.stmts[1];
    assert_eq!(&src[bad.span.start..bad.span.end], "let x = = 3");
}

#[test]
fn two_broken_declarations() {
    let src = "\
type T = { a: int }
schema = xdm \"x\"
event E: T { key a }
type U = list<int
audience VIP
journey J { start on E end }
";
    let parsed = parse(src);
    assert_eq!(lines(src, &parsed), [2, 4], "{:#?}", parsed.errors);
    assert_eq!(parsed.errors[0].message, "expected a name, found `=`");
    let kinds: Vec<_> = parsed
        .file
        .items
        .iter()
        .map(|i| match &i.kind {
            ItemKind::Type { name, .. } => format!("type {}", name.name),
            ItemKind::Event(e) => format!("event {}", e.name.name),
            ItemKind::Audience { name } => format!("audience {}", name.name),
            ItemKind::Journey(j) => format!("journey {}", j.name.name),
            ItemKind::Error => "ERROR".into(),
            _ => "other".into(),
        })
        .collect();
    assert_eq!(kinds, ["type T", "ERROR", "event E", "ERROR", "audience VIP", "journey J"]);
}

#[test]
fn garbage_between_declarations() {
    let src = "type A = int\n}}} what is this ))\n  more junk\ntype B = int\n";
    let parsed = parse(src);
    assert_eq!(parsed.errors.len(), 1);
    assert_eq!(parsed.errors[0].message, format!("expected {}, found `}}`", DECL));
    assert_eq!(parsed.file.items.len(), 3);
    let bad = &parsed.file.items[1];
    assert_eq!(&src[bad.span.start..bad.span.end], "}}} what is this ))\n  more junk");
}

const DECL: &str = "a declaration (schema, type, profile, event, audience, datasource, action, journey, test)";

#[test]
fn unclosed_journey_at_end() {
    let src = "type T = { a: int }\nevent E: T { key a }\njourney J {\n  start on E\n  if a == 1 {\n    wait 1h\n  }\n";
    let parsed = parse(src);
    assert_eq!(parsed.errors.len(), 1, "{:#?}", parsed.errors);
    // Reported at the `{` left open (the `if` is closed, so the journey's), naming it; where
    // the parser noticed is a secondary label.
    let e = &parsed.errors[0];
    assert_eq!(e.message, "unclosed `{`: journey `J` is never closed");
    let brace = src.find("J {").unwrap() + 2;
    assert_eq!(e.span, Span::new(brace, brace + 1));
    assert_eq!(e.labels.last().map(|l| l.0), Some(Span::new(src.len(), src.len())));
    assert_eq!(parsed.file.items.len(), 3);
    assert_eq!(stmt_kinds(&journey(&parsed, "J").body.stmts), ["if"]);
}

#[test]
fn unclosed_block_before_next_declaration() {
    let src = "journey J {\n  if a {\n    wait 1h\n\njourney K {\n  end\n}\n";
    let parsed = parse(src);
    assert_eq!(parsed.errors.len(), 1, "{:#?}", parsed.errors);
    let e = &parsed.errors[0];
    assert_eq!(line_of(src, e.span.start), 2, "at the `if`'s `{{`");
    assert_eq!(e.message, "unclosed `{`: the `if` block is never closed");
    let (noticed, label) = e.labels.last().unwrap();
    assert_eq!(line_of(src, noticed.start), 5);
    assert!(label.contains("at `journey`"), "{label}");
    assert_eq!(stmt_kinds(&journey(&parsed, "J").body.stmts), ["if"]);
    assert_eq!(stmt_kinds(&journey(&parsed, "K").body.stmts), ["end"]);
}

#[test]
fn errors_inside_nested_blocks() {
    let src = "\
journey K {
  if a {
    wait 1h
    let = 2
  } else {
    jump J
  }
  await {
    on E -> { }
    on -> { }
    after 1h -> { }
  }
  split {
    50% -> { }
    50 \"x\" -> { }
  }
  update profile { a.b = 1, c = , d = 2 }
  end
}
";
    let parsed = parse(src);
    assert_eq!(lines(src, &parsed), [4, 10, 15, 17], "{:#?}", parsed.errors);
    let j = journey(&parsed, "K");
    assert_eq!(stmt_kinds(&j.body.stmts), ["if", "await", "split", "update", "end"]);
    let StmtKind::If { branches, otherwise: Some(_) } = &j.body.stmts[0].kind else { panic!() };
    assert_eq!(stmt_kinds(&branches[0].1.stmts), ["wait", "ERROR"]);
    let StmtKind::Await { arms, after: Some(_) } = &j.body.stmts[1].kind else { panic!() };
    assert_eq!(arms.len(), 1);
    let StmtKind::Split(branches) = &j.body.stmts[2].kind else { panic!() };
    assert_eq!(branches.len(), 1);
    let StmtKind::UpdateProfile(assign) = &j.body.stmts[3].kind else { panic!() };
    assert_eq!(assign.len(), 2);
}

#[test]
fn broken_options_clauses_and_test_statements() {
    let src = "\
action A(x: string) = http POST \"u\" {
  timeout 5
  retry 3
  headers { \"a\": 1 }
}
event F: T {
  key a
  wen b
}
test \"t\" {
  send E { a: 1 }
  sned E { a: 1 }
  expect J ended
  expect J finished
}
";
    let parsed = parse(src);
    assert_eq!(lines(src, &parsed), [2, 8, 12, 14], "{:#?}", parsed.errors);
    assert_eq!(parsed.errors[0].message, "expected a duration like `30m`, found `5`");
    assert_eq!(parsed.errors[1].message, "expected `}`, `key` or `when`, found `wen`");
    assert_eq!(parsed.errors[2].message, "expected `}` or a test statement, found `sned`");
    assert_eq!(parsed.errors[3].message, "expected `arm`, `converted`, `ended` or `running`, found `finished`");
    let ItemKind::Action(a) = &parsed.file.items[0].kind else { panic!() };
    assert_eq!(a.options.len(), 2);
    let ItemKind::Event(e) = &parsed.file.items[1].kind else { panic!() };
    assert!(e.key.is_some() && e.when.is_none());
    let ItemKind::Test(t) = &parsed.file.items[2].kind else { panic!() };
    let errors = t.stmts.iter().filter(|s| s.kind == TestStmtKind::Error).count();
    assert_eq!((t.stmts.len(), errors), (4, 2));
}

#[test]
fn concurrency_takes_a_count_and_stays_a_usable_name() {
    let src = "\
action A() = http POST \"u\" {
  concurrency 8
}
action B() = http POST \"u\" {
  concurrency many
  timeout 2s
}
journey J {
  let concurrency = 1
}
";
    let parsed = parse(src);
    assert_eq!(lines(src, &parsed), [5], "{:#?}", parsed.errors);
    assert_eq!(parsed.errors[0].message, "expected an integer, found `many`");
    let ItemKind::Action(a) = &parsed.file.items[0].kind else { panic!() };
    assert!(matches!(&a.options[..], [HttpOption { kind: HttpOptionKind::Concurrency(n), .. }] if n.value == 8));
    let ItemKind::Action(b) = &parsed.file.items[1].kind else { panic!() };
    assert!(matches!(&b.options[..], [HttpOption { kind: HttpOptionKind::Timeout(_), .. }]), "{:?}", b.options);
}

#[test]
fn keywords_cannot_name_locals_or_declarations() {
    let parsed = parse("journey end { }\njourney J {\n  let wait = 1\n  end\n}\n");
    let messages: Vec<_> = parsed.errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "`end` is a keyword: it cannot name a declaration or a local",
            "`wait` is a keyword: it cannot name a declaration or a local"
        ]
    );
}

#[test]
fn settings_interleaved_with_statements() {
    let src = "journey J {\n  wait 1h\n  start on E\n  end\n  timeout 30d\n}\n";
    let parsed = parse(src);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    let j = journey(&parsed, "J");
    assert_eq!(j.settings.len(), 2);
    assert_eq!(stmt_kinds(&j.body.stmts), ["wait", "end"]);
    assert_eq!(&src[j.body.span.start..j.body.span.end], "wait 1h\n  start on E\n  end");
}

#[test]
fn await_arrow_is_not_a_lambda() {
    let src = "journey J { await { on P as p where p.total > 0 -> { end } after 1h -> { } } }";
    let parsed = parse(src);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
}

#[test]
fn errors_are_sorted_and_spans_are_tokens() {
    let src = "journey J {\n  wait = 1h\n}\njourney K {\n  let x = 1 +\n}\n";
    let parsed = parse(src);
    assert_eq!(parsed.errors.len(), 2, "{:#?}", parsed.errors);
    assert!(parsed.errors[0].span.start < parsed.errors[1].span.start);
    for e in &parsed.errors {
        assert!(e.span.end - e.span.start <= 1, "{e:?}");
    }
    assert_eq!(parsed.errors[0].message, "expected `until` or an expression, found `=`");
    assert_eq!(parsed.errors[1].message, "expected an expression, found `}`");
}

#[test]
fn typical_mistakes() {
    let src = "\
journey J {
  if x = 1 { end }
  await {
    on E { end }
    after 1h -> { }
  }
  call A(to: x
  wait 1h
  let s = \"abc
  let r = { a: 1 b: 2 }
  let q = f(x -> )
  if a { end } else garbage
  call B() on tiemout { }
  let z = 1 +
}
";
    let parsed = parse(src);
    let got: Vec<(usize, &str)> =
        parsed.errors.iter().map(|e| (line_of(src, e.span.start), e.message.as_str())).collect();
    assert_eq!(
        got,
        [
            (2, "expected `{` or an operator, found `=`"),
            (4, "expected `->`, `as` or `where`, found `{`"),
            (7, "expected `)`, `,` or an operator, found `wait`"),
            (9, "unterminated string: a string must end on the line where it starts"),
            (10, "expected `}`, `,` or an operator, found `b`"),
            (11, "expected an expression, found `)`"),
            (12, "expected `{` or `if`, found `garbage`"),
            (13, "expected `error` or `timeout`, found `tiemout`"),
            (14, "expected an expression, found `}`"),
        ]
    );
    // A missing `)` is reported where the line ends, not at the next line's `wait`.
    let e = &parsed.errors[2];
    assert_eq!(e.span.start, e.span.end);
    assert_eq!(&src[e.span.start - 4..e.span.start], "to: x".get(1..).unwrap());
    let j = journey(&parsed, "J");
    // Each broken statement is one error node, including a good-looking prefix (`call A`).
    assert_eq!(
        stmt_kinds(&j.body.stmts),
        ["ERROR", "await", "ERROR", "wait", "ERROR", "ERROR", "ERROR", "ERROR", "ERROR", "ERROR"]
    );
    let texts: Vec<_> = j.body.stmts.iter().map(|s| &src[s.span.start..s.span.end]).collect();
    assert_eq!(texts[2], "call A(to: x");
    assert_eq!(texts[6], "let q = f(x -> )");
    assert_eq!(texts[7], "if a { end } else garbage");
    assert_eq!(texts[9], "let z = 1 +");
}
