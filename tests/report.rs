//! One report shape from `journey run`, `journey test` and `journey serve`, split arms by label
//! in reports, path lines and step events, and `journey report` printing it for people.

mod support;

use serde_json::{json, Value};
use std::process::Output;
use support::cli::{arg, journey, run, stderr, stdout};
use support::{temp_dir, Api, Server};

const PROJECT: &str = r#"
type Signal = { email: string }
event Visit: Signal { key email }
event Buy: Signal { key email }

action Mark(arm: string) = http POST "https://marks.example.com/m" {
  body { arm: arm }
  returns { ok: bool }
}

journey Promo {
  start on Visit
  split {
    20% "control" -> { }
    40% "A" -> { call Mark(arm: "A") on error { } }
    40% "B" -> { call Mark(arm: "B") on error { } }
  }
  await {
    on Buy -> { end "bought" }
    after 1d -> { end "no-buy" }
  }
}

test "one visit" {
  mock Mark -> { ok: true }
  send Visit { email: "t@example.com" }
  after 2d
  expect Promo ended "no-buy"
}
"#;

/// A project folder with the journey above and `n` visits an hour apart, every third profile
/// buying an hour after its visit.
fn project(name: &str, n: usize) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("journey-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("promo.journey"), PROJECT).expect("write");
    let mut events = String::new();
    let start = 1_780_000_000_000_i64;
    let mut lines = Vec::new();
    for i in 0..n {
        let at = start + i as i64 * 3_600_000;
        lines.push((at, json!({"event": "Visit", "at": ts(at), "payload": {"email": format!("p{i}@example.com")}})));
        if i % 3 == 0 {
            let at = at + 3_600_000 - 1;
            lines.push((at, json!({"event": "Buy", "at": ts(at), "payload": {"email": format!("p{i}@example.com")}})));
        }
    }
    lines.sort_by_key(|(at, _)| *at);
    for (_, l) in lines {
        events.push_str(&l.to_string());
        events.push('\n');
    }
    std::fs::write(dir.join("events.jsonl"), events).expect("write events");
    dir
}

fn ts(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).expect("time").to_string()
}

fn lines(o: &Output) -> Vec<Value> {
    stdout(o).lines().map(|l| serde_json::from_str(l).expect("json line")).collect()
}

