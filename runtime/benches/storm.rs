//! A timer storm: N instances (1,000,000 by default) whose timers all fall due in the same second,
//! worked off by a `journey serve` in a child process. Measures the time from the due second to
//! the last instance ended, the server's peak resident memory during the storm against its
//! memory just before it (the point: no growth with the number of timers), how long `/status`
//! and the report wait for an answer meanwhile (asked every 100 ms, so the storm's end is seen
//! within 100 ms), and, on the way, the replay of the N log entries and a restart
//! with N waiting instances (memory per waiting instance against an empty server's, same run).
//!
//! Run: `cargo bench -p journey-runtime --bench storm` (STORM=1000000 by default;
//! STORM_SCENARIOS=spread,same-ms,downtime picks the scenarios):
//! - `spread`: the timers fall due over the 1,000 milliseconds of one second, the server running;
//! - `same-ms`: all of them in the same millisecond, the server running;
//! - `downtime`: spread over one second, the server stopped before it and started after it, so
//!   every timer is due at start.

mod common;

use common::{get_json, until_waiting, Server};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

/// The allocator of the `journey` binary, counting the heap in use.
#[global_allocator]
static ALLOC: common::Counting = common::Counting;

/// The storm journey (shared by the storm bench and test).
const JOURNEY: &str = include_str!("data/storm.journey");

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).expect("time").to_string()
}

/// A project folder and a database with the project published, then `n` `Arm` events in the
/// log whose `fireAt` is `fire_at(i)`.
fn prepare(dir: &Path, n: usize, fire_at: impl Fn(usize) -> i64) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("dir");
    std::fs::write(dir.join("storm.journey"), JOURNEY).expect("write");
    let events = (0..n).map(|i| {
        let payload = json!({"user": format!("u{i}"), "fireAt": rfc3339(fire_at(i))});
        (format!("arm-{i}"), "Arm".to_string(), payload)
    });
    journey_runtime::write_log(dir, &dir.join("storm.db"), now_ms(), events).expect("the log is written");
}

fn count(db: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).expect("open");
    conn.query_row(sql, [], |r| r.get(0)).expect("count")
}

fn fired(report: &serde_json::Value) -> u64 {
    report["versions"][0]["report"]["ended"]["fired"].as_u64().unwrap_or(0)
}

struct Storm {
    took: Duration,
    /// From the last instance ended to the server stopped with its last checkpoint written.
    stored: Duration,
    before_kb: u64,
    peak_kb: u64,
    slowest_status: Duration,
    polls: usize,
}

/// Polls until every instance has fired; from `due` (epoch ms) on, times the storm, and notes
/// how long the slowest `/status` took to answer.
async fn work_off(client: &reqwest::Client, server: &Server, n: u64, due: i64) -> Storm {
    let before_kb = server.rss_kb();
    let mut slowest = Duration::ZERO;
    let mut polls = 0;
    // At a fixed rate (a pair every 100 ms, both answered well within it): a server that
    // answers faster is not asked more often, so both builds of a comparison do the same work.
    let mut every = tokio::time::interval(Duration::from_millis(100));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let asked = Instant::now();
        let status = get_json(client, &format!("{}/status", server.url)).await;
        let between = Instant::now();
        let report = get_json(client, &format!("{}/journeys/Storm/report", server.url)).await;
        if now_ms() >= due {
            slowest = slowest.max(between - asked).max(between.elapsed());
            polls += 2;
        }
        if status.is_some() && report.as_ref().map(fired) == Some(n) {
            break;
        }
    }
    let took = Duration::from_millis((now_ms() - due).max(0) as u64);
    Storm { took, stored: Duration::ZERO, before_kb, peak_kb: server.peak_kb(), slowest_status: slowest, polls }
}

