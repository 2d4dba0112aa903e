//! Instructions the `journey` binary executes (valgrind's cachegrind, `--cache-sim=no`; load does
//! not move these counts) on two fixed inputs:
//!
//! - `journey check` of the check bench's single file cut to about 1 MB (`gen::project(1_000_000)`);
//! - `journey run --dry-run --summary-only --format json` on the first 30,000 events of the run
//!   bench's 1,000,000-event file, with CartRecovery's call answer made nullable
//!   (`returns { ... }?`) so that a dry run without mocks takes the designed path (older builds
//!   have no `--mocks`).
//!
//! Run: `cargo bench --bench instructions` (needs `valgrind` on the PATH). `JOURNEY_BASE=PATH`
//! runs another build of `journey` (say, an older commit's release binary) on the same inputs as
//! the baseline, and prints the ratio; without it there is no baseline and the bench says so.
//! As a test (`cargo test --benches`) each command runs once natively on small inputs and must
//! succeed, so the workload stays valid; nothing is counted.

use std::path::{Path, PathBuf};
use std::process::Command;

mod gen;
mod support;

struct Side {
    name: &'static str,
    args: Vec<String>,
}

fn main() {
    let quick = support::quick();
    let dir = support::data_dir().join("instructions");
    std::fs::create_dir_all(&dir).expect("inputs folder");
    let (check_bytes, events) = if quick { (20_000, 300) } else { (1_000_000, 30_000) };
    let single = dir.join(format!("check-{check_bytes}.journey"));
    if !single.exists() {
        std::fs::write(&single, gen::project(check_bytes)).expect("write the check input");
    }
    let project = dir.join("cart");
    std::fs::create_dir_all(&project).expect("project folder");
    let journey = support::JOURNEY.replace("returns { messageId: string }", "returns { messageId: string }?");
    assert_ne!(journey, support::JOURNEY, "the call's answer is made nullable");
    std::fs::write(project.join("cart.journey"), journey).expect("write the journey");
    let head = head_of_events(&dir, events, quick);
    let path = |p: &Path| p.to_str().expect("a UTF-8 path").to_string();
    let sides = [
        Side { name: "journey check (1 MB file)", args: vec!["check".into(), path(&single)] },
        Side {
            name: "journey run --dry-run --summary-only (30,000 events)",
            args: ["run", &path(&project), "--events", &path(&head), "--dry-run", "--summary-only", "--format", "json"]
                .map(String::from)
                .to_vec(),
        },
    ];
    let current = support::journey_bin().to_path_buf();
    let base = std::env::var_os("JOURNEY_BASE").map(PathBuf::from);
    eprintln!("inputs: {} ({} bytes), {} ({events} events)", single.display(), file_len(&single), head.display());
    if quick {
        for side in &sides {
            let args: Vec<&str> = side.args.iter().map(String::as_str).collect();
            support::journey(&args);
        }
        return;
    }
    eprintln!("\n| command | binary | instructions | against the baseline |\n|---|---|---:|---:|");
    for side in &sides {
        let now = count(&current, &side.args);
        match &base {
            Some(b) => {
                let then = count(b, &side.args);
                eprintln!("| {} | baseline ({}) | {} | 1 |", side.name, b.display(), thousands(then));
                let change = (now as f64 / then as f64 - 1.0) * 100.0;
                eprintln!("| {} | this build | {} | {change:+.1} % |", side.name, thousands(now));
            }
            None => eprintln!("| {} | this build | {} | no baseline (set JOURNEY_BASE) |", side.name, thousands(now)),
        }
    }
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// The first `n` lines of the run bench's 1,000,000-event file (of a small file when quick).
fn head_of_events(dir: &Path, n: usize, quick: bool) -> PathBuf {
    let out = dir.join(format!("events-head-{n}.jsonl"));
    if !out.exists() {
        let (all, _) = support::events_file(if quick { n } else { 1_000_000 });
        let text = std::fs::read_to_string(all).expect("events");
        let head: String = text.lines().take(n).flat_map(|l| [l, "\n"]).collect();
        std::fs::write(&out, head).expect("write the events");
    }
    out
}

/// Instructions `binary args` executes under cachegrind; it must exit 0.
fn count(binary: &Path, args: &[String]) -> u64 {
    let log = std::env::temp_dir().join(format!("journey-cachegrind-{}.log", std::process::id()));
    let out = Command::new("valgrind")
        .args(["--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"])
        .arg(format!("--log-file={}", log.display()))
        .arg(binary)
        .args(args)
        .output()
        .expect("valgrind runs (is it installed?)");
    assert!(out.status.success(), "{} {args:?}: {}", binary.display(), String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&log).expect("valgrind's log");
    let _ = std::fs::remove_file(&log);
    let line = text.lines().find(|l| l.contains("I") && l.contains("refs:")).expect("an `I refs:` line");
    line.rsplit(':').next().expect("a count").trim().replace(',', "").parse().expect("a number")
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
