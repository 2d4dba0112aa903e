//! The keyword table (`journey_grammar::keywords`) against the pest grammar, word for word, and
//! the copy of it the VS Code grammar generator reads (`editors/vscode/syntaxes/keywords.json`;
//! `BLESS=1` rewrites it).

use journey_grammar::keywords::{with_role, Role, KEYWORDS};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The pest grammar's rules: name -> body, comments removed.
fn rules() -> BTreeMap<String, String> {
    let text = include_str!("../src/journey.pest");
    let mut rules = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        let starts_rule = line.split_once('=').filter(|(name, rest)| {
            let name = name.trim();
            !line.starts_with(' ')
                && !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && rest.trim_start().trim_start_matches(['_', '@', '$', '!']).starts_with('{')
        });
        if let Some((name, rest)) = starts_rule {
            rules.extend(current.take());
            current = Some((name.trim().to_string(), rest.to_string()));
        } else if let Some((_, body)) = &mut current {
            body.push('\n');
            body.push_str(line);
        }
    }
    rules.extend(current);
    assert!(rules.len() > 100, "only {} rules read from journey.pest", rules.len());
    rules
}

/// The words a rule spells out: its string literals of two or more lowercase letters.
fn words(body: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        let close = match c {
            '"' => '"',
            '\'' => '\'',
            _ => continue,
        };
        let mut lit = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    chars.next();
                    lit.push('\\');
                }
                c if c == close => break,
                c => lit.push(c),
            }
        }
        if close == '"' && lit.len() >= 2 && lit.bytes().all(|b| b.is_ascii_lowercase()) {
            out.insert(lit);
        }
    }
    out
}

fn set<'a>(words: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    words.into_iter().map(str::to_string).collect()
}

fn union(roles: &[Role]) -> BTreeSet<String> {
    roles.iter().flat_map(|r| with_role(*r)).map(str::to_string).collect()
}

#[test]
fn every_word_of_the_grammar_is_in_the_table_and_back() {
    let rules = rules();
    // Duration units (`ms`) are letters of a literal, not words.
    let grammar: BTreeSet<String> =
        rules.iter().filter(|(name, _)| name.as_str() != "dur_unit").flat_map(|(_, body)| words(body)).collect();
    let table = set(KEYWORDS.iter().map(|k| k.word));
    let missing: Vec<&String> = grammar.difference(&table).collect();
    assert!(missing.is_empty(), "words of journey.pest missing from grammar/src/keywords.rs: {missing:?}");
    let extra: Vec<&String> = table.difference(&grammar).collect();
    assert!(extra.is_empty(), "keywords the pest grammar does not use: {extra:?}");
    // Each `kw_x` rule spells its own word.
    for (name, body) in rules.iter().filter(|(n, _)| n.starts_with("kw_")) {
        assert!(words(body).contains(&name[3..]), "{name} does not spell `{}`", &name[3..]);
    }
}

/// The grammar's word lists (what a name may not be, where recovery stops) are the table's
/// roles.
#[test]
fn the_grammars_word_lists_are_the_tables_roles() {
    let rules = rules();
    let rule = |name: &str| words(rules.get(name).unwrap_or_else(|| panic!("no rule `{name}` in journey.pest")));
    let cases: &[(&str, &[Role])] = &[
        ("reserved", &[Role::Declaration, Role::Setting, Role::Statement]),
        ("expr_keyword", &[Role::Expression]),
        ("stmt_stop", &[Role::Setting, Role::Statement]),
        ("test_stop", &[Role::Test]),
        ("option_stop", &[Role::HttpOption]),
        ("clause_stop", &[Role::Clause]),
        ("arm_stop", &[Role::AwaitArm]),
        ("every_unit", &[Role::Weekday]),
        ("item", &[Role::Declaration]),
    ];
    for (name, roles) in cases {
        let words = if *name == "item" {
            // `item` names its declarations' rules: `journey_decl`, ...
            let body = &rules["item"];
            body.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                .filter_map(|w| w.strip_suffix("_decl"))
                .map(str::to_string)
                .collect()
        } else {
            rule(name)
        };
        assert_eq!(words, union(roles), "`{name}` in journey.pest against the roles {roles:?}");
    }
    // An unclosed `(` ends at a line that starts a statement, a setting or a test statement
    // (not `if`, which also starts an expression, nor the test words that are parts elsewhere).
    let mut group_stop = union(&[Role::Statement, Role::Setting]);
    group_stop.remove("if");
    group_stop.extend(["send", "expect", "mock"].map(String::from));
    assert_eq!(rule("group_stop"), group_stop, "`group_stop` in journey.pest against the statement and setting roles");
    assert_eq!(rule("is_test").len(), 0, "`is_test` uses kw_ rules");
    let type_tests: BTreeSet<String> = rules["is_test"]
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter_map(|w| w.strip_prefix("kw_"))
        .filter(|w| !["is", "not", "null", "has"].contains(w))
        .map(str::to_string)
        .collect();
    assert_eq!(type_tests, union(&[Role::TypeTest]));
}

