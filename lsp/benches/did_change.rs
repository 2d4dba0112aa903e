//! Language server latency on a 5,000-line file: from a `didChange` to the diagnostics it
//! publishes (the edit toggles an unknown name, so every change publishes), and a completion
//! after `profile.person.` in the same file. Plain timing; prints the median and the 90th
//! percentile.
//!
//! Run: `cargo bench -p journey-lsp --bench did_change`

use journey_lsp::testing::TestClient;
use serde_json::json;
use std::time::{Duration, Instant};

mod common;
use common::project;

fn stats(mut xs: Vec<Duration>) -> (Duration, Duration) {
    xs.sort();
    (xs[xs.len() / 2], xs[xs.len() * 9 / 10])
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing else: run briefly then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let rounds = if quick { 3 } else { 40 };
    let rt = common::runtime();
    rt.block_on(async move {
        let dir = common::temp_folder("bench");
        let text = project(5_000);
        let path = dir.join("big.journey");
        std::fs::write(&path, &text).expect("write the file");
        let uri = tower_lsp_server::ls_types::Uri::from_file_path(&path).expect("a file URI").as_str().to_string();
        let lines = text.lines().count();

        let mut c = TestClient::start();
        c.initialize().await;
        let t = Instant::now();
        c.open(&uri, &text).await;
        let first = c.diagnostics(&uri).await;
        assert!(first.is_empty(), "the generated file checks clean: {first:?}");
        eprintln!("file: {lines} lines, {} bytes; open -> diagnostics {:?}", text.len(), t.elapsed());

        // Toggle `email` <-> `emailx` in the last journey's first call.
        let at = text.rfind("to: email,").expect("a call") + "to: email".len();
        let line = text[..at].matches('\n').count() as u32;
        let character = (at - text[..at].rfind('\n').map(|i| i + 1).unwrap_or(0)) as u32;
        let mut times = Vec::new();
        for round in 0..rounds {
            let (range, new) = if round % 2 == 0 {
                (json!({"start": {"line": line, "character": character}, "end": {"line": line, "character": character}}), "x")
            } else {
                (json!({"start": {"line": line, "character": character}, "end": {"line": line, "character": character + 1}}), "")
            };
            let params = json!({"textDocument": {"uri": uri, "version": round + 2}, "contentChanges": [{"range": range, "text": new}]});
            let t = Instant::now();
            c.notify("textDocument/didChange", params).await;
            let diags = c.diagnostics(&uri).await;
            times.push(t.elapsed());
            assert_eq!(diags.len(), if round % 2 == 0 { 1 } else { 0 });
        }
        let (median, p90) = stats(times);
        eprintln!("didChange -> publishDiagnostics: median {median:?}, p90 {p90:?} ({rounds} changes)");

        // Baseline: what a server that parses and checks the whole file again would spend.
        let mut sources = journey_compiler::sources::Sources::default();
        let id = sources.add("big.journey", path.clone(), text.clone());
        let registry = journey_compiler::SchemaRegistry::new(&[]).expect("the built-in schemas");
        let defaults = journey_compiler::check::Defaults::default();
        let mut base = Vec::new();
        for _ in 0..rounds.min(20) {
            let t = Instant::now();
            let checked = journey_compiler::check(&sources, &[id], &registry, &defaults);
            base.push(t.elapsed());
            assert!(checked.diagnostics.is_empty());
        }
        let (base_median, _) = stats(base);
        eprintln!(
            "baseline, parse + check from scratch (no server): median {base_median:?}; the server is {:.1}x faster",
            base_median.as_secs_f64() / median.as_secs_f64()
        );

        let at = text.rfind("profile.person.name").expect("a profile read") + "profile.person.".len();
        let line = text[..at].matches('\n').count() as u32;
        let character = (at - text[..at].rfind('\n').map(|i| i + 1).unwrap_or(0)) as u32;
        let mut times = Vec::new();
        for _ in 0..rounds.min(20) {
            let t = Instant::now();
            let r = c
                .request(
                    "textDocument/completion",
                    json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}),
                )
                .await;
            times.push(t.elapsed());
            assert!(r["result"].as_array().is_some_and(|a| a.iter().any(|i| i["label"] == "name")), "{r}");
        }
        let (median, p90) = stats(times);
        eprintln!("completion after `profile.person.`: median {median:?}, p90 {p90:?}");

        let mut times = Vec::new();
        for _ in 0..rounds.min(20) {
            let t = Instant::now();
            let r = c
                .request(
                    "textDocument/hover",
                    json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character + 1}}),
                )
                .await;
            times.push(t.elapsed());
            assert!(r["result"]["contents"]["value"].as_str().is_some_and(|v| v.contains("name")), "{r}");
        }
        let (median, p90) = stats(times);
        eprintln!("hover on a field: median {median:?}, p90 {p90:?}");
        c.shutdown().await;
        let _ = std::fs::remove_dir_all(&dir);
    });
}
