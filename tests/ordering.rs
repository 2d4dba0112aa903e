//! Order across shares of profiles and engine threads: a `cap N` lets through exactly the first
//! N profiles by time (which ones, not only how many), in `journey serve` and in `journey run`,
//! and each profile's events are applied one at a time in the order they came, however many
//! shares or threads run the profiles.

mod support;

use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use support::{temp_dir, Api, Server};

const CAPPED: &str = r#"
type Visit = { user: string }
event Visited: Visit { key user }
journey Capped {
  start on Visited
  cap 5 {
    wait 1d
    end "in"
  } else {
    end "over"
  }
}
"#;

/// A journey whose path tells whether a profile's events came in order: step 0 enters, then
/// steps 1, 2 and 3 must follow in that order.
const SEQUENCE: &str = r#"
type Step = { user: string, n: int }
event Stepped: Step { key user }
journey Sequence {
  start on Stepped
  if event.n != 0 { end "late-start" }
  await {
    on Stepped as s -> { if s.n != 1 { end "out-of-order" } }
    after 1d -> { end "stalled" }
  }
  await {
    on Stepped as s -> { if s.n != 2 { end "out-of-order" } }
    after 1d -> { end "stalled" }
  }
  await {
    on Stepped as s -> { if s.n != 3 { end "out-of-order" } }
    after 1d -> { end "stalled" }
  }
  end "in-order"
}
"#;

/// Profile names in an order unrelated to their names' order or hash: visit `i` is by
/// `p{(i * 17) % n}`.
fn visitor(i: usize, n: usize) -> String {
    format!("p{:02}", (i * 17) % n)
}

/// Which profiles a `journey serve` has waiting in `Capped`.
fn waiting_in_cap(api: &Api, url: &str, n: usize) -> BTreeSet<String> {
    (0..n)
        .map(|i| visitor(i, n))
        .filter(|p| {
            let inst = api.get(&format!("{url}/profiles/{p}/instances"));
            !inst.as_array().expect("a list").is_empty()
        })
        .collect()
}

#[test]
fn a_cap_in_serve_lets_through_the_first_profiles_in_log_order_and_a_replay_agrees() {
    let api = Api::new();
    let dir = temp_dir("order-cap-serve");
    std::fs::write(dir.join("capped.journey"), CAPPED).expect("write");
    let db = dir.join("j.db");
    let n = 30;
    // Three batches one after the other: the log's order is the visits' order.
    let server = Server::start(&dir, &db, &[]);
    for batch in 0..3 {
        let body: Vec<String> = (batch * 10..batch * 10 + 10)
            .map(|i| json!({"id": format!("v{i}"), "event": "Visited", "payload": {"user": visitor(i, n)}}).to_string())
            .collect();
        let (status, v) = api.post(&format!("{}/events", server.url), &body.join("\n"));
        assert_eq!(status, 200, "{v}");
    }
    let status = api.settle(&server.url);
    assert_eq!(status["shards"], 1, "a program with a cap runs on one share unless asked: {status}");
    let first: BTreeSet<String> = (0..5).map(|i| visitor(i, n)).collect();
    assert_eq!(waiting_in_cap(&api, &server.url, n), first, "the first five visitors are in");
    let r = api.report(&server.url, "Capped", 0);
    assert_eq!(r["ended"], json!({"over": 25}), "{r}");
    assert_eq!(r["running"], 5, "{r}");
    // Killed and restarted: the replay of the log decides as the live run did.
    server.kill();
    let server = Server::start(&dir, &db, &[]);
    api.settle(&server.url);
    assert_eq!(waiting_in_cap(&api, &server.url, n), first, "after a restart, the same five");
}

/// `journey run` over `project` and `events` in JSON with `extra` arguments: its output lines.
fn run(project: &Path, events: &Path, extra: &[&str]) -> Vec<Value> {
    let o = Command::new(env!("CARGO_BIN_EXE_journey"))
        .arg("run")
        .arg(project)
        .arg("--events")
        .arg(events)
        .args(["--format", "json"])
        .args(extra)
        .output()
        .expect("journey runs");
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).expect("UTF-8").lines().map(|l| serde_json::from_str(l).expect("JSON")).collect()
}

