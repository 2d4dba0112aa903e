//! A timer storm in `journey serve`: tens of thousands of instances whose timers all fall due in
//! the same millisecond. Every timer fires and every end is stored, and the server's peak resident
//! memory while it works the storm off grows by no more than a fixed budget (what one checkpoint
//! may hold), not with the number of timers.

use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Timers in the storm. Fired all at once, with their step events held until one checkpoint,
/// they take about 1 KB each (some 150 MB); fired in budgeted slices, far less.
const TIMERS: usize = 150_000;
/// The bound on the growth of the peak resident memory during the storm: two checkpoints' worth
/// of work (one being written while the next gathers; 20,000 units each: a log entry, a timer
/// fired or a step event, about 500 bytes a unit), plus a fixed 8 MB for the store's caches and
/// buffers. It does not grow with the number of timers.
const BOUND_MB: u64 = 2 * 10 + 8;

const JOURNEY: &str = r#"
type ArmPayload = { user: string, fireAt: datetime }
event Arm: ArmPayload { key user }
journey Storm {
  start on Arm
  reentry always
  wait until event.fireAt
  end "fired"
}
"#;

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn proc_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .expect("/proc/PID/status")
}

/// The project, and a database with it published and `TIMERS` `Arm` events in the log, whose
/// timers all fall due in the same millisecond, `due` (the hardest case of a storm in one
/// second: nothing spreads them out).
fn prepare(dir: &Path, due: i64) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("dir");
    std::fs::write(dir.join("storm.journey"), JOURNEY).expect("write");
    let fire_at = jiff::Timestamp::from_millisecond(due).expect("time").to_string();
    let events = (0..TIMERS).map(|i| {
        let payload = json!({"user": format!("u{i}"), "fireAt": fire_at});
        (format!("arm-{i}"), "Arm".to_string(), payload)
    });
    journey_runtime::write_log(dir, &dir.join("storm.db"), now_ms(), events).expect("the log is written");
}

/// A `journey serve` child, killed if the test fails.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Server {
    fn start(dir: &Path, port: u16) -> Server {
        let child = Command::new(env!("CARGO_BIN_EXE_journey"))
            .arg("serve")
            .arg(dir)
            .arg("--db")
            .arg(dir.join("storm.db"))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env_remove("JOURNEY_TOKEN")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("journey serve starts");
        Server(child)
    }

    /// Stops it as ctrl-c does (a final checkpoint).
    fn interrupt(mut self) {
        let pid = self.0.id().to_string();
        let status = Command::new("kill").args(["-INT", &pid]).status().expect("kill runs");
        assert!(status.success());
        let _ = self.0.wait();
    }
}

async fn get(client: &reqwest::Client, url: &str) -> Option<Value> {
    client.get(url).send().await.ok()?.json::<Value>().await.ok()
}

/// Waits until the server answers with the whole log applied; returns its status.
async fn settled(client: &reqwest::Client, url: &str, waiting: u64) -> Value {
    loop {
        if let Some(s) = get(client, &format!("{url}/status")).await {
            if s["applied"] == s["log_entries"] && s["instances_waiting"] == waiting {
                return s;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn fired(report: &Value) -> u64 {
    report["versions"][0]["report"]["ended"]["fired"].as_u64().unwrap_or(0)
}

#[test]
fn a_storm_of_timers_due_in_one_second_fires_every_timer_in_bounded_memory() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let client = reqwest::Client::new();
    let dir = std::env::temp_dir().join(format!("journey-serve-storm-{}", std::process::id()));
    let n = TIMERS as u64;
    // The due second must come after the log is replayed; on a slow or busy machine the storm
    // is set up again further ahead (the assertions do not depend on how long anything takes).
    let mut margin_s = 20;
    let (server, url) = loop {
        let due = (now_ms() / 1000 + margin_s) * 1000;
        prepare(&dir, due);
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let server = Server::start(&dir, port);
        let url = format!("http://127.0.0.1:{port}");
        let started = std::time::Instant::now();
        rt.block_on(settled(&client, &url, n));
        eprintln!("replayed {TIMERS} log entries in {:.1} s", started.elapsed().as_secs_f64());
        if now_ms() < due - 1_000 {
            break (server, url);
        }
        drop(server);
        margin_s *= 2;
        assert!(margin_s <= 160, "the log of {TIMERS} entries could not be replayed in {} s", margin_s / 2);
    };
    let pid = server.0.id();
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("reset the peak resident memory");
    let before_kb = proc_kb(pid, "VmRSS:");
    let report = rt.block_on(async {
        loop {
            if let Some(r) = get(&client, &format!("{url}/journeys/Storm/report")).await {
                if fired(&r) == n {
                    break r;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let peak_kb = proc_kb(pid, "VmHWM:");
    let r = &report["versions"][0]["report"];
    assert_eq!(r["started"], n, "{report}");
    assert_eq!(r["running"], 0, "{report}");
    assert_eq!(r["nodes"][0]["passed"], n, "every wait ended: {report}");
    let growth_mb = peak_kb.saturating_sub(before_kb) / 1024;
    eprintln!("storm of {TIMERS} timers: resident {} MB before, peak {} MB", before_kb / 1024, peak_kb / 1024);
    assert!(
        growth_mb <= BOUND_MB,
        "the peak resident memory grew by {growth_mb} MB during a storm of {TIMERS} timers \
         (from {} MB); the bound is {BOUND_MB} MB",
        before_kb / 1024
    );
    // Every end is durable: after a stop and a restart, nothing waits and the report holds.
    server.interrupt();
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let server = Server::start(&dir, port);
    let url = format!("http://127.0.0.1:{port}");
    rt.block_on(async {
        settled(&client, &url, 0).await;
        let report = get(&client, &format!("{url}/journeys/Storm/report")).await.expect("report");
        assert_eq!(fired(&report), n, "{report}");
    });
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
