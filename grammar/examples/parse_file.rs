//! Parses files and prints the errors; with `--bench`, measures throughput on a file repeated.
//!
//! `cargo run --release -p journey-grammar --example parse_file -- [--bench] FILE...`

use std::time::Instant;

/// This thread's CPU time in nanoseconds (Linux), so that a busy machine does not skew the rate.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn main() {
    let mut bench = false;
    for arg in std::env::args().skip(1) {
        if arg == "--bench" {
            bench = true;
            continue;
        }
        let src = std::fs::read_to_string(&arg).expect("readable file");
        if bench {
            let mut big = String::new();
            let mut n = 0;
            let target: usize = std::env::var("BENCH_BYTES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000);
            while big.len() < target {
                big.push_str(&src.replace("journey ", &format!("journey R{n}_")));
                big.push('\n');
                n += 1;
            }
            for _ in 0..std::env::var("BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(3) {
                let (t, cpu) = (Instant::now(), cpu_ns());
                let parsed = journey_grammar::parse(&big);
                let secs = t.elapsed().as_secs_f64();
                let cpu_secs = (cpu_ns() - cpu) as f64 / 1e9;
                println!(
                    "{}: {} bytes, {} items, {} errors in {:.3}s wall, {:.3}s cpu = {:.1} MB/s (cpu)",
                    arg,
                    big.len(),
                    parsed.file.items.len(),
                    parsed.errors.len(),
                    secs,
                    cpu_secs,
                    big.len() as f64 / cpu_secs / 1e6
                );
            }
        } else {
            let parsed = journey_grammar::parse(&src);
            for e in &parsed.errors {
                let line = src[..e.span.start].matches('\n').count() + 1;
                println!("{arg}:{line}: {} {:?}", e.message, e.span);
            }
            println!("{} items, {} errors", parsed.file.items.len(), parsed.errors.len());
        }
    }
}
