//! What the root crate's benches share: the CartRecovery journey and its generated events file,
//! and one whole run of the `journey` binary measured from process start to exit (wall time, CPU
//! time and peak resident memory, from `wait4`'s resource usage of the child).

#![allow(dead_code)] // each bench uses its own part

use std::io::{BufRead, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The CartRecovery journey every `run` bench uses (`vm/benches/data/cart.journey`, which the
/// memory bench reads too).
pub const JOURNEY: &str = include_str!("../../vm/benches/data/cart.journey");

/// A mocks file answering the journey's one call, so a dry run takes the designed path.
pub const MOCKS: &str = "{\"action\": \"SendEmail\", \"answer\": {\"messageId\": \"m-1\"}}\n";

const HOUR: i64 = 3_600_000;
/// 2026-05-01T00:00:00Z.
const START_MS: i64 = 1_777_593_600_000;

/// `target/` (or `CARGO_TARGET_DIR`), where generated inputs are kept between runs.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/target").into())
}

/// `target/bench-data/`, created.
pub fn data_dir() -> PathBuf {
    let dir = target_dir().join("bench-data");
    std::fs::create_dir_all(&dir).expect("bench-data folder");
    dir
}

/// Quick mode: run as a test (`cargo test --benches`, or `cargo bench -- --test`), on small
/// inputs, so that CI checks every side's answer without timing anything worth reading.
pub fn quick() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--test") || !args.iter().any(|a| a == "--bench")
}

/// A number from the environment, or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// A small deterministic generator (xorshift64*).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn rfc3339(ms: i64) -> String {
    format!("{:.3}", jiff::Timestamp::from_millisecond(ms).expect("in range"))
}

/// Writes `n` events (two thirds cart adds, one third purchases by half of those profiles) to
/// `path`, in time order. Returns the number of profiles.
pub fn generate(path: &Path, n: usize) -> usize {
    let profiles = (2 * n).div_ceil(3);
    let purchases = n - profiles;
    let mut rng = Rng(0x5EED_CA27);
    // (at, line) for every event, then sorted: the file is in time order, like a real export.
    let mut events: Vec<(i64, String)> = Vec::with_capacity(n);
    const SKUS: [(&str, &str, f64); 4] = [
        ("JKT-001-M", "Alpine Shell Jacket", 149.0),
        ("BT-220-42", "Trail Runner 2", 129.0),
        ("SK-300", "Merino Socks", 19.5),
        ("PK-12", "Daypack 12L", 59.0),
    ];
    for i in 0..profiles {
        let email = format!("shopper{i:07}@example.com");
        let cart = format!("cart-{i:07}");
        // Cart adds spread over four days, about one every 350 ms.
        let at = START_MS + (i as i64) * 4 * 24 * HOUR / profiles as i64 + rng.below(1_000) as i64;
        let (sku, name, price) = SKUS[rng.below(4) as usize];
        let qty = 1 + rng.below(3);
        let add = format!(
            concat!(
                r#"{{"id":"e-{i}-a","event":"CartAdd","at":"{at}","payload":{{"@id":"e-{i}-a","timestamp":"{at}","#,
                r#""eventType":"commerce.productListAdds","identityMap":{{"Email":[{{"id":"{email}","primary":true}}]}},"#,
                r#""commerce":{{"cart":{{"cartID":"{cart}","cartSource":"web"}},"productListAdds":{{"value":1.0}}}},"#,
                r#""productListItems":[{{"SKU":"{sku}","name":"{name}","quantity":{qty},"priceTotal":{total:.1},"currencyCode":"EUR"}}],"#,
                r#""web":{{"webPageDetails":{{"name":"product","URL":"https://shop.example.com/p/{sku}"}}}}}}}}"#
            ),
            i = i,
            at = rfc3339(at),
            email = email,
            cart = cart,
            sku = sku,
            name = name,
            qty = qty,
            total = price * qty as f64,
        );
        events.push((at, add));
        if i % 2 == 0 && i / 2 < purchases {
            // 10% within the hour (exit on Purchase), 80% during the await, 10% after the
            // reminder (the instance has ended; the purchase starts nothing).
            let r = rng.below(100);
            let delay = if r < 10 {
                5 * 60_000 + rng.below(50 * 60_000) as i64
            } else if r < 90 {
                HOUR + 60_000 + rng.below(23 * HOUR as u64) as i64
            } else {
                26 * HOUR + rng.below(24 * HOUR as u64) as i64
            };
            let pat = at + delay;
            let buy = format!(
                concat!(
                    r#"{{"id":"e-{i}-p","event":"Purchase","at":"{at}","payload":{{"@id":"e-{i}-p","timestamp":"{at}","#,
                    r#""eventType":"commerce.purchases","identityMap":{{"Email":[{{"id":"{email}","primary":true}}]}},"#,
                    r#""commerce":{{"cart":{{"cartID":"{cart}"}},"order":{{"purchaseID":"AC-{i}","priceTotal":{total:.1},"currencyCode":"EUR"}},"purchases":{{"value":1.0}}}},"#,
                    r#""productListItems":[{{"SKU":"{sku}","name":"{name}","quantity":{qty},"priceTotal":{total:.1}}}]}}}}"#
                ),
                i = i,
                at = rfc3339(pat),
                email = email,
                cart = cart,
                sku = sku,
                name = name,
                qty = qty,
                total = price * qty as f64,
            );
            events.push((pat, buy));
        }
    }
    events.sort_by_key(|e| e.0);
    let mut out = BufWriter::new(std::fs::File::create(path).expect("events file"));
    for (_, line) in &events {
        writeln!(out, "{line}").expect("write");
    }
    out.flush().expect("flush");
    profiles
}

