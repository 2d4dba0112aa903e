//! String functions: Java semantics of regexes, splitting and replacement; null handling.

mod common;
use common::*;

#[test]
fn regex_matches_the_whole_text() {
    assert_eq!(f("matchRegExp", &[s("12345"), s(r"\d+")]), b(true));
    assert_eq!(f("matchRegExp", &[s("a12345"), s(r"\d+")]), b(false));
    assert_eq!(f("matchRegExp", &[s("x@adobe.com"), s(".*adobe.*")]), b(true));
    assert_eq!(f("matchRegExp", &[s("ab"), s("a|ab")]), b(true));
    // Not a valid regex (Java rejects it too): null, not a panic.
    assert_eq!(f("matchRegExp", &[s("username@adobe.com"), s("*adobe")]), NULL);
    assert_eq!(f("matchRegExp", &[s("abc"), s("(?<=a)b")]), NULL);
}

#[test]
fn split_as_java_does() {
    assert_eq!(fj("split", &[s("A_B_C"), s("_")]), r#"["A","B","C"]"#);
    assert_eq!(fj("split", &[s("a,b,,c,,"), s(",")]), r#"["a","b","","c"]"#);
    assert_eq!(fj("split", &[s(",a"), s(",")]), r#"["","a"]"#);
    assert_eq!(fj("split", &[s("abc"), s("")]), r#"["a","b","c"]"#);
    assert_eq!(fj("split", &[s(""), s(",")]), r#"[""]"#);
    assert_eq!(fj("split", &[s("abc"), s(",")]), r#"["abc"]"#);
    assert_eq!(fj("split", &[s("1 2   3"), s(r"\s+")]), r#"["1","2","3"]"#);
    assert_eq!(f("split", &[s("abc"), s("(")]), NULL);
}

#[test]
fn replace_takes_a_regex_and_java_replacements() {
    assert_eq!(f("replace", &[s("Hello World"), s("l"), s("x")]), s("Hexlo World"));
    assert_eq!(f("replaceAll", &[s("Hello World"), s("l"), s("x")]), s("Hexxo Worxd"));
    assert_eq!(f("replace", &[s("|OFFER_A|OFFER_B"), s(r"\|OFFER_A"), s("")]), s("|OFFER_B"));
    assert_eq!(f("replaceAll", &[s("2024-01-31"), s(r"(\d+)-(\d+)-(\d+)"), s("$3/$2/$1")]), s("31/01/2024"));
    assert_eq!(f("replaceAll", &[s("a.b"), s(r"\."), s(r"\$")]), s("a$b"));
    assert_eq!(f("replaceAll", &[s("ab"), s("b"), s("$")]), NULL);
}

#[test]
fn indexes_count_characters() {
    assert_eq!(f("indexOf", &[s("Hello"), s("l")]), i(2));
    assert_eq!(f("lastIndexOf", &[s("Hello"), s("l")]), i(3));
    assert_eq!(f("indexOf", &[s("Hello"), s("z")]), i(-1));
    assert_eq!(f("indexOf", &[s("héllo"), s("l")]), i(2));
    assert_eq!(f("length", &[s("héllo")]), i(5));
    assert_eq!(f("substr", &[s("héllo"), i(1), i(3)]), s("él"));
    assert_eq!(f("substr", &[s("Hello"), i(3), i(99)]), s("lo"));
    assert_eq!(f("substr", &[s("Hello"), i(-2)]), s("Hello"));
    assert_eq!(f("substr", &[s("Hello"), i(4), i(2)]), s(""));
}

#[test]
fn case_and_trim() {
    assert_eq!(f("equalIgnoreCase", &[s("rowing is great"), s("rowing is GREAT")]), b(true));
    assert_eq!(f("startWithIgnoreCase", &[s("rowing is great"), s("RO")]), b(true));
    assert_eq!(f("trim", &[s("\t Hello \n")]), s("Hello"));
    assert_eq!(f("upper", &[s("straße")]), s("STRASSE"));
}

#[test]
fn nulls() {
    assert_eq!(f("contain", &[NULL, s("a")]), NULL);
    assert_eq!(f("length", &[NULL]), NULL);
    assert_eq!(f("isEmpty", &[NULL]), b(false));
    assert_eq!(f("isNotEmpty", &[NULL]), b(false));
    assert_eq!(f("isEmpty", &[l(vec![])]), b(true));
    assert_eq!(f("isNotEmpty", &[s("hello")]), b(true));
    assert_eq!(f("concat", &[s("a"), NULL, s("b")]), s("ab"));
    assert_eq!(f("concat", &[l(vec![s("Hello"), s(" "), s("World")])]), s("Hello World"));
    assert_eq!(f("toString", &[NULL]), s(""));
}

#[test]
fn uuids_are_v4_and_reproducible() {
    let cx = ctx("UTC");
    let a = journey_vm::library::call("uuid", &[], &cx);
    let b2 = journey_vm::library::call("uuid", &[], &cx);
    assert_ne!(a, b2);
    let again = journey_vm::library::call("uuid", &[], &ctx("UTC"));
    assert_eq!(a, again);
    let text = a.as_str().unwrap().to_string();
    let re = regex::Regex::new("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$").unwrap();
    for _ in 0..200 {
        let u = journey_vm::library::call("uuid", &[], &cx);
        assert!(re.is_match(u.as_str().unwrap()), "{u:?}");
    }
    assert!(re.is_match(&text));
}

#[test]
fn email_validity() {
    for ok in ["ann@example.com", "first.last+tag@sub.example.co.uk", "a_b@x-y.io"] {
        assert_eq!(f("isEmailValid", &[s(ok)]), b(true), "{ok}");
    }
    for bad in ["", "ann", "ann@", "@example.com", "ann@example", "a..b@example.com", "ann@exa mple.com", ".a@x.com"] {
        assert_eq!(f("isEmailValid", &[s(bad)]), b(false), "{bad}");
    }
}
