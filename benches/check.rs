//! `journey check` throughput on a generated project of about 5 MB, beside the pest parse
//! alone on the same input in the same run, so the cost of each stage shows.
//!
//! Run: `cargo bench --bench check`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use journey_compiler::check::Defaults;
use journey_compiler::sources::Sources;
use journey_compiler::SchemaRegistry;
use std::hint::black_box;

mod gen;

fn bench(c: &mut Criterion) {
    let text = gen::project(5 * 1024 * 1024);
    let lines = text.lines().count();
    eprintln!("generated project: {} bytes, {lines} lines", text.len());
    if let Some(path) = std::env::var_os("JOURNEY_BENCH_DUMP") {
        // For profiling `journey check` on the same input.
        std::fs::write(path, &text).expect("write the generated project");
    }
    let mut sources = Sources::default();
    let id = sources.add("bench.journey", "bench.journey".into(), text.clone());
    let registry = SchemaRegistry::new(&[]).expect("built-in schemas load");
    let defaults = Defaults::default();
    {
        let checked = journey_compiler::check(&sources, &[id], &registry, &defaults);
        assert!(!checked.has_errors(), "generated project must check clean: {:?}", checked.diagnostics.first());
    }

    let mut group = c.benchmark_group("check-5MB");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("pest parse only (baseline)", |b| {
        b.iter(|| black_box(journey_grammar::parse(black_box(&text))))
    });
    group.bench_function("parse + check", |b| {
        b.iter(|| black_box(journey_compiler::check(&sources, &[id], &registry, &defaults)))
    });
    group.bench_function("parse + check + schema registry load", |b| {
        b.iter(|| {
            let registry = SchemaRegistry::new(&[]).expect("built-in schemas load");
            black_box(journey_compiler::check(&sources, &[id], &registry, &defaults))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
