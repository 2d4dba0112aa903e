//! What the README promises of a running `journey serve`, end to end: publishing a new version
//! (new entries go to it while running instances finish on theirs, across a restart; a
//! `reentry never` version counts the entries made under `reentry always` before it; each
//! version's canvas is the one published, whatever the files on disk say after), closing and
//! stopping a journey (its status stored, across a restart and on every node), profile writes (`PUT` replaces, `PATCH` merges) as journeys read
//! them, audience membership starting `start on audience` journeys and answering
//! `inAudience`, a 429 when the log writer's queue is full, and a restart from a checkpoint
//! plus the log after it ending in the same state as a server that never stopped.

mod support;

use journey_runtime::store::sqlite::SqliteStore;
use journey_runtime::store::{NewEntry, Store};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use support::{on_postgres, on_sqlite, temp_dir, wait_until, Api, Receiver, Server};

const EVENTS: &str =
    "type Ping = { user: string, n: int? }\nevent Pinged: Ping { key user }\nevent Went: Ping { key user }\n";

fn write(dir: &Path, text: &str) {
    std::fs::write(dir.join("project.journey"), format!("{EVENTS}{text}")).expect("write the project");
}

fn ping(api: &Api, url: &str, kind: &str, users: &[&str]) {
    let body: Vec<String> = users.iter().map(|u| json!({"event": kind, "payload": {"user": u}}).to_string()).collect();
    let (status, v) = api.post(&format!("{url}/events"), &body.join("\n"));
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["accepted"].as_array().map(Vec::len), Some(users.len()), "{v}");
}

/// The versions of `journey` a profile has an instance of.
fn versions_of(api: &Api, url: &str, profile: &str, journey: &str) -> Vec<u64> {
    api.get(&format!("{url}/profiles/{profile}/instances"))
        .as_array()
        .expect("a list")
        .iter()
        .filter(|i| i["journey"] == journey)
        .map(|i| i["version"].as_u64().expect("version"))
        .collect()
}

const FLOW_V1: &str = r#"
journey Flow {
  start on Pinged
  reentry always
  await {
    on Went -> { end "v1" }
    after 1d -> { end "timeout" }
  }
}
"#;

#[test]
fn publish_sends_new_entries_to_the_new_version_while_running_ones_finish_on_theirs() {
    on_sqlite("publish", &[], publish_case);
}

/// The same on PostgreSQL: the restart is a new node, which takes the partitions over once the
/// killed one's leases run out.
#[test]
fn publish_on_postgres_sends_new_entries_to_the_new_version_across_a_takeover() {
    on_postgres("publish", &["--partitions", "8", "--lease-ttl", "2"], publish_case);
}

fn publish_case(dir: &Path, db: &Path, args: &[&str]) {
    let api = Api::new();
    write(dir, FLOW_V1);
    let server = Server::start(dir, db, args);
    let url = server.url.clone();
    ping(&api, &url, "Pinged", &["ann", "bob"]);
    api.settle(&url);
    write(dir, &FLOW_V1.replace("\"v1\"", "\"v2\""));
    let (status, v) = api.post(&format!("{url}/journeys/Flow/publish"), "");
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["version"], 2, "{v}");
    ping(&api, &url, "Pinged", &["carl"]);
    api.settle(&url);
    assert_eq!(versions_of(&api, &url, "ann", "Flow"), [1]);
    assert_eq!(versions_of(&api, &url, "carl", "Flow"), [2], "a new entry goes to the new version");
    // Across a crash and a restart: the same versions, and new entries still go to version 2.
    server.kill();
    let server = Server::start(dir, db, args);
    let url = server.url.clone();
    api.settle(&url);
    assert_eq!(versions_of(&api, &url, "ann", "Flow"), [1], "a running instance stays on its version");
    assert_eq!(versions_of(&api, &url, "bob", "Flow"), [1]);
    assert_eq!(versions_of(&api, &url, "carl", "Flow"), [2]);
    ping(&api, &url, "Pinged", &["dan"]);
    ping(&api, &url, "Went", &["ann", "carl"]);
    api.settle(&url);
    assert_eq!(versions_of(&api, &url, "dan", "Flow"), [2]);
    let report = api.get(&format!("{url}/journeys/Flow/report"));
    let by_version: BTreeMap<u64, &Value> = report["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| (v["version"].as_u64().expect("number"), &v["report"]))
        .collect();
    assert_eq!(by_version[&1]["ended"], json!({"v1": 1}), "ann finished on version 1: {report}");
    assert_eq!(by_version[&1]["running"], 1, "bob still runs on version 1: {report}");
    assert_eq!(by_version[&2]["ended"], json!({"v2": 1}), "carl finished on version 2: {report}");
    assert_eq!(by_version[&2]["running"], 1, "dan runs on version 2: {report}");
    // Ann enters again: on the new version.
    ping(&api, &url, "Pinged", &["ann"]);
    api.settle(&url);
    assert_eq!(versions_of(&api, &url, "ann", "Flow"), [2]);
    let journeys = api.get(&format!("{url}/journeys"));
    assert_eq!(
        journeys,
        json!([{"name": "Flow", "versions": [{"version": 1, "open": false, "status": "closed"}, {"version": 2, "open": true, "status": "live"}]}])
    );
}

