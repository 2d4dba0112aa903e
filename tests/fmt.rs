//! `journey fmt`: golden files, properties (idempotent, same tree, same comments) over the
//! examples, mutated examples and generated expressions, and the command's contract.
//!
//! Golden cases are folders `tests/fmt/NAME/` holding `input.journey` and `expected.journey`;
//! `BLESS=1` rewrites the expected files after a reviewed change.

use journey_grammar::fmt::format;
use proptest::prelude::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The tree as JSON with every span removed (a `{start, end}` object becomes null).
fn shape(src: &str) -> Value {
    let parsed = journey_grammar::parse(src);
    assert!(parsed.errors.is_empty(), "does not parse: {:?}\n{src}", parsed.errors);
    let mut v = serde_json::to_value(&parsed.file.items).expect("the tree serializes");
    strip_spans(&mut v);
    v
}

fn strip_spans(v: &mut Value) {
    match v {
        Value::Object(map) => {
            let is_span = map.len() == 2 && map.contains_key("start") && map.contains_key("end");
            if is_span {
                *v = Value::Null;
                return;
            }
            for x in map.values_mut() {
                strip_spans(x);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_spans),
        _ => {}
    }
}

/// The comment texts, sorted (line comments without trailing spaces, as `fmt` writes them).
fn comments(src: &str) -> Vec<String> {
    let mut v: Vec<String> = journey_grammar::parse(src)
        .file
        .comments
        .iter()
        .map(|c| if c.text.starts_with("//") { c.text.trim_end().to_string() } else { c.text.clone() })
        .collect();
    v.sort();
    v
}

/// Formats `src` and checks the three properties; returns the formatted text.
fn check_props(src: &str) -> String {
    let once = format(src).unwrap_or_else(|e| panic!("syntax errors: {e:?}\n{src}"));
    let twice = format(&once).expect("formatted text parses");
    assert!(
        once == twice,
        "formatting is not idempotent\n--- input ---\n{src}\n--- once ---\n{once}\n--- twice ---\n{twice}"
    );
    assert!(shape(src) == shape(&once), "the tree changed\n--- input ---\n{src}\n--- formatted ---\n{once}");
    let (before, after) = (comments(src), comments(&once));
    if before != after {
        let lost: Vec<_> = before.iter().filter(|c| !after.contains(c)).collect();
        let new: Vec<_> = after.iter().filter(|c| !before.contains(c)).collect();
        panic!("comments changed: lost {lost:?}, new {new:?}\n--- input ---\n{src}\n--- formatted ---\n{once}");
    }
    once
}

fn example_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir("examples")
        .expect("examples exist")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "journey"))
        .collect();
    files.sort();
    files.push(PathBuf::from("tests/ui/ok_full_journey.journey"));
    files
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn examples_keep_tree_and_comments_and_format_idempotently() {
    for f in example_files() {
        check_props(&read(&f));
    }
}

/// Every `.journey` file under `dir` (recursively).
fn journey_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries {
        let p = e.expect("entry").path();
        if p.is_dir() {
            journey_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "journey") {
            out.push(p);
        }
    }
}

#[test]
fn every_test_script_that_parses_keeps_the_properties() {
    let mut files = Vec::new();
    for dir in ["tests", "grammar/tests"] {
        journey_files(Path::new(dir), &mut files);
    }
    files.retain(|p| !p.starts_with("tests/fmt"));
    assert!(files.len() > 20, "{files:?}");
    for f in files {
        let src = read(&f);
        if journey_grammar::fmt::format(&src).is_ok() {
            check_props(&src);
        }
    }
}

