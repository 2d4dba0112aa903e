//! `journey run`: run journeys over a file of events on a virtual clock driven by the events'
//! timestamps, then print each profile's path and a summary like the journey report.

use super::mocks::Mocks;
use super::project::{compile, SchemaArgs};
use super::{Format, FAILED, OK, PROBLEMS};
use indicatif::{ProgressBar, ProgressStyle};
use journey_compiler::bytecode::Program;
use journey_vm::engine::report::Report;
use journey_vm::engine::{CallOutcome, Engine, Options};
use journey_vm::http::{self, HttpExecutor};
use journey_vm::machine::Image;
use journey_vm::run::{self as journey_run, ProfileLine, RunSetup};
use journey_vm::value::Value;
use serde_json::{json, Value as Json};
use std::collections::HashMap;
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
    /// Record action calls and data source reads instead of sending them. A call answers as
    /// `--mocks` says; without a mock, one whose `returns` cannot be null takes its error path
    /// (`on error`, or the journey's error end), counted in the summary as unanswered.
    #[arg(long)]
    dry_run: bool,
    /// Answers for a dry run's calls (implies --dry-run), one JSON object per line:
    /// `{"action": "Loyalty", "when": {"memberId": "LY-1"}, "answer": {...}}`, or
    /// `"error": "timeout"` / `"error": "failed"` instead of `answer`; the first match answers.
    #[arg(long, value_name = "FILE")]
    mocks: Option<PathBuf>,
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
    #[command(flatten)]
    schemas: SchemaArgs,
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

/// How a dry run answers calls: from the mocks, else null where `returns` allows it, else with
/// an error (counted per action or data source in `unanswered`).
struct DryRun {
    mocks: Mocks,
    unanswered: Vec<AtomicU64>,
}

impl DryRun {
    fn answer(&self, image: &Image, c: &journey_vm::engine::CallRequest) -> CallOutcome {
        if let Some(outcome) = self.mocks.answer(c.http, &c.args) {
            return outcome;
        }
        if image.program.http[c.http as usize].returns.is_nullable() {
            return CallOutcome::Ok(Value::Null);
        }
        self.unanswered[c.http as usize].fetch_add(1, Ordering::Relaxed);
        CallOutcome::Error(format!("dry run: no mock answers `{}` (give one with --mocks FILE)", c.target))
    }
}

