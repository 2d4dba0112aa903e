//! `journey run` without `--dry-run` calls actions over real HTTP: a local server receives the
//! request with its idempotency key, and a failing server sends the instance down its error path.

mod support;

use support::{Api, Receiver};

/// The actions' server: `/ok` answers a message id, `/fail` fails; it records every call.
fn receiver(api: &Api) -> Receiver {
    Receiver::start_answering(api, |path| if path == "/fail" { (503, "") } else { (200, r#"{"messageId": "m-1"}"#) })
}

fn project(dir: &std::path::Path, port: u16) {
    std::fs::create_dir_all(dir).expect("dir");
    let src = format!(
        r#"
type Signup = {{ email: string }}
event SignUp: Signup {{ key email }}
action Mail(to: string) = http POST "http://127.0.0.1:{port}/ok" {{
  body {{ to: to }}
  timeout 2s
  returns {{ messageId: string }}
}}
action Broken(to: string) = http POST "http://127.0.0.1:{port}/fail" {{
  body {{ to: to }}
  timeout 2s
  retry 2 backoff 10ms
}}
journey Welcome {{
  start on SignUp
  let sent = call Mail(to: event.email) on error {{ end "mail-failed" }}
  if sent.messageId == "m-1" {{
    call Broken(to: event.email) on error {{ end "broken-failed" }}
  }}
  end "done"
}}
"#
    );
    std::fs::write(dir.join("welcome.journey"), src).expect("write");
    std::fs::write(
        dir.join("events.jsonl"),
        "{\"event\": \"SignUp\", \"at\": \"2026-05-12T09:00:00Z\", \"payload\": {\"email\": \"ann@example.com\"}}\n",
    )
    .expect("write");
}

#[test]
fn run_calls_actions_over_http_and_takes_the_error_path() {
    let api = Api::new();
    let receiver = receiver(&api);
    let port = receiver.port;

    let dir = support::temp_dir("run-http");
    project(&dir, port);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_journey"))
        .arg("run")
        .arg(&dir)
        .arg("--events")
        .arg(dir.join("events.jsonl"))
        .args(["--format", "json"])
        .output()
        .expect("journey runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    let instance = lines.iter().find(|l| l["type"] == "instance").expect("instance line");
    assert_eq!(instance["label"], "broken-failed", "{instance}");
    let summary = lines.last().expect("summary");
    assert_eq!(summary["calls"]["Mail"], 1);
    assert_eq!(summary["calls"]["Broken"], 1, "calls, not attempts");
    assert_eq!(summary["call_errors"]["Broken"], 1);

    let calls = receiver.calls();
    let bodies: Vec<_> = calls.iter().filter(|c| c.path == "/ok").map(|c| c.body.clone()).collect();
    assert_eq!(bodies, vec![serde_json::json!({"to": "ann@example.com"})]);
    // One Mail attempt, then three Broken attempts (1 + 2 retries) with one idempotency key.
    let keys: Vec<&str> = calls.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys.len(), 4, "{keys:?}");
    assert!(!keys[1].is_empty());
    assert!(keys[1..].iter().all(|k| *k == keys[1]), "the same key on every retry: {keys:?}");
    assert_ne!(keys[0], keys[1], "different calls have different keys");
}

#[test]
fn a_file_out_of_time_order_sends_each_call_once() {
    let api = Api::new();
    let receiver = receiver(&api);
    let port = receiver.port;

    let dir = support::temp_dir("run-http-order");
    let src = format!(
        "type Signup = {{ email: string }}\nevent SignUp: Signup {{ key email }}\n\
         action Mail(to: string) = http POST \"http://127.0.0.1:{port}/ok\" {{\n  body {{ to: to }}\n  timeout 2s\n}}\n\
         journey Welcome {{\n  start on SignUp\n  call Mail(to: event.email)\n  end \"done\"\n}}\n"
    );
    std::fs::write(dir.join("welcome.journey"), src).expect("write");
    // Many sign-ups in time order (more than one batch handed to the engines), then one
    // earlier: the order is known only at the last line, after the first ones would already
    // have been sent had the file been streamed.
    let mut lines: Vec<String> = (0..1_500)
        .map(|i| {
            format!(
                "{{\"event\": \"SignUp\", \"at\": \"2026-05-12T10:{:02}:{:02}Z\", \"payload\": {{\"email\": \"p{i}@example.com\"}}}}",
                (i / 60) % 60,
                i % 60
            )
        })
        .collect();
    lines.push(
        "{\"event\": \"SignUp\", \"at\": \"2026-05-12T09:00:00Z\", \"payload\": {\"email\": \"early@example.com\"}}"
            .into(),
    );
    let events = dir.join("unsorted.jsonl");
    std::fs::write(&events, lines.join("\n")).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_journey"))
        .arg("run")
        .arg(&dir)
        .arg("--events")
        .arg(&events)
        .args(["--format", "json", "--summary-only"])
        .output()
        .expect("journey runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).expect("summary");
    assert_eq!(summary["calls"]["Mail"], 1_501, "{summary}");
    assert_eq!(receiver.count(), 1_501, "each Mail call sent once");
}