#[test]
fn entries_under_reentry_always_count_once_a_version_with_reentry_never_is_published() {
    on_sqlite("reentry", &[], reentry_case);
}

#[test]
fn entries_on_postgres_under_reentry_always_count_once_a_version_with_reentry_never_is_published() {
    on_postgres("reentry", &["--partitions", "8", "--lease-ttl", "2"], reentry_case);
}

/// Under `reentry always` the entry history is not stored (nothing reads it); a version
/// published with `reentry never` reads it, so it is stored then, and holds across a crash.
fn reentry_case(dir: &Path, db: &Path, args: &[&str]) {
    let api = Api::new();
    write(dir, FLOW_V1);
    let server = Server::start(dir, db, args);
    let url = server.url.clone();
    ping(&api, &url, "Pinged", &["ann"]);
    ping(&api, &url, "Went", &["ann"]);
    api.settle(&url);
    assert_eq!(versions_of(&api, &url, "ann", "Flow"), Vec::<u64>::new(), "ann's instance ended");
    write(dir, &FLOW_V1.replace("reentry always", "reentry never").replace("\"v1\"", "\"v2\""));
    let (status, v) = api.post(&format!("{url}/journeys/Flow/publish"), "");
    assert_eq!(status, 200, "{v}");
    ping(&api, &url, "Pinged", &["bob"]);
    ping(&api, &url, "Went", &["bob"]);
    api.settle(&url);
    // What the engines held in memory is gone with the crash: only what was stored counts.
    server.kill();
    let server = Server::start(dir, db, args);
    let url = server.url.clone();
    ping(&api, &url, "Pinged", &["ann", "bob", "carl"]);
    api.settle(&url);
    assert_eq!(versions_of(&api, &url, "ann", "Flow"), Vec::<u64>::new(), "ann entered version 1: never again");
    assert_eq!(versions_of(&api, &url, "bob", "Flow"), Vec::<u64>::new(), "bob entered version 2: never again");
    assert_eq!(versions_of(&api, &url, "carl", "Flow"), [2], "carl never entered");
}

/// The titles of the nodes on a journey's canvas in `version` (its latest when `None`), as the
/// console gets it.
fn canvas(api: &Api, url: &str, journey: &str, version: Option<u32>) -> Vec<String> {
    let query = version.map(|v| format!("?version={v}")).unwrap_or_default();
    let (status, svg) = api.text(&format!("{url}/journeys/{journey}/graph.svg{query}"));
    assert_eq!(status, 200, "{svg}");
    let doc = roxmltree::Document::parse(&svg).expect("the canvas is XML");
    doc.descendants()
        .filter(|n| n.attribute("class").is_some_and(|c| c.starts_with("node ")))
        .filter_map(|g| g.children().find(|c| c.has_tag_name("title")).and_then(|t| t.text()).map(String::from))
        .collect()
}

const FLOW_V2: &str = r#"
journey Flow {
  start on Pinged
  reentry always
  wait 1h
  end "v2"
}
"#;

#[test]
fn each_version_is_drawn_as_published_whatever_the_files_say_after() {
    on_sqlite("canvas", &[], canvas_case);
}

/// The same on PostgreSQL, where a second node that never published anything draws them too.
#[test]
fn each_version_on_postgres_is_drawn_as_published_on_every_node() {
    on_postgres("canvas", &["--lease-ttl", "2"], canvas_case);
}

