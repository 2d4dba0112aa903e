//! Hostile input: parsing finishes, reports errors, and never overflows the stack.

#[path = "support/noise.rs"]
mod noise;

use journey_grammar::{parse, parse_expr};
use noise::noise;

fn spans_ok(src: &str) {
    let parsed = parse(src);
    for e in &parsed.errors {
        assert!(e.span.start <= e.span.end && e.span.end <= src.len(), "{e:?}");
        assert!(src.is_char_boundary(e.span.start) && src.is_char_boundary(e.span.end), "{e:?}");
    }
}

#[test]
fn megabyte_of_random_bytes() {
    let src = String::from_utf8_lossy(&noise(1 << 20, 0x9e3779b97f4a7c15)).into_owned();
    let parsed = parse(&src);
    assert!(!parsed.errors.is_empty());
    spans_ok(&src);
}

#[test]
fn random_tokens() {
    let words = [
        "journey", "J", "{", "}", "(", ")", "[", "]", "let", "x", "=", "wait", "1h", "if", "then", "else", "\"s", "\"",
        "'", "${", "->", "on", "await", "split", "10%", ",", ":", "\n", "//", "/*", "*/", "end", "test", "send", "E",
        "schema", "type", "event", "audience", "profile", "=", "xdm", ".", "`",
    ];
    let picks = noise(60_000, 42);
    let mut src = String::new();
    for (i, b) in picks.iter().enumerate() {
        src.push_str(words[*b as usize % words.len()]);
        src.push(if i % 7 == 0 { '\n' } else { ' ' });
    }
    let parsed = parse(&src);
    assert!(!parsed.errors.is_empty());
    spans_ok(&src);
}

#[test]
fn unclosed_brackets_100k() {
    for open in ["(", "[", "{", "${", "list<", "if "] {
        let src = format!("journey J {{\n  let x = {}\n}}\n", open.repeat(100_000));
        let parsed = parse(&src);
        assert!(!parsed.errors.is_empty(), "{open}");
        assert!(parsed.errors.iter().any(|e| e.message.contains("nesting too deep")), "{open}");
        let expr = open.repeat(100_000);
        assert!(parse_expr(&expr).is_err());
    }
}

#[test]
fn nesting_at_the_limit_parses() {
    // 190 nested parentheses (below the limit of 200) inside a journey.
    let src = format!("journey J {{\n  let x = {}1{}\n}}\n", "(".repeat(190), ")".repeat(190));
    let parsed = parse(&src);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    let e = parse_expr(&format!("{}1{}", "[".repeat(190), "]".repeat(190)));
    assert!(e.is_ok(), "{e:?}");
    // Blocks nested 60 deep (each `if` adds a level).
    let mut body = String::from("end");
    for _ in 0..60 {
        body = format!("if a {{ {body} }}");
    }
    let parsed = parse(&format!("journey J {{ {body} }}"));
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
}

#[test]
fn items_after_deep_nesting_survive() {
    let src = format!("type A = int\njourney J {{\n  let x = {}\n}}\ntype B = string\n", "(".repeat(5000));
    let parsed = parse(&src);
    let names: Vec<_> = parsed
        .file
        .items
        .iter()
        .filter_map(|i| match &i.kind {
            journey_grammar::ast::ItemKind::Type { name, .. } => Some(name.name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["A", "B"]);
}

#[test]
fn long_operator_chains_are_bounded() {
    let chain = vec!["1"; 20_000].join(" + ");
    assert!(parse_expr(&chain).is_err());
    let nots = format!("{}true", "not ".repeat(20_000));
    assert!(parse_expr(&nots).is_err());
    let negs = format!("{}1", "-".repeat(20_000));
    assert!(parse_expr(&negs).is_err());
    let src = format!("journey J {{ let x = {chain} }}");
    let parsed = parse(&src);
    assert_eq!(parsed.errors.len(), 1, "{:?}", parsed.errors);
    // A chain of 200 is fine.
    assert!(parse_expr(&vec!["1"; 200].join(" + ")).is_ok());
}

#[test]
fn megabyte_valid_file() {
    let one = include_str!("data/spec.journey");
    let mut src = String::new();
    let mut n = 0;
    while src.len() < 1 << 20 {
        src.push_str(&one.replace("journey ", &format!("journey N{n}")));
        n += 1;
    }
    let parsed = parse(&src);
    assert!(parsed.errors.is_empty(), "{:?}", &parsed.errors[..1]);
    assert_eq!(parsed.file.items.len(), 17 * n);
}

#[test]
fn unterminated_things() {
    for src in [
        "journey J { let x = \"abc\n}",
        "journey J { let x = 'abc\n}",
        "journey J { let x = `abc\n}",
        "/* never closed",
        "journey J { /* never closed }",
        "journey J { let x = \"${ 1 + }\" }",
        "journey J { let x = \"${\" }",
        "\u{FEFF}type A = int",
        "",
        "   \n\t ",
    ] {
        spans_ok(src);
    }
    assert!(parse("\u{FEFF}type A = int").errors.is_empty());
}