fn scenario(name: &str, n: usize, empty: (u64, u64), rt: &tokio::runtime::Runtime) {
    let dir = std::env::temp_dir().join(format!("journey-storm-{}-{name}", std::process::id()));
    // Time for the replay and the restart before the storm falls due (5 s at the quick size).
    let default_margin = if n < 10_000 { 5 } else { 15 + n as i64 / 40_000 };
    let margin_s: i64 = std::env::var("STORM_MARGIN_S").ok().and_then(|v| v.parse().ok()).unwrap_or(default_margin);
    // The due second, rounded to a whole second.
    let due = (now_ms() / 1000 + margin_s) * 1000;
    let spread = name != "same-ms";
    prepare(&dir, n, |i| if spread { due + (i % 1000) as i64 } else { due });
    let db = dir.join("storm.db");
    let client = reqwest::Client::new();
    let n64 = n as u64;
    println!(
        "storm `{name}`: {n} timers due at {} ({})",
        rfc3339(due),
        if spread { "over its 1,000 ms" } else { "all in its first ms" }
    );

    // The first start replays the whole log.
    let started = Instant::now();
    let mut server = Server::start(&dir, &db);
    rt.block_on(until_waiting(&client, &server, n64));
    let replay = started.elapsed();
    println!(
        "  replay of {n} log entries (first start): {:.2} s; then {:.0} bytes of heap in use per waiting instance",
        replay.as_secs_f64(),
        server.heap_bytes().saturating_sub(empty.1) as f64 / n as f64
    );
    server.stop();

    // A restart with n waiting instances.
    let started = Instant::now();
    let mut server = Server::start(&dir, &db);
    rt.block_on(until_waiting(&client, &server, n64));
    let restart = started.elapsed();
    let loaded_kb = server.rss_kb();
    let heap = server.heap_bytes();
    println!(
        "  restart with {n} waiting instances: {:.2} s until every instance is loaded and the API answers",
        restart.as_secs_f64()
    );
    println!(
        "  per waiting instance: {:.0} bytes resident (whole process, {} MB against {} MB empty; {} MB at the \
         peak of loading), {:.0} bytes of heap in use ({} MB against {} MB empty)",
        (loaded_kb.saturating_sub(empty.0) * 1024) as f64 / n as f64,
        loaded_kb / 1024,
        empty.0 / 1024,
        server.peak_kb() / 1024,
        heap.saturating_sub(empty.1) as f64 / n as f64,
        heap >> 20,
        empty.1 >> 20,
    );
    let left = due - now_ms();
    assert!(left > 1_000, "setting up took too long for the due second: raise STORM_MARGIN_S (now {margin_s})");

    let storm = if name == "downtime" {
        server.stop();
        std::thread::sleep(Duration::from_millis((due + 2_000 - now_ms()).max(0) as u64));
        let started = Instant::now();
        let server = Server::start(&dir, &db);
        let answered = rt.block_on(async {
            loop {
                if get_json(&client, &format!("{}/status", server.url)).await.is_some() {
                    break started.elapsed();
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        println!("  started after the due second: the API answered after {:.2} s", answered.as_secs_f64());
        // The peak of loading the instances is the restart's; the storm's is measured from here.
        server.reset_peak();
        let mut s = rt.block_on(work_off(&client, &server, n64, now_ms()));
        s.took = started.elapsed();
        let stopping = Instant::now();
        server.stop();
        s.stored = stopping.elapsed();
        s
    } else {
        std::thread::sleep(Duration::from_millis((left - 500) as u64));
        server.reset_peak();
        let mut s = rt.block_on(work_off(&client, &server, n64, due));
        let stopping = Instant::now();
        server.stop();
        s.stored = stopping.elapsed();
        s
    };
    let steps = count(&db, "SELECT count(*) FROM steps");
    let left = count(&db, "SELECT count(*) FROM instances");
    assert_eq!(left, 0, "every instance ended and its end is stored");
    assert_eq!(steps, 2 * n as i64, "two step events (wait, end) per instance are stored");
    println!(
        "  worked off in {:.2} s{}; peak resident memory {} MB against {} MB before the storm: +{} MB \
         ({:.0} bytes per timer)",
        storm.took.as_secs_f64(),
        if name == "downtime" { " from the start" } else { " from the due second" },
        storm.peak_kb / 1024,
        storm.before_kb / 1024,
        storm.peak_kb.saturating_sub(storm.before_kb) / 1024,
        (storm.peak_kb.saturating_sub(storm.before_kb) * 1024) as f64 / n as f64,
    );
    println!("  then stopped, with every end and step event stored, {:.2} s later", storm.stored.as_secs_f64());
    println!(
        "  slowest answer to /status or the report during the storm: {:.0} ms ({} queries)",
        storm.slowest_status.as_secs_f64() * 1000.0,
        storm.polls
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    if common::serve_if_child() {
        return;
    }
    // As a test (`cargo test --benches`, no `--bench` argument; or `-- --test`): small inputs, the
    // same checks.
    let quick = std::env::args().any(|a| a == "--test") || !std::env::args().any(|a| a == "--bench");
    let n: usize =
        std::env::var("STORM").ok().and_then(|v| v.parse().ok()).unwrap_or(if quick { 2_000 } else { 1_000_000 });
    let scenarios = std::env::var("STORM_SCENARIOS").unwrap_or_else(|_| "spread,same-ms,downtime".into());
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    // An empty server's memory, the baseline of the per-instance figure.
    let dir = std::env::temp_dir().join(format!("journey-storm-{}-empty", std::process::id()));
    prepare(&dir, 0, |_| 0);
    let mut server = Server::start(&dir, &dir.join("storm.db"));
    rt.block_on(until_waiting(&reqwest::Client::new(), &server, 0));
    let empty = (server.rss_kb(), server.heap_bytes());
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
    for name in scenarios.split(',') {
        scenario(name.trim(), n, empty, &rt);
    }
}
