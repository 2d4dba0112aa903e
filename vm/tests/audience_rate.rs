//! A scheduled audience read enters members at the configured rate (profiles per second).

use journey_compiler::check::Defaults;
use journey_compiler::sources::Sources;
use journey_vm::engine::{Engine, Options};
use journey_vm::machine::Image;
use std::sync::Arc;

fn image(src: &str) -> Arc<Image> {
    let mut sources = Sources::default();
    let id = sources.add("t.journey", "t.journey".into(), src.to_string());
    let registry = journey_compiler::SchemaRegistry::new(&[]).expect("registry");
    let checked = journey_compiler::check(&sources, &[id], &registry, &Defaults::default());
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    let program = journey_compiler::codegen::compile(&checked.program, &sources);
    Arc::new(Image::load(program).expect("loads"))
}

fn ms(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().expect("time").as_millisecond()
}

#[test]
fn reads_enter_members_at_the_read_rate() {
    let img = image("audience VIP\njourney Greet {\n  start on audience VIP every day at 09:00\n  wait 1d\n}\n");
    let start = ms("2026-01-01T00:00:00Z");
    let mut e = Engine::new(img, start, Options { read_rate: Some(2), ..Default::default() });
    for k in ["a", "b", "c", "d", "e"] {
        e.audience_enter("VIP", k);
    }
    let started = |e: &mut Engine| e.report().journeys[0].started;
    e.advance(ms("2026-01-01T08:59:59Z"), true);
    assert_eq!(started(&mut e), 0, "nothing before 09:00");
    e.advance(ms("2026-01-01T09:00:00Z"), true);
    assert_eq!(started(&mut e), 2, "two profiles in the first second");
    e.advance(ms("2026-01-01T09:00:01Z"), true);
    assert_eq!(started(&mut e), 4);
    e.advance(ms("2026-01-01T09:00:02Z"), true);
    assert_eq!(started(&mut e), 5, "the rest in the third second");
}

#[test]
fn without_a_rate_a_read_enters_everyone_at_once() {
    let img = image("audience VIP\njourney Greet {\n  start on audience VIP every day at 09:00\n  wait 1d\n}\n");
    let mut e = Engine::new(img, ms("2026-01-01T00:00:00Z"), Options::default());
    for k in ["a", "b", "c"] {
        e.audience_enter("VIP", k);
    }
    e.advance(ms("2026-01-01T09:00:00Z"), true);
    assert_eq!(e.report().journeys[0].started, 3);
}
