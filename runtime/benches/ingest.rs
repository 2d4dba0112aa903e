//! Sustained accepted events per second with durability, through the HTTP API of the runtime
//! (validation, group commit, the engine applying the log), beside the raw write speed of the
//! same store appending the same rows in the same batch size, in one run.
//!
//! The server runs in a child process (this executable again), alone in its memory; a restart
//! on the database the ingest left measures the time until every instance is loaded and the
//! memory per waiting instance.
//!
//! While the ingest runs, one more client asks for profiles' instances
//! (`GET /profiles/{key}/instances`) every 10 ms: their latency under ingest saturation, against
//! the same queries on the settled server after it (issue 13, point 26).
//!
//! Run: `cargo bench -p journey-runtime --bench ingest` (EVENTS=200000 by default).

mod common;

use common::{event, project, until_waiting, Server};
use journey_runtime::store::sqlite::SqliteStore;
use journey_runtime::store::{LogKind, NewEntry, Store};
use std::path::Path;
use std::time::{Duration, Instant};

/// The allocator of the `journey` binary.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 500;
const CLIENTS: usize = 4;

/// The store alone appending the same rows in the same batch size, on one thread: `(rows built
/// in the loop, as before; rows built beforehand, the store's own speed)` in events per second.
fn raw(n: usize, dir: &Path) -> (f64, f64) {
    let entry = |i: usize| {
        let e = event(i);
        let kind = LogKind::Event { name: "CartAdd".into(), payload: e["payload"].clone() };
        NewEntry::new(Some(e["id"].as_str().unwrap_or_default().to_string()), 0, &kind).expect("entry")
    };
    let mut store = SqliteStore::open(&dir.join("raw.db")).expect("store");
    let started = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(BATCH) {
        let entries: Vec<NewEntry> = chunk.iter().map(|i| entry(*i)).collect();
        store.append(&entries).expect("append");
    }
    let building = n as f64 / started.elapsed().as_secs_f64();
    let mut store = SqliteStore::open(&dir.join("raw-built.db")).expect("store");
    let batches: Vec<Vec<NewEntry>> =
        (0..n).collect::<Vec<_>>().chunks(BATCH).map(|c| c.iter().map(|i| entry(*i)).collect()).collect();
    let started = Instant::now();
    for entries in &batches {
        store.append(entries).expect("append");
    }
    (building, n as f64 / started.elapsed().as_secs_f64())
}

/// Restarts the runtime on the database the ingest left (every event's instance waits `1d`):
/// the time until it answers with every instance loaded, and its resident memory per waiting
/// instance against an empty server's.
fn restart(n: usize, dir: &Path, empty_kb: u64, rt: &tokio::runtime::Runtime) -> (Duration, f64, u64) {
    let started = Instant::now();
    let server = Server::start(dir, &dir.join("served.db"));
    rt.block_on(until_waiting(&reqwest::Client::new(), &server, n as u64));
    let took = started.elapsed();
    let kb = server.rss_kb();
    server.stop();
    (took, (kb.saturating_sub(empty_kb) * 1024) as f64 / n as f64, kb)
}

/// An empty server's resident memory (kB).
fn empty_server(dir: &Path, rt: &tokio::runtime::Runtime) -> u64 {
    let db = dir.join("empty.db");
    let server = Server::start(dir, &db);
    rt.block_on(until_waiting(&reqwest::Client::new(), &server, 0));
    let kb = server.rss_kb();
    server.stop();
    let _ = std::fs::remove_file(&db);
    kb
}

/// Latencies of instance queries, sorted.
struct Latencies(Vec<Duration>);

impl Latencies {
    fn at(&self, q: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        let i = ((self.0.len() as f64 * q).ceil() as usize).clamp(1, self.0.len()) - 1;
        self.0[i].as_secs_f64() * 1e3
    }

    fn line(&self) -> String {
        format!(
            "{} queries, median {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            self.0.len(),
            self.at(0.5),
            self.at(0.99),
            self.at(1.0)
        )
    }
}

