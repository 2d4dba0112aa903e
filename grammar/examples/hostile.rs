//! Times the parser on hostile inputs (release mode): `cargo run --release --example hostile`.

#[path = "../tests/support/noise.rs"]
mod noise;

use noise::noise;
use std::time::Instant;

fn time(name: &str, src: &str) {
    let t = Instant::now();
    let p = journey_grammar::parse(src);
    println!(
        "{name}: {} bytes, {} errors, {} items, {:.3}s",
        src.len(),
        p.errors.len(),
        p.file.items.len(),
        t.elapsed().as_secs_f64()
    );
}

fn main() {
    time("random bytes", &String::from_utf8_lossy(&noise(1 << 20, 7)));
    let words = [
        "journey", "J", "{", "}", "(", ")", "[", "]", "let", "x", "=", "wait", "1h", "if", "then", "else", "\"s", "\"",
        "'", "${", "->", "on", "await", "split", "10%", ",", ":", "\n", "//", "/*", "*/", "end", "test", "send", "E",
        "schema", "type", "event", "audience", "profile", "=", "xdm", ".", "`",
    ];
    let mut src = String::new();
    for (i, b) in noise(250_000, 42).iter().enumerate() {
        src.push_str(words[*b as usize % words.len()]);
        src.push(if i % 7 == 0 { '\n' } else { ' ' });
    }
    time("random tokens", &src);
    for open in ["(", "[", "{", "${", "list<", "if "] {
        time(&format!("100k {open}"), &format!("journey J {{\n  let x = {}\n}}\n", open.repeat(100_000)));
    }
    let chain = vec!["1"; 100_000].join(" + ");
    time("chain", &format!("journey J {{ let x = {chain} }}"));
    let t = Instant::now();
    let _ = journey_grammar::parse_expr(&chain);
    println!("parse_expr chain: {:.3}s", t.elapsed().as_secs_f64());
    // Many small broken statements.
    let mut bad = String::from("journey J {\n");
    while bad.len() < 1 << 20 {
        bad.push_str("  let x = = 3\n  wait 1h\n  if x > { end }\n");
    }
    bad.push_str("}\n");
    time("1 MB of broken statements", &bad);
    let mut items = String::new();
    while items.len() < 1 << 20 {
        items.push_str("schema = xdm \"x\"\ntype T = { a: int }\n");
    }
    time("1 MB of broken declarations", &items);
}
