//! `journey run --jobs N`: profiles split across threads take the same paths, give the same
//! report and the same step events (but for instance numbers) as one thread; bad lines keep
//! their line numbers; a `cap` holds across threads.

#[path = "support/cli.rs"]
mod cli;

use cli::{arg, journey, run};
use serde_json::{json, Value as Json};
use std::path::{Path, PathBuf};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("journey-par-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The example events, copied `copies` times with other profiles and shifted times, in time
/// order; plus the example profiles under the same new keys.
fn scaled_examples(dir: &Path, copies: usize) -> (PathBuf, PathBuf) {
    let events: Vec<Json> = std::fs::read_to_string("examples/events.jsonl")
        .expect("example events")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let profiles = std::fs::read_to_string("examples/profiles.jsonl").expect("example profiles");
    let rename = |text: &str, copy: usize| text.replace("@example.com", &format!("+{copy}@example.com"));
    let mut lines: Vec<(i64, String)> = Vec::new();
    let mut people = String::new();
    for copy in 0..copies {
        for e in &events {
            let at: jiff::Timestamp = e["at"].as_str().expect("at").parse().expect("time");
            let shifted =
                jiff::Timestamp::from_millisecond(at.as_millisecond() + copy as i64 * 7_919_000).expect("in range");
            let mut e = e.clone();
            e["at"] = json!(shifted.to_string());
            lines.push((shifted.as_millisecond(), rename(&e.to_string(), copy)));
        }
        people.push_str(&rename(&profiles, copy));
        people.push('\n');
    }
    lines.sort_by_key(|(t, _)| *t);
    let ev = dir.join("events.jsonl");
    std::fs::write(&ev, lines.into_iter().map(|(_, l)| l + "\n").collect::<String>()).expect("write events");
    let pr = dir.join("profiles.jsonl");
    std::fs::write(&pr, people).expect("write profiles");
    (ev, pr)
}

/// Step events without instance numbers (which depend on how many threads numbered them), in
/// file order.
fn steps_without_instances(path: &Path) -> Vec<Json> {
    std::fs::read_to_string(path)
        .expect("step events")
        .lines()
        .map(|l| {
            let mut v: Json = serde_json::from_str(l).expect("JSON step event");
            v.as_object_mut().expect("object").remove("instance");
            v
        })
        .collect()
}

/// `journey run examples` over `events` and `profiles` in a dry run answered by the example
/// mocks, with JSON output on `jobs`
/// threads (and `extra` arguments); its standard output, after checking it succeeded.
fn run_examples(events: &Path, profiles: &Path, jobs: &str, extra: &[&str]) -> String {
    let mine = ["--profiles", arg(profiles), "--dry-run", "--mocks", "examples/mocks.jsonl", "--format", "json"];
    let o = run("examples", events, &[&mine[..], &["--jobs", jobs], extra].concat());
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).expect("UTF-8")
}

#[test]
fn threads_take_the_same_paths_as_one() {
    let dir = temp_dir("same");
    let (events, profiles) = scaled_examples(&dir, 40);
    let run = |jobs: &str| {
        let steps = dir.join(format!("steps-{jobs}.jsonl"));
        (run_examples(&events, &profiles, jobs, &["--step-events", steps.to_str().expect("path")]), steps)
    };
    let (one, one_steps) = run("1");
    let (three, three_steps) = run("3");
    assert!(one.lines().filter(|l| l.contains("\"type\":\"instance\"")).count() >= 40 * 4, "paths:\n{one}");
    assert_eq!(one, three, "paths and report");
    let (a, mut b) = (steps_without_instances(&one_steps), steps_without_instances(&three_steps));
    assert!(!a.is_empty());
    let times: Vec<&str> = b.iter().map(|s| s["time"].as_str().expect("time")).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "merged step events are in time order");
    // Equal times may interleave profiles differently; each profile's own steps keep their order.
    let mut a_sorted = a.clone();
    let key = |s: &Json| (s["time"].to_string(), s["profile"].to_string());
    a_sorted.sort_by_key(key);
    b.sort_by_key(key);
    let only_one: Vec<&Json> = a_sorted.iter().filter(|s| !b.contains(s)).take(5).collect();
    let only_three: Vec<&Json> = b.iter().filter(|s| !a_sorted.contains(s)).take(5).collect();
    assert!(
        a_sorted == b,
        "the same step events; only with one thread: {only_one:#?}; only with three: {only_three:#?}"
    );
    assert!(!dir.read_dir().expect("dir").any(|e| e.expect("entry").file_name().to_string_lossy().contains(".part")));
}