#[test]
fn run_names_split_arms_in_paths_steps_and_the_report() {
    let dir = project("run", 60);
    let steps = dir.join("steps.jsonl");
    let o = run(&dir, dir.join("events.jsonl"), &["--dry-run", "--format", "json", "--step-events", arg(&steps)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = lines(&o);
    let summary = out.last().expect("summary");
    let promo = &summary["journeys"]["Promo"];
    assert_eq!(promo["started"], 60);
    // The split node: its kind, its arms by label, adding up to the profiles that reached it.
    let split = &promo["nodes"][0];
    assert_eq!(split["kind"], "split", "{split}");
    let arms = split["arms"].as_object().expect("arms by label");
    assert_eq!(arms.keys().collect::<Vec<_>>(), ["control", "A", "B"]);
    let total: u64 = arms.values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(total, 60);
    assert!(arms.values().all(|v| v.as_u64().unwrap() > 0), "every arm has profiles: {arms:?}");
    // The await counts its arms too, and a call its handlers.
    let await_node = promo["nodes"].as_array().unwrap().iter().find(|n| n["kind"] == "await").expect("await node");
    assert_eq!(await_node["arms"], json!({"Buy": 20, "after": 40}), "{await_node}");
    let call = promo["nodes"].as_array().unwrap().iter().find(|n| n["kind"] == "call").expect("call node");
    assert_eq!(call["handlers"]["error"], call["entered"], "a dry run's calls fail: {call}");
    // The experiment: the labelled split, its arms as assigned, and its control.
    let exp = &promo["experiments"][0];
    assert_eq!(exp["control"], "control");
    assert_eq!(exp["arms"][1], json!({"label": "A", "assigned": arms["A"]}));
    assert_eq!(promo["goals"], json!([]));
    // The window: the 24 hours before the run's clock ends (visits are an hour apart; the last
    // ends a day after it, so the window sees the visits of its first hours only).
    let window = &promo["window"];
    assert!(window["started"].as_u64().unwrap() < 60, "{window}");
    assert!(window["until"].as_str().unwrap() > window["since"].as_str().unwrap());
    // Path lines name the arm each profile took, and agree with the step events.
    let text = std::fs::read_to_string(&steps).expect("step events");
    let steps: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("step")).collect();
    let mut by_arm = std::collections::BTreeMap::<String, u64>::new();
    for line in out.iter().filter(|l| l["type"] == "instance") {
        let first = line["path"][0].as_str().expect("path");
        let arm = first.strip_prefix("split \"").and_then(|s| s.strip_suffix('"')).expect(first).to_string();
        let step = steps
            .iter()
            .find(|s| s["profile"] == line["profile"] && s["kind"] == "split")
            .expect("the split's step event");
        assert_eq!(step["arm"], arm.as_str(), "step event and path line agree for {}", line["profile"]);
        *by_arm.entry(arm).or_default() += 1;
    }
    for (arm, count) in &by_arm {
        assert_eq!(arms[arm].as_u64(), Some(*count), "report and paths agree on {arm}");
    }
    // Other nodes' step events carry no arm; an await's names the event that won.
    assert!(steps.iter().filter(|s| s["kind"] == "end").all(|s| s.get("arm").is_none()));
    assert!(steps.iter().any(|s| s["kind"] == "await" && s["arm"] == "Buy"));

    // `journey report` reads the run's output: the same numbers, for people.
    let file = dir.join("run.jsonl");
    std::fs::write(&file, stdout(&o)).expect("write");
    let r = journey(&["report", file.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    let text = stdout(&r);
    assert!(text.starts_with("Promo version 1\n  all time:   60 started, 0 running"), "{text}");
    assert!(text.contains(&format!("arms: control {} · A {} · B {}", arms["control"], arms["A"], arms["B"])), "{text}");
    assert!(text.contains("arms: Buy 20 · after 40"), "{text}");
    assert!(text.contains("experiment at line 13 (split 20% control / 40% A / 40% B), control \"control\""), "{text}");
    // As JSON: the server's document shape, holding the run's report as it was.
    let j = journey(&["report", file.to_str().unwrap(), "--format", "json"]);
    let doc: Value = serde_json::from_str(stdout(&j).trim()).expect("one document");
    assert_eq!(doc["journey"], "Promo");
    assert_eq!(&doc["versions"][0]["report"], promo);
    // No such journey: exit 1 with the reason; no such file: exit 2.
    let none = journey(&["report", file.to_str().unwrap(), "--journey", "Nope"]);
    assert_eq!(none.status.code(), Some(1));
    assert!(stderr(&none).contains("no report of journey `Nope`"), "{}", stderr(&none));
    let missing = journey(&["report", dir.join("missing.json").to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("cannot read"), "{}", stderr(&missing));
    let usage = journey(&["report"]);
    assert_eq!(usage.status.code(), Some(2), "no input is a usage error");
    assert_eq!(journey(&["report", "--help"]).status.code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn test_json_carries_the_same_report_shape() {
    let dir = project("test", 1);
    let o = journey(&["test", dir.to_str().unwrap(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let result: Value = serde_json::from_str(stdout(&o).lines().next().expect("a test")).expect("json");
    let promo = &result["reports"]["Promo"];
    assert_eq!(promo["started"], 1);
    assert_eq!(promo["ended"], json!({"no-buy": 1}));
    let keys: Vec<&String> = promo.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["started", "ended", "errors", "timeouts", "running", "nodes", "goals", "experiments", "window"]);
    assert_eq!(promo["nodes"][0]["kind"], "split");
    assert!(result["path"][0].as_str().unwrap().starts_with("Promo: split \""), "{}", result["path"]);
    let r = journey(&["report", "-"]);
    assert_eq!(r.status.code(), Some(1), "empty stdin holds no report");
    let _ = std::fs::remove_dir_all(&dir);
}

/// An experiment with goals (as the goal language will fill it): the table and the verdict.
#[test]
fn report_prints_an_experiment_with_its_verdict() {
    let arm = |label: &str, assigned, converted| journey_vm::stats::ArmInput {
        label: label.into(),
        assigned,
        converted,
        value: None,
    };
    let analysis = journey_vm::stats::analyse(&[(
        "purchase".into(),
        vec![arm("control", 10_000, 1_000), arm("A", 10_000, 1_030), arm("B", 10_000, 1_210)],
    )]);
    let doc = json!({"journey": "CartRecovery", "versions": [{"version": 2, "report": {
        "started": 30000, "running": 0, "errors": 0, "timeouts": 0, "ended": {"recovered": 3240},
        "nodes": [], "goals": [], "window": {"error": "counts are kept per hour for the last 24 hours; this window starts earlier"},
        "experiments": [{"node": 3, "line": 30, "label": "split 10% control / 45% A / 45% B", "control": "control",
            "arms": [], "analysis": analysis}]}}]});
    let dir = std::env::temp_dir().join(format!("journey-report-verdict-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let file = dir.join("report.json");
    std::fs::write(&file, serde_json::to_string_pretty(&doc).unwrap()).expect("write");
    let o = journey(&["report", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    let want = "  experiment at line 30 (split 10% control / 45% A / 45% B), control \"control\"
    goal \"purchase\"
    arm     assigned converted rate  95% CI       lift (points)      p (adjusted)
    control 10000    1000      10.0% 9.4 to 10.6  control            -
    A       10000    1030      10.3% 9.7 to 10.9  +0.3 (-0.5 to 1.1) p = 0.482
    B       10000    1210      12.1% 11.5 to 12.8 +2.1 (1.2 to 3.0)  p < 0.001
    A converts 0.3 points better than control, not significant (95% CI -0.5 to 1.1, p = 0.482)
    B converts 2.1 points better than control (95% CI 1.2 to 3.0, p < 0.001)
    warning: 2 comparisons: p-values are adjusted with Holm's method (read p_adjusted); intervals are not adjusted
";
    assert!(text.contains(want), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The server's report: the same shape, split arms by label, a window that `?since=` moves,
/// and `journey report --server` printing it.
#[test]
fn serve_reports_arms_and_windows() {
    let api = Api::new();
    let dir = temp_dir("report-serve");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("p.journey"),
        r#"
type Signal = { email: string }
event Visit: Signal { key email }
journey Promo {
  start on Visit
  split {
    50% "control" -> { end "c" }
    50% "B" -> { end "b" }
  }
}
"#,
    )
    .expect("write");
    let server = Server::start(&dir, &dir.join("j.db"), &[]);
    let url = server.url.clone();
    let batch: Vec<String> = (0..40)
        .map(|i| {
            json!({"id": format!("v-{i}"), "event": "Visit", "payload": {"email": format!("p{i}@x.com")}}).to_string()
        })
        .collect();
    let (status, r) = api.post(&format!("{url}/events"), &batch.join("\n"));
    assert_eq!(status, 200, "{r}");
    api.settle(&url);
    let r = api.wait_get("40 ends", &format!("{url}/journeys/Promo/report"), |v| {
        v["versions"][0]["report"]["started"] == 40 && v["versions"][0]["report"]["running"] == 0
    });
    let report = &r["versions"][0]["report"];
    let arms = &report["nodes"][0]["arms"];
    assert_eq!(arms["control"].as_u64().unwrap() + arms["B"].as_u64().unwrap(), 40, "{arms}");
    assert_eq!(report["ended"]["c"], arms["control"]);
    assert_eq!(report["experiments"][0]["arms"][1]["assigned"], arms["B"]);
    // The last 24 hours hold every event of this test.
    assert_eq!(report["window"]["started"], 40, "{}", report["window"]);
    assert_eq!(report["window"]["nodes"][0]["arms"], *arms);
    // A window from an hour ahead is empty; one from a year ago is beyond the hourly counts kept.
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1);
    let ahead = api.get(&format!("{url}/journeys/Promo/report?since={later}"));
    assert_eq!(ahead["versions"][0]["report"]["window"]["started"], 0, "{ahead}");
    let old = api.get(&format!("{url}/journeys/Promo/report?since=2025-01-01T00:00:00Z"));
    assert!(old["versions"][0]["report"]["window"]["error"].as_str().unwrap().contains("per hour"), "{old}");
    let (status, bad) = api.send("GET", &format!("{url}/journeys/Promo/report?since=yesterday"), "");
    assert_eq!(status, 400, "{bad}");
    assert!(bad["error"].as_str().unwrap().contains("give RFC 3339"), "{bad}");
    let (status, bad) = api.send("GET", &format!("{url}/journeys/Promo/report?hours=maybe"), "");
    assert_eq!(status, 400, "{bad}");
    // The hourly counts the console draws: they add up to the whole.
    let hourly = api.get(&format!("{url}/journeys/Promo/report?hours=true"));
    let hours = hourly["versions"][0]["report"]["hours"].as_array().expect("hours").clone();
    assert_eq!(hours.iter().map(|h| h["started"].as_u64().unwrap()).sum::<u64>(), 40, "{hours:?}");
    assert_eq!(hours.iter().map(|h| h["entered"][0].as_u64().unwrap()).sum::<u64>(), 40, "{hours:?}");
    // `journey report --server` prints the same numbers.
    let o = journey(&["report", "--server", &url, "--journey", "Promo"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.starts_with("Promo version 1\n  all time:   40 started, 0 running"), "{text}");
    assert!(text.contains(&format!("arms: control {} · B {}", arms["control"], arms["B"])), "{text}");
    let o = journey(&["report", "--server", &url, "--journey", "Nope"]);
    assert_eq!(o.status.code(), Some(2), "a server's refusal is exit 2");
    assert!(stderr(&o).contains("no journey `Nope`"), "{}", stderr(&o));
}
