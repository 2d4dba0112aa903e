//! What printing every profile's path costs `journey run`: the real binary, timed from start to
//! exit, with every path printed and with `--summary-only` (the baseline, in the same run), in
//! both output formats; it prints the ratio. The target is at most 1.3.
//!
//! Run: `cargo bench --bench run_output` (750,000 events of 500,000 profiles;
//! `RUN_OUTPUT_EVENTS=N` for another size, `RUN_OUTPUT_REPEAT=N` for more runs per side, best of
//! them kept). As a test (`cargo test --benches`, or `-- --test`) it runs on 3,000 events and
//! checks the same summary on both sides and one path line per instance.
//!
//! The input is the run bench's (`benches/support`): the CartRecovery journey, one cart add per
//! profile and a purchase for half of them (some within the hour, most during the await, some
//! after the reminder), and a mocks file answering the reminder email. Standard output is a pipe
//! read by this program, as `| less` or `> file` would take it.

use std::time::Duration;

mod support;

/// One whole run of the binary: its wall time, its CPU time and its standard output.
fn run(args: &[&str]) -> (Duration, Duration, Vec<u8>) {
    let run = support::journey(args);
    (run.wall, run.cpu, run.stdout)
}

fn main() {
    let quick = support::quick();
    let events = support::env_usize("RUN_OUTPUT_EVENTS", if quick { 3_000 } else { 750_000 });
    let repeat = support::env_usize("RUN_OUTPUT_REPEAT", 1).max(1);
    let dir = support::data_dir();
    let journey = dir.join("output-cart.journey");
    std::fs::write(&journey, support::JOURNEY).expect("journey file");
    let mocks = dir.join("output-mocks.jsonl");
    std::fs::write(&mocks, support::MOCKS).expect("mocks");
    let (events, profiles) = support::events_file(events);
    let base = support::run_args(&journey, &events, &mocks);
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
