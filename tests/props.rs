//! Property tests: parsing and checking any input never panics, and every diagnostic points
//! inside its file.

use journey_compiler::check::Defaults;
use journey_compiler::sources::Sources;
use journey_compiler::SchemaRegistry;
use proptest::prelude::*;
use std::sync::OnceLock;

fn registry() -> &'static SchemaRegistry {
    static R: OnceLock<SchemaRegistry> = OnceLock::new();
    R.get_or_init(|| SchemaRegistry::new(&[]).expect("built-in schemas load"))
}

const SEED: &str = include_str!("ui/ok_full_journey.journey");

fn check_text(text: &str) {
    let mut sources = Sources::default();
    let id = sources.add("prop.journey", "prop.journey".into(), text.to_string());
    let checked = journey_compiler::check(&sources, &[id], registry(), &Defaults::default());
    for d in &checked.diagnostics {
        assert!(d.primary.span.start <= d.primary.span.end, "{d:?}");
        assert!(d.primary.span.end <= text.len(), "span past the end: {d:?}");
        // Rendering must not fail or panic either.
        let _ = d.render_plain(&sources);
        let _ = d.to_json(&sources);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        check_text(&text);
    }

    #[test]
    fn token_soup_never_panics(words in prop::collection::vec(prop::sample::select(vec![
        "journey", "J", "{", "}", "(", ")", "[", "]", "start", "on", "E", "event", "type", "=", "T",
        "{ a: string }", "key", "a", "wait", "1h", "await", "->", "after", "if", "else", "end", "\"x\"",
        "split", "50%", "let", "x", ".", ",", ":", "call", "fetch", "action", "test", "send", "expect",
        "profile", "09:00", "2026-01-01", "??", "+", "==", "in", "..", "not", "is", "null", "\n",
    ]), 0..120)) {
        check_text(&words.join(" "));
    }

    #[test]
    fn edited_valid_script_never_panics(edits in prop::collection::vec((0usize..SEED.len(), 0usize..8, "\\PC{0,6}"), 1..6)) {
        let mut text = SEED.to_string();
        for (at, del, ins) in edits {
            let mut at = at.min(text.len());
            while !text.is_char_boundary(at) { at -= 1; }
            let mut end = (at + del).min(text.len());
            while !text.is_char_boundary(end) { end += 1; }
            text.replace_range(at..end, &ins);
        }
        check_text(&text);
    }
}
