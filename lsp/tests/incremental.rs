//! Incremental parsing gives exactly the full parse, edit after edit.

use journey_lsp::incremental::reparse;
use proptest::prelude::*;

fn bases() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "journey"))
                .filter_map(|p| std::fs::read_to_string(p).ok())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out.push("audience A\naudience B\nschema S = xdm \"x\"\n\nevent E: S { key k }\n".into());
    out
}

const SNIPPETS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "\"",
    "'",
    "`",
    "${",
    "\n",
    " ",
    "let ",
    "journey J {",
    "event ",
    "audience X\n",
    "///",
    "// c\n",
    "/*",
    "*/",
    "with \"y\"",
    "schema ",
    "type T = ",
    "?",
    "test \"t\" {",
    "start on ",
    "é",
    "🙂",
    "\n}\n",
    "=",
    ":",
    "x",
    "1d",
    "2026-01-01",
    "end",
    "action A(x: string) = http GET \"u\" {",
    "profile = ",
    "\u{feff}",
];

fn edit() -> impl Strategy<Value = (u16, usize, String)> {
    (any::<u16>(), 0usize..40, prop::collection::vec(prop::sample::select(SNIPPETS), 0..4))
        .prop_map(|(at, del, parts)| (at, del, parts.concat()))
}

fn floor(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn incremental_equals_full(base in 0usize..64, edits in prop::collection::vec(edit(), 1..8)) {
        let bases = bases();
        let mut text = bases[base % bases.len()].clone();
        let mut parsed = journey_grammar::parse(&text);
        for (at, del, insert) in edits {
            let a = floor(&text, at as usize * (text.len() + 1) / (u16::MAX as usize + 1));
            let b = floor(&text, a + del);
            let mut new = text.clone();
            new.replace_range(a..b, &insert);
            let inc = reparse(&text, &parsed, &new);
            let full = journey_grammar::parse(&new);
            if inc != full {
                let first = inc.file.items.iter().zip(&full.file.items).position(|(x, y)| x != y);
                let spans = |p: &journey_grammar::Parsed| p.file.items.iter().map(|i| (i.span.start, i.span.end)).collect::<Vec<_>>();
                prop_assert!(
                    false,
                    "edit {}..{} -> {:?}\nitems differ at {:?}\ninc  {:?}\nfull {:?}\ninc errors  {:?}\nfull errors {:?}\ncomments equal: {}",
                    a, b, insert, first, spans(&inc), spans(&full), inc.errors, full.errors,
                    inc.file.comments == full.file.comments
                );
            }
            text = new;
            parsed = inc;
        }
    }
}