/// Asks for the instances of profile `u{i}` (`i` picked at random below `n`) every 10 ms until
/// `done`: each answer's latency. Every answer is a list; once the profile's event is applied,
/// it holds its one `Cart` instance.
async fn ask_instances(
    client: reqwest::Client,
    url: String,
    n: usize,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Latencies {
    use std::sync::atomic::Ordering::Relaxed;
    let mut out = Vec::new();
    let mut k: usize = 7;
    while !done.load(Relaxed) {
        k = (k * 2_654_435_761 + 12_345) % 4_294_967_296;
        let i = k % n.max(1);
        let started = Instant::now();
        let resp = client.get(format!("{url}/profiles/u{i}/instances")).send().await.expect("query");
        assert_eq!(resp.status(), 200, "instances answer 200");
        let v: serde_json::Value = resp.json().await.expect("json");
        out.push(started.elapsed());
        let list = v.as_array().expect("a list of instances");
        assert!(list.len() <= 1, "one instance at most per profile: {v}");
        if let Some(one) = list.first() {
            assert_eq!(one["journey"], "Cart");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    out.sort();
    Latencies(out)
}

/// Events accepted per second by a server in a child process, the seconds until its engine
/// has applied all of them, and the latencies of instance queries during the ingest and on the
/// settled server after it.
fn served(n: usize, dir: &Path, rt: &tokio::runtime::Runtime) -> (f64, f64, Latencies, Latencies) {
    let server = Server::start(dir, &dir.join("served.db"));
    let url = format!("{}/events", server.url);
    let bodies: Vec<String> = (0..n)
        .collect::<Vec<_>>()
        .chunks(BATCH)
        .map(|c| c.iter().map(|i| event(*i).to_string()).collect::<Vec<_>>().join("\n"))
        .collect();
    let client = reqwest::Client::new();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let queries = rt.spawn(ask_instances(reqwest::Client::new(), server.url.clone(), n, done.clone()));
    let started = Instant::now();
    let accepted: usize = rt.block_on(async {
        let per = bodies.len().div_ceil(CLIENTS);
        let tasks = bodies.chunks(per).map(|mine| {
            let client = client.clone();
            let url = url.clone();
            let mine = mine.to_vec();
            tokio::spawn(async move {
                let mut ok = 0usize;
                for body in mine {
                    loop {
                        let resp = client.post(&url).body(body.clone()).send().await.expect("send");
                        if resp.status() == 429 {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                            continue;
                        }
                        let v: serde_json::Value = resp.json().await.expect("json");
                        ok += v["accepted"].as_array().map(Vec::len).unwrap_or(0);
                        if let Some(r) = v["rejected"].as_array().and_then(|r| r.first()) {
                            eprintln!("rejected: {r}");
                        }
                        if v.get("error").is_some() {
                            eprintln!("error: {v}");
                        }
                        break;
                    }
                }
                ok
            })
        });
        futures::future::join_all(tasks).await.into_iter().map(|r| r.unwrap_or(0)).sum()
    });
    let took = started.elapsed();
    assert_eq!(accepted, n, "every event accepted");
    rt.block_on(until_waiting(&client, &server, n as u64));
    let applied = started.elapsed();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let loaded = rt.block_on(queries).expect("the queries ran");
    // The same queries on the settled server (for 1.1 to 3 seconds).
    let quiet = {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let task = rt.spawn(ask_instances(reqwest::Client::new(), server.url.clone(), n, done.clone()));
        std::thread::sleep(Duration::from_millis((loaded.0.len() as u64 * 11).clamp(1_100, 3_000)));
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        rt.block_on(task).expect("the queries ran")
    };
    // Every profile's instance is there once the log is applied.
    let one: serde_json::Value = rt
        .block_on(async {
            client
                .get(format!("{}/profiles/u{}/instances", server.url, n / 2))
                .send()
                .await
                .expect("query")
                .json()
                .await
        })
        .expect("json");
    assert_eq!(one.as_array().map(Vec::len), Some(1), "the profile's one instance: {one}");
    server.stop();
    (accepted as f64 / took.as_secs_f64(), applied.as_secs_f64(), loaded, quiet)
}

fn main() {
    if common::serve_if_child() {
        return;
    }
    // As a test (`cargo test --benches`, no `--bench` argument; or `-- --test`): small inputs, the
    // same checks.
    let quick = std::env::args().any(|a| a == "--test") || !std::env::args().any(|a| a == "--bench");
    let n: usize =
        std::env::var("EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(if quick { 2_000 } else { 200_000 });
    let dir = std::env::temp_dir().join(format!("journey-ingest-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    project(&dir);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (raw_rate, store_rate) = raw(n, &dir);
    let (served_rate, applied_s, loaded, quiet) = served(n, &dir, &rt);
    println!("ingest: {n} events, batches of {BATCH}, {CLIENTS} clients");
    println!("  raw store appends (same rows, same batch size):  {raw_rate:>10.0} events/s");
    println!("  the same with the rows built beforehand:          {store_rate:>10.0} events/s");
    println!("  journey serve, accepted with durability:          {served_rate:>10.0} events/s");
    println!(
        "  ratio served/raw: {:.2} (against the rows built beforehand: {:.2})",
        served_rate / raw_rate,
        served_rate / store_rate
    );
    println!(
        "  the engine had applied every event {applied_s:.2} s after the first was sent ({:.0} events/s)",
        n as f64 / applied_s
    );
    println!("  GET /profiles/{{key}}/instances during the ingest: {}", loaded.line());
    println!("  the same on the settled server after it:         {}", quiet.line());
    println!("  ratio p99 during/after: {:.1}", loaded.at(0.99) / quiet.at(0.99).max(0.001));
    let empty_kb = empty_server(&dir, &rt);
    let (took, bytes, kb) = restart(n, &dir, empty_kb, &rt);
    println!(
        "restart with {n} waiting instances: {:.2} s until every instance is loaded and the API answers",
        took.as_secs_f64()
    );
    println!(
        "  resident memory per waiting instance (whole process, {} MB against {} MB empty): {bytes:.0} bytes",
        kb / 1024,
        empty_kb / 1024
    );
    let _ = std::fs::remove_dir_all(&dir);
}
