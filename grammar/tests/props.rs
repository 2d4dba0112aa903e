//! Property tests: `parse` never panics, and every span lies in the input on char boundaries.

use journey_grammar::{parse, parse_expr};
use proptest::prelude::*;

const SPEC: &str = include_str!("data/spec.journey");

/// Every `Span { start: a, end: b }` in a value's debug form.
fn spans(debug: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut rest = debug;
    while let Some(k) = rest.find("Span { start: ") {
        rest = &rest[k + 14..];
        let (a, tail) = rest.split_once(", end: ").expect("span end");
        let (b, tail) = tail.split_once(' ').expect("span close");
        out.push((a.parse().expect("start"), b.parse().expect("end")));
        rest = tail;
    }
    out
}

fn check(src: &str) {
    let parsed = parse(src);
    let debug = format!("{parsed:?}");
    for (a, b) in spans(&debug) {
        assert!(a <= b && b <= src.len(), "span {a}..{b} outside {} bytes", src.len());
        assert!(src.is_char_boundary(a) && src.is_char_boundary(b), "span {a}..{b} not on char boundaries");
    }
    let mut last = 0;
    for e in &parsed.errors {
        assert!(e.span.start >= last, "errors out of order");
        last = e.span.start;
        assert!(!e.message.is_empty());
    }
    if let Ok(e) = parse_expr(src) {
        for (a, b) in spans(&format!("{e:?}")) {
            assert!(a <= b && b <= src.len() && src.is_char_boundary(a) && src.is_char_boundary(b));
        }
    }
}

/// Source-like fragments, to reach deeper than random characters do.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("journey J {".to_string()),
        Just("}".to_string()),
        Just("{".to_string()),
        Just("\n".to_string()),
        Just("let x = ".to_string()),
        Just("wait 1h".to_string()),
        Just("await { on E as e where e.x > 1 -> { end } after 2h -> { } }".to_string()),
        Just("if a { end } else { }".to_string()),
        Just("split { 50% \"a\" -> { } 50% -> { } }".to_string()),
        Just("call A(to: x, y -> y + 1) on error { }".to_string()),
        Just("\"s ${x} \\u00e9\"".to_string()),
        Just("'q'".to_string()),
        Just("`@id`".to_string()),
        Just("test \"t\" { send E { a: [1, 2.5, null] } expect J ended }".to_string()),
        Just("action A(x: list<int>?) = http POST \"u\" { retry 3 backoff 2s }".to_string()),
        Just("/* c */".to_string()),
        Just("// c\n".to_string()),
        Just("/// d\n".to_string()),
        "[a-z(){}\\[\\]\"'`$.,:=<>!?%+*/ -]{0,8}",
        "\\PC{0,4}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings(src in "\\PC{0,200}") {
        check(&src);
    }

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        check(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn token_soup(parts in proptest::collection::vec(fragment(), 0..40)) {
        check(&parts.join(" "));
    }

    #[test]
    fn edited_valid_source(edits in proptest::collection::vec((any::<prop::sample::Index>(), 0usize..12, any::<u8>(), 0u8..3), 1..6)) {
        let mut bytes = SPEC.as_bytes().to_vec();
        for (at, len, byte, op) in edits {
            let i = at.index(bytes.len() + 1);
            match op {
                0 => { bytes.drain(i..(i + len).min(bytes.len())); }
                1 => { bytes.splice(i..i, std::iter::repeat_n(byte, len.max(1))); }
                _ => if i < bytes.len() { bytes[i] = byte; },
            }
        }
        check(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn spans_helper_reads_debug_output() {
    assert_eq!(spans("X { span: Span { start: 1, end: 22 }, y: Span { start: 3, end: 4 } }"), [(1, 22), (3, 4)]);
}
