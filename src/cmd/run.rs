//! `journey run`: run journeys over a file of events on a virtual clock driven by the events'
//! timestamps, then print each profile's path and a summary like the journey report.

use super::project::compile;
use super::{Format, FAILED, OK, PROBLEMS};
use indicatif::{ProgressBar, ProgressStyle};
use journey_vm::engine::report::Report;
use journey_vm::engine::{CallOutcome, Engine, Options};
use journey_vm::http::{self, HttpExecutor};
use journey_vm::machine::Image;
use journey_vm::run::{self as journey_run, ProfileLine, RunSetup};
use journey_vm::value::Value;
use serde_json::{json, Value as Json};
use std::io::{BufRead, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Arguments of `journey run`.
#[derive(clap::Args)]
pub struct Args {
    /// Journey files or project folder.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,
    /// Events, one JSON object per line: `{"event": "Name", "at": "2026-...Z", "payload": {...}}`.
    #[arg(long, value_name = "FILE")]
    events: PathBuf,
    /// Profiles, one per line: `{"key": "...", "attributes": {...}, "audiences": ["VIP"]}`.
    #[arg(long, value_name = "FILE")]
    profiles: Option<PathBuf>,
    /// Record action calls and data source reads instead of sending them (they answer null).
    #[arg(long)]
    dry_run: bool,
    /// Write one JSON line per node an instance passes to this file.
    #[arg(long, value_name = "FILE")]
    step_events: Option<PathBuf>,
    /// Stop the clock here instead of running until nothing waits (RFC 3339).
    #[arg(long, value_name = "DATETIME")]
    until: Option<String>,
    /// Print only the summary, not each profile's path (for large runs).
    #[arg(long)]
    summary_only: bool,
    /// Engine threads to run profiles on, besides the one reading the file (default: one per
    /// core but that one; one for a program with a `cap`: with more, a cap still lets exactly N
    /// through, but which N depends on thread timing).
    #[arg(long, short = 'j', value_name = "N")]
    jobs: Option<std::num::NonZeroUsize>,
    /// Extra schema search folder (repeatable).
    #[arg(long = "schemas", value_name = "DIR")]
    schemas: Vec<PathBuf>,
    /// Output format: text for people, or JSON lines (paths, then one summary object).
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// Reads the profiles file: one `{"key", "attributes", "audiences"}` object per line.
fn read_profiles(path: &Path, image: &Image, problems: &mut Vec<String>) -> Result<Vec<ProfileLine>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v: Json = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("{}:{}: not valid JSON ({e}); the line is skipped", path.display(), i + 1));
                continue;
            }
        };
        let Some(key) = v["key"].as_str() else {
            problems.push(format!("{}:{}: has no \"key\"; the line is skipped", path.display(), i + 1));
            continue;
        };
        let attrs = v.get("attributes").cloned().unwrap_or(json!({}));
        let attributes = match &image.program.profile {
            Some(t) => Value::from_json_typed(&attrs, t),
            None => Value::from_json(&attrs),
        };
        let audiences = v["audiences"].as_array().into_iter().flatten().filter_map(Json::as_str).map(String::from);
        out.push(ProfileLine { key: key.to_string(), attributes, audiences: audiences.collect() });
    }
    Ok(out)
}

/// Answers every outstanding call: through the executor (real HTTP, or recorded in a dry run).
fn settle(engine: &mut Engine, executor: &HttpExecutor, rt: &tokio::runtime::Handle) {
    loop {
        let calls = engine.take_calls();
        if calls.is_empty() {
            return;
        }
        let image = engine.image().clone();
        let outcomes = rt.block_on(async {
            let futures = calls.iter().map(|c| {
                let decl = &image.program.http[c.http as usize].decl;
                executor.call(decl, &c.args, &c.idempotency_key)
            });
            futures::future::join_all(futures).await
        });
        for (c, o) in calls.iter().zip(outcomes) {
            let outcome = match o {
                http::CallOutcome::Ok(v) => CallOutcome::Ok(v),
                http::CallOutcome::Timeout { reason } => CallOutcome::Timeout(reason),
                http::CallOutcome::Error { reason } => CallOutcome::Error(reason),
            };
            engine.complete_call(c.instance, outcome);
        }
    }
}

/// Where step events go: straight to the file with one engine; with several, a file per
/// engine beside it, merged in time order at the end.
struct StepFiles {
    target: PathBuf,
    parts: Vec<PathBuf>,
}

impl StepFiles {
    fn new(target: &Path, jobs: usize) -> StepFiles {
        let parts: Vec<PathBuf> = if jobs == 1 {
            vec![target.to_path_buf()]
        } else {
            let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            (0..jobs).map(|i| target.with_file_name(format!(".{name}.part{i}"))).collect()
        };
        StepFiles { target: target.to_path_buf(), parts }
    }

    /// Engine `i`'s file, created (or emptied) anew.
    fn create(&self, i: usize) -> std::io::Result<Box<dyn Write + Send>> {
        Ok(Box::new(BufWriter::new(std::fs::File::create(&self.parts[i])?)))
    }

