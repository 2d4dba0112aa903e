//! Goals and experiments end to end, on the real binary: conversions counted once per entry
//! within the window (also after the instance ended), values summed, per-arm conversions and the
//! statistics in the one report shape of `journey run`, `journey test --format json` and
//! `GET /journeys/NAME/report`, and `journey report` printing the verdict in words. In `journey
//! serve` the goal watches outlive a restart (graceful, or a kill -9) and a takeover on PostgreSQL.

mod support;

use serde_json::{json, Value};
use support::cli::{journey, run, stderr, stdout};
use support::{temp_dir, Api, PgDb, Receiver, Server};

/// Every instance ends at once: conversions come after their instances ended.
const PROJECT: &str = r#"
type Order = { email: string, total: number }
event Visit: Order { key email }
event Buy: Order { key email }

journey Promo {
  start on Visit
  goal "purchase" on Buy as b where b.total > 0 within 1d value b.total
  split {
    20% "control" -> { end "c" }
    40% "A" -> { end "a" }
    40% "B" -> { end "b" }
  }
}
"#;

fn ts(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).expect("time").to_string()
}

/// `n` visits an hour apart. Profile `i` with `i % 3 == 0` buys twice (10 then 99: only the
/// first converts); with `i % 3 == 1` it buys 2 days later (outside the window); with
/// `i % 3 == 2` it buys for 0 (the `where` is false).
fn events(n: usize) -> String {
    let start = 1_780_000_000_000_i64;
    let mut lines = Vec::new();
    for i in 0..n {
        let email = format!("p{i}@example.com");
        let at = start + i as i64 * 3_600_000;
        lines.push((at, json!({"event": "Visit", "at": ts(at), "payload": {"email": email, "total": 0}})));
        let buys: Vec<(i64, f64)> = match i % 3 {
            0 => vec![(at + 60_000, 10.0), (at + 120_000, 99.0)],
            1 => vec![(at + 2 * 86_400_000, 50.0)],
            _ => vec![(at + 60_000, 0.0)],
        };
        for (t, total) in buys {
            lines.push((t, json!({"event": "Buy", "at": ts(t), "payload": {"email": email, "total": total}})));
        }
    }
    lines.sort_by_key(|(at, _)| *at);
    lines.into_iter().map(|(_, l)| l.to_string() + "\n").collect()
}

