//! `journey run` on a file of random and mutated event lines never crashes: it exits 0 (every
//! line taken) or 1 (some lines skipped, with warnings), never with a panic; and every line is
//! accounted for once: accepted, filtered by `when`, or skipped.

#[path = "../vm/tests/support/json_fuzz.rs"]
mod json_fuzz;

use json_fuzz::{arb_json, mutate};
use proptest::prelude::*;
use serde_json::{json, Value as Json};
use std::process::Command;

fn seeds() -> Vec<Json> {
    std::fs::read_to_string("examples/events.jsonl")
        .expect("examples/events.jsonl")
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

const EVENTS: &[&str] = &[
    "SignUp",
    "ProductView",
    "CartAdd",
    "Purchase",
    "EmailClicked",
    "AppLaunch",
    "PushOpened",
    "PointsPosted",
    "OrderPlaced",
    "OrderShipped",
    "OrderDelivered",
    "OrderCancelled",
    "NoSuchEvent",
    "",
];

/// One line of the events file.
#[derive(Debug, Clone)]
enum Line {
    /// A seed line with one field replaced (path chosen by the number).
    Mutated(usize, u32, Json),
    /// A seed line with another event name and time.
    Renamed(usize, usize, i64),
    /// Any JSON at all.
    Any(Json),
    /// Not JSON.
    Text(String),
    /// Blank.
    Blank,
}

fn arb_line() -> impl Strategy<Value = Line> {
    prop_oneof![
        6 => (any::<usize>(), any::<u32>(), arb_json()).prop_map(|(s, p, j)| Line::Mutated(s, p, j)),
        3 => (any::<usize>(), any::<usize>(), -86_400_000i64..40 * 86_400_000).prop_map(|(s, e, t)| Line::Renamed(s, e, t)),
        1 => arb_json().prop_map(Line::Any),
        1 => "\\PC{0,30}".prop_map(Line::Text),
        1 => Just(Line::Blank),
    ]
}

fn render(line: &Line, seeds: &[Json]) -> String {
    match line {
        Line::Mutated(s, p, j) => {
            let mut v = seeds[s % seeds.len()].clone();
            mutate(&mut v, *p, j.clone());
            v.to_string()
        }
        Line::Renamed(s, e, t) => {
            let mut v = seeds[s % seeds.len()].clone();
            let at = jiff::Timestamp::from_millisecond(
                "2026-05-12T00:00:00Z".parse::<jiff::Timestamp>().expect("time").as_millisecond() + t,
            )
            .expect("in range");
            v["event"] = json!(EVENTS[e % EVENTS.len()]);
            v["at"] = json!(at.to_string());
            v.to_string()
        }
        Line::Any(j) => j.to_string(),
        Line::Text(t) => t.replace('\n', " "),
        Line::Blank => String::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn journey_run_never_crashes(lines in proptest::collection::vec(arb_line(), 0..30), json_format in any::<bool>()) {
        let seeds = seeds();
        let text: Vec<String> = lines.iter().map(|l| render(l, &seeds)).collect();
        let dir = std::env::temp_dir().join(format!("journey-run-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("events.jsonl");
        std::fs::write(&file, text.join("\n")).expect("write events");
        let mut args = vec![
            "run".to_string(),
            "examples".to_string(),
            "--events".to_string(),
            file.display().to_string(),
            "--profiles".to_string(),
            "examples/profiles.jsonl".to_string(),
            "--dry-run".to_string(),
            "--mocks".to_string(),
            "examples/mocks.jsonl".to_string(),
        ];
        if json_format {
            args.push("--format".into());
            args.push("json".into());
        }
        let out = Command::new(env!("CARGO_BIN_EXE_journey")).args(&args).output().expect("journey runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        prop_assert!(!stderr.contains("panicked"), "panic:\n{}\nevents:\n{}", stderr, text.join("\n"));
        prop_assert!(matches!(out.status.code(), Some(0 | 1)), "exit {:?}:\n{}\nevents:\n{}", out.status.code(), stderr, text.join("\n"));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let (accepted, filtered) = counts(&stdout, json_format);
        let skipped = skipped(&stderr);
        let lines = text.iter().filter(|l| !l.trim().is_empty()).count() as u64;
        prop_assert_eq!(out.status.code() == Some(0), skipped == 0, "exit 0 exactly when no line was skipped:\n{}", stderr);
        prop_assert_eq!(accepted + filtered + skipped, lines, "every line taken, filtered or skipped:\n{}\n{}\nevents:\n{}", stdout, stderr, text.join("\n"));
    }
}

/// Events accepted and filtered by `when`, from the summary.
fn counts(stdout: &str, json_format: bool) -> (u64, u64) {
    if json_format {
        let summary: Json = serde_json::from_str(stdout.lines().last().expect("a summary")).expect("JSON");
        return (summary["events"].as_u64().expect("events"), summary["filtered"].as_u64().expect("filtered"));
    }
    // "events: 3 accepted, 1 filtered by `when`"
    let line = stdout.lines().find_map(|l| l.strip_prefix("events: ")).expect("a summary");
    let mut numbers = line.split(' ').filter_map(|w| w.parse::<u64>().ok());
    (numbers.next().expect("accepted"), numbers.next().expect("filtered"))
}

/// Lines skipped, from the last line on stderr ("2 input lines were skipped").
fn skipped(stderr: &str) -> u64 {
    stderr
        .lines()
        .last()
        .filter(|l| l.contains("skipped"))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
