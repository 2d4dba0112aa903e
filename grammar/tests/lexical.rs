//! Literals: numbers, durations, dates and times, strings, escapes, interpolation, names.

use journey_grammar::ast::*;
use journey_grammar::{parse, parse_expr};

fn kind(src: &str) -> ExprKind {
    match parse_expr(src) {
        Ok(e) => e.kind,
        Err(e) => panic!("{src}: {e:?}"),
    }
}

fn err(src: &str) -> String {
    match parse_expr(src) {
        Ok(e) => panic!("{src} parsed: {e:?}"),
        Err(e) => e.message,
    }
}

fn text(src: &str) -> String {
    match kind(src) {
        ExprKind::Str(parts) => match parts.as_slice() {
            [StrPart::Text(t)] => t.clone(),
            _ => panic!("{parts:?}"),
        },
        k => panic!("{k:?}"),
    }
}

#[test]
fn numbers() {
    assert_eq!(kind("42"), ExprKind::Int(42));
    assert_eq!(kind("1_000"), ExprKind::Int(1000));
    assert_eq!(kind("2.75"), ExprKind::Number(2.75));
    assert_eq!(kind("1e-3"), ExprKind::Number(1e-3));
    assert_eq!(kind("2E+2"), ExprKind::Number(200.0));
    assert_eq!(kind("9223372036854775807"), ExprKind::Int(i64::MAX));
    assert!(err("9223372036854775808").contains("too large"));
    assert!(matches!(kind("-7"), ExprKind::Unary { op: UnaryOp::Neg, .. }));
    assert!(parse_expr("3abc").is_err());
    assert!(parse_expr("1__0").is_err());
}

#[test]
fn durations_in_millis() {
    for (src, ms) in [
        ("500ms", 500),
        ("30s", 30_000),
        ("15m", 900_000),
        ("2h", 7_200_000),
        ("7d", 604_800_000),
        ("2w", 1_209_600_000),
        ("1d12h", 129_600_000),
        ("1h30m", 5_400_000),
        ("1m30s500ms", 90_500),
        ("1_000ms", 1000),
    ] {
        assert_eq!(kind(src), ExprKind::Duration(ms), "{src}");
    }
    assert!(parse_expr("15min").is_err());
    assert!(err("99999999999999w").contains("too long"));
}

#[test]
fn dates_and_times() {
    assert_eq!(kind("2026-12-24"), ExprKind::Date("2026-12-24".into()));
    for dt in [
        "2026-12-24T10:00:00Z",
        "2026-12-24T10:00:00+01:00",
        "2026-12-24T10:00:00-05:30",
        "2026-12-24T10:00:00.123Z",
        "2026-12-24T10:00:00",
    ] {
        assert_eq!(kind(dt), ExprKind::DateTime(dt.into()), "{dt}");
    }
    assert_eq!(kind("09:00"), ExprKind::Time("09:00".into()));
    assert_eq!(kind("17:30:15"), ExprKind::Time("17:30:15".into()));
    // Ranges are the compiler's to check (with a suggestion); the parser keeps the text.
    assert_eq!(kind("2026-13-01"), ExprKind::Date("2026-13-01".into()));
}