#[test]
fn run_counts_conversions_once_within_the_window_and_analyses_the_experiment() {
    let dir = temp_dir("goals-run");
    std::fs::write(dir.join("promo.journey"), PROJECT).expect("write");
    std::fs::write(dir.join("events.jsonl"), events(90)).expect("write");
    let o = run(&dir, dir.join("events.jsonl"), &["--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out: Vec<Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    let promo = &out.last().expect("summary")["journeys"]["Promo"];
    // 30 profiles convert, each once, on its first purchase of 10.
    assert_eq!(
        promo["goals"],
        json!([{"goal": "purchase", "event": "Buy", "within_ms": 86_400_000, "within": "1d", "converted": 30, "value": 300.0}])
    );
    let exp = &promo["experiments"][0];
    let arms = exp["arms"].as_array().expect("arms");
    let assigned: u64 = arms.iter().map(|a| a["assigned"].as_u64().unwrap()).sum();
    let converted: u64 = arms.iter().map(|a| a["goals"]["purchase"]["converted"].as_u64().unwrap()).sum();
    assert_eq!((assigned, converted), (90, 30), "{exp}");
    for a in arms {
        let c = a["goals"]["purchase"]["converted"].as_f64().unwrap();
        assert_eq!(a["goals"]["purchase"]["value"].as_f64().unwrap(), 10.0 * c, "{a}");
    }
    // Each arm ends at its own `end`: the end nodes count the conversions of the instances that
    // ended there, the same as their arms.
    for (arm, end) in [("control", "end c"), ("A", "end a"), ("B", "end b")] {
        let node = promo["nodes"].as_array().unwrap().iter().find(|n| n["label"] == end).expect("end node");
        let a = arms.iter().find(|a| a["label"] == arm).expect("arm");
        assert_eq!(node["goals"]["purchase"], a["goals"]["purchase"]["converted"], "{node}");
    }
    // The statistics: per arm, against the control, with the warnings of a small test.
    let analysis = &exp["analysis"];
    assert_eq!(analysis["control"], "control");
    let g = &analysis["goals"][0];
    assert_eq!(g["goal"], "purchase");
    for (a, r) in arms.iter().zip(g["arms"].as_array().unwrap()) {
        assert_eq!(r["label"], a["label"]);
        assert_eq!(r["assigned"], a["assigned"]);
        assert_eq!(r["converted"], a["goals"]["purchase"]["converted"]);
        let rate = r["converted"].as_f64().unwrap() / r["assigned"].as_f64().unwrap();
        assert!((r["rate"].as_f64().unwrap() - rate).abs() < 1e-12, "{r}");
        assert!((r["value_per_profile"].as_f64().unwrap() - 10.0 * rate).abs() < 1e-9, "{r}");
    }
    assert!(g["arms"][0]["versus_control"].is_null(), "the control is not compared with itself");
    let b = &g["arms"][2];
    assert!(b["versus_control"]["p"].as_f64().is_some(), "{b}");
    assert!(b["versus_control"]["value"]["p"].as_f64().is_some(), "Welch's test on the value: {b}");
    assert!(b["verdict"].as_str().unwrap().starts_with("B converts "), "{b}");
    let warnings = analysis["warnings"].to_string();
    assert!(warnings.contains("fewer than 30 conversions"), "{warnings}");
    assert!(warnings.contains("Holm"), "{warnings}");

    // `journey report` prints the goal and the verdict in words.
    let file = dir.join("run.jsonl");
    std::fs::write(&file, stdout(&o)).expect("write");
    let r = journey(&["report", file.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    let text = stdout(&r);
    assert!(
        text.contains(
            "  goal \"purchase\" (on Buy within 1d): 30 converted, value 300 (window: 0 converted, value 0)\n"
        ),
        "{text}"
    );
    assert!(text.contains("    goal \"purchase\"\n    arm "), "{text}");
    assert!(text.contains(b["verdict"].as_str().unwrap()), "{text}");
    assert!(text.contains("    value per profile: control "), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn test_json_reports_goals_and_the_test_expectations_hold() {
    let dir = temp_dir("goals-test");
    let tests = r#"
test "a purchase after the instance ended converts, once" {
  send Visit { email: "t@example.com", total: 0 }
  expect Promo ended
  after 1h
  send Buy { email: "t@example.com", total: 25 }
  send Buy { email: "t@example.com", total: 75 }
  expect Promo converted "purchase"
}

test "no purchase, no conversion" {
  send Visit { email: "u@example.com", total: 0 }
  after 2d
  send Buy { email: "u@example.com", total: 25 }
  expect no Promo converted "purchase"
}

test "a wrong expectation fails with the reason" {
  send Visit { email: "v@example.com", total: 0 }
  expect Promo converted "purchase"
}
"#;
    std::fs::write(dir.join("promo.journey"), format!("{PROJECT}{tests}")).expect("write");
    let o = journey(&["test", dir.to_str().unwrap(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "one test fails on purpose: {}", stderr(&o));
    let results: Vec<Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    assert_eq!(results[0]["outcome"], "passed", "{}", results[0]);
    assert_eq!(results[0]["reports"]["Promo"]["goals"][0]["converted"], 1);
    assert_eq!(results[0]["reports"]["Promo"]["goals"][0]["value"], 25.0);
    assert_eq!(results[1]["outcome"], "passed", "{}", results[1]);
    assert_eq!(results[1]["reports"]["Promo"]["goals"][0]["converted"], 0);
    assert_eq!(results[2]["outcome"], "failed");
    assert_eq!(
        results[2]["failure"],
        "expected Promo converted \"purchase\", but no `Buy` arrived in time (within 1d of entry) with its condition true"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The server converts profiles whose instances ended, and its report has the same shape and
/// statistics.
#[test]
fn serve_reports_goals_and_the_experiments_analysis() {
    let api = Api::new();
    let dir = temp_dir("goals-serve");
    std::fs::write(dir.join("promo.journey"), PROJECT).expect("write");
    let server = Server::start(&dir, &dir.join("j.db"), &[]);
    let url = server.url.clone();
    let visits: Vec<String> = (0..60)
        .map(|i| {
            json!({"id": format!("v-{i}"), "event": "Visit", "payload": {"email": format!("p{i}@x.com"), "total": 0}})
                .to_string()
        })
        .collect();
    let (status, r) = api.post(&format!("{url}/events"), &visits.join("\n"));
    assert_eq!(status, 200, "{r}");
    api.settle(&url);
    // Every instance has ended before anyone buys; every other profile buys, twice.
    let buys: Vec<String> = (0..60)
        .filter(|i| i % 2 == 0)
        .flat_map(|i| {
            (0..2).map(move |k| {
                json!({"id": format!("b-{i}-{k}"), "event": "Buy", "payload": {"email": format!("p{i}@x.com"), "total": 5 + k}})
                    .to_string()
            })
        })
        .collect();
    let (status, r) = api.post(&format!("{url}/events"), &buys.join("\n"));
    assert_eq!(status, 200, "{r}");
    api.settle(&url);
    let r = api.wait_get("30 conversions", &format!("{url}/journeys/Promo/report"), |v| {
        v["versions"][0]["report"]["goals"][0]["converted"] == 30
    });
    let report = &r["versions"][0]["report"];
    assert_eq!(report["running"], 0, "the instances ended before the purchases");
    assert_eq!(report["goals"][0]["value"], 150.0, "the first purchase of each, 5");
    let exp = &report["experiments"][0];
    let converted: u64 =
        exp["arms"].as_array().unwrap().iter().map(|a| a["goals"]["purchase"]["converted"].as_u64().unwrap()).sum();
    assert_eq!(converted, 30);
    assert_eq!(exp["analysis"]["goals"][0]["arms"].as_array().map(Vec::len), Some(3), "{exp}");
    let o = journey(&["report", "--server", &url, "--journey", "Promo"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(
            "goal \"purchase\" (on Buy within 1d): 30 converted, value 150 (window: 30 converted, value 150)"
        ),
        "{}",
        stdout(&o)
    );
    // The conversions were counted as they came (today): the last 24 hours hold them all, and a
    // window that starts an hour from now none.
    assert_eq!(report["window"]["goals"], json!([{"goal": "purchase", "converted": 30, "value": 150.0}]), "{report}");
    let ahead = ts(jiff::Timestamp::now().as_millisecond() + 3_600_000);
    let later = api.get(&format!("{url}/journeys/Promo/report?since={ahead}"));
    assert_eq!(later["versions"][0]["report"]["window"]["goals"][0]["converted"], 0, "{later}");
}

/// `journey run`'s window (the 24 hours before its clock's end) counts the conversions made in
/// it, and only those.
#[test]
fn run_window_counts_only_the_last_days_conversions() {
    let dir = temp_dir("goals-window");
    std::fs::write(dir.join("promo.journey"), PROJECT).expect("write");
    // Ten profiles visit and buy on day 0; four on day 5, the run's last day.
    let day0 = 1_780_012_800_000_i64; // a midnight, so that hours line up with days
    let mut lines = Vec::new();
    for (i, at) in (0..10).map(|i| (i, day0)).chain((10..14).map(|i| (i, day0 + 5 * 86_400_000))) {
        let email = format!("p{i}@example.com");
        lines.push(json!({"event": "Visit", "at": ts(at + i * 1000), "payload": {"email": email, "total": 0}}));
        lines.push(json!({"event": "Buy", "at": ts(at + 60_000 + i * 1000), "payload": {"email": email, "total": 2}}));
    }
    let text: String = lines.iter().map(|l| l.to_string() + "\n").collect();
    std::fs::write(dir.join("events.jsonl"), text).expect("write");
    let o = journey(&[
        "run",
        dir.to_str().unwrap(),
        "--events",
        dir.join("events.jsonl").to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let summary: Value = serde_json::from_str(stdout(&o).lines().last().expect("summary")).expect("json");
    let promo = &summary["journeys"]["Promo"];
    assert_eq!(promo["goals"][0]["converted"], 14, "{promo}");
    assert_eq!(promo["window"]["goals"], json!([{"goal": "purchase", "converted": 4, "value": 8.0}]), "{promo}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every instance ends once its email is sent; the email's outcome in the checkpointed message
/// list shows that the entry (and its goal watch) is in a checkpoint.
fn mailing_project(receiver: u16) -> String {
    format!(
        r#"
profile = {{ email: string? }}
type Order = {{ email: string, total: number }}
event Visit: Order {{ key email }}
event Buy: Order {{ key email }}
action Mail(to: string, template: string, messageId: string) = http POST "http://127.0.0.1:{receiver}/mail" {{
  body {{ to: to, template: template, id: messageId }}
}}
channel email {{ to profile.email  deliver Mail }}

journey Promo {{
  start on Visit
  goal "purchase" on Buy as b where b.total > 0 within 1d value b.total
  send email "promo"
  end "mailed"
}}
"#
    )
}

/// How the server goes down between the entries and the purchases.
#[derive(Clone, Copy)]
enum Restart {
    /// SIGINT: a last checkpoint, then exit.
    Graceful,
    /// SIGKILL, once the entries are checkpointed.
    Killed,
}

#[test]
fn a_conversion_after_a_graceful_restart_counts_for_an_ended_instance() {
    let dir = temp_dir("goals-restart");
    restart_case(&dir, &dir.join("j.db"), &[], Restart::Graceful);
}

#[test]
fn a_conversion_after_a_kill_counts_for_an_ended_instance() {
    let dir = temp_dir("goals-kill");
    restart_case(&dir, &dir.join("j.db"), &[], Restart::Killed);
}

#[test]
fn a_conversion_after_a_graceful_restart_on_postgres_counts_for_an_ended_instance() {
    let dir = temp_dir("goals-restart-pg");
    let pg = PgDb::new("goals_restart");
    restart_case(&dir, pg.path(), PG_ARGS, Restart::Graceful);
}

#[test]
fn a_conversion_after_a_takeover_on_postgres_counts_for_an_ended_instance() {
    let dir = temp_dir("goals-kill-pg");
    let pg = PgDb::new("goals_kill");
    restart_case(&dir, pg.path(), PG_ARGS, Restart::Killed);
}

/// The arguments of a PostgreSQL node: a short lease, so that a restarted node takes the killed
/// one's partitions over within seconds.
const PG_ARGS: &[&str] = &["--partitions", "4", "--lease-ttl", "2"];

/// Two profiles enter and their instances end; the server restarts; then one buys within the
/// window: the report counts its conversion (its goal watch outlived the restart).
fn restart_case(dir: &std::path::Path, db: &std::path::Path, args: &[&str], restart: Restart) {
    let api = Api::new();
    let receiver = Receiver::start(&api);
    std::fs::write(dir.join("promo.journey"), mailing_project(receiver.port)).expect("write");
    let server = Server::start(dir, db, args);
    let url = server.url.clone();
    let people = ["ann@x.com", "bob@x.com"];
    for p in people {
        let (status, v) = api.send("PUT", &format!("{url}/profiles/{p}"), &json!({"email": p}).to_string());
        assert_eq!(status, 200, "{v}");
        let visit = json!({"event": "Visit", "payload": {"email": p, "total": 0}});
        let (status, v) = api.post(&format!("{url}/events"), &visit.to_string());
        assert_eq!(status, 200, "{v}");
    }
    for p in people {
        api.wait_get(&format!("{p}'s email to be sent"), &format!("{url}/profiles/{p}/messages"), |v| {
            v[0]["outcome"] == "sent"
        });
    }
    api.wait_get("both instances to end", &format!("{url}/journeys/Promo/report"), |v| {
        v["versions"][0]["report"]["ended"] == json!({"mailed": 2})
    });
    match restart {
        Restart::Graceful => server.interrupt(),
        Restart::Killed => server.kill(),
    }
    let server = Server::start(dir, db, args);
    let url = server.url.clone();
    let buy = json!({"event": "Buy", "payload": {"email": "ann@x.com", "total": 12}});
    let (status, v) = api.post(&format!("{url}/events"), &buy.to_string());
    assert_eq!(status, 200, "{v}");
    api.settle(&url);
    let r = api.wait_get("Ann's conversion", &format!("{url}/journeys/Promo/report"), |v| {
        v["versions"][0]["report"]["goals"][0]["converted"] == 1
    });
    let report = &r["versions"][0]["report"];
    assert_eq!(report["goals"][0]["value"], 12.0, "{report}");
    assert_eq!(report["started"], 2, "no instance entered again: {report}");
    assert_eq!(report["running"], 0, "{report}");
}
