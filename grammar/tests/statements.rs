//! Every statement keyword of the table (`keywords::with_role(Role::Statement)`) has a working
//! example here: it parses, lowers to its statement (not an error node) with its keyword's span,
//! and formats back to itself. The lowering matches on pest rules with a fallback arm and skips
//! keyword tokens by a list, so a new statement that misses either would otherwise be dropped
//! without a word; this test names the keyword instead.

use journey_grammar::ast::{ItemKind, Stmt, StmtKind};
use journey_grammar::keywords::{with_role, Role};
use journey_grammar::{fmt::format, parse};

/// A statement that starts with `word`, written as `journey fmt` writes it.
fn example(word: &str) -> Option<&'static str> {
    Some(match word {
        "let" => "let x = 1",
        "wait" => "wait 1h",
        "await" => "await {\n    after 1h -> { }\n  }",
        "if" => "if true { }",
        "split" => "split {\n    100% -> { }\n  }",
        "cap" => "cap 10 { }",
        "call" => "call A()",
        "fetch" => "fetch D()",
        "update" => "update profile { a = 1 }",
        "jump" => "jump J",
        "end" => "end \"done\"",
        "send" => "send email \"welcome\" with { n: 1 } as w\n    on suppressed { end \"no\" }",
        _ => return None,
    })
}

fn body(src: &str) -> Vec<Stmt> {
    let parsed = parse(src);
    assert!(parsed.errors.is_empty(), "does not parse: {:?}\n{src}", parsed.errors);
    parsed
        .file
        .items
        .into_iter()
        .find_map(|i| match i.kind {
            ItemKind::Journey(j) => Some(j.body.stmts),
            _ => None,
        })
        .expect("a journey")
}

#[test]
fn every_statement_keyword_parses_lowers_and_formats() {
    let words: Vec<&str> = with_role(Role::Statement).collect();
    assert!(words.len() >= 10, "{words:?}");
    for word in words {
        let stmt = example(word).unwrap_or_else(|| {
            panic!("no example for the statement `{word}`: add one to `example` in grammar/tests/statements.rs")
        });
        let src = format!("journey J {{\n  {stmt}\n}}\n");
        let stmts = body(&src);
        assert_eq!(stmts.len(), 1, "`{word}`: {stmts:?}");
        let s = &stmts[0];
        assert!(
            !matches!(s.kind, StmtKind::Error),
            "`{word}` lowers to an error node: give its pest rule an arm in `stmt_kind` (grammar/src/lower/journey.rs)"
        );
        assert_eq!(&src[s.keyword.start..s.keyword.end], word, "`{word}`: the keyword's span");
        assert_eq!(format(&src).as_deref(), Ok(src.as_str()), "`{word}` does not format back to itself");
    }
}