/// `target/bench-data/cart-events-v2-{n}.jsonl` (generated if missing: `n` events in time
/// order) and its number of profiles.
pub fn events_file(n: usize) -> (PathBuf, usize) {
    let path = data_dir().join(format!("cart-events-v2-{n}.jsonl"));
    let profiles = (2 * n).div_ceil(3);
    if !path.exists() {
        let t = Instant::now();
        let tmp = path.with_extension("tmp");
        let made = generate(&tmp, n);
        assert_eq!(made, profiles);
        std::fs::rename(&tmp, &path).expect("events file");
        eprintln!("generated {} ({profiles} profiles) in {:.1?}", path.display(), t.elapsed());
    }
    (path, profiles)
}

/// The same events as `ordered`, in a shuffled order (deterministic), so that a run must sort
/// them: `target/bench-data/cart-events-v2-{n}-shuffled.jsonl`.
pub fn shuffled_file(ordered: &Path) -> PathBuf {
    let path = ordered
        .with_file_name(format!("{}-shuffled.jsonl", ordered.file_stem().and_then(|s| s.to_str()).expect("file name")));
    if !path.exists() {
        let text = std::fs::read_to_string(ordered).expect("events");
        let mut lines: Vec<&str> = text.lines().collect();
        let mut rng = Rng(0x5417_F1ED);
        for i in (1..lines.len()).rev() {
            lines.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let tmp = path.with_extension("tmp");
        let mut out = BufWriter::new(std::fs::File::create(&tmp).expect("shuffled file"));
        for line in lines {
            writeln!(out, "{line}").expect("write");
        }
        out.flush().expect("flush");
        drop(out);
        std::fs::rename(&tmp, &path).expect("shuffled file");
    }
    path
}

/// Whether a file's lines are in time order by their `"at"` field (the shuffled file must not be).
pub fn in_time_order(path: &Path) -> bool {
    let file = std::io::BufReader::new(std::fs::File::open(path).expect("events"));
    let mut last = String::new();
    for line in file.lines() {
        let line = line.expect("line");
        let at = line.split("\"at\":\"").nth(1).and_then(|s| s.split('"').next()).unwrap_or("").to_string();
        if at < last {
            return false;
        }
        last = at;
    }
    true
}

/// One whole run of a process, from spawn to exit.
pub struct Run {
    /// Wall time from spawn to exit (standard output read to its end meanwhile).
    pub wall: Duration,
    /// User + system CPU time of the child.
    pub cpu: Duration,
    /// The child's peak resident set size (its `VmHWM`, polled while it runs), in bytes.
    pub max_rss: u64,
    /// Exit code (None when killed by a signal).
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Runs `program` with `args` to its end, standard output a pipe read by this process (as
/// `| less` or `> file` would take it), and measures it: CPU time with `wait4`, peak memory
/// from its `VmHWM`.
pub fn run_process(program: &Path, args: &[&str]) -> Run {
    let t = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    // Peak resident memory is read from the child's own `VmHWM` while it runs: `wait4`'s
    // `ru_maxrss` also counts this process's memory, which the child shares between spawn and
    // exec (the kernel keeps the larger figure), so a bench holding its events in memory made
    // every child look that large. The high-water mark only grows, so the last reading misses
    // at most the child's final few milliseconds.
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let poller = {
        let (peak, status) = (peak.clone(), format!("/proc/{}/status", child.id()));
        std::thread::spawn(move || {
            while let Ok(text) = std::fs::read_to_string(&status) {
                let Some(kb) = text.lines().find_map(|l| l.strip_prefix("VmHWM:")) else { break };
                let kb: u64 = kb.trim().trim_end_matches("kB").trim().parse().unwrap_or(0);
                peak.fetch_max(kb * 1024, std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let mut err = child.stderr.take().expect("stderr");
    let stderr = std::thread::spawn(move || {
        let mut buf = Vec::new();
        err.read_to_end(&mut buf).map(|_| buf)
    });
    let mut stdout = Vec::new();
    child.stdout.take().expect("stdout").read_to_end(&mut stdout).expect("read stdout");
    let mut status = 0;
    // SAFETY: wait4 writes only the status and the rusage it is given; the child is ours and
    // not waited for by anything else (std's `Child` is dropped without waiting).
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        let pid = libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut u);
        assert_eq!(pid, child.id() as libc::pid_t, "wait4: {}", std::io::Error::last_os_error());
        u
    };
    let wall = t.elapsed();
    drop(child);
    let _ = poller.join();
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Run {
        wall,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        max_rss: peak.load(std::sync::atomic::Ordering::Relaxed),
        code: if libc::WIFEXITED(status) { Some(libc::WEXITSTATUS(status)) } else { None },
        stdout,
        stderr: stderr.join().expect("stderr reader").expect("read stderr"),
    }
}

/// The `journey` binary of this build.
pub fn journey_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_journey"))
}

/// `journey run JOURNEY --events EVENTS --mocks MOCKS`: the command the run benches time.
pub fn run_args<'a>(journey: &'a Path, events: &'a Path, mocks: &'a Path) -> Vec<&'a str> {
    let s = |p: &'a Path| p.to_str().expect("a UTF-8 path");
    vec!["run", s(journey), "--events", s(events), "--mocks", s(mocks)]
}

/// Runs the `journey` binary; it must exit 0.
pub fn journey(args: &[&str]) -> Run {
    let run = run_process(journey_bin(), args);
    assert_eq!(run.code, Some(0), "journey {args:?}: {}", String::from_utf8_lossy(&run.stderr));
    run
}