#[test]
fn a_cap_in_run_lets_through_the_first_profiles_by_time_from_a_file_out_of_order() {
    let dir = temp_dir("order-cap-run");
    let project = dir.join("capped.journey");
    std::fs::write(&project, CAPPED).expect("write");
    let n = 40;
    // Visit `i` at minute `i`, written in another order (so the file is sorted first).
    let line = |i: usize| {
        json!({"event": "Visited", "at": format!("2026-05-01T00:{i:02}:00Z"), "payload": {"user": visitor(i, n)}})
            .to_string()
    };
    let text: String = (0..n).map(|k| line((k * 13 + 7) % n) + "\n").collect();
    let events = dir.join("events.jsonl");
    std::fs::write(&events, text).expect("write events");
    let first: BTreeSet<String> = (0..5).map(|i| visitor(i, n)).collect();
    for extra in [&[][..], &["--jobs", "1"][..]] {
        let out = run(&project, &events, extra);
        // (`journey run` runs the clock on until nothing waits: the five end "in".)
        let waiting: BTreeSet<String> = out
            .iter()
            .filter(|l| l["type"] == "instance" && l["label"] == "in")
            .map(|l| l["profile"].as_str().expect("profile").to_string())
            .collect();
        assert_eq!(waiting, first, "{extra:?}: the first five visitors by time are in");
        let summary = out.last().expect("a summary");
        assert_eq!(summary["journeys"]["Capped"]["ended"], json!({"in": 5, "over": 35}), "{extra:?}: {summary}");
    }
    // On several threads a cap still lets exactly five through (which five depends on timing).
    let out = run(&project, &events, &["--jobs", "4"]);
    let waiting = out.iter().filter(|l| l["type"] == "instance" && l["label"] == "in").count();
    assert_eq!(waiting, 5, "--jobs 4: {out:?}");
}

/// Steps 0 to 3 of `profiles` profiles, interleaved: every profile's step 0, then every step 1, ...
fn steps(profiles: usize) -> Vec<(String, u32)> {
    (0..4).flat_map(|n| (0..profiles).map(move |p| (format!("s{p:03}"), n))).collect()
}

#[test]
fn each_profiles_events_are_applied_in_log_order_across_shares() {
    let api = Api::new();
    let dir = temp_dir("order-serve");
    std::fs::write(dir.join("sequence.journey"), SEQUENCE).expect("write");
    let server = Server::start(&dir, &dir.join("j.db"), &["--shards", "3"]);
    let profiles = 240;
    let clients = 4;
    // Each client owns a quarter of the profiles and sends their steps in order, in batches
    // (a batch often holds several steps of one profile), while the other clients do the same.
    api.rt.block_on(async {
        let tasks: Vec<_> = (0..clients)
            .map(|c| {
                let mine: Vec<String> = steps(profiles)
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| (i % profiles) % clients == c)
                    .map(|(i, (user, n))| {
                        json!({"id": format!("e{i}"), "event": "Stepped", "payload": {"user": user, "n": n}})
                            .to_string()
                    })
                    .collect();
                let (client, url) = (api.client.clone(), server.url.clone());
                tokio::spawn(async move {
                    for batch in mine.chunks(70) {
                        let r = client.post(format!("{url}/events")).body(batch.join("\n")).send().await.expect("post");
                        assert_eq!(r.status(), 200);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("client");
        }
    });
    let status = api.settle(&server.url);
    assert_eq!(status["shards"], 3, "{status}");
    assert_eq!(status["events"], profiles * 4, "{status}");
    let r = api.report(&server.url, "Sequence", 0);
    assert_eq!(r["started"], profiles, "{r}");
    assert_eq!(r["ended"], json!({"in-order": profiles}), "every profile saw its steps in order: {r}");
}

#[test]
fn each_profiles_events_are_applied_in_file_order_across_threads() {
    let dir = temp_dir("order-run");
    let project = dir.join("sequence.journey");
    std::fs::write(&project, SEQUENCE).expect("write");
    let profiles = 300;
    // Every third profile's steps share one time (only the file's order tells them apart); the
    // others' are a second apart.
    let text: String = steps(profiles)
        .into_iter()
        .enumerate()
        .map(|(i, (user, n))| {
            let p = i % profiles;
            let second = if p % 3 == 0 { 0 } else { n };
            let at = format!("2026-05-01T00:00:{second:02}Z");
            json!({"event": "Stepped", "at": at, "payload": {"user": user, "n": n}}).to_string() + "\n"
        })
        .collect();
    let events = dir.join("events.jsonl");
    std::fs::write(&events, text).expect("write events");
    for jobs in ["1", "3"] {
        let out = run(&project, &events, &["--summary-only", "--jobs", jobs]);
        let summary = out.last().expect("a summary");
        assert_eq!(
            summary["journeys"]["Sequence"]["ended"],
            json!({"in-order": profiles}),
            "--jobs {jobs}: every profile saw its steps in order: {summary}"
        );
    }
}
