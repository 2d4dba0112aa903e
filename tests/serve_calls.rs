//! Calls out of `journey serve` under a storm of timers: hundreds of reminders due together reach
//! a slow endpoint with at most the limit in flight at once (64 per host, or the action's
//! `concurrency N`), each call arrives once per idempotency key, a connection reset before any
//! answer is retried with backoff instead of ending the instance in error, and calls waiting for
//! their turn survive a crash (sent again afterwards with the same key).

mod support;

use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{temp_dir, wait_until, Api, Server};

/// A slow HTTP/1.1 endpoint on 127.0.0.1 that counts the connections and the requests it holds
/// open at once, and the idempotency keys it received. The first `reset` connections are closed
/// as soon as they are accepted, before reading anything (the client sees a reset or a closed
/// connection, never an answer); the others are answered `{}` after `delay`, keeping the
/// connection alive.
#[derive(Clone)]
struct Endpoint {
    port: u16,
    keys: Arc<Mutex<Vec<String>>>,
    /// Connections open now and the most at once.
    connections: Arc<(AtomicUsize, AtomicUsize)>,
    /// Requests read and not yet answered now, and the most at once.
    requests: Arc<(AtomicUsize, AtomicUsize)>,
    accepted: Arc<AtomicUsize>,
}

/// One more open: counts it and raises the peak.
fn enter(c: &(AtomicUsize, AtomicUsize)) {
    let now = c.0.fetch_add(1, Ordering::SeqCst) + 1;
    c.1.fetch_max(now, Ordering::SeqCst);
}

fn leave(c: &(AtomicUsize, AtomicUsize)) {
    c.0.fetch_sub(1, Ordering::SeqCst);
}

impl Endpoint {
    fn start(delay: Duration, reset: usize) -> Endpoint {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let e = Endpoint {
            port: listener.local_addr().expect("addr").port(),
            keys: Arc::default(),
            connections: Arc::default(),
            requests: Arc::default(),
            accepted: Arc::default(),
        };
        let this = e.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                if this.accepted.fetch_add(1, Ordering::SeqCst) < reset {
                    drop(stream);
                    continue;
                }
                let this = this.clone();
                std::thread::spawn(move || {
                    enter(&this.connections);
                    let _ = this.serve(stream, delay);
                    leave(&this.connections);
                });
            }
        });
        e
    }

    /// Answers the requests of one connection until the client closes it.
    fn serve(&self, stream: TcpStream, delay: Duration) -> std::io::Result<()> {
        let mut out = stream.try_clone()?;
        let mut input = BufReader::new(stream);
        loop {
            let (mut length, mut key) = (0usize, String::new());
            let mut line = String::new();
            if input.read_line(&mut line)? == 0 {
                return Ok(());
            }
            loop {
                line.clear();
                input.read_line(&mut line)?;
                let header = line.trim_end();
                if header.is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':') {
                    match name.trim().to_ascii_lowercase().as_str() {
                        "content-length" => length = value.trim().parse().unwrap_or(0),
                        "idempotency-key" => key = value.trim().to_string(),
                        _ => {}
                    }
                }
            }
            let mut body = vec![0; length];
            input.read_exact(&mut body)?;
            enter(&self.requests);
            self.keys.lock().expect("lock").push(key);
            std::thread::sleep(delay);
            // No longer counted before the answer is written: the client may send its next
            // request as soon as it has read this one.
            leave(&self.requests);
            out.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}")?;
        }
    }

    fn keys(&self) -> Vec<String> {
        self.keys.lock().expect("lock").clone()
    }

    fn peak_requests(&self) -> usize {
        self.requests.1.load(Ordering::SeqCst)
    }

    fn peak_connections(&self) -> usize {
        self.connections.1.load(Ordering::SeqCst)
    }
}

/// A project whose journeys all start on `Arm` and wait until `fireAt`, then call an action.
fn project(dir: &Path, journeys: &[(&str, &str, u16)]) {
    let mut src =
        String::from("type ArmPayload = { user: string, fireAt: datetime }\nevent Arm: ArmPayload { key user }\n");
    for (name, options, port) in journeys {
        src.push_str(&format!(
            "action {name}Call(user: string) = http POST \"http://127.0.0.1:{port}/{name}\" {{\n  body {{ user: user }}\n  {options}\n}}\n\
             journey {name} {{\n  start on Arm\n  wait until event.fireAt\n  call {name}Call(user: event.user)\n  end \"called\"\n}}\n"
        ));
    }
    std::fs::create_dir_all(dir).expect("dir");
    std::fs::write(dir.join("calls.journey"), src).expect("write");
}

