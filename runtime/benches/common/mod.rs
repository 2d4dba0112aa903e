//! Shared by the runtime benchmarks: a `journey serve` in a child process (the benchmark's own
//! executable run again with `JOURNEY_BENCH_SERVE` set), so that its memory is measured alone,
//! without the benchmark's clients and data, and a restart is a fresh process.

#![allow(dead_code)]

use serde_json::{json, Value};
use std::alloc::{GlobalAlloc, Layout};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// The `journey` binary's allocator (mimalloc), counting the bytes allocated and not yet freed:
/// the heap a server holds, without the allocator's free pages and its own overhead.
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Relaxed);
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Relaxed);
        unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Relaxed);
        LIVE.fetch_sub(layout.size(), Relaxed);
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
    }
}

const SERVE_ENV: &str = "JOURNEY_BENCH_SERVE";

/// When this process is a benchmark's server child: serves until its stdin closes (then
/// checkpoints and exits), and returns true.
pub fn serve_if_child() -> bool {
    let Ok(spec) = std::env::var(SERVE_ENV) else { return false };
    let parts: Vec<&str> = spec.split('\n').collect();
    let [port, project, db] = parts[..] else { panic!("{SERVE_ENV} is `port\\nproject\\ndb`") };
    let config = journey_runtime::Config {
        project: project.into(),
        schemas: Vec::new(),
        db: db.into(),
        listen: format!("127.0.0.1:{port}").parse().expect("address"),
        token: None,
        read_rate: None,
        shards: std::env::var("SHARDS").ok().and_then(|s| s.parse().ok()),
        max_lag: None,
        limits: Default::default(),
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    // Each line `heap` on stdin is answered with the heap bytes in use (with [`Counting`]);
    // the end of stdin stops the server.
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if line == "heap" {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{}", LIVE.load(Relaxed));
                let _ = out.flush();
            }
        }
        let _ = tx.send(());
    });
    if let Err(e) = journey_runtime::serve_until(config, async move {
        let _ = rx.await;
    }) {
        eprintln!("journey serve: {e}");
        std::process::exit(2);
    }
    true
}

/// Writes the benchmarks' project to `dir`: a journey every `CartAdd` enters, waiting a day.
pub fn project(dir: &Path) {
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

/// The `i`th `CartAdd` event, of profile `u{i}`.
pub fn event(i: usize) -> Value {
    json!({"id": format!("ev-{i}"), "event": "CartAdd", "payload": {"user": format!("u{i}"), "sku": "SKU-1", "price": 19.9}})
}

/// A free local port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A `journey serve` child process.
pub struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    /// Its base URL.
    pub url: String,
}

impl Server {
    /// Starts a server on `project` and `db`; returns once it accepts connections.
    pub fn start(project: &Path, db: &Path) -> Server {
        let port = free_port();
        let exe = std::env::current_exe().expect("own executable");
        let mut child = Command::new(exe)
            .env(SERVE_ENV, format!("{port}\n{}\n{}", project.display(), db.display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the server child starts");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let server = Server { child, stdin, stdout, url: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(600);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the server did not start listening");
            std::thread::sleep(Duration::from_millis(5));
        }
        server
    }

    fn status_kb(&self, field: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    }

    /// Its resident memory now (kB).
    pub fn rss_kb(&self) -> u64 {
        self.status_kb("VmRSS:")
    }

    /// Its peak resident memory since it started or since [`Server::reset_peak`] (kB).
    pub fn peak_kb(&self) -> u64 {
        self.status_kb("VmHWM:")
    }

    /// The CPU time it has used so far, user and system, all threads (ms; Linux counts it in
    /// ticks of 10 ms, USER_HZ being 100).
    pub fn cpu_ms(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // The fields after the command's closing parenthesis start at the state (field 3):
        // utime and stime are fields 14 and 15.
        let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or_default();
        let ticks: Vec<f64> = rest.split_whitespace().skip(11).take(2).filter_map(|t| t.parse().ok()).collect();
        ticks.iter().sum::<f64>() * 10.0
    }

    /// Resets the peak resident memory to the current one (Linux `clear_refs` 5).
    pub fn reset_peak(&self) {
        std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5").expect("clear_refs");
    }

    /// The heap bytes it holds (allocated and not freed; 0 without [`Counting`]).
    pub fn heap_bytes(&mut self) -> u64 {
        let stdin = self.stdin.as_mut().expect("running");
        writeln!(stdin, "heap").expect("ask");
        stdin.flush().expect("ask");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("answer");
        line.trim().parse().expect("a number")
    }

    /// Kills it with SIGKILL (no final checkpoint) and waits for it to exit.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops it gracefully (a final checkpoint) and waits for it to exit.
    pub fn stop(mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// GETs a JSON document; `None` when the server does not answer.
pub async fn get_json(client: &reqwest::Client, url: &str) -> Option<Value> {
    client.get(url).send().await.ok()?.json::<Value>().await.ok()
}

/// Polls `/status` (every 20 ms) until the log is applied and `instances_waiting` is `n`.
pub async fn until_waiting(client: &reqwest::Client, server: &Server, n: u64) {
    loop {
        if let Some(v) = get_json(client, &format!("{}/status", server.url)).await {
            if v["instances_waiting"].as_u64() == Some(n) && v["applied"] == v["log_entries"] {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