#[test]
fn golden_files() {
    let bless = std::env::var_os("BLESS").is_some();
    let mut cases: Vec<PathBuf> =
        std::fs::read_dir("tests/fmt").expect("tests/fmt exists").map(|e| e.expect("entry").path()).collect();
    cases.sort();
    assert!(cases.len() >= 5, "golden cases missing");
    let mut failures = Vec::new();
    for case in cases {
        let input = read(&case.join("input.journey"));
        let got = check_props(&input);
        let expected_path = case.join("expected.journey");
        if bless {
            std::fs::write(&expected_path, &got).expect("write expected");
            continue;
        }
        let want = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if want != got {
            failures.push(format!("--- {} ---\nexpected:\n{want}\ngot:\n{got}", expected_path.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden files differ (BLESS=1 rewrites them):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The whitespace runs of `src` outside strings, backticked names and comments, with
/// whether a line comment ends just before the run; and, as empty runs, the places just inside
/// brackets and after commas (where a comment may go though no space is written).
fn whitespace_runs(src: &str) -> Vec<(usize, usize, bool)> {
    let comments = journey_grammar::parse(src).file.comments;
    let b = src.as_bytes();
    let (mut runs, mut i, mut c) = (Vec::new(), 0, 0);
    let mut quote: Option<u8> = None;
    // Open braces: `Some(quote)` for a `${` to return into a string after, `None` for a record.
    let mut depth: Vec<Option<u8>> = Vec::new();
    while i < b.len() {
        if quote.is_none() && c < comments.len() && comments[c].span.start == i {
            i = comments[c].span.end;
            c += 1;
            continue;
        }
        let ch = b[i];
        match quote {
            Some(q) => {
                if ch == b'\\' {
                    i += 1;
                } else if ch == q {
                    quote = None;
                } else if q == b'"' && ch == b'$' && b.get(i + 1) == Some(&b'{') {
                    depth.push(Some(q));
                    quote = None;
                    i += 1;
                }
            }
            None if ch == b'"' || ch == b'\'' || ch == b'`' => quote = Some(ch),
            None if b"([{,)]}".contains(&ch) => {
                let in_interpolation = depth.iter().any(Option::is_some);
                if !in_interpolation && b")]}".contains(&ch) {
                    runs.push((i, i, false));
                }
                match ch {
                    b'{' => depth.push(None),
                    b'}' => quote = depth.pop().flatten(),
                    _ => {}
                }
                if !in_interpolation && b"([{,".contains(&ch) {
                    runs.push((i + 1, i + 1, false));
                }
            }
            None if ch.is_ascii_whitespace() => {
                let start = i;
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                let after_line_comment = comments.iter().any(|k| k.span.end == start && k.text.starts_with("//"));
                runs.push((start, i, after_line_comment));
                continue;
            }
            None => {}
        }
        i += 1;
    }
    runs
}

/// Replaces whitespace runs by other whitespace and inserts comments, driven by `choices`.
fn mutate(src: &str, choices: &[u8]) -> String {
    let mut out = String::new();
    let mut at = 0;
    for (k, (start, end, after_line_comment)) in whitespace_runs(src).into_iter().enumerate() {
        out.push_str(&src[at..start]);
        let run = &src[start..end];
        let choice = choices[k % choices.len()];
        if start == end && choice != 5 && choice != 6 {
            at = end;
            continue;
        }
        let new = match choice {
            0 => " ",
            1 => "  ",
            2 => "\n",
            3 => "\n\n    ",
            4 => "\t",
            5 => " /* c */ ",
            6 => " // note\n",
            _ => run,
        };
        if after_line_comment && !new.contains('\n') {
            out.push('\n');
        }
        out.push_str(new);
        at = end;
    }
    out.push_str(&src[at..]);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn mutated_examples_keep_the_properties(
        file in 0usize..12,
        choices in prop::collection::vec(prop::sample::select(vec![0u8, 1, 2, 3, 4, 5, 6, 7, 7, 7, 7, 7]), 1..64),
    ) {
        let files = example_files();
        let src = read(&files[file % files.len()]);
        let mutated = mutate(&src, &choices);
        prop_assume!(journey_grammar::parse(&mutated).errors.is_empty());
        check_props(&mutated);
    }

    #[test]
    fn generated_expressions_keep_the_properties(e in expr(), r in record(), comment in 0u8..4) {
        let note = ["", " // why", " /* inline */", "\n  // own line"][comment as usize];
        let src = format!(
            "journey J {{\n  start on E\n  let x = {e}{note}\n  call A(v: {e}, w: {r})\n  if {e} {{ end \"a\" }} else {{ wait {e} }}\n}}\n"
        );
        prop_assume!(journey_grammar::parse(&src).errors.is_empty());
        check_props(&src);
    }
}

/// A generated expression as text with its precedence (higher binds tighter).
fn expr() -> impl Strategy<Value = String> {
    expr_prec().prop_map(|(s, _)| s)
}

fn leaf() -> impl Strategy<Value = (String, u8)> {
    prop::sample::select(vec![
        "42",
        "1_000",
        "3.14",
        "1e-3",
        "\"s\"",
        "'single'",
        "\"a ${b} c\"",
        "true",
        "null",
        "1d12h",
        "500ms",
        "2026-12-24",
        "2026-12-24T10:00:00Z",
        "09:00",
        "x",
        "event.a.b",
        "xs[0]",
        "m[\"k\"]",
        "`odd-name`",
        "now()",
        "count(xs)",
        "profile.loyalty.points",
    ])
    .prop_map(|s| (s.to_string(), 10))
}

fn expr_prec() -> impl Strategy<Value = (String, u8)> {
    leaf().prop_recursive(4, 32, 4, |inner| {
        let ops = prop::sample::select(vec![
            ("??", 1),
            ("or", 2),
            ("and", 3),
            ("==", 5),
            ("!=", 5),
            ("<", 5),
            ("in", 5),
            ("not in", 5),
            ("+", 7),
            ("-", 7),
            ("*", 8),
            ("/", 8),
            ("%", 8),
        ]);
        prop_oneof![
            (inner.clone(), ops, inner.clone(), any::<bool>(), any::<bool>()).prop_map(|(l, (op, p), r, pl, pr)| {
                let l = paren(l, p, pl);
                let r = paren(r, p + 1, pr);
                (format!("{l} {op} {r}"), p)
            }),
            (inner.clone(), any::<bool>()).prop_map(|(e, p)| (format!("not {}", paren(e, 4, p)), 4)),
            (inner.clone(), any::<bool>()).prop_map(|(e, p)| (format!("-{}", paren(e, 9, p)), 9)),
            (inner.clone(), any::<bool>()).prop_map(|(e, p)| (format!("{} is not null", paren(e, 6, p)), 5)),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| (format!("{}..{}", paren(a, 7, false), paren(b, 7, false)), 6)),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, a, b)| (format!("if {} then {} else {}", c.0, a.0, b.0), 0)),
            prop::collection::vec(inner.clone(), 0..4)
                .prop_map(|v| (format!("[{}]", v.into_iter().map(|e| e.0).collect::<Vec<_>>().join(", ")), 10)),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| (format!("max({}, {})", a.0, b.0), 10)),
            inner.clone().prop_map(|b| (format!("filter(xs, i -> {})", b.0), 10)),
            inner.prop_map(|e| (format!("({})", e.0), 10)),
        ]
    })
}

/// Parenthesizes `e` when the context needs precedence `min`, or when `always`.
fn paren((s, p): (String, u8), min: u8, always: bool) -> String {
    if p < min || always {
        format!("({s})")
    } else {
        s
    }
}

fn record() -> impl Strategy<Value = String> {
    prop::collection::vec((prop::sample::select(vec!["a", "to", "\"X-Key\"", "`b c`"]), expr()), 0..5).prop_map(|v| {
        let entries: Vec<String> = v.into_iter().map(|(k, e)| format!("{k}: {e}")).collect();
        format!("{{ {} }}", entries.join(", "))
    })
}

fn journey(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_journey")).args(args).current_dir(dir).output().expect("journey runs")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("journey-fmt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn the_examples_are_formatted() {
    let o = journey(&["fmt", "--check", "examples"], Path::new("."));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "run `journey fmt examples`:\n{out}{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn check_lists_changes_and_rewriting_fixes_them() {
    let dir = temp_dir("rewrite");
    let ugly = "journey J {\n    start on E\n  let x=1+2   // sum\n  end\n}\n";
    std::fs::write(dir.join("a.journey"), ugly).expect("write");
    std::fs::write(dir.join("b.journey"), "audience VIP\n").expect("write");
    let o = journey(&["fmt", "--check"], &dir);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("a.journey would be reformatted"), "{out}");
    assert!(out.contains("-     start on E") && out.contains("+   start on E"), "{out}");
    assert!(!out.contains("b.journey"), "{out}");
    assert_eq!(read(&dir.join("a.journey")), ugly, "--check changed the file");
    let o = journey(&["fmt", "."], &dir);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("formatted a.journey"));
    assert_eq!(read(&dir.join("a.journey")), "journey J {\n  start on E\n  let x = 1 + 2 // sum\n  end\n}\n");
    let o = journey(&["fmt", "--check", "a.journey"], &dir);
    assert_eq!(o.status.code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_with_syntax_errors_is_reported_and_left_alone() {
    let dir = temp_dir("broken");
    let broken = "journey J {\n  start on E\n  let = 1\n}\n";
    std::fs::write(dir.join("bad.journey"), broken).expect("write");
    let o = journey(&["fmt", "bad.journey", "--color", "never"], &dir);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("error[E0001]") && err.contains("bad.journey:3:"), "{err}");
    assert_eq!(read(&dir.join("bad.journey")), broken);
    let o = journey(&["fmt", "missing.journey"], &dir);
    assert_eq!(o.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