/// Posts `n` `Arm` events whose timers all fall due in the same millisecond, `delay_ms` from now.
fn arm(api: &Api, url: &str, n: usize, delay_ms: i64) {
    let due = jiff::Timestamp::now().as_millisecond() + delay_ms;
    let fire_at = jiff::Timestamp::from_millisecond(due).expect("time").to_string();
    let batch: Vec<String> = (0..n)
        .map(|i| {
            json!({"id": format!("arm-{i}"), "event": "Arm", "payload": {"user": format!("u{i}"), "fireAt": fire_at}})
                .to_string()
        })
        .collect();
    let (status, r) = api.post(&format!("{url}/events"), &batch.join("\n"));
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["accepted"].as_array().map(Vec::len), Some(n), "{r}");
}

/// Waits until `n` instances of `journey` have ended; its report.
fn ended(api: &Api, url: &str, journey: &str, n: u64) -> Value {
    api.wait_get(&format!("{n} instances of {journey} to end"), &format!("{url}/journeys/{journey}/report"), |r| {
        let r = &r["versions"][0]["report"];
        r["running"] == 0 && r["started"] == n
    })["versions"][0]["report"]
        .clone()
}

/// How many times each key arrived.
fn counts(keys: &[String]) -> HashMap<&str, usize> {
    let mut by_key = HashMap::new();
    for k in keys {
        *by_key.entry(k.as_str()).or_insert(0) += 1;
    }
    by_key
}

#[test]
fn a_storm_of_due_calls_reaches_a_slow_endpoint_within_the_limit_once_per_key() {
    const N: usize = 300;
    let api = Api::new();
    // A declared limit, and the default of 64 per host; the first 40 connections to the
    // declared one are reset before any answer.
    let (limited, shared) =
        (Endpoint::start(Duration::from_millis(20), 40), Endpoint::start(Duration::from_millis(20), 0));
    let dir = temp_dir("serve-calls-storm");
    project(&dir, &[("Limited", "concurrency 8", limited.port), ("Shared", "timeout 5s", shared.port)]);
    let server = Server::start(&dir, &dir.join("j.db"), &[]);
    arm(&api, &server.url, N, 2_000);
    for (journey, endpoint, limit) in [("Limited", &limited, 8), ("Shared", &shared, 64)] {
        let report = ended(&api, &server.url, journey, N as u64);
        assert_eq!(report["ended"], json!({"called": N}), "no instance ends in error: {report}");
        assert_eq!(report["errors"], 0, "{report}");
        let keys = endpoint.keys();
        let by_key = counts(&keys);
        assert_eq!(by_key.len(), N, "every call arrived");
        assert!(by_key.values().all(|&c| c == 1), "each call arrived once per idempotency key");
        assert!(!by_key.contains_key(""), "every call carries its key");
        eprintln!(
            "{journey}: at most {} requests and {} connections at once (limit {limit}), {} connections accepted",
            endpoint.peak_requests(),
            endpoint.peak_connections(),
            endpoint.accepted.load(Ordering::SeqCst)
        );
        assert!(
            endpoint.peak_requests() <= limit,
            "{} requests at once; the limit is {limit}",
            endpoint.peak_requests()
        );
        // Connections are kept alive and reused, so they follow the requests; a few more may be
        // open when the HTTP client's pool finishes a connection it started while a pooled one
        // came free (it keeps it for the next request). Bounded by the limit, never one per call.
        assert!(
            endpoint.peak_connections() <= 2 * limit,
            "{} connections at once; the limit is {limit} requests in flight",
            endpoint.peak_connections()
        );
    }
    assert!(limited.accepted.load(Ordering::SeqCst) > 40, "the reset connections were retried");
}

#[test]
fn calls_waiting_their_turn_are_sent_after_a_crash_with_the_same_keys() {
    const N: usize = 40;
    let api = Api::new();
    let endpoint = Endpoint::start(Duration::from_millis(100), 0);
    let dir = temp_dir("serve-calls-crash");
    let db = dir.join("j.db");
    project(&dir, &[("Slow", "concurrency 2", endpoint.port)]);
    let server = Server::start(&dir, &db, &[]);
    arm(&api, &server.url, N, 1_000);
    wait_until("a few calls to arrive", || {
        let n = endpoint.keys().len();
        if n >= 4 {
            Ok(())
        } else {
            Err(format!("{n} arrived"))
        }
    });
    server.kill();
    let before = endpoint.keys().len();
    assert!(before < N, "calls were still waiting their turn at the crash ({before} of {N} sent)");
    let server = Server::start(&dir, &db, &[]);
    let report = ended(&api, &server.url, "Slow", N as u64);
    assert_eq!(report["ended"], json!({"called": N}), "{report}");
    let keys = endpoint.keys();
    let by_key = counts(&keys);
    // The calls answered before the crash may be sent again (their answers were not yet
    // checkpointed), always with the key they had: no call gets a new key.
    assert_eq!(by_key.len(), N, "each call has one key, kept across the crash: {by_key:?}");
}