/// Answers every outstanding call: through the executor (real HTTP, or recorded in a dry run,
/// then answered by `dry`).
fn settle(engine: &mut Engine, executor: &HttpExecutor, rt: &tokio::runtime::Handle, dry: Option<&DryRun>) {
    loop {
        let calls = engine.take_calls();
        if calls.is_empty() {
            return;
        }
        let image = engine.image().clone();
        let outcomes = rt.block_on(async {
            let futures = calls.iter().map(|c| executor.call(&image, c.http, &c.args, &c.idempotency_key));
            futures::future::join_all(futures).await
        });
        for (c, o) in calls.iter().zip(outcomes) {
            let outcome = match (o, dry) {
                (http::CallOutcome::Ok(_), Some(dry)) => dry.answer(&image, c),
                (http::CallOutcome::Ok(v), None) => CallOutcome::Ok(v),
                (http::CallOutcome::Timeout { reason }, _) => CallOutcome::Timeout(reason),
                (http::CallOutcome::Error { reason }, _) => CallOutcome::Error(reason),
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
    /// The first write error (a full disk): the run goes on, then reports it and fails.
    failed: Arc<std::sync::Mutex<Option<std::io::Error>>>,
}

/// A step-event file that keeps its first write error for [`StepFiles::finish`] (the engines
/// write step events without looking at errors).
struct Noted<W> {
    inner: W,
    failed: Arc<std::sync::Mutex<Option<std::io::Error>>>,
}

impl<W: Write> Noted<W> {
    fn note<T>(&self, r: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(e) = &r {
            let mut slot = self.failed.lock().unwrap_or_else(|p| p.into_inner());
            if slot.is_none() {
                *slot = Some(std::io::Error::new(e.kind(), e.to_string()));
            }
        }
        r
    }
}

impl<W: Write> Write for Noted<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let r = self.inner.write(buf);
        self.note(r)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let r = self.inner.flush();
        self.note(r)
    }
}

impl StepFiles {
    fn new(target: &Path, jobs: usize) -> StepFiles {
        let parts: Vec<PathBuf> = if jobs == 1 {
            vec![target.to_path_buf()]
        } else {
            let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            (0..jobs).map(|i| target.with_file_name(format!(".{name}.part{i}"))).collect()
        };
        StepFiles { target: target.to_path_buf(), parts, failed: Arc::default() }
    }

    /// Engine `i`'s file, created (or emptied) anew.
    fn create(&self, i: usize) -> std::io::Result<Box<dyn Write + Send>> {
        let file = BufWriter::with_capacity(1 << 16, std::fs::File::create(&self.parts[i])?);
        Ok(Box::new(Noted { inner: file, failed: self.failed.clone() }))
    }

    fn finish(self) -> std::io::Result<()> {
        if let Some(e) = self.failed.lock().unwrap_or_else(|p| p.into_inner()).take() {
            if self.parts.len() > 1 {
                for p in &self.parts {
                    let _ = std::fs::remove_file(p);
                }
            }
            return Err(e);
        }
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
pub fn run(mut args: Args) -> u8 {
    args.dry_run |= args.mocks.is_some();
    let (_, program) = match compile(&args.paths, &args.schemas.dirs) {
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
    let dry = if args.dry_run {
        let mocks = match &args.mocks {
            Some(path) => match Mocks::load(path, &image.program) {
                Ok(m) => m,
                Err(problems) => {
                    for p in &problems {
                        eprintln!("error: {p}");
                    }
                    return FAILED;
                }
            },
            None => Mocks::default(),
        };
        let unanswered = image.program.http.iter().map(|_| AtomicU64::new(0)).collect();
        Some(DryRun { mocks, unanswered })
    } else {
        None
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
    let answer = |engine: &mut Engine| settle(engine, &executor, &handle, dry.as_ref());
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
            eprintln!(
                "error: cannot write step events to `{}`: {e}",
                args.step_events.as_deref().unwrap_or(Path::new("")).display()
            );
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
    let unanswered: std::collections::BTreeMap<&str, u64> = dry
        .iter()
        .flat_map(|d| d.unanswered.iter().enumerate())
        .map(|(i, n)| (image.program.http[i].name.as_str(), n.load(Ordering::Relaxed)))
        .filter(|(_, n)| *n > 0)
        .collect();
    if let Err(e) = print_results(&run.engines, &report, &unanswered, &image, &args) {
        eprintln!("error: cannot write the results: {e}");
        return FAILED;
    }
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

const DAY_MS: i64 = 86_400_000;

fn print_results(
    engines: &[Engine],
    report: &Report,
    unanswered: &std::collections::BTreeMap<&str, u64>,
    image: &Image,
    args: &Args,
) -> std::io::Result<()> {
    let stdout = std::io::stdout();
    // One large buffer: a write per line would cost a system call per profile.
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let program = &image.program;
    if !args.summary_only {
        write_paths(&mut out, engines, program, args.format)?;
    }
    // The report's window is the 24 hours before the run's clock ends.
    let clock_end = engines.iter().map(Engine::now_ms).max().unwrap_or(0);
    let journeys: serde_json::Map<String, Json> = report
        .journeys
        .iter()
        .filter_map(|r| {
            let code = program.journeys.iter().find(|j| j.name == r.journey)?;
            Some((r.journey.clone(), r.to_json(code, clock_end, clock_end - DAY_MS)))
        })
        .collect();
    let summary = json!({"type": "summary", "events": report.events, "filtered": report.filtered,
        "rejected": report.rejected, "journeys": journeys, "calls": report.calls, "call_errors": report.call_errors,
        "dry_run": args.dry_run, "unanswered": unanswered});
    match args.format {
        Format::Json => {
            writeln!(out, "{summary}")?;
        }
        Format::Human => {
            writeln!(out, "\nevents: {} accepted, {} filtered by `when`", report.events, report.filtered)?;
            let idle: Vec<&str> =
                report.journeys.iter().filter(|r| r.started == 0).map(|r| r.journey.as_str()).collect();
            if !idle.is_empty() {
                writeln!(out, "not entered: {}", idle.join(", "))?;
            }
            for (why, n) in &report.rejected {
                writeln!(out, "        {n} rejected: {why}")?;
            }
            for r in report.journeys.iter().filter(|r| r.started > 0) {
                let ends: Vec<String> = r
                    .ended
                    .iter()
                    .map(|(l, n)| format!("{n} {}", if l.is_empty() { "ended" } else { l.as_str() }))
                    .collect();
                writeln!(
                    out,
                    "{}: {} started, {} waiting; ended: {}",
                    r.journey,
                    r.started,
                    r.running,
                    if ends.is_empty() { "none".to_string() } else { ends.join(", ") }
                )?;
                let journey = program.journeys.iter().find(|j| j.name == r.journey);
                for (i, c) in r.nodes.iter().enumerate().filter(|(_, c)| c.entered > 0) {
                    let node = journey.and_then(|j| j.nodes.get(i));
                    let label = node.map(|n| n.label.as_str()).unwrap_or("?");
                    let line = node.map(|n| n.line).unwrap_or(0);
                    writeln!(
                        out,
                        "    line {line:>4}  {label:<36} entered {:>7}  passed {:>7}  exited {:>7}  failed {:>7}",
                        c.entered, c.passed, c.exited, c.failed
                    )?;
                    if let Some(m) = r.sends.get(&(i as u32)) {
                        let mut parts = vec![format!("sent {}", m.sent)];
                        if m.queued > 0 {
                            parts.push(format!("queued {}", m.queued));
                        }
                        for (why, n) in &m.suppressed {
                            parts.push(format!("suppressed {why} {n}"));
                        }
                        for (word, n) in [("failed", m.failed), ("opened", m.opened), ("clicked", m.clicked)] {
                            if n > 0 {
                                parts.push(format!("{word} {n}"));
                            }
                        }
                        writeln!(out, "               messages: {}", parts.join(", "))?;
                    }
                }
                // Goals: conversions (each entry at most once per goal) and their value.
                for (i, g) in journey.map(|j| j.goals.as_slice()).unwrap_or_default().iter().enumerate() {
                    let c = r.goals.get(i).cloned().unwrap_or_default();
                    let value = if g.value.is_some() { format!(", value {}", c.value) } else { String::new() };
                    writeln!(out, "    goal \"{}\": {} converted{value}", g.name, c.converted)?;
                }
            }
            if !report.calls.is_empty() {
                let calls: Vec<String> = report.calls.iter().map(|(a, n)| format!("{a} {n}")).collect();
                let verb = if args.dry_run { "recorded (dry run)" } else { "made" };
                writeln!(out, "calls {verb}: {}", calls.join(", "))?;
            }
            for (a, n) in &report.call_errors {
                writeln!(out, "call errors: {a} {n}")?;
            }
            if !unanswered.is_empty() {
                let calls: Vec<String> = unanswered.iter().map(|(a, n)| format!("{a} {n}")).collect();
                writeln!(
                    out,
                    "no mock answered (dry run; these calls took their error path, give answers with --mocks FILE): {}",
                    calls.join(", ")
                )?;
            }
        }
    }
    out.flush()
}

/// One instance's line: where its profile went in a journey.
struct PathRow<'a> {
    profile: &'a str,
    id: u64,
    journey: u16,
    path: &'a [u32],
    /// How it ended, or `None` while it waits.
    ended: Option<&'a journey_vm::engine::instance::Ended>,
    /// Its engine (instance ids are per engine).
    engine: usize,
}

/// Writes each instance's path, by profile: straight from the engines' records into the buffer,
/// with no per-line copies or JSON trees (a run of 500,000 profiles prints them all).
fn write_paths(out: &mut impl Write, engines: &[Engine], program: &Program, format: Format) -> std::io::Result<()> {
    let mut rows: Vec<PathRow<'_>> = Vec::new();
    for (e, engine) in engines.iter().enumerate() {
        rows.extend(engine.finished().iter().map(|f| PathRow {
            profile: f.profile.as_str(),
            id: f.id,
            journey: f.journey,
            path: &f.path,
            ended: Some(&f.ended),
            engine: e,
        }));
        rows.extend(engine.live().map(|i| PathRow {
            profile: i.profile.as_str(),
            id: i.id,
            journey: i.journey,
            path: engine.path_of(i.id).unwrap_or(&[]),
            ended: None,
            engine: e,
        }));
    }
    rows.sort_unstable_by(|a, b| (a.profile, a.id, a.engine).cmp(&(b.profile, b.id, b.engine)));
    // Each recorded call with its arguments by parameter (who got which template), for JSON.
    let mut calls: Vec<HashMap<u64, Vec<&journey_vm::engine::CallRequest>>> = vec![HashMap::new(); engines.len()];
    // Each send's messages, with their outcome, by instance.
    let mut messages: Vec<HashMap<u64, Vec<&journey_vm::engine::messages::MessageRecord>>> =
        vec![HashMap::new(); engines.len()];
    if format == Format::Json {
        for (e, engine) in engines.iter().enumerate() {
            for c in engine.call_log() {
                calls[e].entry(c.instance).or_default().push(c);
            }
            for m in engine.message_log() {
                messages[e].entry(m.instance).or_default().push(m);
            }
        }
    }
    for row in rows {
        let journey = &program.journeys[row.journey as usize];
        let labels = row.path.iter().filter_map(|n| node_label(journey, *n, row.profile));
        let (label, error) = match row.ended {
            Some(end) => (end.outcome.label(), end.error.as_deref()),
            None => (None, None),
        };
        match format {
            Format::Json => {
                let calls = calls[row.engine].get(&row.id).map(Vec::as_slice).unwrap_or_default();
                let messages = messages[row.engine].get(&row.id).map(Vec::as_slice).unwrap_or_default();
                let line = PathLine {
                    kind: "instance",
                    profile: row.profile,
                    journey: &journey.name,
                    path: Labels { path: row.path, journey, profile: row.profile },
                    state: if row.ended.is_some() { "ended" } else { "waiting" },
                    label,
                    error,
                    calls: Calls { calls, program },
                    messages,
                };
                serde_json::to_writer(&mut *out, &line)?;
                out.write_all(b"\n")?;
            }
            Format::Human => {
                write!(out, "{} {}: ", row.profile, journey.name)?;
                for (i, l) in labels.enumerate() {
                    if i > 0 {
                        out.write_all(b" -> ")?;
                    }
                    out.write_all(l.as_ref().as_bytes())?;
                }
                match (row.ended, label) {
                    (None, _) => out.write_all(b" => waiting")?,
                    (Some(_), Some(l)) => write!(out, " => ended \"{l}\"")?,
                    (Some(_), None) => out.write_all(b" => ended")?,
                }
                if let Some(e) = error {
                    write!(out, " ({e})")?;
                }
                out.write_all(b"\n")?;
            }
        }
    }
    Ok(())
}

/// A path line of `--format json`, in its fields' order.
#[derive(serde::Serialize)]
struct PathLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    profile: &'a str,
    journey: &'a str,
    path: Labels<'a>,
    state: &'static str,
    label: Option<&'a str>,
    error: Option<&'a str>,
    calls: Calls<'a>,
    /// Each message a `send` made: channel, template, address, outcome and id (absent without
    /// sends, so other journeys' lines keep their form).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    messages: &'a [&'a journey_vm::engine::messages::MessageRecord],
}

/// The labels of the nodes of a path, written as a JSON list.
struct Labels<'a> {
    path: &'a [u32],
    journey: &'a journey_compiler::bytecode::JourneyCode,
    profile: &'a str,
}

impl serde::Serialize for Labels<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.path.iter().filter_map(|n| node_label(self.journey, *n, self.profile)))
    }
}

