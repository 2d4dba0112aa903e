//! Sustained accepted events per second with durability, through the HTTP API of the runtime
//! (validation, group commit, the engine applying the log), beside the raw write speed of the
//! same store appending the same rows in the same batch size, in one run.
//!
//! Run: `cargo bench -p journey-runtime --bench ingest` (EVENTS=200000 by default).

use journey_runtime::store::sqlite::SqliteStore;
use journey_runtime::store::{LogKind, NewEntry, Store};
use serde_json::json;
use std::time::{Duration, Instant};

/// The allocator of the `journey` binary.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 500;
const CLIENTS: usize = 4;

fn project(dir: &std::path::Path) {
    std::fs::create_dir_all(dir).expect("dir");
    std::fs::write(
        dir.join("flow.journey"),
        r#"
type CartPayload = { user: string, sku: string, price: number }
event CartAdd: CartPayload { key user }
journey Cart {
  start on CartAdd
  reentry always
  wait 1d
  end "done"
}
"#,
    )
    .expect("write");
}

fn event(i: usize) -> serde_json::Value {
    json!({"id": format!("ev-{i}"), "event": "CartAdd", "payload": {"user": format!("u{i}"), "sku": "SKU-1", "price": 19.9}})
}

fn raw(n: usize, path: &std::path::Path) -> f64 {
    let mut store = SqliteStore::open(path).expect("store");
    let started = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(BATCH) {
        let entries: Vec<NewEntry> = chunk
            .iter()
            .map(|i| {
                let e = event(*i);
                NewEntry {
                    client_id: Some(e["id"].as_str().unwrap_or_default().to_string()),
                    at_ms: 0,
                    kind: LogKind::Event { name: "CartAdd".into(), payload: e["payload"].clone() },
                }
            })
            .collect();
        store.append(&entries).expect("append");
    }
    n as f64 / started.elapsed().as_secs_f64()
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Restarts the runtime on the database the ingest left (every event's instance waits `1d`) and
/// measures the time until it answers with every instance loaded, and the memory it took.
fn restart(n: usize, dir: &std::path::Path) -> (Duration, f64) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let config = journey_runtime::Config {
        project: dir.to_path_buf(),
        schemas: Vec::new(),
        db: dir.join("served.db"),
        listen: format!("127.0.0.1:{port}").parse().expect("addr"),
        token: None,
        read_rate: None,
    };
    let before = rss_kb();
    let started = Instant::now();
    let server = std::thread::spawn(move || {
        journey_runtime::serve_until(config, async {
            let _ = stop_rx.await;
        })
    });
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let waiting = rt.block_on(async {
        let client = reqwest::Client::new();
        loop {
            if let Ok(r) = client.get(format!("http://127.0.0.1:{port}/status")).send().await {
                if let Ok(v) = r.json::<serde_json::Value>().await {
                    break v["instances_waiting"].as_u64().unwrap_or(0);
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    let took = started.elapsed();
    let after = rss_kb();
    assert_eq!(waiting as usize, n, "every waiting instance is back after the restart");
    let _ = stop_tx.send(());
    let _ = server.join();
    (took, (after.saturating_sub(before) as f64 * 1024.0) / n as f64)
}

fn served(n: usize, dir: &std::path::Path) -> f64 {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let config = journey_runtime::Config {
        project: dir.to_path_buf(),
        schemas: Vec::new(),
        db: dir.join("served.db"),
        listen: format!("127.0.0.1:{port}").parse().expect("addr"),
        token: None,
        read_rate: None,
    };
    let server = std::thread::spawn(move || {
        journey_runtime::serve_until(config, async {
            let _ = stop_rx.await;
        })
    });
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let url = format!("http://127.0.0.1:{port}/events");
    let bodies: Vec<String> = (0..n)
        .collect::<Vec<_>>()
        .chunks(BATCH)
        .map(|c| c.iter().map(|i| event(*i).to_string()).collect::<Vec<_>>().join("\n"))
        .collect();
    let started = Instant::now();
    let accepted: usize = rt.block_on(async {
        let client = reqwest::Client::new();
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
    let rate = accepted as f64 / started.elapsed().as_secs_f64();
    assert_eq!(accepted, n, "every event accepted");
    let _ = stop_tx.send(());
    let _ = server.join();
    rate
}

fn main() {
    let n: usize = std::env::var("EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let dir = std::env::temp_dir().join(format!("journey-ingest-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    project(&dir);
    let raw_rate = raw(n, &dir.join("raw.db"));
    let served_rate = served(n, &dir);
    println!("ingest: {n} events, batches of {BATCH}, {CLIENTS} clients");
    println!("  raw store appends (same rows, same batch size): {raw_rate:>10.0} events/s");
    println!("  journey serve, accepted with durability:        {served_rate:>10.0} events/s");
    println!("  ratio served/raw: {:.2}", served_rate / raw_rate);
    let (took, bytes) = restart(n, &dir);
    println!(
        "restart with {n} waiting instances: {:.2} s until every instance is loaded and the API answers",
        took.as_secs_f64()
    );
    println!("  resident memory added per waiting instance (whole process): {bytes:.0} bytes");
    let _ = std::fs::remove_dir_all(&dir);
}
