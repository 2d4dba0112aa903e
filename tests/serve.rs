//! End-to-end tests of `journey serve`: the HTTP API, idempotency, auth, and crash safety: the
//! server is killed with SIGKILL at random moments under load and restarted each time; at the
//! end nothing accepted is lost or doubled, every due timer fired, and every action call carried
//! one idempotency key on all its attempts.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn project(dir: &Path, notify_port: u16) {
    std::fs::create_dir_all(dir).expect("dir");
    std::fs::write(
        dir.join("flow.journey"),
        format!(
            r#"
type PingPayload = {{ user: string, n: int }}
event Ping: PingPayload {{ key user }}
audience VIP
action Notify(user: string) = http POST "http://127.0.0.1:{notify_port}/notify" {{
  body {{ user: user }}
  timeout 2s
  retry 5 backoff 100ms
}}
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

struct Server {
    child: Child,
    url: String,
}

fn start(dir: &Path, db: &Path, port: u16, token: Option<&str>) -> Server {
    start_with(dir, db, port, token, None)
}

/// Starts the server with its profiles split into `shards` shares (one per core when `None`).
fn start_with(dir: &Path, db: &Path, port: u16, token: Option<&str>, shards: Option<usize>) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_journey"));
    cmd.arg("serve").arg(dir).arg("--db").arg(db).args(["--listen", &format!("127.0.0.1:{port}")]);
    if let Some(n) = shards {
        cmd.args(["--shards", &n.to_string()]);
    }
    cmd.env_remove("JOURNEY_TOKEN");
    if let Some(t) = token {
        cmd.env("JOURNEY_TOKEN", t);
    }
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("journey serve starts");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut up = false;
    while Instant::now() < deadline && !up {
        up = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        if !up {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    if !up {
        let _ = child.kill();
        let _ = child.wait();
        panic!("journey serve did not start listening");
    }
    Server { child, url }
}

impl Server {
    fn kill(mut self) {
        // SIGKILL: no graceful shutdown, no final checkpoint.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Default)]
struct Notified {
    /// user -> idempotency keys seen (one per attempt).
    keys: BTreeMap<String, Vec<String>>,
}

async fn notify(State(n): State<Arc<Mutex<Notified>>>, headers: HeaderMap, body: String) -> &'static str {
    let user = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["user"].as_str().map(str::to_string))
        .unwrap_or_default();
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    n.lock().expect("lock").keys.entry(user).or_default().push(key);
    "{}"
}

fn url_of_dead(_dir: &Path) -> String {
    format!("http://127.0.0.1:{}", free_port())
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("journey-serve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn notify_server(rt: &tokio::runtime::Runtime) -> (u16, Arc<Mutex<Notified>>) {
    let seen = Arc::new(Mutex::new(Notified::default()));
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let app = Router::new().route("/notify", post(notify)).with_state(seen.clone());
    rt.spawn(async move { axum::serve(listener, app).await });
    (port, seen)
}

#[test]
fn the_api_accepts_validates_and_reports() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (notify_port, seen) = notify_server(&rt);
    let dir = temp("api");
    project(&dir, notify_port);
    let port = free_port();
    let server = start(&dir, &dir.join("j.db"), port, None);
    let url = server.url.clone();
    let client = reqwest::Client::new();
    rt.block_on(async {
        let post = |path: &str, body: String| client.post(format!("{url}{path}")).body(body).send();
        // One event, then the same id again: stored once.
        let ev = json!({"id": "a-1", "event": "Ping", "payload": {"user": "ann", "n": 1}}).to_string();
        let r: Value = post("/events", ev.clone()).await.expect("send").json().await.expect("json");
        assert_eq!(r["accepted"][0]["duplicate"], false, "{r}");
        let r: Value = post("/events", ev).await.expect("send").json().await.expect("json");
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
        let r: Value = post("/events", batch).await.expect("send").json().await.expect("json");
        assert_eq!(r["accepted"].as_array().map(Vec::len), Some(1), "{r}");
        let reasons: Vec<&str> =
            r["rejected"].as_array().expect("rejected").iter().filter_map(|x| x["reason"].as_str()).collect();
        assert!(
            reasons[0].contains("unknown event `Pong`") && reasons[0].contains("did you mean `Ping`?"),
            "{reasons:?}"
        );
        // The reason `journey run` gives for the same line (tests/cli.rs).
        assert_eq!(reasons[1], "payload does not match `Ping`'s schema: field n: expected int, found string");
        assert!(reasons[2].contains("limit is 65536"), "{reasons:?}");
        // Bad JSON is a 400 with the reason.
        let resp = post("/events", "{nope".into()).await.expect("send");
        assert_eq!(resp.status(), 400);
        // Where is Ann? Waiting in Flow.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let inst: Value =
            client.get(format!("{url}/profiles/ann/instances")).send().await.expect("get").json().await.expect("json");
        assert_eq!(inst[0]["journey"], "Flow", "{inst}");
        assert_eq!(inst[0]["version"], 1);
        // Audience entry starts Greet.
        let r = post("/audiences/VIP/members", json!({"enter": ["ann"]}).to_string()).await.expect("send");
        assert_eq!(r.status(), 200);
        // After the waits: Flow calls Notify and ends; the report says so.
        tokio::time::sleep(Duration::from_millis(3_500)).await;
        let report: Value =
            client.get(format!("{url}/journeys/Flow/report")).send().await.expect("get").json().await.expect("json");
        let r = &report["versions"][0]["report"];
        assert_eq!(r["started"], 2, "{report}");
        assert_eq!(r["ended"]["done"], 2, "{report}");
        let greet: Value =
            client.get(format!("{url}/journeys/Greet/report")).send().await.expect("get").json().await.expect("json");
        assert_eq!(greet["versions"][0]["report"]["ended"]["greeted"], 1, "{greet}");
        let metrics = client.get(format!("{url}/metrics")).send().await.expect("get").text().await.expect("text");
        assert!(metrics.contains("journey_events_accepted_total 2"), "{metrics}");
        assert!(metrics.contains("journey_events_rejected_total 4"), "{metrics}");
        // Close: no new entries; stop: running instances end "stopped".
        let r = post("/journeys/Flow/close", String::new()).await.expect("send");
        assert_eq!(r.status(), 200);
        let ev = json!({"id": "c-1", "event": "Ping", "payload": {"user": "cy", "n": 1}}).to_string();
        post("/events", ev).await.expect("send");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let inst: Value =
            client.get(format!("{url}/profiles/cy/instances")).send().await.expect("get").json().await.expect("json");
        assert_eq!(inst, json!([]), "a closed journey takes no new entries");
        let spec: Value =
            client.get(format!("{url}/openapi.json")).send().await.expect("get").json().await.expect("json");
        assert_eq!(spec["openapi"], "3.1.0");
    });
    assert_eq!(seen.lock().expect("lock").keys.len(), 2, "Ann and Ben were notified");
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
        .args(["status", "--url", &url_of_dead(&dir)])
        .output()
        .expect("journey status runs");
    assert_eq!(out.status.code(), Some(2), "no server: exit 2");
    assert!(String::from_utf8_lossy(&out.stderr).contains("is `journey serve` running?"));
}

#[test]
fn a_cap_holds_across_the_shares_of_profiles() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = temp("cap");
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
    let port = free_port();
    let db = dir.join("j.db");
    let server = start_with(&dir, &db, port, None, Some(3));
    let url = server.url.clone();
    let client = reqwest::Client::new();
    rt.block_on(async {
        let body: Vec<String> = (0..20)
            .map(|i| {
                json!({"id": format!("v{i}"), "event": "Visited", "payload": {"user": format!("p{i}")}}).to_string()
            })
            .collect();
        let v: Value = client
            .post(format!("{url}/events"))
            .body(body.join("\n"))
            .send()
            .await
            .expect("post")
            .json()
            .await
            .expect("json");
        assert_eq!(v["accepted"].as_array().map(Vec::len), Some(20), "{v}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let report: Value = client
                .get(format!("{url}/journeys/Capped/report"))
                .send()
                .await
                .expect("get")
                .json()
                .await
                .expect("json");
            let ended = &report["versions"][0]["report"]["ended"];
            if ended["in"].as_u64().unwrap_or(0) + ended["over"].as_u64().unwrap_or(0) == 20 {
                assert_eq!(ended["in"], 5, "{report}");
                assert_eq!(ended["over"], 15, "{report}");
                break;
            }
            assert!(Instant::now() < deadline, "not every visit was applied: {report}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let status: Value = client.get(format!("{url}/status")).send().await.expect("get").json().await.expect("json");
        assert_eq!(status["shards"], 3, "{status}");
    });
    server.kill();
}

#[test]
fn a_token_is_required_when_configured_and_off_loopback() {
    let dir = temp("auth");
    project(&dir, 9);
    let port = free_port();
    let server = start(&dir, &dir.join("j.db"), port, Some("s3cret"));
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let client = reqwest::Client::new();
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

#[test]
fn killed_under_load_it_loses_and_doubles_nothing() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (notify_port, seen) = notify_server(&rt);
    let dir = temp("crash");
    project(&dir, notify_port);
    let db = dir.join("j.db");
    let port = free_port();
    let users: Vec<String> = (0..300).map(|i| format!("u{i:03}")).collect();
    let mut acknowledged: BTreeSet<String> = BTreeSet::new();
    let mut seed: u64 = 0x5eed;
    let mut rand = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("client");
    for round in 0..4 {
        // Each restart splits the profiles differently (1, 2, 3, then 1 share): the stored
        // state is the same whatever the split.
        let server = start_with(&dir, &db, port, None, Some(1 + round % 3));
        let url = server.url.clone();
        let kill_after = Duration::from_millis(150 + rand(500));
        let started = Instant::now();
        // Send batches (resending everything not yet acknowledged, as a client would) until
        // the kill time, then SIGKILL while requests may be in flight.
        rt.block_on(async {
            let pending: Vec<&String> = users.iter().filter(|u| !acknowledged.contains(*u)).collect();
            for chunk in pending.chunks(10) {
                if started.elapsed() > kill_after && round < 3 {
                    break;
                }
                let body: Vec<String> = chunk
                    .iter()
                    .map(|u| {
                        json!({"id": format!("ev-{u}"), "event": "Ping", "payload": {"user": u, "n": 1}}).to_string()
                    })
                    .collect();
                let Ok(resp) = client.post(format!("{url}/events")).body(body.join("\n")).send().await else { break };
                let Ok(v) = resp.json::<Value>().await else { break };
                for a in v["accepted"].as_array().into_iter().flatten() {
                    if let Some(i) = a["index"].as_u64() {
                        acknowledged.insert(chunk[i as usize].clone());
                    }
                }
            }
        });
        if round < 3 {
            std::thread::sleep(kill_after.saturating_sub(started.elapsed()));
            server.kill();
        } else {
            // The last run stays up until every timer has fired and every call is answered.
            std::thread::sleep(Duration::from_secs(5));
            let report: Value = rt.block_on(async {
                client.get(format!("{url}/journeys/Flow/report")).send().await.expect("get").json().await.expect("json")
            });
            let r = &report["versions"][0]["report"];
            assert_eq!(acknowledged.len(), users.len(), "every event was acknowledged in the end");
            assert_eq!(r["started"], users.len(), "each accepted event started exactly one instance: {report}");
            assert_eq!(r["ended"]["done"], users.len(), "every timer fired and every instance ended: {report}");
            assert_eq!(r["running"], 0);
            server.kill();
        }
    }
    let seen = seen.lock().expect("lock");
    let notified: BTreeSet<&String> = seen.keys.keys().collect();
    assert_eq!(notified.len(), users.len(), "every instance's call reached the receiver");
    for (user, keys) in &seen.keys {
        assert!(
            keys.iter().all(|k| !k.is_empty() && *k == keys[0]),
            "{user}: one idempotency key on every attempt: {keys:?}"
        );
    }
}
