//! Parses files and prints the errors; with `--bench`, measures throughput on a file repeated.
//!
//! `cargo run --release -p journey-grammar --example parse_file -- [--bench] FILE...`

use std::time::Instant;

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
            while big.len() < 10_000_000 {
                big.push_str(&src.replace("journey ", &format!("journey R{n}_")));
                big.push('\n');
                n += 1;
            }
            let t = Instant::now();
            let parsed = journey_grammar::parse(&big);
            let secs = t.elapsed().as_secs_f64();
            println!(
                "{}: {} bytes, {} items, {} errors in {:.3}s = {:.1} MB/s",
                arg,
                big.len(),
                parsed.file.items.len(),
                parsed.errors.len(),
                secs,
                big.len() as f64 / secs / 1e6
            );
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
