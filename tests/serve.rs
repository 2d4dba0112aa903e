//! End-to-end tests of `journey serve`: the HTTP API, idempotency, a cap across shares, and
//! auth. Crash safety is in `serve_crash.rs`, the lifecycle in `serve_lifecycle.rs`.

mod support;

use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use support::{free_port, notify_action, on_postgres, on_sqlite, temp_dir, Api, PgDb, Receiver, Server};

fn project(dir: &Path, notify_port: u16) {
    let notify = notify_action(notify_port);
    std::fs::create_dir_all(dir).expect("dir");
    std::fs::write(
        dir.join("flow.journey"),
        format!(
            r#"
type PingPayload = {{ user: string, n: int }}
event Ping: PingPayload {{ key user }}
audience VIP
{notify}
journey Flow {{
  start on Ping
  wait 1s
  call Notify(user: event.user) on error {{ end "notify-failed" }}
  await {{
    on Ping as p where p.n > 100 -> {{ end "big" }}
    after 1s -> {{ }}
  }}
  end "done"
}}
journey Greet {{
  start on audience VIP enters
  wait 1s
  end "greeted"
}}
"#
        ),
    )
    .expect("write");
}

#[test]
fn the_api_accepts_validates_and_reports() {
    on_sqlite("serve-api", &[], |dir, db, args| api_case(dir, db, args, 1));
}

/// The same on PostgreSQL, as one node of a cluster over four partitions (each holds the
/// publish entry).
#[test]
fn the_api_accepts_validates_and_reports_on_postgres() {
    on_postgres("api", &["--partitions", "4"], |dir, db, args| api_case(dir, db, args, 4));
}

