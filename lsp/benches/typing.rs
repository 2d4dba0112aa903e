//! A fast typing session on a 5,000-line file: 300 `didChange`s (one character each) 10 ms
//! apart, then the delay from the last edit to the diagnostics published for the latest
//! version. Edits that arrive while a check runs are coalesced into the next check, so the
//! delay stays about one check long however many edits came before. Plain timing; prints the
//! median, the 90th percentile and the checks each session cost, and against the baseline, one
//! check of the same text through `compiler::driver` without the server, the delay's ratio.
//!
//! Run: `cargo bench -p journey-lsp --bench typing`

use journey_lsp::testing::TestClient;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

mod common;
use common::project;

/// What is typed: one long line of statements, character by character.
fn typed(len: usize) -> String {
    let mut s = String::from("  let score = value");
    let mut k = 0;
    while s.len() < len {
        k += 1;
        s.push_str(&format!(" + value * {k}"));
    }
    s.truncate(len);
    s
}

fn pos(line: usize, character: usize) -> Value {
    json!({"line": line, "character": character})
}

/// Sends one change as the next version; returns that version.
async fn change(c: &mut TestClient, uri: &str, version: &mut i32, change: Value) -> i32 {
    *version += 1;
    let params = json!({"textDocument": {"uri": uri, "version": *version}, "contentChanges": [change]});
    c.notify("textDocument/didChange", params).await;
    *version
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing else: run briefly then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let (runs, edits) = if quick { (1, 300) } else { (9, 300) };
    let spacing = Duration::from_millis(10);
    let rt = common::runtime();
    rt.block_on(async move {
        let dir = common::temp_folder("typing");
        let text = project(5_000);
        let path = dir.join("big.journey");
        std::fs::write(&path, &text).expect("write the file");
        let uri = tower_lsp_server::ls_types::Uri::from_file_path(&path).expect("a file URI").as_str().to_string();

        let mut c = TestClient::start();
        c.initialize().await;
        c.open(&uri, &text).await;
        assert!(c.diagnostics(&uri).await.is_empty(), "the generated file checks clean");
        // Type on a new line before the last journey's last `end`.
        let at = text.rfind("  end \"not-recovered\"").expect("a journey end");
        let line = text[..at].matches('\n').count();
        let typing = typed(edits);
        let mut version = 1;
        let mut delays = Vec::new();
        let mut checks = Vec::new();
        for _ in 0..runs {
            let v = change(&mut c, &uri, &mut version, json!({"range": {"start": pos(line, 0), "end": pos(line, 0)}, "text": "\n"})).await;
            c.notification("textDocument/publishDiagnostics", |p| p["uri"] == uri && p["version"] == v).await;
            let before = c.checks();
            let mut tick = tokio::time::interval(spacing);
            let mut last = (0, Instant::now());
            for (i, ch) in typing.char_indices() {
                tick.tick().await;
                let edit = json!({"range": {"start": pos(line, i), "end": pos(line, i)}, "text": ch.to_string()});
                let v = change(&mut c, &uri, &mut version, edit).await;
                last = (v, Instant::now());
            }
            let (v, t) = last;
            c.notification("textDocument/publishDiagnostics", |p| p["uri"] == uri && p["version"] == v).await;
            delays.push(t.elapsed());
            checks.push(c.checks() - before);
            // Remove the typed line again.
            let v = change(&mut c, &uri, &mut version, json!({"range": {"start": pos(line, 0), "end": pos(line + 1, 0)}, "text": ""})).await;
            c.notification("textDocument/publishDiagnostics", |p| p["uri"] == uri && p["version"] == v).await;
            c.clear();
        }
        delays.sort();
        checks.sort();
        // The baseline: one check of the same file with the typed line, as `journey check`
        // does it (read, load the schemas, check), without the server.
        let typed_text = format!("{}{typing}\n{}", &text[..at], &text[at..]);
        let base_dir = common::temp_folder("typing-base");
        std::fs::write(base_dir.join("big.journey"), &typed_text).expect("write the file");
        let mut one_check: Vec<Duration> = (0..runs.max(3))
            .map(|_| {
                let t = Instant::now();
                let build = journey_compiler::driver::load(std::slice::from_ref(&base_dir), &[]).expect("loads").check();
                assert!(!build.sources.is_empty(), "the file was read");
                t.elapsed()
            })
            .collect();
        one_check.sort();
        let check = one_check[one_check.len() / 2];
        let _ = std::fs::remove_dir_all(&base_dir);
        eprintln!(
            "baseline, one check of the typed file through compiler::driver: median {check:?}; \
             the delay is {:.2} of it",
            delays[delays.len() / 2].as_secs_f64() / check.as_secs_f64()
        );
        eprintln!(
            "{} lines; {edits} edits {spacing:?} apart, {runs} sessions: last edit -> diagnostics of the latest version: \
             median {:?}, p90 {:?}, max {:?}; checks per session: median {} (of {edits} edits)",
            text.lines().count(),
            delays[delays.len() / 2],
            delays[delays.len() * 9 / 10],
            delays[delays.len() - 1],
            checks[checks.len() / 2],
        );
        c.shutdown().await;
        let _ = std::fs::remove_dir_all(&dir);
    });
}
