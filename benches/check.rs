//! `journey check` throughput on generated projects, beside the pest parse alone on the same
//! input in the same run, so the cost of each stage shows:
//!
//! - one file of about 5 MB: pest parse only (the baseline), parse + check in this process, and
//!   the `journey` binary checking it end to end (process start to exit: registry, read, parse,
//!   check, render);
//! - a project of about 2,500 files (6 MB, one journey a file) checked by the binary with
//!   `--schemas` naming the 438 XDM components shipped in `compiler/schema/xdm/components`, as a
//!   user's own schema folder (issue 13, point 5: at least 5 MB/s end to end), and without it.
//!
//! Run: `cargo bench --bench check` (criterion; prints a table of medians, MB/s and ratios at the
//! end). As a test (`cargo test --benches`) every side runs once on a small project and must
//! check clean. `JOURNEY_BENCH_DUMP=DIR` writes the inputs there for profiling. This process
//! uses mimalloc, the binary's allocator.

use criterion::{Criterion, Throughput};
use journey_compiler::check::Defaults;
use journey_compiler::sources::Sources;
use journey_compiler::SchemaRegistry;
use std::hint::black_box;
use std::path::{Path, PathBuf};

mod gen;
mod support;

/// The allocator the `journey` binary uses.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The XDM components shipped with the compiler (438 `*.schema.json`), as an external folder.
const COMPONENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/compiler/schema/xdm/components");

const GROUP: &str = "check";
const PARSE: &str = "one file: pest parse only (baseline)";
const CHECK: &str = "one file: parse + check (in process)";
const BINARY: &str = "one file: journey check (binary, end to end)";
const MANY: &str = "many files: journey check --schemas (binary, end to end)";
const MANY_BUILTIN: &str = "many files: journey check (binary, built-in schemas only)";

fn main() {
    let quick = support::quick();
    let (single_bytes, many_bytes) = if quick { (200 << 10, 100 << 10) } else { (5 << 20, 6_000_000) };
    let dir = std::env::var_os("JOURNEY_BENCH_DUMP")
        .map(PathBuf::from)
        .unwrap_or_else(|| support::data_dir().join(format!("check-{single_bytes}-{many_bytes}")));
    let text = gen::project(single_bytes);
    let files = gen::files(many_bytes);
    let many_total: usize = files.iter().map(|(_, t)| t.len()).sum();
    let single = dir.join("single.journey");
    let project = dir.join("project");
    write_inputs(&single, &text, &project, &files);
    eprintln!(
        "one file: {} bytes, {} lines; many files: {} files, {many_total} bytes ({})",
        text.len(),
        text.lines().count(),
        files.len(),
        project.display()
    );

    let mut sources = Sources::default();
    let id = sources.add("bench.journey", "bench.journey".into(), text.clone());
    let registry = SchemaRegistry::new(&[]).expect("built-in schemas load");
    let defaults = Defaults::default();
    {
        let checked = journey_compiler::check(&sources, &[id], &registry, &defaults);
        assert!(!checked.has_errors(), "generated project must check clean: {:?}", checked.diagnostics.first());
    }
    let single_arg = single.to_str().expect("path");
    let project_arg = project.to_str().expect("path");
    // Every run of the binary must check clean (exit 0) and say how many files it checked.
    let check = |args: &[&str], files: usize| {
        let run = support::journey(args);
        let err = String::from_utf8_lossy(&run.stderr);
        assert!(err.contains(&format!("checked {files} file")), "{args:?}: {err}");
    };

    let mut c = Criterion::default().sample_size(10).configure_from_args();
    let mut group = c.benchmark_group(GROUP);
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function(PARSE, |b| b.iter(|| black_box(journey_grammar::parse(black_box(&text)))));
    group.bench_function(CHECK, |b| {
        b.iter(|| black_box(journey_compiler::check(&sources, &[id], &registry, &defaults)))
    });
    group.bench_function(BINARY, |b| b.iter(|| check(&["check", single_arg], 1)));
    group.throughput(Throughput::Bytes(many_total as u64));
    group.bench_function(MANY, |b| b.iter(|| check(&["check", project_arg, "--schemas", COMPONENTS], files.len())));
    group.bench_function(MANY_BUILTIN, |b| b.iter(|| check(&["check", project_arg], files.len())));
    group.finish();
    c.final_summary();
    if !quick {
        report(text.len(), many_total);
    }
}

/// Writes the inputs once (kept between runs), so the binary reads files as a user's would.
fn write_inputs(single: &Path, text: &str, project: &Path, files: &[(String, String)]) {
    std::fs::create_dir_all(project).expect("project folder");
    // Files of an earlier generator that this one does not write would join the project.
    let keep: std::collections::HashSet<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    for e in std::fs::read_dir(project).expect("project folder").flatten() {
        if !e.file_name().to_str().is_some_and(|n| keep.contains(n)) {
            std::fs::remove_file(e.path()).expect("remove a stale file");
        }
    }
    if std::fs::read_to_string(single).ok().as_deref() != Some(text) {
        std::fs::write(single, text).expect("single file");
    }
    for (name, body) in files {
        let path = project.join(name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(body.as_str()) {
            std::fs::write(&path, body).expect("project file");
        }
    }
}

/// Reads criterion's medians back and prints the table of `BENCHMARKS.md`.
fn report(single: usize, many: usize) {
    let root = std::env::var_os("CRITERION_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| support::target_dir().join("criterion"));
    let median = |name: &str| -> Option<f64> {
        let dir = name.replace(['?', '"', '/', '\\', '*', '<', '>', ':', '|', '^'], "_");
        let path = root.join(GROUP).join(dir).join("new").join("estimates.json");
        let j: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
        Some(j["median"]["point_estimate"].as_f64()? / 1e9)
    };
    let Some(base) = median(PARSE) else {
        println!("(no criterion results under {})", root.display());
        return;
    };
    println!();
    println!("| input | side | median | MB/s | time / parse-only time per byte |");
    println!("|---|---|---:|---:|---:|");
    for (name, bytes) in [(PARSE, single), (CHECK, single), (BINARY, single), (MANY, many), (MANY_BUILTIN, many)] {
        if let Some(t) = median(name) {
            let per_byte = (t / bytes as f64) / (base / single as f64);
            println!(
                "| {} bytes | {name} | {:.1} ms | {:.2} | {per_byte:.2} |",
                bytes,
                t * 1e3,
                bytes as f64 / t / 1e6
            );
        }
    }
}