#[test]
fn strings_and_escapes() {
    assert_eq!(text(r#""cart-a""#), "cart-a");
    assert_eq!(text("'single'"), "single");
    assert_eq!(text(r#""a\"b\\c\/d\n\t\r\b\f""#), "a\"b\\c/d\n\t\r\u{8}\u{c}");
    assert_eq!(text(r#"'it\'s'"#), "it's");
    assert_eq!(text(r#"'say "hi"'"#), "say \"hi\"");
    assert_eq!(text(r#""caf\u00e9""#), "café");
    assert_eq!(text(r#""\ud83d\ude00""#), "😀");
    assert_eq!(text(r#""\\.""#), "\\.");
    assert_eq!(text(r#""""#), "");
    assert_eq!(text(r#""price: $5""#), "price: $5");
    assert_eq!(text(r#""\${x}""#), "${x}");
    assert_eq!(text("'${x}'"), "${x}");
    assert_eq!(text(r#""émoji ✓""#), "émoji ✓");
}

#[test]
fn bad_escapes_are_errors() {
    let e = parse_expr(r#""a\.b""#).unwrap_err();
    assert!(e.message.starts_with("unknown escape `\\.`"), "{}", e.message);
    assert_eq!((e.span.start, e.span.end), (2, 4));
    assert!(err(r#""\u12""#).contains("four hex digits"));
    assert!(err(r#""\ud83d""#).contains("surrogate"));
    assert!(err(r#"'\x41'"#).contains("unknown escape"));
    assert!(err("\"abc").contains("unterminated string"));
    assert!(err("\"abc\ndef\"").contains("unterminated string"));
}

#[test]
fn interpolation_parts() {
    let ExprKind::Str(parts) = kind(r#""Hi ${profile.person.name.firstName}, you have ${n + 1} points""#) else {
        panic!()
    };
    assert_eq!(parts.len(), 5);
    assert_eq!(parts[0], StrPart::Text("Hi ".into()));
    assert!(matches!(&parts[1], StrPart::Interp(Expr { kind: ExprKind::Field { .. }, .. })));
    assert_eq!(parts[2], StrPart::Text(", you have ".into()));
    assert!(matches!(&parts[3], StrPart::Interp(Expr { kind: ExprKind::Binary { op: BinaryOp::Add, .. }, .. })));
    assert_eq!(parts[4], StrPart::Text(" points".into()));
    let ExprKind::Str(parts) = kind(r#""${a}${ "x${b}" }""#) else { panic!() };
    assert_eq!(parts.len(), 2);
    assert!(matches!(&parts[1], StrPart::Interp(Expr { kind: ExprKind::Str(inner), .. }) if inner.len() == 2));
    // The interpolation's span points into the source.
    let e = parse_expr(r#""a ${x} b""#).unwrap();
    let ExprKind::Str(parts) = e.kind else { panic!() };
    let StrPart::Interp(x) = &parts[1] else { panic!() };
    assert_eq!(x.span, Span::new(5, 6));
}

#[test]
fn interpolation_not_allowed_in_plain_strings() {
    let parsed = parse("journey J { timezone \"Europe/${x}\" end \"a${b}\" }");
    assert_eq!(parsed.errors.len(), 2, "{:?}", parsed.errors);
    assert!(parsed.errors[0].message.contains("not allowed"));
}

#[test]
fn names_and_backticks() {
    assert!(matches!(kind("_x1"), ExprKind::Name(n) if n.name == "_x1"));
    assert!(matches!(kind("`@id`"), ExprKind::Name(n) if n.name == "@id" && n.span == Span::new(0, 5)));
    let ExprKind::Field { name, .. } = kind("event.`@id`") else { panic!() };
    assert_eq!(name.name, "@id");
    assert_eq!(name.span, Span::new(6, 11));
    let ExprKind::Record(entries) = kind(r#"{ "X-Key": "k", `y-z`: 1, plain: 2 }"#) else { panic!() };
    let keys: Vec<_> = entries.iter().map(|e| e.key.name.as_str()).collect();
    assert_eq!(keys, ["X-Key", "y-z", "plain"]);
    assert_eq!(entries[0].key.span, Span::new(2, 9));
}

#[test]
fn literals_true_false_null() {
    assert_eq!(kind("true"), ExprKind::Bool(true));
    assert_eq!(kind("false"), ExprKind::Bool(false));
    assert_eq!(kind("null"), ExprKind::Null);
    assert!(matches!(kind("nullable"), ExprKind::Name(n) if n.name == "nullable"));
    assert!(matches!(kind("trueish"), ExprKind::Name(_)));
}

#[test]
fn comments_between_tokens() {
    let e = kind("1 /* one */ + // plus\n 2");
    assert!(matches!(e, ExprKind::Binary { op: BinaryOp::Add, op_span, .. } if op_span == Span::new(12, 13)));
    let parsed = parse("type A = /* x */ int // y\n/* z */");
    assert!(parsed.errors.is_empty());
    assert_eq!(parsed.file.comments.len(), 3);
}
