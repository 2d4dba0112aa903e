//! Backpressure in `journey serve`: while the engine is more log entries behind than
//! `--max-lag` (here: replaying a long log after a restart), new events are answered 429 with
//! the reason, nothing of them is stored, and once the engine has caught up they are accepted.

mod support;

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::Server;

/// Log entries written while the server was down: far more than the allowed lag, and enough
/// that replaying them takes a while in a debug build.
const BACKLOG: usize = 150_000;
const MAX_LAG: usize = 1_000;

#[test]
fn events_are_refused_with_429_while_the_engine_is_too_far_behind() {
    let dir = std::env::temp_dir().join(format!("journey-serve-lag-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("lag.journey"),
        "type P = { user: string }\nevent Ping: P { key user }\njourney Slow {\n  start on Ping\n  wait 1d\n  end \"done\"\n}\n",
    )
    .expect("write");
    let db = dir.join("lag.db");
    let now = jiff::Timestamp::now().as_millisecond();
    let events = (0..BACKLOG).map(|i| (format!("p-{i}"), "Ping".to_string(), json!({"user": format!("u{i}")})));
    journey_runtime::write_log(&dir, &db, now, events).expect("the log is written");

    let server = Server::start(&dir, &db, &["--max-lag", &MAX_LAG.to_string(), "--shards", "1"]);
    let url = server.url.clone();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let client = reqwest::Client::new();
    rt.block_on(async {
        let send = |id: &str| {
            let body = json!({"id": id, "event": "Ping", "payload": {"user": id}}).to_string();
            client.post(format!("{url}/events")).body(body).send()
        };
        // The first answer comes while the backlog is being replayed.
        let deadline = Instant::now() + Duration::from_secs(60);
        let refused = loop {
            if let Ok(r) = send("early").await {
                break r;
            }
            assert!(Instant::now() < deadline, "the server never answered");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(refused.status().as_u16(), 429);
        let why = refused.text().await.expect("body");
        assert!(why.contains("log entries behind"), "{why}");
        let metrics = client.get(format!("{url}/metrics")).send().await.expect("metrics").text().await.expect("text");
        assert!(metrics.contains("journey_engine_lag_entries"), "{metrics}");

        // Once caught up, the same event is accepted; the refused one was not stored.
        let refused_at = Instant::now();
        let status = loop {
            let s: Value =
                client.get(format!("{url}/status")).send().await.expect("status").json().await.expect("json");
            if s["applied"] == s["log_entries"] {
                break s;
            }
            assert!(Instant::now() < deadline, "the engine never caught up: {s}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        eprintln!("caught up {:.2} s after the refusal", refused_at.elapsed().as_secs_f64());
        assert_eq!(status["log_entries"], BACKLOG as u64 + 1, "nothing refused was stored: {status}");
        let accepted = send("early").await.expect("post");
        assert_eq!(accepted.status().as_u16(), 200);
        let v: Value = accepted.json().await.expect("json");
        assert_eq!(v["accepted"].as_array().map(Vec::len), Some(1), "{v}");
    });
    let _ = std::fs::remove_dir_all(&dir);
}