fn canvas_case(dir: &Path, db: &Path, args: &[&str]) {
    let api = Api::new();
    let v1 = ["start on Pinged", "await", "end \"v1\"", "end \"timeout\""];
    let v2 = ["start on Pinged", "wait 1h", "end \"v2\""];
    write(dir, FLOW_V1);
    let server = Server::start(dir, db, args);
    let url = server.url.clone();
    ping(&api, &url, "Pinged", &["ann"]);
    write(dir, FLOW_V2);
    let (status, v) = api.post(&format!("{url}/journeys/Flow/publish"), "");
    assert_eq!((status, &v["version"]), (200, &json!(2)), "{v}");
    api.settle(&url);
    // The files change again, and are not published.
    write(dir, &FLOW_V2.replace("wait 1h", "wait 3h").replace("\"v2\"", "\"unpublished\""));
    assert_eq!(canvas(&api, &url, "Flow", Some(1)), v1, "version 1 as published");
    assert_eq!(canvas(&api, &url, "Flow", Some(2)), v2);
    assert_eq!(canvas(&api, &url, "Flow", None), v2, "the latest version by default");
    // Across a crash and a restart, which reads the files on disk again.
    server.kill();
    let server = Server::start(dir, db, args);
    let url = server.url.clone();
    api.settle(&url);
    assert_eq!(versions_of(&api, &url, "ann", "Flow"), [1], "Ann's instance still runs on version 1");
    assert_eq!(canvas(&api, &url, "Flow", Some(1)), v1, "version 1 after a restart");
    assert_eq!(canvas(&api, &url, "Flow", Some(2)), v2, "version 2 after a restart");
    assert_eq!(canvas(&api, &url, "Flow", None), v2);
    // What has no drawing says why.
    let (status, body) = api.text(&format!("{url}/journeys/Flow/graph.svg?version=3"));
    assert_eq!((status, body.as_str()), (404, r#"{"error":"no version 3"}"#));
    let (status, body) = api.text(&format!("{url}/journeys/Nope/graph.svg?version=1"));
    assert_eq!((status, body.as_str()), (404, r#"{"error":"version 1 has no journey `Nope`"}"#));
    if args.contains(&"--lease-ttl") {
        // Another node, started with other files still, draws every version as published.
        write(dir, "journey Other {\n  start on Went\n  end\n}\n");
        let other = Server::start(dir, db, args);
        assert_eq!(canvas(&api, &other.url, "Flow", Some(1)), v1, "version 1 on another node");
        assert_eq!(canvas(&api, &other.url, "Flow", Some(2)), v2, "version 2 on another node");
    }
}

#[test]
fn a_closed_journey_takes_no_new_entries_but_its_instances_finish() {
    on_sqlite("close", &[], close_case);
}

/// The same on PostgreSQL (64 partitions, each applying the close).
#[test]
fn a_closed_journey_on_postgres_takes_no_new_entries_but_its_instances_finish() {
    on_postgres("close", &["--lease-ttl", "2"], close_case);
}

fn close_case(dir: &Path, db: &Path, args: &[&str]) {
    let api = Api::new();
    write(dir, FLOW_V1);
    let server = Server::start(dir, db, args);
    let url = server.url.clone();
    ping(&api, &url, "Pinged", &["ann"]);
    let (status, v) = api.post(&format!("{url}/journeys/Flow/close"), "");
    assert_eq!(status, 200, "{v}");
    ping(&api, &url, "Pinged", &["bob"]);
    api.settle(&url);
    assert_eq!(versions_of(&api, &url, "ann", "Flow"), [1], "entered before the close");
    assert_eq!(versions_of(&api, &url, "bob", "Flow"), [0u64; 0], "no entry after the close");
    assert_eq!(api.get(&format!("{url}/journeys"))[0]["versions"][0]["open"], false);
    // Still closed after a restart; Ann's instance finishes.
    server.kill();
    let server = Server::start(dir, db, args);
    let url = server.url.clone();
    ping(&api, &url, "Pinged", &["carl"]);
    ping(&api, &url, "Went", &["ann"]);
    api.settle(&url);
    assert_eq!(versions_of(&api, &url, "carl", "Flow"), [0u64; 0]);
    let r = api.report(&url, "Flow", 0);
    assert_eq!(r["started"], 1, "{r}");
    assert_eq!(r["ended"], json!({"v1": 1}), "{r}");
    assert_eq!(r["running"], 0, "{r}");
}

#[test]
fn stop_ends_every_instance_stopped_in_the_report_and_the_step_events() {
    let api = Api::new();
    let dir = temp_dir("stop");
    write(
        &dir,
        r#"
journey Flow {
  start on Pinged
  await {
    on Went -> { }
    after 1d -> { }
  }
  wait 1d
  end "done"
}
"#,
    );
    let db = dir.join("j.db");
    let server = Server::start(&dir, &db, &["--shards", "2"]);
    let url = server.url.clone();
    let users: Vec<String> = (0..10).map(|i| format!("u{i}")).collect();
    let users: Vec<&str> = users.iter().map(String::as_str).collect();
    ping(&api, &url, "Pinged", &users);
    // Four go on to the wait; six still await.
    ping(&api, &url, "Went", &users[..4]);
    api.settle(&url);
    assert_eq!(api.report(&url, "Flow", 0)["running"], 10);
    let (status, v) = api.post(&format!("{url}/journeys/Flow/stop"), "");
    assert_eq!(status, 200, "{v}");
    api.settle(&url);
    let r = api.report(&url, "Flow", 0);
    assert_eq!(r["ended"], json!({"stopped": 10}), "{r}");
    assert_eq!(r["running"], 0, "{r}");
    for u in &users {
        assert_eq!(api.get(&format!("{url}/profiles/{u}/instances")), json!([]), "{u}");
    }
    // A stopped journey takes no new entries.
    ping(&api, &url, "Pinged", &["new"]);
    api.settle(&url);
    assert_eq!(api.report(&url, "Flow", 0)["started"], 10);
    server.interrupt();
    // The step events: each instance left the node it waited at, "exited", as its last step.
    let conn = rusqlite::Connection::open(&db).expect("open");
    let mut last: BTreeMap<String, Value> = BTreeMap::new();
    let mut stmt = conn.prepare("SELECT data FROM steps ORDER BY id").expect("query");
    for row in stmt.query_map([], |r| r.get::<_, String>(0)).expect("rows") {
        let s: Value = serde_json::from_str(&row.expect("row")).expect("a step event");
        last.insert(s["profile"].as_str().expect("profile").to_string(), s);
    }
    assert_eq!(last.len(), 10, "{last:?}");
    for (i, u) in users.iter().enumerate() {
        let s = &last[*u];
        assert_eq!(s["outcome"], "exited", "{u}: {s}");
        assert_eq!(s["kind"], if i < 4 { "wait" } else { "await" }, "{u} was stopped where it waited: {s}");
    }
}

#[test]
fn a_stopped_journey_stays_stopped_across_a_restart_even_one_that_had_no_instance() {
    on_sqlite("stopped", &[], stopped_case);
}

/// The same on PostgreSQL, where every node tells it.
#[test]
fn a_stopped_journey_on_postgres_is_stopped_on_every_node() {
    on_postgres("stopped", &["--lease-ttl", "2"], stopped_case);
}

/// Each journey's status in its latest version, as `/journeys` says.
fn statuses(api: &Api, url: &str) -> BTreeMap<String, String> {
    let list = api.get(&format!("{url}/journeys"));
    list.as_array()
        .expect("a list")
        .iter()
        .map(|j| {
            (
                j["name"].as_str().expect("name").to_string(),
                j["versions"][0]["status"].as_str().expect("status").to_string(),
            )
        })
        .collect()
}

fn stopped_case(dir: &Path, db: &Path, args: &[&str]) {
    let api = Api::new();
    let others = "journey Quiet {\n  start on Went\n  end\n}\njourney Shut {\n  start on Went\n  end\n}\n";
    write(dir, &format!("{FLOW_V1}{others}"));
    let server = Server::start(dir, db, args);
    let url = server.url.clone();
    ping(&api, &url, "Pinged", &["ann"]);
    api.settle(&url);
    // Flow has an instance to stop; Quiet never had one; Shut is closed, not stopped.
    for (journey, action) in [("Flow", "stop"), ("Quiet", "stop"), ("Shut", "close")] {
        let (status, v) = api.post(&format!("{url}/journeys/{journey}/{action}"), "");
        assert_eq!(status, 200, "{v}");
    }
    api.settle(&url);
    let want: BTreeMap<String, String> =
        [("Flow", "stopped"), ("Quiet", "stopped"), ("Shut", "closed")].map(|(j, s)| (j.into(), s.into())).into();
    assert_eq!(statuses(&api, &url), want);
    server.kill();
    let server = Server::start(dir, db, args);
    api.settle(&server.url);
    assert_eq!(statuses(&api, &server.url), want, "after a restart");
    if args.contains(&"--lease-ttl") {
        let other = Server::start(dir, db, args);
        assert_eq!(statuses(&api, &other.url), want, "on another node");
    }
}

#[test]
fn profile_writes_replace_and_merge_as_journeys_read_them() {
    on_sqlite("profiles", &[], profiles_case);
}

/// The same on PostgreSQL, where each profile lives in its partition.
#[test]
fn profile_writes_on_postgres_replace_and_merge_as_journeys_read_them() {
    on_postgres("profiles", &["--partitions", "8"], profiles_case);
}

fn profiles_case(dir: &Path, db: &Path, args: &[&str]) {
    let api = Api::new();
    let receiver = Receiver::start(&api);
    write(
        dir,
        &format!(
            r#"
type Prefs = {{ a: int?, b: int? }}
type Person = {{ tier: string?, email: string?, prefs: Prefs? }}
profile = Person
action Record(user: string, tier: string, email: string, a: int, b: int) = http POST "http://127.0.0.1:{}/record" {{
  body {{ user: user, tier: tier, email: email, a: a, b: b }}
}}
journey Read {{
  start on Pinged
  reentry always
  call Record(user: event.user, tier: profile.tier ?? "-", email: profile.email ?? "-",
              a: profile.prefs.a ?? -1, b: profile.prefs.b ?? -1)
  end
}}
"#,
            receiver.port
        ),
    );
    let server = Server::start(dir, db, args);
    let url = server.url.clone();
    let profile = |method: &str, key: &str, body: Value| {
        let (status, v) = api.send(method, &format!("{url}/profiles/{key}"), &body.to_string());
        assert_eq!(status, 200, "{method} {key}: {v}");
    };
    let read = |user: &str| -> Value {
        let before = receiver.count();
        ping(&api, &url, "Pinged", &[user]);
        wait_until("the journey's call", || {
            let calls = receiver.calls();
            calls.get(before).map(|c| c.body.clone()).ok_or_else(|| format!("{} calls", calls.len()))
        })
    };
    profile("PUT", "ann", json!({"tier": "gold", "email": "a@x", "prefs": {"a": 1, "b": 2}}));
    assert_eq!(read("ann"), json!({"user": "ann", "tier": "gold", "email": "a@x", "a": 1, "b": 2}));
    // A merge patch: null removes, objects merge, the rest is kept.
    profile("PATCH", "ann", json!({"email": null, "prefs": {"b": 3}}));
    assert_eq!(read("ann"), json!({"user": "ann", "tier": "gold", "email": "-", "a": 1, "b": 3}));
    // PUT replaces the whole profile.
    profile("PUT", "ann", json!({"email": "n@x"}));
    assert_eq!(read("ann"), json!({"user": "ann", "tier": "-", "email": "n@x", "a": -1, "b": -1}));
    // A patch of a profile never written makes one.
    profile("PATCH", "bob", json!({"prefs": {"a": 7}}));
    assert_eq!(read("bob"), json!({"user": "bob", "tier": "-", "email": "-", "a": 7, "b": -1}));
}

#[test]
fn audience_membership_starts_journeys_and_answers_in_audience() {
    on_sqlite("audience", &["--shards", "2"], audience_case);
}

/// The same on PostgreSQL: memberships live in their profiles' partitions, across a takeover.
#[test]
fn audience_membership_on_postgres_starts_journeys_and_answers_in_audience() {
    on_postgres("audience", &["--partitions", "8", "--lease-ttl", "2"], audience_case);
}

fn audience_case(dir: &Path, db: &Path, args: &[&str]) {
    let api = Api::new();
    let receiver = Receiver::start(&api);
    write(
        dir,
        &format!(
            r#"
audience VIP
action Record(user: string, vip: bool) = http POST "http://127.0.0.1:{}/record" {{
  body {{ user: user, vip: vip }}
}}
journey Greet {{
  start on audience VIP enters
  wait 1d
  end
}}
journey Check {{
  start on Pinged
  reentry always
  call Record(user: event.user, vip: inAudience("VIP"))
  end
}}
"#,
            receiver.port
        ),
    );
    let server = Server::start(dir, db, args);
    let url = server.url.clone();
    let members = |body: Value| {
        let (status, v) = api.post(&format!("{url}/audiences/VIP/members"), &body.to_string());
        assert_eq!(status, 200, "{v}");
    };
    members(json!({"enter": ["ann", "bob"]}));
    members(json!({"exit": ["bob"]}));
    api.settle(&url);
    assert_eq!(versions_of(&api, &url, "ann", "Greet"), [1], "entering the audience started Greet");
    assert_eq!(versions_of(&api, &url, "bob", "Greet"), [1], "leaving it does not end Greet");
    assert_eq!(versions_of(&api, &url, "carl", "Greet"), [0u64; 0]);
    // Membership is kept across a crash.
    server.kill();
    let server = Server::start(dir, db, args);
    let url = server.url.clone();
    ping(&api, &url, "Pinged", &["ann", "bob", "carl"]);
    let vip: BTreeMap<String, bool> = wait_until("three calls", || {
        let calls = receiver.calls();
        if calls.len() < 3 {
            return Err(format!("{} calls", calls.len()));
        }
        Ok(calls.iter().map(|c| (c.body["user"].as_str().unwrap_or("").to_string(), c.body["vip"] == true)).collect())
    });
    let expected: BTreeMap<String, bool> =
        [("ann", true), ("bob", false), ("carl", false)].into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    assert_eq!(vip, expected);
    assert_eq!(api.report(&url, "Greet", 0)["started"], 2);
}

#[test]
fn a_full_log_writer_queue_answers_429_and_stores_nothing_refused() {
    let api = Api::new();
    let dir = temp_dir("queue");
    write(&dir, FLOW_V1);
    let db = dir.join("j.db");
    let server = Server::start(&dir, &db, &[]);
    let url = server.url.clone();
    api.settle(&url);
    // Another writer holds the database: the log writer waits on its first group while
    // requests queue up behind it (the queue holds 1,024).
    let lock = rusqlite::Connection::open(&db).expect("open");
    lock.execute_batch("BEGIN IMMEDIATE").expect("lock the database");
    let refused = Arc::new(AtomicUsize::new(0));
    let requests = 1_700;
    let tasks: Vec<_> = (0..requests)
        .map(|i| {
            let (client, url, refused) = (api.client.clone(), url.clone(), refused.clone());
            api.rt.spawn(async move {
                let body = json!({"id": format!("q{i}"), "event": "Pinged", "payload": {"user": format!("u{i}")}});
                let r = client.post(format!("{url}/events")).body(body.to_string()).send().await.expect("post");
                let status = r.status().as_u16();
                let text = r.text().await.expect("body");
                if status == 429 {
                    refused.fetch_add(1, Ordering::Relaxed);
                }
                (i, status, text)
            })
        })
        .collect();
    let locked = std::time::Instant::now();
    wait_until("a request refused with 429", || {
        let n = refused.load(Ordering::Relaxed);
        if n > 0 {
            Ok(())
        } else {
            Err("none yet".into())
        }
    });
    eprintln!("the first 429 came {} ms after the lock", locked.elapsed().as_millis());
    lock.execute_batch("ROLLBACK").expect("unlock");
    let answers: Vec<(usize, u16, String)> = api.rt.block_on(async { futures_join(tasks).await });
    let mut stored = Vec::new();
    for (i, status, text) in &answers {
        match status {
            200 => stored.push(format!("q{i}")),
            429 => assert!(text.contains("busy"), "{text}"),
            // The log writer waits 5 s for the lock, then fails its group (on a slow machine,
            // before the queue behind it is full): nothing of it is stored.
            500 => assert!(text.contains("could not store"), "{text}"),
            other => panic!("request {i}: {other} {text}"),
        }
    }
    let refused = answers.iter().filter(|(_, status, _)| *status == 429).count();
    eprintln!("{} stored, {refused} refused with 429", stored.len());
    assert!(refused > 0);
    let status = api.settle(&url);
    assert_eq!(status["log_entries"], stored.len() + 1, "exactly the accepted events were stored: {status}");
    let mut ids: Vec<String> = rusqlite::Connection::open(&db)
        .expect("open")
        .prepare("SELECT client_id FROM log WHERE client_id IS NOT NULL")
        .expect("query")
        .query_map([], |r| r.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("ids");
    ids.sort();
    stored.sort();
    assert_eq!(ids, stored);
}

async fn futures_join<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.expect("task"));
    }
    out
}

const RESTORED: &str = r#"
type Person = { tier: string? }
profile = Person
audience VIP
journey Flow {
  start on Pinged
  reentry always
  if (event.n ?? 0) % 3 == 0 { end "thirds" }
  await {
    on Went as w where (w.n ?? 0) > 5 -> { end "big" }
    on Went -> { }
    after 1d -> { end "timeout" }
  }
  if profile.tier == "gold" { end "gold" }
  wait 2d
  end "done"
}
journey Greet {
  start on audience VIP enters
  if inAudience("VIP") { wait 1d }
  end
}
"#;

/// The workload's log entries, in two parts: `(client id, kind JSON)`. Run through the API
/// or appended straight to the log, they are the same entries.
fn workload(part: usize) -> Vec<(Option<String>, Value)> {
    let mut out = Vec::new();
    let users = 40;
    let event = |id: String, name: &str, user: usize, n: usize| {
        (Some(id), json!({"kind": "event", "name": name, "payload": {"user": format!("u{user:02}"), "n": n}}))
    };
    if part == 0 {
        for u in (0..users).step_by(4) {
            out.push((None, json!({"kind": "profile_put", "key": format!("u{u:02}"), "attributes": {"tier": "gold"}})));
        }
        for u in 0..users {
            out.push(event(format!("a{u}"), "Pinged", u, u));
        }
        for u in (0..users).step_by(5) {
            out.push((None, json!({"kind": "audience", "audience": "VIP", "key": format!("u{u:02}"), "enters": true})));
        }
    } else {
        for u in (0..users).step_by(2) {
            out.push(event(format!("b{u}"), "Went", u, u % 8));
        }
        // A new version of Flow: later entries go to it, running instances finish on theirs.
        out.push((None, json!({"kind": "publish", "version": 2, "journeys": ["Flow"]})));
        for u in (0..users).step_by(8) {
            out.push((None, json!({"kind": "profile_patch", "key": format!("u{u:02}"), "attributes": {"tier": null}})));
            out.push((
                None,
                json!({"kind": "audience", "audience": "VIP", "key": format!("u{u:02}"), "enters": false}),
            ));
        }
        for u in (1..users).step_by(3) {
            out.push(event(format!("c{u}"), "Pinged", u, u + 1));
        }
    }
    out
}

/// Version 2 of the project the workload publishes.
fn version_two() -> String {
    RESTORED.replace("end \"done\"", "end \"done-v2\"")
}

/// Sends entries through the API, one request each, in order (a publish publishes
/// [`version_two`] from `dir`).
fn send_workload(api: &Api, url: &str, dir: &Path, entries: &[(Option<String>, Value)]) {
    for (id, kind) in entries {
        let key = kind["key"].as_str().unwrap_or_default();
        let (status, v) = match kind["kind"].as_str().expect("kind") {
            "publish" => {
                write(dir, &version_two());
                api.post(&format!("{url}/journeys/Flow/publish"), "")
            }
            "event" => api.post(
                &format!("{url}/events"),
                &json!({"id": id, "event": kind["name"], "payload": kind["payload"]}).to_string(),
            ),
            "profile_put" => api.send("PUT", &format!("{url}/profiles/{key}"), &kind["attributes"].to_string()),
            "profile_patch" => api.send("PATCH", &format!("{url}/profiles/{key}"), &kind["attributes"].to_string()),
            "audience" => {
                let field = if kind["enters"] == true { "enter" } else { "exit" };
                api.post(&format!("{url}/audiences/VIP/members"), &json!({field: [key]}).to_string())
            }
            other => panic!("{other}"),
        };
        assert_eq!(status, 200, "{v}");
    }
}

/// What a server holds, without wall-clock times: each profile's instances (whether they wait
/// until a time instead of the time), every journey's report, and the journeys.
fn state(api: &Api, url: &str) -> Value {
    let mut profiles = serde_json::Map::new();
    for u in 0..40 {
        let key = format!("u{u:02}");
        let mut inst = api.get(&format!("{url}/profiles/{key}/instances"));
        for i in inst.as_array_mut().expect("list") {
            let o = i.as_object_mut().expect("object");
            let until = o.remove("until").expect("until");
            o.remove("entered");
            o.insert("has_deadline".into(), json!(!until.is_null()));
            // A step's time is the wall clock when it ran; a replay runs it again later.
            for step in o.get_mut("steps").and_then(Value::as_array_mut).into_iter().flatten() {
                let step = step.as_object_mut().expect("step");
                step.remove("time");
                step.remove("duration_ms");
            }
        }
        profiles.insert(key, inst);
    }
    // A report's window ends now, on the wall clock: its counts compare, its bounds do not.
    let report = |name: &str| {
        let mut r = api.get(&format!("{url}/journeys/{name}/report"));
        for v in r["versions"].as_array_mut().into_iter().flatten() {
            if let Some(w) = v["report"]["window"].as_object_mut() {
                w.remove("since");
                w.remove("until");
            }
        }
        r
    };
    json!({
        "profiles": profiles,
        "Flow": report("Flow"),
        "Greet": report("Greet"),
        "journeys": api.get(&format!("{url}/journeys")),
    })
}

/// The stored rows that hold no wall-clock time, after a clean stop.
fn stored(db: &Path) -> Value {
    let conn = rusqlite::Connection::open(db).expect("open");
    let rows = |sql: &str| -> Vec<String> {
        conn.prepare(sql)
            .expect(sql)
            .query_map([], |r| r.get::<_, String>(0))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    let steps: Vec<Value> = rows("SELECT data FROM steps ORDER BY id")
        .iter()
        .map(|s| {
            let mut v: Value = serde_json::from_str(s).expect("step");
            let o = v.as_object_mut().expect("object");
            o.remove("time");
            o.remove("duration_ms");
            v
        })
        .collect();
    let mut sorted = steps.clone();
    sorted.sort_by_key(|s| s.to_string());
    json!({
        "steps": sorted,
        "profiles": rows("SELECT key || '=' || value FROM profiles ORDER BY key"),
        "audiences": rows("SELECT audience || '/' || key FROM audiences ORDER BY 1"),
        "entries": rows("SELECT version || '/' || profile || '/' || journey FROM entries ORDER BY 1"),
        "instances": rows("SELECT version || '/' || id FROM instances ORDER BY version, id"),
    })
}

#[test]
fn a_restart_from_a_checkpoint_and_the_log_after_it_ends_as_never_stopping() {
    let api = Api::new();
    // Never stopped: the whole workload through the API.
    let dir = temp_dir("restore-a");
    write(&dir, RESTORED);
    let db = dir.join("j.db");
    let server = Server::start(&dir, &db, &["--shards", "2"]);
    send_workload(&api, &server.url, &dir, &workload(0));
    send_workload(&api, &server.url, &dir, &workload(1));
    api.settle(&server.url);
    let live = state(&api, &server.url);
    let on = |version: u64| {
        live["profiles"]
            .as_object()
            .expect("profiles")
            .values()
            .flat_map(|l| l.as_array().expect("list"))
            .filter(|i| i["version"] == version)
            .count()
    };
    assert!(on(1) > 0 && on(2) > 0, "instances run on both versions: {live}");
    server.interrupt();
    let live_stored = stored(&db);

    // Killed after a checkpoint of the first part; the second part (a publish among its
    // entries) reaches the log while it is down, as if accepted just before the crash; the
    // restart loads the checkpoint and replays it.
    let dir = temp_dir("restore-b");
    write(&dir, RESTORED);
    let db = dir.join("j.db");
    let server = Server::start(&dir, &db, &["--shards", "2"]);
    send_workload(&api, &server.url, &dir, &workload(0));
    api.settle(&server.url);
    wait_until("a checkpoint of the first part", || {
        let conn = rusqlite::Connection::open(&db).map_err(|e| e.to_string())?;
        let q = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).map_err(|e| e.to_string());
        let (applied, entries) =
            (q("SELECT value FROM meta WHERE key = 'applied_seq'")?, q("SELECT count(*) FROM log")?);
        if applied == entries {
            Ok(())
        } else {
            Err(format!("checkpoint at {applied} of {entries}"))
        }
    });
    server.kill();
    let mut store = SqliteStore::open(&db).expect("open the store");
    let now = jiff::Timestamp::now().as_millisecond();
    for (id, kind) in workload(1) {
        if kind["kind"] == "publish" {
            // What `POST /journeys/Flow/publish` does: store the version, then log its publish.
            write(&dir, &version_two());
            let bytes = journey_runtime::compile_project(&dir, &[]).expect("version 2 compiles");
            assert_eq!(journey_runtime::store_version(&db, &bytes), Ok(2));
        }
        let entry = NewEntry::new(id, now, &serde_json::from_value(kind).expect("a log entry")).expect("entry");
        store.append(&[entry]).expect("append");
    }
    let (applied, total) = (store.applied_seq().expect("applied"), store.counts().expect("counts").0);
    assert!(applied < total, "the log runs ahead of the checkpoint: {applied} < {total}");
    drop(store);
    let server = Server::start(&dir, &db, &["--shards", "2"]);
    api.settle(&server.url);
    let restored = state(&api, &server.url);
    for (key, instances) in live["profiles"].as_object().expect("profiles") {
        assert_eq!(&restored["profiles"][key], instances, "{key}'s instances");
    }
    for part in ["Flow", "Greet", "journeys"] {
        assert_eq!(restored[part], live[part], "{part}");
    }
    assert_eq!(restored, live, "the same instances, reports and journeys");
    server.interrupt();
    assert_eq!(stored(&db), live_stored, "the same stored steps, profiles, audiences and entries");
}