/// A node's label on a path line: its own, borrowed, except a split's, which names the arm the
/// profile took (`split "B"`).
fn node_label<'a>(
    journey: &'a journey_compiler::bytecode::JourneyCode,
    n: u32,
    profile: &str,
) -> Option<std::borrow::Cow<'a, str>> {
    let node = journey.nodes.get(n as usize)?;
    if node.kind == journey_compiler::bytecode::NodeKind::Split {
        return journey_vm::engine::report::path_label(journey, n, profile).map(std::borrow::Cow::Owned);
    }
    Some(std::borrow::Cow::Borrowed(node.label.as_str()))
}

/// An instance's calls: `[{"action": "SendEmail", "args": {"to": ..., "template": ...}}]`.
struct Calls<'a> {
    calls: &'a [&'a journey_vm::engine::CallRequest],
    program: &'a Program,
}

impl serde::Serialize for Calls<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        struct Args<'a>(&'a journey_vm::engine::CallRequest, &'a Program);
        impl serde::Serialize for Args<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let params = &self.1.http[self.0.http as usize].params;
                let mut m = s.serialize_map(Some(params.len()))?;
                for ((p, _), v) in params.iter().zip(&self.0.args) {
                    m.serialize_entry(p, &v.to_json())?;
                }
                m.end()
            }
        }
        #[derive(serde::Serialize)]
        struct Call<'a> {
            action: &'a str,
            args: Args<'a>,
        }
        let mut seq = s.serialize_seq(Some(self.calls.len()))?;
        for c in self.calls {
            seq.serialize_element(&Call { action: &c.target, args: Args(c, self.program) })?;
        }
        seq.end()
    }
}