#[test]
fn a_file_out_of_time_order_is_sorted_first() {
    let dir = temp_dir("unsorted");
    let (events, profiles) = scaled_examples(&dir, 10);
    let text = std::fs::read_to_string(&events).expect("events");
    let lines: Vec<&str> = text.lines().collect();
    let at = |l: &str| serde_json::from_str::<Json>(l).expect("JSON")["at"].as_str().expect("at").to_string();
    // The later part first: cut where the time changes, so no two lines of one time swap places.
    let mut cut = lines.len() / 3;
    while at(lines[cut - 1]) == at(lines[cut]) {
        cut += 1;
    }
    let unsorted = dir.join("unsorted.jsonl");
    std::fs::write(&unsorted, [&lines[cut..], &lines[..cut]].concat().join("\n")).expect("write");
    let run = |file: &Path, jobs: &str| run_examples(file, &profiles, jobs, &[]);
    let sorted = run(&events, "1");
    assert_eq!(run(&unsorted, "1"), sorted);
    assert_eq!(run(&unsorted, "3"), sorted);
}

#[test]
fn a_skipped_line_with_a_time_counts_for_the_order() {
    let dir = temp_dir("skipped-time");
    let good = "{\"event\": \"CartAdd\", \"at\": \"2026-05-12T09:00:00Z\", \"payload\": {\"@id\": \"e-1\", \"timestamp\": \"2026-05-12T09:00:00Z\", \"eventType\": \"commerce.productListAdds\", \"identityMap\": {\"Email\": [{\"id\": \"a@example.com\"}]}, \"commerce\": {\"cart\": {\"cartID\": \"c1\"}}}}";
    // No key: skipped with a problem, but its time is later than the next line's.
    let keyless = "{\"event\": \"CartAdd\", \"at\": \"2026-05-12T10:00:00Z\", \"payload\": {\"@id\": \"e-1\", \"timestamp\": \"2026-05-12T09:00:00Z\", \"eventType\": \"commerce.productListAdds\"}}";
    let run = |name: &str, lines: [&str; 2]| {
        let events = dir.join(format!("{name}.jsonl"));
        std::fs::write(&events, lines.join("\n")).expect("write");
        let steps = dir.join(format!("{name}-steps.jsonl"));
        let o = run("examples", &events, &["--dry-run", "--step-events", arg(&steps)]);
        assert_eq!(o.status.code(), Some(1), "the keyless line is a problem");
        std::fs::read_to_string(steps).expect("steps")
    };
    let sorted = run("sorted", [good, keyless]);
    assert!(sorted.contains("a@example.com"), "{sorted}");
    assert_eq!(run("unsorted", [keyless, good]), sorted, "the same steps at the same times");
}

#[test]
fn bad_lines_keep_their_line_numbers_across_threads() {
    let dir = temp_dir("lines");
    let good = std::fs::read_to_string("examples/events.jsonl").expect("example events");
    let good: Vec<&str> = good.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut text = String::new();
    let mut bad = Vec::new();
    for i in 0..400 {
        if i % 37 == 5 {
            text.push_str("{not json\n");
            bad.push(i + 1);
        } else {
            text.push_str(good[i % good.len()]);
            text.push('\n');
        }
    }
    let events = dir.join("events.jsonl");
    std::fs::write(&events, text).expect("write");
    for jobs in ["1", "2", "4"] {
        let o = run("examples", &events, &["--dry-run", "--summary-only", "--jobs", jobs]);
        assert_eq!(o.status.code(), Some(1));
        let err = String::from_utf8_lossy(&o.stderr);
        let lines: Vec<usize> = err
            .lines()
            .filter(|l| l.contains("not valid JSON"))
            .map(|l| l.split(':').nth(2).and_then(|n| n.trim().parse().ok()).expect("line number"))
            .collect();
        assert_eq!(lines, bad, "--jobs {jobs}:\n{err}");
    }
}

#[test]
fn a_cap_holds_across_threads() {
    let dir = temp_dir("cap");
    let project = dir.join("capped.journey");
    std::fs::write(
        &project,
        r#"
type Person = { id: string }
event Visit: Person {
  key id
}
journey Capped {
  start on Visit
  cap 7 {
    end "in"
  } else {
    end "over"
  }
}
"#,
    )
    .expect("write journey");
    let lines: String = (0..60)
        .map(|i| {
            format!(
                "{{\"event\": \"Visit\", \"at\": \"2026-05-01T00:{:02}:00Z\", \"payload\": {{\"id\": \"p{i}\"}}}}\n",
                i
            )
        })
        .collect();
    let events = dir.join("events.jsonl");
    std::fs::write(&events, lines).expect("write events");
    for jobs in ["1", "4"] {
        let o = run(&project, &events, &["--format", "json", "--summary-only", "--jobs", jobs]);
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        let summary: Json = serde_json::from_str(String::from_utf8_lossy(&o.stdout).trim()).expect("summary");
        let ended = &summary["journeys"]["Capped"]["ended"];
        assert_eq!(ended["in"], 7, "--jobs {jobs}: {summary}");
        assert_eq!(ended["over"], 53, "--jobs {jobs}: {summary}");
    }
}

#[test]
fn zero_threads_is_a_usage_error() {
    let o = journey(&["run", "examples", "--events", "examples/events.jsonl", "--jobs", "0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--jobs"), "{}", String::from_utf8_lossy(&o.stderr));
}