/// The rules a rule's body names (`let_stmt`, ...), ending in `suffix`.
fn named(body: &str, suffix: &str) -> BTreeSet<String> {
    body.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|w| w.ends_with(suffix))
        .map(str::to_string)
        .collect()
}

/// Every statement rule is in `stmt` (what a block parses) and in `any_stmt` (what a syntax
/// error inside a block is described against).
#[test]
fn every_statement_rule_is_in_stmt_and_any_stmt() {
    let rules = rules();
    let not_statements = ["bad_stmt", "any_stmt", "test_stmt", "any_test_stmt", "bad_test_stmt"];
    let statements: BTreeSet<String> =
        rules.keys().filter(|n| n.ends_with("_stmt") && !not_statements.contains(&n.as_str())).cloned().collect();
    assert!(statements.len() >= 10, "{statements:?}");
    for list in ["stmt", "any_stmt"] {
        assert_eq!(named(&rules[list], "_stmt"), statements, "`{list}` in journey.pest against the `*_stmt` rules");
    }
}

/// The table as the VS Code grammar generator reads it.
fn render() -> String {
    let mut out = serde_json::to_string_pretty(KEYWORDS).expect("serializes");
    out.push('\n');
    out
}

#[test]
fn the_vscode_copy_of_the_table_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../editors/vscode/syntaxes/keywords.json");
    let want = render();
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, &want).expect("writes keywords.json");
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is out of date: run `BLESS=1 cargo test -p journey-grammar --test keywords`",
        path.display()
    );
}

/// The words between the backticks that follow `after` in `text` (the first such span).
fn backticked_after(text: &str, after: &str) -> BTreeSet<String> {
    let at = text.find(after).unwrap_or_else(|| panic!("`{after}` not found"));
    let rest = &text[at + after.len()..];
    let start = rest.find('`').expect("an opening backtick") + 1;
    let end = start + rest[start..].find('`').expect("a closing backtick");
    rest[start..end].split_whitespace().map(str::to_string).collect()
}

/// The word lists written out in the docs are the table's: the reserved and expression words in
/// docs/language.md, and the Emacs mode's keywords in docs/editors.md.
#[test]
fn the_docs_word_lists_are_the_tables() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let language = std::fs::read_to_string(root.join("docs/language.md")).expect("docs/language.md");
    assert_eq!(
        backticked_after(&language, "declaration, setting or statement ("),
        union(&[Role::Declaration, Role::Setting, Role::Statement]),
        "docs/language.md: the words that start a declaration, setting or statement"
    );
    assert_eq!(
        backticked_after(&language, "expression word ("),
        union(&[Role::Expression]),
        "docs/language.md: the expression words"
    );
    // Each statement has a section under "Statements".
    let statements = language.split("\n## Statements").nth(1).expect("a Statements chapter");
    let statements = &statements[..statements.find("\n## ").unwrap_or(statements.len())];
    for word in with_role(Role::Statement) {
        assert!(
            statements.lines().any(|l| l.starts_with("### ") && l.contains(&format!("`{word}"))),
            "docs/language.md has no section on the statement `{word}` under \"Statements\""
        );
    }
    let editors = std::fs::read_to_string(root.join("docs/editors.md")).expect("docs/editors.md");
    let list = editors.split("(defconst journey-keywords").nth(1).expect("the Emacs keyword list");
    let list = &list[..list.find(")\n").expect("the list's end")];
    let emacs: BTreeSet<String> = list.split('"').skip(1).step_by(2).map(str::to_string).collect();
    // Constants get their own face there; the `is` type tests keep the default one.
    let mut want: BTreeSet<String> =
        KEYWORDS.iter().filter(|k| k.is_editor_keyword()).map(|k| k.word.to_string()).collect();
    for w in ["null", "true", "false"].into_iter().chain(with_role(Role::TypeTest)) {
        want.remove(w);
    }
    assert_eq!(emacs, want, "docs/editors.md: `journey-keywords` of the Emacs mode");
}
