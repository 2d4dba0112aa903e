//! What printing every profile's path costs `journey run`: the real binary, timed from start to
//! exit, with every path printed and with `--summary-only` (the baseline, in the same run), in
//! both output formats; it prints the ratio. The target is at most 1.3.
//!
//! Run: `cargo bench --bench run_output` (500,000 profiles; `RUN_OUTPUT_PROFILES=N` for another
//! size, `RUN_OUTPUT_REPEAT=N` for more runs per side, best of them kept). `-- --test` runs a
//! quick check (2,000 profiles): the same summary on both sides, one path line per instance.
//!
//! The input is generated into `target/bench-data/`: the CartRecovery journey of the run bench
//! (`vm/benches/data/cart.journey`), one cart add per profile and a purchase for half of them
//! (some within the hour, most during the await, some after the reminder), and a mocks file
//! answering the reminder email. Standard output is a pipe read by this program, as `| less` or
//! `> file` would take it.

use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const JOURNEY: &str = include_str!("../vm/benches/data/cart.journey");
/// 2026-05-01T00:00:00Z.
const START_MS: i64 = 1_777_593_600_000;
const HOUR: i64 = 3_600_000;

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/target").into())
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

fn rfc3339(ms: i64) -> String {
    format!("{:.3}", jiff::Timestamp::from_millisecond(ms).expect("in range"))
}

/// Writes the events of `profiles` profiles, in time order.
fn generate(path: &Path, profiles: usize) {
    let mut rng = Rng(0x5EED_CA27);
    let mut events: Vec<(i64, String)> = Vec::with_capacity(profiles * 3 / 2);
    for i in 0..profiles {
        let email = format!("shopper{i:07}@example.com");
        let at = START_MS + (i as i64) * 4 * 24 * HOUR / profiles as i64 + rng.below(1_000) as i64;
        let ts = rfc3339(at);
        events.push((
            at,
            format!(
                r#"{{"event":"CartAdd","at":"{ts}","payload":{{"@id":"e-{i}-a","timestamp":"{ts}","eventType":"commerce.productListAdds","identityMap":{{"Email":[{{"id":"{email}","primary":true}}]}},"commerce":{{"cart":{{"cartID":"cart-{i}"}}}}}}}}"#
            ),
        ));
        if i % 2 == 0 {
            let r = rng.below(100);
            let delay = if r < 10 {
                5 * 60_000 + rng.below(50 * 60_000) as i64
            } else if r < 90 {
                HOUR + 60_000 + rng.below(23 * HOUR as u64) as i64
            } else {
                26 * HOUR + rng.below(24 * HOUR as u64) as i64
            };
            let ts = rfc3339(at + delay);
            events.push((
                at + delay,
                format!(
                    r#"{{"event":"Purchase","at":"{ts}","payload":{{"@id":"e-{i}-p","timestamp":"{ts}","eventType":"commerce.purchases","identityMap":{{"Email":[{{"id":"{email}","primary":true}}]}},"commerce":{{"cart":{{"cartID":"cart-{i}"}},"order":{{"priceTotal":59.0}}}}}}}}"#
                ),
            ));
        }
    }
    events.sort_by_key(|e| e.0);
    let mut out = BufWriter::new(std::fs::File::create(path).expect("events file"));
    for (_, line) in &events {
        writeln!(out, "{line}").expect("write");
    }
    out.flush().expect("flush");
}

/// CPU time (user + system) of the children waited for so far: on a shared machine a steadier
/// measure than wall time.
fn children_cpu() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut u);
        u
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// One whole run of the binary: its wall time, its CPU time and its standard output.
fn run(args: &[&str]) -> (Duration, Duration, Vec<u8>) {
    let cpu = children_cpu();
    let t = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_journey"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("journey runs");
    let mut out = Vec::new();
    child.stdout.take().expect("stdout").read_to_end(&mut out).expect("read stdout");
    let o = child.wait_with_output().expect("journey ends");
    let took = t.elapsed();
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    (took, children_cpu() - cpu, out)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let env = |name: &str, default: usize| std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default);
    let profiles = env("RUN_OUTPUT_PROFILES", if quick { 2_000 } else { 500_000 });
    let repeat = env("RUN_OUTPUT_REPEAT", 1).max(1);
    let dir = target_dir().join("bench-data");
    std::fs::create_dir_all(&dir).expect("bench-data folder");
    let journey = dir.join("output-cart.journey");
    std::fs::write(&journey, JOURNEY).expect("journey file");
    let mocks = dir.join("output-mocks.jsonl");
    std::fs::write(&mocks, "{\"action\": \"SendEmail\", \"answer\": {\"messageId\": \"m-1\"}}\n").expect("mocks");
    let events = dir.join(format!("output-events-{profiles}.jsonl"));
    if !events.exists() {
        generate(&events, profiles);
    }
    let base = [
        "run",
        journey.to_str().expect("path"),
        "--events",
        events.to_str().expect("path"),
        "--mocks",
        mocks.to_str().expect("path"),
    ];
    println!("journey run, {profiles} profiles, best of {repeat} (the binary's wall and CPU time; stdout a pipe)");
    println!(
        "{:<8} {:>14} {:>14} {:>7}   {:>14} {:>14} {:>7}",
        "format", "summary-only", "every path", "ratio", "CPU summary", "CPU paths", "ratio"
    );
    for format in ["human", "json"] {
        let side = |extra: &[&str]| {
            let args: Vec<&str> = base.iter().chain(&["--format", format]).chain(extra).copied().collect();
            let mut best: Option<(Duration, Duration, Vec<u8>)> = None;
            for _ in 0..repeat {
                let (t, cpu, out) = run(&args);
                if best.as_ref().is_none_or(|(b, _, _)| t < *b) {
                    best = Some((t, cpu, out));
                }
            }
            best.expect("ran")
        };
        let (summary_time, summary_cpu, summary_out) = side(&["--summary-only"]);
        let (full_time, full_cpu, full_out) = side(&[]);
        // Both sides did the same work: the same summary, and a path line per profile.
        let text = String::from_utf8(full_out).expect("UTF-8");
        let summary = String::from_utf8(summary_out).expect("UTF-8");
        let paths = match format {
            "json" => {
                assert_eq!(text.lines().last(), summary.lines().last(), "the same summary");
                text.lines().filter(|l| l.starts_with("{\"type\":\"instance\"")).count()
            }
            _ => {
                assert!(text.ends_with(&summary), "the same summary");
                text.lines().filter(|l| l.starts_with("shopper")).count()
            }
        };
        assert_eq!(paths, profiles, "one path line per profile ({format})");
        let ratio = full_time.as_secs_f64() / summary_time.as_secs_f64();
        let cpu_ratio = full_cpu.as_secs_f64() / summary_cpu.as_secs_f64();
        println!(
            "{format:<8} {:>12.3} s {:>12.3} s {ratio:>7.2}   {:>12.3} s {:>12.3} s {cpu_ratio:>7.2}",
            summary_time.as_secs_f64(),
            full_time.as_secs_f64(),
            summary_cpu.as_secs_f64(),
            full_cpu.as_secs_f64()
        );
    }
}