    fn finish(self) -> std::io::Result<()> {
        if self.parts.len() == 1 {
            return Ok(());
        }
        let mut inputs: Vec<Box<dyn BufRead>> = Vec::new();
        for p in &self.parts {
            inputs.push(Box::new(std::io::BufReader::new(std::fs::File::open(p)?)));
        }
        let mut out = BufWriter::new(std::fs::File::create(&self.target)?);
        let merged = journey_run::merge_steps(inputs, &mut out);
        for p in &self.parts {
            let _ = std::fs::remove_file(p);
        }
        merged
    }
}

/// Runs `journey run`.
pub fn run(args: Args) -> u8 {
    let (_, program) = match compile(&args.paths, &args.schemas) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let image = match Image::load(program) {
        Ok(i) => Arc::new(i),
        Err(e) => {
            eprintln!("error: {e}");
            return FAILED;
        }
    };
    let until_ms = match args.until.as_deref().map(str::parse::<jiff::Timestamp>).transpose() {
        Ok(t) => t.map(|t| t.as_millisecond()),
        Err(e) => {
            eprintln!("error: --until is not an RFC 3339 date-time ({e}); write e.g. 2026-12-31T00:00:00Z");
            return FAILED;
        }
    };
    let threads = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    let jobs = journey_run::jobs_for(&image, args.jobs.map(usize::from), threads);
    let size = match std::fs::metadata(&args.events) {
        Ok(m) => m.len(),
        Err(e) => {
            eprintln!("error: cannot read `{}`: {e}", args.events.display());
            return FAILED;
        }
    };
    let mut problems = Vec::new();
    let profiles = match &args.profiles {
        Some(p) => match read_profiles(p, &image, &mut problems) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("error: {e}");
                return FAILED;
            }
        },
        None => Vec::new(),
    };
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(threads.min(4)).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return FAILED;
        }
    };
    let executor = match rt.block_on(async { HttpExecutor::builder().dry_run(args.dry_run).build() }) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: cannot set up HTTP: {e}");
            return FAILED;
        }
    };
    let step_files = args.step_events.as_deref().map(|p| StepFiles::new(p, jobs));
    let make_sink = |i: usize| match &step_files {
        Some(files) => files.create(i),
        None => Ok(Box::new(std::io::sink()) as Box<dyn Write + Send>),
    };
    let done = AtomicU64::new(0);
    let handle = rt.handle().clone();
    let answer = move |engine: &mut Engine| settle(engine, &executor, &handle);
    let setup = RunSetup {
        image: image.clone(),
        options: Options {
            keep_paths: !args.summary_only,
            step_events: args.step_events.is_some(),
            ..Default::default()
        },
        jobs,
        until: until_ms,
        settle: &answer,
        progress: &done,
        real_calls: !args.dry_run,
    };
    // A count of events handled and their rate, for files that take a while.
    let show_progress = size >= 20_000_000 && std::io::stderr().is_terminal();
    let finished = AtomicBool::new(false);
    let sinks: Option<journey_run::StepSinks<'_>> = step_files.as_ref().map(|_| &make_sink as _);
    let result = std::thread::scope(|s| {
        if show_progress {
            s.spawn(|| {
                let bar = ProgressBar::new_spinner();
                bar.set_style(
                    ProgressStyle::with_template("{elapsed_precise} {spinner} {pos} events ({per_sec})")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                while !finished.load(Ordering::Relaxed) {
                    bar.set_position(done.load(Ordering::Relaxed));
                    bar.tick();
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                bar.finish_and_clear();
            });
        }
        let result = journey_run::run_file(&setup, &args.events, || profiles.clone(), sinks);
        finished.store(true, Ordering::Relaxed);
        result
    });
    let mut run = match result {
        Ok(run) => run,
        Err(e) => {
            eprintln!("error: cannot read `{}`: {e}", args.events.display());
            return FAILED;
        }
    };
    if let Some(files) = step_files {
        if let Err(e) = files.finish() {
            eprintln!("error: cannot write step events: {e}");
            return FAILED;
        }
    }
    let file = args.events.display();
    let problems: Vec<String> = run
        .problems
        .iter()
        .map(|p| format!("{file}:{}: {}; the line is skipped", p.line, p.message))
        .chain(problems)
        .collect();
    let report = run.report();
    print_results(&run.engines, &report, &image, &args);
    for p in &problems {
        eprintln!("warning: {p}");
    }
    if problems.is_empty() {
        OK
    } else {
        eprintln!("{} input line{} skipped", problems.len(), if problems.len() == 1 { " was" } else { "s were" });
        PROBLEMS
    }
}

fn print_results(engines: &[Engine], report: &Report, image: &Image, args: &Args) {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let program = &image.program;
    if !args.summary_only {
        let describe = |j: u16, path: &[u32]| -> Vec<String> {
            let journey = &program.journeys[j as usize];
            path.iter().filter_map(|n| journey.nodes.get(*n as usize)).map(|n| n.label.clone()).collect()
        };
        let mut rows: Vec<(String, u64, Json)> = engines
            .iter()
            .flat_map(|e| e.finished())
            .map(|f| {
                let journey = &program.journeys[f.journey as usize].name;
                let row = json!({"type": "instance", "profile": f.profile.as_str(), "journey": journey,
                    "path": describe(f.journey, &f.path), "state": "ended", "label": f.ended.outcome.label(), "error": f.ended.error});
                (f.profile.to_string(), f.id, row)
            })
            .collect();
        for engine in engines {
            for i in engine.live() {
                let journey = &program.journeys[i.journey as usize].name;
                let row = json!({"type": "instance", "profile": i.profile.as_str(), "journey": journey,
                    "path": describe(i.journey, engine.path_of(i.id).unwrap_or(&[])), "state": "waiting", "label": null, "error": null});
                rows.push((i.profile.to_string(), i.id, row));
            }
        }
        rows.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        for (_, _, row) in rows {
            match args.format {
                Format::Json => {
                    let _ = writeln!(out, "{row}");
                }
                Format::Human => {
                    let end = match (row["state"].as_str(), row["label"].as_str()) {
                        (Some("waiting"), _) => "waiting".to_string(),
                        (_, Some(l)) => format!("ended \"{l}\""),
                        _ => "ended".to_string(),
                    };
                    let path: Vec<&str> =
                        row["path"].as_array().into_iter().flatten().filter_map(Json::as_str).collect();
                    let err = row["error"].as_str().map(|e| format!(" ({e})")).unwrap_or_default();
                    let _ = writeln!(
                        out,
                        "{} {}: {} => {end}{err}",
                        row["profile"].as_str().unwrap_or(""),
                        row["journey"].as_str().unwrap_or(""),
                        path.join(" -> ")
                    );
                }
            }
        }
    }
    let journeys: serde_json::Map<String, Json> = report
        .journeys
        .iter()
        .map(|r| {
            let nodes: Vec<Json> = r
                .nodes
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let n = &program.journeys.iter().find(|j| j.name == r.journey).map(|j| j.nodes[i].clone());
                    json!({"node": i, "label": n.as_ref().map(|n| n.label.clone()), "line": n.as_ref().map(|n| n.line),
                        "entered": c.entered, "passed": c.passed, "exited": c.exited, "failed": c.failed})
                })
                .collect();
            (
                r.journey.clone(),
                json!({"started": r.started, "ended": r.ended, "errors": r.errors, "timeouts": r.timeouts,
                    "running": r.running, "nodes": nodes}),
            )
        })
        .collect();
    let summary = json!({"type": "summary", "events": report.events, "filtered": report.filtered,
        "rejected": report.rejected, "journeys": journeys, "calls": report.calls, "call_errors": report.call_errors,
        "dry_run": args.dry_run});
    match args.format {
        Format::Json => {
            let _ = writeln!(out, "{summary}");
        }
        Format::Human => {
            let _ = writeln!(out, "\nevents: {} accepted, {} filtered by `when`", report.events, report.filtered);
            let idle: Vec<&str> =
                report.journeys.iter().filter(|r| r.started == 0).map(|r| r.journey.as_str()).collect();
            if !idle.is_empty() {
                let _ = writeln!(out, "not entered: {}", idle.join(", "));
            }
            for (why, n) in &report.rejected {
                let _ = writeln!(out, "        {n} rejected: {why}");
            }
            for r in report.journeys.iter().filter(|r| r.started > 0) {
                let ends: Vec<String> = r
                    .ended
                    .iter()
                    .map(|(l, n)| format!("{n} {}", if l.is_empty() { "ended" } else { l.as_str() }))
                    .collect();
                let _ = writeln!(
                    out,
                    "{}: {} started, {} waiting; ended: {}",
                    r.journey,
                    r.started,
                    r.running,
                    if ends.is_empty() { "none".to_string() } else { ends.join(", ") }
                );
                let journey = program.journeys.iter().find(|j| j.name == r.journey);
                for (i, c) in r.nodes.iter().enumerate().filter(|(_, c)| c.entered > 0) {
                    let node = journey.and_then(|j| j.nodes.get(i));
                    let label = node.map(|n| n.label.as_str()).unwrap_or("?");
                    let line = node.map(|n| n.line).unwrap_or(0);
                    let _ = writeln!(
                        out,
                        "    line {line:>4}  {label:<36} entered {:>7}  passed {:>7}  exited {:>7}  failed {:>7}",
                        c.entered, c.passed, c.exited, c.failed
                    );
                }
            }
            if !report.calls.is_empty() {
                let calls: Vec<String> = report.calls.iter().map(|(a, n)| format!("{a} {n}")).collect();
                let verb = if args.dry_run { "recorded (dry run)" } else { "made" };
                let _ = writeln!(out, "calls {verb}: {}", calls.join(", "));
            }
            for (a, n) in &report.call_errors {
                let _ = writeln!(out, "call errors: {a} {n}");
            }
        }
    }
    let _ = out.flush();
}
