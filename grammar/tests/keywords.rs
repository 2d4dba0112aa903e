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
    assert_eq!(rule("is_test").len(), 0, "`is_test` uses kw_ rules");
    let type_tests: BTreeSet<String> = rules["is_test"]
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter_map(|w| w.strip_prefix("kw_"))
        .filter(|w| !["is", "not", "null", "has"].contains(w))
        .map(str::to_string)
        .collect();
    assert_eq!(type_tests, union(&[Role::TypeTest]));
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
