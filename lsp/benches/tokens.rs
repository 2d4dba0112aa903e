//! Semantic tokens of a 1 MB file on one line (minified or generated text): the time to
//! compute them (`tokens::tokens`, the server's work for `textDocument/semanticTokens/full`)
//! and the whole request through an in-process server. Positions are counted by walking the
//! text once, so the time is linear in the line's length. Plain timing; prints medians, and the
//! ratio against a baseline in the same run: a hand-written walk that counts the UTF-16 column
//! of every character of the same text.
//!
//! Run: `cargo bench -p journey-lsp --bench tokens`

use journey_lsp::testing::TestClient;
use journey_lsp::tokens::{tokens, Names};
use serde_json::json;
use std::time::{Duration, Instant};

mod common;

/// Declarations and journeys on a single line, at least `bytes` long, with accents and emoji.
fn one_line(bytes: usize) -> String {
    let mut s = String::from("type Signup = { email: string, seats: int } event SignUp: Signup { key email } ");
    let mut i = 0;
    while s.len() < bytes {
        i += 1;
        s.push_str(&format!(
            "journey J{i} {{ start on SignUp let who = event.email let note = \"é 🙂 ${{who}}\" \
             if event.seats > {i} {{ wait 1h }} else {{ wait 1d }} end \"done\" }} "
        ));
    }
    s.push('\n');
    s
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing else: run briefly then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let runs = if quick { 1 } else { 7 };
    let text = one_line(1 << 20);

    let mut times = Vec::new();
    let mut count = 0;
    for _ in 0..runs {
        let t = Instant::now();
        count = tokens(&text, &Names::default()).len();
        times.push(t.elapsed());
    }
    // The baseline: a hand-written walk of the same text that counts each character's UTF-16
    // column, the position work alone (what LSP positions need), in the same run.
    let mut walks = Vec::new();
    let mut columns = 0usize;
    for _ in 0..runs.max(3) {
        let t = Instant::now();
        columns = std::hint::black_box(&text).chars().map(char::len_utf16).sum();
        walks.push(t.elapsed());
    }
    assert!(columns > text.len() / 2, "every character counted");
    let (tokens_median, walk) = (median(times), median(walks));
    eprintln!(
        "{} bytes on one line, {count} tokens: tokens() median {tokens_median:?}; baseline, one walk counting \
         UTF-16 columns: median {walk:?}; tokens() is {:.1}x the walk",
        text.len(),
        tokens_median.as_secs_f64() / walk.as_secs_f64()
    );

    let rt = common::runtime();
    rt.block_on(async move {
        let dir = common::temp_folder("tokens");
        let path = dir.join("minified.journey");
        std::fs::write(&path, &text).expect("write the file");
        let uri = tower_lsp_server::ls_types::Uri::from_file_path(&path).expect("a file URI").as_str().to_string();
        let mut c = TestClient::start();
        c.initialize().await;
        let t = Instant::now();
        c.open(&uri, &text).await;
        let diags = c.diagnostics(&uri).await;
        assert!(diags.is_empty(), "the generated line checks clean: {:?}", &diags[..diags.len().min(3)]);
        eprintln!("open -> diagnostics {:?}", t.elapsed());
        let mut times = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let r = c.request("textDocument/semanticTokens/full", json!({"textDocument": {"uri": uri}})).await;
            times.push(t.elapsed());
            let data = r["result"]["data"].as_array().map(Vec::len).unwrap_or(0);
            assert_eq!(data, count * 5, "five numbers a token");
        }
        eprintln!("semanticTokens/full request: median {:?}", median(times));
        c.shutdown().await;
        let _ = std::fs::remove_dir_all(&dir);
    });
}