/// The API's behaviour on database `db` (started with `args`), whose log holds
/// `publish_entries` for the first version's publication.
fn api_case(dir: &Path, db: &Path, args: &[&str], publish_entries: i64) {
    let api = Api::new();
    let receiver = Receiver::start(&api);
    project(dir, receiver.port);
    let server = Server::start(dir, db, args);
    let url = server.url.clone();
    let post = |path: &str, body: String| api.post(&format!("{url}{path}"), &body);
    // One event, then the same id again: stored once.
    let ev = json!({"id": "a-1", "event": "Ping", "payload": {"user": "ann", "n": 1}}).to_string();
    let (_, r) = post("/events", ev.clone());
    assert_eq!(r["accepted"][0]["duplicate"], false, "{r}");
    let (_, r) = post("/events", ev);
    assert_eq!(r["accepted"][0]["duplicate"], true, "{r}");
    // A batch with one good and three bad lines.
    let big = "x".repeat(70_000);
    let batch = [
        json!({"id": "b-1", "event": "Ping", "payload": {"user": "ben", "n": 2}}).to_string(),
        json!({"id": "b-2", "event": "Pong", "payload": {}}).to_string(),
        json!({"id": "b-3", "event": "Ping", "payload": {"user": "cy", "n": "two"}}).to_string(),
        json!({"id": "b-4", "event": "Ping", "payload": {"user": big, "n": 1}}).to_string(),
    ]
    .join("\n");
    let (_, r) = post("/events", batch);
    assert_eq!(r["accepted"].as_array().map(Vec::len), Some(1), "{r}");
    let reasons: Vec<&str> =
        r["rejected"].as_array().expect("rejected").iter().filter_map(|x| x["reason"].as_str()).collect();
    assert!(reasons[0].contains("unknown event `Pong`") && reasons[0].contains("did you mean `Ping`?"), "{reasons:?}");
    // The reason `journey run` gives for the same line (tests/cli.rs).
    assert_eq!(reasons[1], "payload does not match `Ping`'s schema: field n: expected int, found string");
    assert!(reasons[2].contains("limit is 65536"), "{reasons:?}");
    // Bad JSON is a 400 with the reason.
    let (status, _) = post("/events", "{nope".into());
    assert_eq!(status, 400);
    // Where is Ann? Once the engine has applied the log: waiting in Flow.
    let status = api.settle(&url);
    assert_eq!(status["log_entries"], publish_entries + 2, "the publish and two events: {status}");
    let inst = api.get(&format!("{url}/profiles/ann/instances"));
    assert_eq!(inst[0]["journey"], "Flow", "{inst}");
    assert_eq!(inst[0]["version"], 1);
    // Audience entry starts Greet.
    let (status, _) = post("/audiences/VIP/members", json!({"enter": ["ann"]}).to_string());
    assert_eq!(status, 200);
    // After the waits: Flow calls Notify and ends; the report says so.
    let report = api.wait_get("Flow to end for Ann and Ben", &format!("{url}/journeys/Flow/report"), |r| {
        r["versions"][0]["report"]["running"] == 0
    });
    let r = &report["versions"][0]["report"];
    assert_eq!(r["started"], 2, "{report}");
    assert_eq!(r["ended"], json!({"done": 2}), "{report}");
    let greet = api.wait_get("Greet to end for Ann", &format!("{url}/journeys/Greet/report"), |r| {
        r["versions"][0]["report"]["started"] == 1 && r["versions"][0]["report"]["running"] == 0
    });
    assert_eq!(greet["versions"][0]["report"]["ended"], json!({"greeted": 1}), "{greet}");
    let metrics = api.rt.block_on(async {
        api.client.get(format!("{url}/metrics")).send().await.expect("get").text().await.expect("text")
    });
    assert!(metrics.contains("journey_events_accepted_total 2"), "{metrics}");
    assert!(metrics.contains("journey_events_rejected_total 4"), "{metrics}");
    // Close: no new entries (asserted once the engine has applied the event).
    let (status, _) = post("/journeys/Flow/close", String::new());
    assert_eq!(status, 200);
    let ev = json!({"id": "c-1", "event": "Ping", "payload": {"user": "cy", "n": 1}}).to_string();
    let (status, _) = post("/events", ev);
    assert_eq!(status, 200);
    let status = api.settle(&url);
    assert_eq!(status["events"], 3, "{status}");
    let inst = api.get(&format!("{url}/profiles/cy/instances"));
    assert_eq!(inst, json!([]), "a closed journey takes no new entries");
    let spec = api.get(&format!("{url}/openapi.json"));
    assert_eq!(spec["openapi"], "3.1.0");
    let users: std::collections::BTreeSet<String> =
        receiver.calls().iter().map(|c| c.body["user"].as_str().unwrap_or_default().to_string()).collect();
    assert_eq!(users.into_iter().collect::<Vec<_>>(), ["ann", "ben"], "Ann and Ben were notified");
    let out = Command::new(env!("CARGO_BIN_EXE_journey"))
        .args(["status", "--url", &server.url, "--format", "json"])
        .output()
        .expect("journey status runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let status: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(status["versions"], 1);
    assert_eq!(status["accepted"], 3, "{status}");
    server.kill();
    let out = Command::new(env!("CARGO_BIN_EXE_journey"))
        .args(["status", "--url", &format!("http://127.0.0.1:{}", free_port())])
        .output()
        .expect("journey status runs");
    assert_eq!(out.status.code(), Some(2), "no server: exit 2");
    assert!(String::from_utf8_lossy(&out.stderr).contains("is `journey serve` running?"));
}

#[test]
fn a_cap_holds_across_the_shares_of_profiles() {
    let dir = temp_dir("serve-cap");
    let (status, r) = cap_case(&dir, &dir.join("j.db"), &["--shards", "3"]);
    assert_eq!(status["shards"], 3, "{status}");
    assert_eq!(r["ended"], json!({"in": 5, "over": 15}), "{r}");
}

/// On PostgreSQL, the cap holds across partitions and across nodes: two nodes take the events.
#[test]
fn a_cap_holds_across_the_partitions_and_nodes_of_a_cluster() {
    let dir = temp_dir("serve-cap-pg");
    let pg = PgDb::new("cap");
    let args = ["--partitions", "6"];
    let other = {
        project_capped(&dir);
        Server::start(&dir, pg.path(), &args)
    };
    let (status, r) = cap_case(&dir, pg.path(), &args);
    assert_eq!(status["shards"], 6, "{status}");
    assert_eq!(r["ended"], json!({"in": 5, "over": 15}), "{r}");
    drop(other);
}

fn project_capped(dir: &Path) {
    std::fs::write(
        dir.join("capped.journey"),
        r#"
type Visit = { user: string }
event Visited: Visit { key user }
journey Capped {
  start on Visited
  cap 5 {
    end "in"
  } else {
    end "over"
  }
}
"#,
    )
    .expect("write");
}

/// Twenty profiles through a cap of 5 on `db`: the status once applied, and the report.
fn cap_case(dir: &Path, db: &Path, args: &[&str]) -> (Value, Value) {
    let api = Api::new();
    project_capped(dir);
    let server = Server::start(dir, db, args);
    let url = server.url.clone();
    let body: Vec<String> = (0..20)
        .map(|i| json!({"id": format!("v{i}"), "event": "Visited", "payload": {"user": format!("p{i}")}}).to_string())
        .collect();
    let (_, v) = api.post(&format!("{url}/events"), &body.join("\n"));
    assert_eq!(v["accepted"].as_array().map(Vec::len), Some(20), "{v}");
    let status = api.settle(&url);
    let r = api.wait_get("every profile through the cap", &format!("{url}/journeys/Capped/report"), |r| {
        r["versions"][0]["report"]["started"] == 20 && r["versions"][0]["report"]["running"] == 0
    });
    (status, r["versions"][0]["report"].clone())
}

#[test]
fn a_token_is_required_when_configured_and_off_loopback() {
    let dir = temp_dir("serve-auth");
    project(&dir, 9);
    let server = Server::start_with_token(&dir, &dir.join("j.db"), &[], Some("s3cret"));
    let api = Api::new();
    api.rt.block_on(async {
        let client = &api.client;
        let r = client.get(format!("{}/journeys", server.url)).send().await.expect("get");
        assert_eq!(r.status(), 401);
        let r = client.get(format!("{}/journeys", server.url)).bearer_auth("s3cret").send().await.expect("get");
        assert_eq!(r.status(), 200);
        let r = client.get(format!("{}/healthz", server.url)).send().await.expect("get");
        assert_eq!(r.status(), 200, "health needs no token");
    });
    server.kill();
    let out = Command::new(env!("CARGO_BIN_EXE_journey"))
        .arg("serve")
        .arg(&dir)
        .args(["--db", dir.join("k.db").to_str().expect("path"), "--listen", "0.0.0.0:0"])
        .env_remove("JOURNEY_TOKEN")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to listen on 0.0.0.0:0 without a token"));
}

/// `GET /journeys/NAME/errors` lists a journey's latest failures, newest first, with their
/// reasons: from the engine while it runs, and the same from the store after a restart.
#[test]
fn a_journeys_latest_failures_are_listed_before_and_after_a_restart() {
    on_sqlite("serve-errors", &[], |dir, db, args| {
        let api = Api::new();
        // Nothing listens there now; a test running beside may take the port later (then the
        // call gets its 404): either way the call fails, naming where it went.
        let port = free_port();
        std::fs::write(
            dir.join("flow.journey"),
            format!(
                r#"
type PingPayload = {{ user: string, n: int }}
event Ping: PingPayload {{ key user }}
action Down(user: string) = http POST "http://127.0.0.1:{port}/down" {{
  body {{ user: user }}
  timeout 1s
  retry 1 backoff 10ms
}}
journey Flow {{
  start on Ping
  wait 1s
  call Down(user: event.user)
  end "done"
}}
"#,
            ),
        )
        .expect("write");
        let server = Server::start(dir, db, args);
        let url = server.url.clone();
        for (i, user) in ["ann", "ben"].iter().enumerate() {
            let ev = json!({"id": format!("e-{i}"), "event": "Ping", "payload": {"user": user, "n": i}});
            assert_eq!(api.post(&format!("{url}/events"), &ev.to_string()).0, 200);
        }
        let errors = api.wait_get("both failures to be listed", &format!("{url}/journeys/Flow/errors"), |e| {
            e.as_array().is_some_and(|e| e.len() == 2)
        });
        let mut who: Vec<&str> = Vec::new();
        for e in errors.as_array().expect("list") {
            assert_eq!(e["journey"], "Flow", "{e}");
            assert_eq!(e["version"], 1, "{e}");
            assert_eq!(e["outcome"], "failed", "{e}");
            assert_eq!(e["kind"], "call", "{e}");
            let at = format!("127.0.0.1:{port}");
            assert!(e["error"].as_str().is_some_and(|r| r.contains(&at)), "with its reason: {e}");
            who.push(e["profile"].as_str().expect("profile"));
        }
        who.sort();
        assert_eq!(who, ["ann", "ben"]);
        assert_eq!(api.get(&format!("{url}/journeys/Greet/errors")), json!([]), "another journey's list is its own");
        server.interrupt();
        let server = Server::start(dir, db, args);
        let after = api.get(&format!("{}/journeys/Flow/errors", server.url));
        assert_eq!(after, errors, "the same list, read back from the store");
    });
}

/// An event's `at`: when it arrived by default; one in the future is taken as now; one in the
/// past enters its instance then, so its journey's timeout counts from then (its waits count
/// from when it is applied).
#[test]
fn an_events_time_is_its_arrival_its_at_in_the_past_or_now_for_the_future() {
    on_sqlite("serve-at", &[], |dir, db, args| {
        let api = Api::new();
        std::fs::write(
            dir.join("flow.journey"),
            r#"
type PingPayload = { user: string }
event Ping: PingPayload { key user }
journey Flow {
  start on Ping
  timeout 2h
  wait 1h
  end "waited"
}
"#,
        )
        .expect("write");
        let server = Server::start(dir, db, args);
        let url = server.url.clone();
        let ms = |t: &Value| -> i64 {
            t.as_str().and_then(|s| s.parse::<jiff::Timestamp>().ok()).expect("an RFC 3339 time").as_millisecond()
        };
        let iso = |ms: i64| jiff::Timestamp::from_millisecond(ms).expect("time").to_string();
        let now = jiff::Timestamp::now().as_millisecond();
        let hour = 3_600_000;
        let events = [
            json!({"event": "Ping", "payload": {"user": "now"}}),
            json!({"event": "Ping", "payload": {"user": "past"}, "at": iso(now - hour)}),
            json!({"event": "Ping", "payload": {"user": "future"}, "at": iso(now + 24 * hour)}),
            json!({"event": "Ping", "payload": {"user": "long-ago"}, "at": iso(now - 3 * hour)}),
        ];
        for e in &events {
            assert_eq!(api.post(&format!("{url}/events"), &e.to_string()).0, 200, "{e}");
        }
        api.settle(&url);
        let after = jiff::Timestamp::now().as_millisecond();
        let waiting = |user: &str| -> (i64, i64) {
            let i = api.get(&format!("{url}/profiles/{user}/instances"));
            assert_eq!(i.as_array().map(Vec::len), Some(1), "{user} waits: {i}");
            assert_eq!(
                (&i[0]["journey"], &i[0]["waits_for"], &i[0]["line"]),
                (&json!("Flow"), &json!("time"), &json!(7))
            );
            assert!(i[0]["node"].as_str().is_some_and(|n| n.starts_with("wait")), "the node it waits at: {i}");
            (ms(&i[0]["entered"]), ms(&i[0]["until"]))
        };
        for user in ["now", "future"] {
            let (entered, until) = waiting(user);
            assert!((now..=after).contains(&entered), "{user} entered on arrival: {entered} not in {now}..={after}");
            // The wait counts from when the entry is applied: at its arrival or a moment after.
            assert!((entered + hour..=after + hour).contains(&until), "{user}: {until} - {entered}");
        }
        let (entered, until) = waiting("past");
        assert_eq!(entered, now - hour, "entered at its `at`");
        assert!((now + hour..=after + hour).contains(&until), "its wait counts from arrival: {until}");
        // Three hours ago: past its two-hour timeout on arrival.
        let report = api.wait_get("the long-ago entry to time out", &format!("{url}/journeys/Flow/report"), |r| {
            r["versions"][0]["report"]["ended"]["timed-out"] == 1
        });
        assert_eq!(report["versions"][0]["report"]["running"], 3, "{report}");
        assert_eq!(api.get(&format!("{url}/profiles/long-ago/instances")), json!([]));
    });
}

/// A cluster's defaults, as the README gives them: 64 partitions, chosen when the database is
/// created, and a lease of 10 s.
#[test]
fn a_new_cluster_database_has_64_partitions_and_10_s_leases_by_default() {
    on_postgres("defaults", &[], |dir, db, args| {
        let api = Api::new();
        project(dir, free_port());
        let server = Server::start(dir, db, args);
        let status = api.get(&format!("{}/status", server.url));
        assert_eq!(status["cluster"]["partitions"], 64, "{status}");
        assert_eq!(status["cluster"]["lease_ttl_ms"], 10_000, "{status}");
        let held = api.wait_get("the one node to hold every partition", &format!("{}/status", server.url), |s| {
            s["cluster"]["unowned"] == 0
        });
        assert_eq!(held["cluster"]["nodes"][0]["partitions"], 64, "{held}");
    });
}

/// `secret("NAME")` is read from the server's environment: the call carries it, and nothing
/// the API answers shows it.
#[test]
fn a_secret_is_read_from_the_servers_environment() {
    on_sqlite("serve-secret", &[], |dir, db, args| {
        let api = Api::new();
        let receiver = Receiver::start(&api);
        std::fs::write(
            dir.join("flow.journey"),
            format!(
                r#"
type PingPayload = {{ user: string }}
event Ping: PingPayload {{ key user }}
action Notify(user: string) = http POST "http://127.0.0.1:{port}/notify" {{
  body {{ user: user }}
  auth bearer secret("JOURNEY_TEST_NOTIFY_TOKEN")
}}
journey Flow {{
  start on Ping
  call Notify(user: event.user)
  end "done"
}}
"#,
                port = receiver.port
            ),
        )
        .expect("write");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_journey"));
        cmd.env("JOURNEY_TEST_NOTIFY_TOKEN", "tok-from-the-environment");
        let server = Server::start_command(cmd, dir, db, args, None);
        let url = server.url.clone();
        let ev = json!({"event": "Ping", "payload": {"user": "ann"}});
        assert_eq!(api.post(&format!("{url}/events"), &ev.to_string()).0, 200);
        api.wait_get("Flow to end for Ann", &format!("{url}/journeys/Flow/report"), |r| {
            r["versions"][0]["report"]["ended"]["done"] == 1
        });
        let calls = receiver.calls();
        assert_eq!(calls.len(), 1, "{calls:?}");
        assert_eq!(calls[0].auth, "Bearer tok-from-the-environment");
        let instances = api.get(&format!("{url}/profiles/ann/instances")).to_string();
        let report = api.get(&format!("{url}/journeys/Flow/report")).to_string();
        assert!(!instances.contains("tok-from") && !report.contains("tok-from"), "{instances} {report}");
    });
}

/// Without `--shards`, a server runs one share of the profiles per core, and one when a journey
/// has a `cap` (so the first N through it are the first in log order).
#[test]
fn shares_are_one_per_core_by_default_and_one_with_a_cap() {
    let api = Api::new();
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    on_sqlite("serve-shards", &[], |dir, db, args| {
        project(dir, free_port());
        let server = Server::start(dir, db, args);
        assert_eq!(api.get(&format!("{}/status", server.url))["shards"], cores);
    });
    on_sqlite("serve-shards-cap", &[], |dir, db, args| {
        project_capped(dir);
        let server = Server::start(dir, db, args);
        assert_eq!(api.get(&format!("{}/status", server.url))["shards"], 1);
    });
}

/// The events the server appends reach its engine without being read back from the database:
/// a thousand events applied, (almost) none read back (`journey_log_entries_read_total`; the
/// engine reads the log only for what it was not handed, such as what was appended before a
/// restart).
#[test]
fn appended_events_are_applied_without_a_read_back() {
    on_sqlite("serve-handed", &[], |dir, db, args| {
        let api = Api::new();
        let receiver = Receiver::start(&api);
        project(dir, receiver.port);
        let server = Server::start(dir, db, args);
        let read = |url: &str| api.metric(url, "journey_log_entries_read_total");
        api.settle(&server.url);
        let before = read(&server.url);
        const EVENTS: usize = 1_000;
        for b in 0..EVENTS / 100 {
            let lines: Vec<String> = (b * 100..(b + 1) * 100)
                .map(|i| json!({"event": "Ping", "payload": {"user": format!("u{i}"), "n": i}}).to_string())
                .collect();
            let (status, v) = api.post(&format!("{}/events", server.url), &lines.join("\n"));
            assert_eq!(status, 200, "{v}");
        }
        api.settle(&server.url);
        let report = api.report(&server.url, "Flow", 0);
        assert_eq!(report["started"], EVENTS, "{report}");
        let read_back = read(&server.url) - before;
        assert!(read_back < EVENTS as u64 / 2, "{read_back} of {EVENTS} entries read back");
        // After a restart the log after the last checkpoint is read (nothing is in hand).
        server.kill();
        let server = Server::start(dir, db, args);
        api.settle(&server.url);
        assert_eq!(api.report(&server.url, "Flow", 0)["started"], EVENTS);
    });
}
