//! Running journeys over a recorded file of events on a virtual clock (`journey run`, and the
//! run benchmark).
//!
//! Events are read straight from JSON text (only what the program reads of a payload is
//! converted), routed to their profile by the event's `key`, sorted by time and handed to one
//! engine per thread, each running its own share of the profiles ([`crate::engine::Shard`]).
//! Profiles never meet (each instance belongs to one profile), so the split changes no path:
//! a profile's events are handled one at a time in time order on its engine. What one journey
//! shares between profiles, a `cap`, is counted once for all engines; which profiles are the
//! first N through it then depends on how the threads interleave, so a program with a cap runs
//! on one engine unless more are asked for ([`jobs_for`]).

use crate::engine::report::Report;
use crate::engine::{shard_of, Engine, Options, Payload, Routing, Shard, SharedCaps, To};
use crate::machine::Image;
use crate::value::Value;
use arcstr::ArcStr;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::Value as Json;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One accepted event, routed to its profile (an empty key: a business event, which every
/// engine takes, each starting its own share of the audience's members).
#[derive(Clone)]
pub struct RunEvent {
    /// Its line in the file (from 1).
    pub line: usize,
    /// How many events before it in the file are dated the same millisecond: it tells apart
    /// entries of one profile into one journey in that millisecond (see
    /// [`Engine::set_event_origin`]); 0, the most common, names messages as before it was kept.
    pub origin: u32,
    /// When it happens (epoch ms).
    pub at_ms: i64,
    /// The event's index in the program.
    pub event: u16,
    /// Its profile key.
    pub key: ArcStr,
    /// Its payload, as far as the program reads it.
    pub payload: Value,
}

/// A line that was skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The line (from 1).
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

/// The events of a file, ready to run.
pub struct Events {
    /// Accepted events in time order (file order among equal times).
    pub events: Vec<RunEvent>,
    /// Skipped lines, in file order.
    pub problems: Vec<Problem>,
    /// Events filtered by `when` and rejected, counted as an engine would.
    pub report: Report,
    /// The earliest time of any line with a valid `at` (where the clock starts).
    pub first_ms: Option<i64>,
}

/// How many engines to split a program's profiles across: as many as asked for; by default one
/// per core but the one that reads the file, and one when a journey has a `cap` (its count is
/// "the first N profiles through the node", an order between profiles that only one engine
/// keeps run after run).
pub fn jobs_for(image: &Image, asked: Option<usize>, cores: usize) -> usize {
    match asked {
        Some(n) => n.max(1),
        None if image.program.journeys.iter().any(|j| !j.caps.is_empty()) => 1,
        None => cores.saturating_sub(1).max(1),
    }
}

/// Reads a file of event lines (`{"event": "Name", "at": "2026-...Z", "payload": {...}}`),
/// on `jobs` threads. Lines after `until` are left out.
pub fn read_events(text: &[u8], image: &Arc<Image>, jobs: usize, until: Option<i64>) -> Events {
    let chunks = split_lines(text, jobs.max(1));
    let parsed: Vec<Events> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks.iter().map(|chunk| s.spawn(move || read_chunk(chunk, image, until))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    });
    let mut out = Events { events: Vec::new(), problems: Vec::new(), report: Report::default(), first_ms: None };
    let mut lines_before = 0;
    for (chunk, mut part) in chunks.iter().zip(parsed) {
        for e in &mut part.events {
            e.line += lines_before;
        }
        for p in &mut part.problems {
            p.line += lines_before;
        }
        lines_before += count_lines(chunk);
        out.events.append(&mut part.events);
        out.problems.append(&mut part.problems);
        out.report.absorb(&part.report);
        out.first_ms = match (out.first_ms, part.first_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    // The clock only moves forward: events are taken in time order (file order among equals).
    if !out.events.is_sorted_by_key(|e| e.at_ms) {
        out.events.sort_by_key(|e| e.at_ms);
    }
    let mut same_ms = SameMs::default();
    for e in &mut out.events {
        e.origin = same_ms.next(e.at_ms);
    }
    out
}

/// Counts the events dated one millisecond, in order: each event's origin (also `journey
/// test`'s).
#[derive(Default)]
pub(crate) struct SameMs {
    at_ms: Option<i64>,
    before: u32,
}

impl SameMs {
    /// The origin of the next event, dated `at_ms`: how many before it had that date.
    pub(crate) fn next(&mut self, at_ms: i64) -> u32 {
        if self.at_ms == Some(at_ms) {
            self.before = self.before.saturating_add(1);
        } else {
            (self.at_ms, self.before) = (Some(at_ms), 0);
        }
        self.before
    }
}

/// The text cut into about `n` pieces at line ends.
fn split_lines(text: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(n);
    let mut rest = text;
    for i in (1..=n).rev() {
        if i == 1 || rest.is_empty() {
            out.push(rest);
            break;
        }
        let cut = (rest.len() / i).max(1);
        let end = rest[cut - 1..].iter().position(|&b| b == b'\n').map(|p| cut + p).unwrap_or(rest.len());
        out.push(&rest[..end]);
        rest = &rest[end..];
    }
    out
}

/// The lines of a piece cut by [`split_lines`] (each piece but the last ends with a newline).
fn count_lines(chunk: &[u8]) -> usize {
    chunk.iter().filter(|&&b| b == b'\n').count()
}

fn read_chunk(chunk: &[u8], image: &Arc<Image>, until: Option<i64>) -> Events {
    let mut router = router(image);
    let mut out = Events { events: Vec::new(), problems: Vec::new(), report: Report::default(), first_ms: None };
    for (i, raw) in chunk.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        match parse_line(&mut router, raw, line, until) {
            Parsed::Event(e) => {
                out.first_ms = Some(out.first_ms.map_or(e.at_ms, |f| f.min(e.at_ms)));
                out.events.push(e);
            }
            Parsed::Dropped(at_ms) => out.first_ms = Some(out.first_ms.map_or(at_ms, |f| f.min(at_ms))),
            Parsed::Problem(at_ms, message) => {
                if let Some(at_ms) = at_ms {
                    out.first_ms = Some(out.first_ms.map_or(at_ms, |f| f.min(at_ms)));
                }
                out.problems.push(Problem { line, message });
            }
            Parsed::Skip => {}
        }
    }
    out.report = router.report().clone();
    out
}

/// An engine that only routes events (evaluates their `when` and `key`) and counts those it
/// filters or rejects.
fn router(image: &Arc<Image>) -> Engine {
    let mut router = Engine::new(image.clone(), 0, Options::default());
    router.set_change_tracking(false);
    router
}

/// What became of one line.
enum Parsed {
    /// An accepted event.
    Event(RunEvent),
    /// Filtered by its `when` (at this time).
    Dropped(i64),
    /// A problem (with the line's time when it had one).
    Problem(Option<i64>, String),
    /// A blank line, or one after `until`.
    Skip,
}

fn parse_line(router: &mut Engine, raw: &[u8], line: usize, until: Option<i64>) -> Parsed {
    let Ok(text) = std::str::from_utf8(raw) else {
        return Parsed::Problem(None, "is not UTF-8 text".into());
    };
    if text.trim().is_empty() {
        return Parsed::Skip;
    }
    let parsed = match read_line(router, text) {
        Ok(l) => l,
        Err(e) if e.classify() == serde_json::error::Category::Data => {
            return Parsed::Problem(None, "is not a JSON object with an \"event\" name".into());
        }
        Err(e) => return Parsed::Problem(None, format!("not valid JSON ({e})")),
    };
    let Some(name) = parsed.event.as_ref().and_then(Json::as_str) else {
        return Parsed::Problem(None, "has no \"event\" name".into());
    };
    let Some(at) = parsed.at.as_ref() else {
        return Parsed::Problem(None, "has no \"at\" time; write e.g. \"at\": \"2026-12-01T09:00:00Z\"".into());
    };
    let at_ms = match at.as_str().map(str::parse::<jiff::Timestamp>) {
        Some(Ok(t)) => t.as_millisecond(),
        Some(Err(e)) => return Parsed::Problem(None, format!("\"at\" is not an RFC 3339 date-time ({e})")),
        None => return Parsed::Problem(None, "\"at\" is not a string".into()),
    };
    if until.is_some_and(|u| at_ms > u) {
        return Parsed::Skip;
    }
    if let Some(why) = parsed.mismatch {
        // Counted as the engine counts events it rejects; the reason goes with the line.
        router.count_rejected(format!("payload does not match `{name}`'s schema"));
        return Parsed::Problem(Some(at_ms), why);
    }
    let payload = match parsed.payload {
        Some(Ok(v)) => Some(v),
        Some(Err(j)) => router.convert(name, &j),
        None => router.convert(name, &Json::Object(Default::default())),
    };
    if let Some(p) = payload.as_ref().filter(|_| router.is_business(name)) {
        // A business event goes to every engine (with no key of its own to route by).
        return match router.business_when(name, p, at_ms) {
            true => {
                let event = router.event_index(name).unwrap_or_default();
                Parsed::Event(RunEvent { line, origin: 0, at_ms, event, key: ArcStr::new(), payload: p.clone() })
            }
            false => Parsed::Dropped(at_ms),
        };
    }
    let routed = match payload {
        Some(p) => router.route(name, Payload::Read(&p), at_ms, Routing::Count).map(|key| key.map(|k| (k, p))),
        // An unknown event: counted and reported as the engine does.
        None => router.route(name, Payload::Read(&Value::Null), at_ms, Routing::Count).map(|_| None),
    };
    match routed {
        Ok(Some((key, payload))) => {
            let event = router.event_index(name).unwrap_or_default();
            Parsed::Event(RunEvent { line, origin: 0, at_ms, event, key, payload })
        }
        Ok(None) => Parsed::Dropped(at_ms),
        Err(why) => Parsed::Problem(Some(at_ms), why.to_string()),
    }
}

/// An event line: the name and time as written, and the payload checked against the named
/// event's type (as `journey serve` checks it, [`crate::payload::read_payload`]) and converted
/// as the event reads it, in one reading (kept as JSON for an unknown event).
pub struct Line {
    /// The `event` field.
    pub event: Option<Json>,
    /// The `at` field.
    pub at: Option<Json>,
    /// The payload: converted, or as JSON (`None` when the line has none and the event is
    /// unknown; a known event's missing payload reads as `{}`).
    pub payload: Option<Result<Value, Json>>,
    /// Why the payload does not fit the event's type (then `payload` is `None`).
    pub mismatch: Option<String>,
}

/// Reads an event line's JSON text into a [`Line`], converting the payload with the engine's
/// [`Engine::payload_seed`] (only what the program reads; nothing else is kept).
///
/// When the line names its event before its payload (as most writers do), the payload is
/// checked and converted as it is read, in the one reading of the line; otherwise, or when
/// anything is wrong with the line, the line is read again with the payload kept as text first,
/// which gives the exact reason.
pub fn read_line(engine: &Engine, text: &str) -> Result<Line, serde_json::Error> {
    let direct = LineSeed { engine, direct: true }.deserialize(&mut serde_json::Deserializer::from_str(text));
    direct.or_else(|_| LineSeed { engine, direct: false }.deserialize(&mut serde_json::Deserializer::from_str(text)))
}

/// Reads a [`Line`] with `serde` (see [`read_line`]). The payload's text is borrowed, so
/// deserialize from a `&str` or a slice.
struct LineSeed<'e> {
    engine: &'e Engine,
    /// Read a known event's payload where it stands (failing on any mismatch).
    direct: bool,
}

impl<'de> DeserializeSeed<'de> for LineSeed<'_> {
    type Value = Line;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Line, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for LineSeed<'_> {
    type Value = Line;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an event line")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Line, A::Error> {
        use serde::de::Error;
        let mut line = Line { event: None, at: None, payload: None, mismatch: None };
        let mut raw: Option<&'de serde_json::value::RawValue> = None;
        // The event whose type read the payload where it stood.
        let mut read_as: Option<Json> = None;
        while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match k.as_ref() {
                "event" => line.event = Some(map.next_value()?),
                "at" => line.at = Some(map.next_value()?),
                "payload" => {
                    let seed = line.event.as_ref().and_then(Json::as_str).and_then(|n| self.engine.payload_seed(n));
                    match seed.filter(|_| self.direct) {
                        Some(seed) => {
                            line.payload = Some(Ok(map.next_value_seed(crate::payload::CheckedPayload(seed))?));
                            (read_as, raw) = (line.event.clone(), None);
                        }
                        None => (read_as, raw, line.payload) = (None, Some(map.next_value()?), None),
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if read_as.is_some() {
            // Named again after its payload under another name: read the line the other way.
            if read_as != line.event {
                return Err(A::Error::custom("the event was renamed after its payload"));
            }
            return Ok(line);
        }
        let name = line.event.as_ref().and_then(Json::as_str);
        match (name.and_then(|n| self.engine.payload_seed(n).map(|seed| (n, seed))), raw) {
            (Some((name, seed)), raw) => {
                // As `journey serve` takes it: no payload is an empty one.
                let text = raw.map_or("{}", serde_json::value::RawValue::get);
                match crate::payload::read_payload(name, seed, text) {
                    Ok(value) => line.payload = Some(Ok(value)),
                    Err(why) => line.mismatch = Some(why),
                }
            }
            (None, Some(raw)) => line.payload = Some(Err(serde_json::from_str(raw.get()).map_err(A::Error::custom)?)),
            (None, None) => {}
        }
        Ok(line)
    }
}

/// A profile to load before the run.
#[derive(Clone)]
pub struct ProfileLine {
    /// Its key.
    pub key: String,
    /// Its attributes.
    pub attributes: Value,
    /// The audiences it is in.
    pub audiences: Vec<String>,
}

/// What a run needs besides its events.
pub struct RunSetup<'a> {
    /// The program.
    pub image: Arc<Image>,
    /// Engine options (the shard is set per engine).
    pub options: Options,
    /// How many engines share the profiles (see [`jobs_for`]).
    pub jobs: usize,
    /// Stop the clock here instead of running until nothing waits.
    pub until: Option<i64>,
    /// Answers the calls an engine made (real HTTP, a dry run, mocks).
    pub settle: &'a (dyn Fn(&mut Engine) + Sync),
    /// Counts events handled, for a progress display.
    pub progress: &'a AtomicU64,
    /// Whether answering calls has effects outside (real HTTP, not a dry run): then a file is
    /// streamed only once it is known to be in time order, so that nothing is sent twice.
    pub real_calls: bool,
}

/// Where each engine's step events go (in time order within it), made anew for each attempt.
pub type StepSinks<'a> = &'a (dyn Fn(usize) -> std::io::Result<Box<dyn Write + Send>> + Sync);

/// An engine with its step events' destination.
type Worker = (Engine, Option<Box<dyn Write + Send>>);

/// A finished run.
pub struct Finished {
    /// The engines, in shard order.
    pub engines: Vec<Engine>,
    /// Skipped lines, in file order.
    pub problems: Vec<Problem>,
    /// Events filtered and rejected while reading.
    pub read_report: Report,
}

impl Finished {
    /// The whole run's report.
    pub fn report(&mut self) -> Report {
        report(&mut self.engines, &self.read_report)
    }
}

/// Runs a file of event lines. A file in time order streams: lines are parsed and routed on
/// this thread while the engines take them on theirs, in bounded memory. At the first line
/// earlier than one before it, the run starts over with the whole file read and sorted.
pub fn run_file(
    setup: &RunSetup<'_>,
    path: &std::path::Path,
    profiles: impl Fn() -> Vec<ProfileLine>,
    steps: Option<StepSinks<'_>>,
) -> std::io::Result<Finished> {
    let file = std::fs::File::open(path)?;
    if !setup.real_calls || in_time_order(path, setup.until)? {
        let reader = std::io::BufReader::with_capacity(1 << 20, file);
        if let Some(done) = run_streaming(setup, reader, profiles(), steps)? {
            return Ok(done);
        }
    }
    setup.progress.store(0, Ordering::Relaxed);
    let text = std::fs::read(path)?;
    let read = read_events(&text, &setup.image, setup.jobs, setup.until);
    drop(text);
    let sinks = make_sinks(setup.jobs.max(1), steps)?;
    let start = read.first_ms.unwrap_or(0);
    let engines = run(setup, start, read.events, profiles(), sinks);
    Ok(Finished { engines, problems: read.problems, read_report: read.report })
}

/// Whether every line's `at` (of those that have one, up to `until`) is at or after the one
/// before it.
fn in_time_order(path: &std::path::Path, until: Option<i64>) -> std::io::Result<bool> {
    #[derive(serde::Deserialize)]
    struct At<'a> {
        #[serde(borrow)]
        at: Option<std::borrow::Cow<'a, str>>,
    }
    let mut reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
    let (mut buf, mut last) = (Vec::new(), i64::MIN);
    loop {
        buf.clear();
        if std::io::BufRead::read_until(&mut reader, b'\n', &mut buf)? == 0 {
            return Ok(true);
        }
        let Ok(line) = serde_json::from_slice::<At>(trim_newline(&buf)) else { continue };
        let Some(Ok(at)) = line.at.map(|a| a.parse::<jiff::Timestamp>()) else { continue };
        let at = at.as_millisecond();
        if until.is_some_and(|u| at > u) {
            continue;
        }
        if at < last {
            return Ok(false);
        }
        last = at;
    }
}

fn make_sinks(n: usize, steps: Option<StepSinks<'_>>) -> std::io::Result<Vec<Option<Box<dyn Write + Send>>>> {
    (0..n).map(|i| steps.map(|f| f(i)).transpose()).collect()
}

/// Events handed to an engine thread at a time.
const BATCH: usize = 1024;

/// The streaming attempt: `None` when the lines turn out not to be in time order.
fn run_streaming(
    setup: &RunSetup<'_>,
    mut reader: impl std::io::BufRead,
    profiles: Vec<ProfileLine>,
    steps: Option<StepSinks<'_>>,
) -> std::io::Result<Option<Finished>> {
    let n = setup.jobs.max(1);
    let mut router = router(&setup.image);
    let mut problems = Vec::new();
    let mut line = 0;
    let mut buf = Vec::new();
    // The clock starts at the first line with a time (what it is becomes known only here).
    let mut first: Vec<Parsed> = Vec::new();
    let start = loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            break None;
        }
        line += 1;
        let parsed = parse_line(&mut router, trim_newline(&buf), line, setup.until);
        let at = match &parsed {
            Parsed::Event(e) => Some(e.at_ms),
            Parsed::Dropped(at) | Parsed::Problem(Some(at), _) => Some(*at),
            _ => None,
        };
        first.push(parsed);
        if at.is_some() {
            break at;
        }
    };
    let sinks = make_sinks(n, steps)?;
    let mut workers = engines(setup, start.unwrap_or(0), profiles, sinks);
    let abort = std::sync::atomic::AtomicBool::new(false);
    let in_order = std::thread::scope(|s| -> std::io::Result<bool> {
        let mut senders = Vec::with_capacity(n);
        for worker in workers.iter_mut() {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<RunEvent>>(8);
            senders.push(tx);
            let abort = &abort;
            s.spawn(move || {
                for batch in rx {
                    if abort.load(Ordering::Relaxed) {
                        return;
                    }
                    let count = batch.len() as u64;
                    take_events(worker, setup, batch);
                    setup.progress.fetch_add(count, Ordering::Relaxed);
                }
                if abort.load(Ordering::Relaxed) {
                    return;
                }
                let (engine, sink) = worker;
                run_down(engine, setup, sink.as_deref_mut());
            });
        }
        let mut batches: Vec<Vec<RunEvent>> = (0..n).map(|_| Vec::with_capacity(BATCH)).collect();
        let mut last = i64::MIN;
        let mut same_ms = SameMs::default();
        let mut take = |parsed: Parsed, line: usize, problems: &mut Vec<Problem>| -> bool {
            // Every line with a time counts for the order (as for where the clock starts).
            let at = match &parsed {
                Parsed::Event(e) => Some(e.at_ms),
                Parsed::Dropped(at) | Parsed::Problem(Some(at), _) => Some(*at),
                _ => None,
            };
            if at.is_some_and(|at| at < last) {
                return false;
            }
            last = at.unwrap_or(last);
            match parsed {
                Parsed::Event(mut e) => {
                    e.origin = same_ms.next(e.at_ms);
                    let targets = if e.key.is_empty() {
                        0..n
                    } else {
                        let i = shard_of(&e.key, n as u32) as usize;
                        i..i + 1
                    };
                    for i in targets {
                        batches[i].push(e.clone());
                        if batches[i].len() == BATCH {
                            let full = std::mem::replace(&mut batches[i], Vec::with_capacity(BATCH));
                            // A closed channel means the engine thread died; its panic is raised
                            // at the join below.
                            let _ = senders[i].send(full);
                        }
                    }
                }
                Parsed::Problem(_, message) => problems.push(Problem { line, message }),
                Parsed::Dropped(_) | Parsed::Skip => {}
            }
            true
        };
        let mut in_order = true;
        for (i, parsed) in first.into_iter().enumerate() {
            in_order &= take(parsed, i + 1, &mut problems);
        }
        while in_order {
            buf.clear();
            if reader.read_until(b'\n', &mut buf)? == 0 {
                break;
            }
            line += 1;
            let parsed = parse_line(&mut router, trim_newline(&buf), line, setup.until);
            in_order = take(parsed, line, &mut problems);
        }
        if in_order {
            for (tx, batch) in senders.iter().zip(batches) {
                if !batch.is_empty() {
                    let _ = tx.send(batch);
                }
            }
        } else {
            abort.store(true, Ordering::Relaxed);
        }
        drop(senders);
        Ok(in_order)
    })?;
    if !in_order {
        return Ok(None);
    }
    let engines = finish(setup, workers);
    Ok(Some(Finished { engines, problems, read_report: router.report().clone() }))
}

fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// One engine per share of the profiles, each with its profiles loaded.
fn engines(
    setup: &RunSetup<'_>,
    start_ms: i64,
    profiles: Vec<ProfileLine>,
    sinks: Vec<Option<Box<dyn Write + Send>>>,
) -> Vec<Worker> {
    let n = sinks.len().max(1);
    let mut people: Vec<Vec<ProfileLine>> = (0..n).map(|_| Vec::new()).collect();
    for p in profiles {
        people[shard_of(&p.key, n as u32) as usize].push(p);
    }
    let mut base = setup.options.clone();
    if n > 1 && base.shared_caps.is_none() {
        base.shared_caps = Some(Arc::new(SharedCaps::default()));
    }
    people
        .into_iter()
        .zip(sinks)
        .enumerate()
        .map(|(i, (people, sink))| {
            let options = Options {
                shard: Shard { index: i as u32, count: n as u32 },
                fanout_slice: base.fanout_slice.or(Some(FANOUT_SLICE)),
                ..base.clone()
            };
            let mut engine = Engine::new(setup.image.clone(), start_ms, options);
            engine.set_change_tracking(false);
            for p in people {
                engine.set_profile(&p.key, p.attributes);
                for a in &p.audiences {
                    engine.audience_enter(a, &p.key);
                }
            }
            (engine, sink)
        })
        .collect()
}

/// One engine takes its events, in time order.
fn take_events(worker: &mut Worker, setup: &RunSetup<'_>, events: Vec<RunEvent>) {
    let (engine, sink) = worker;
    let image = engine.image().clone();
    for e in events {
        advance(engine, setup, e.at_ms, false);
        let name = &image.program.events[e.event as usize].name;
        engine.set_event_origin(e.origin);
        let _ = engine.deliver(name, Payload::Read(&e.payload), To::Routed(&e.key));
        engine.set_event_origin(0);
        // A business event's members start a slice at a time, each slice's calls answered
        // before the next starts.
        loop {
            (setup.settle)(engine);
            flush_steps(engine, sink.as_deref_mut());
            if engine.fan_out(FANOUT_SLICE) == 0 {
                break;
            }
        }
    }
}

/// Members of a business event's audience started at a time, between answering calls.
const FANOUT_SLICE: usize = 1_024;

/// Runs events already read (in time order) on `setup.jobs` engines, each on its own thread
/// with its share of the profiles, until nothing waits (or `until`). Step events of engine `i`
/// go to `sinks[i]`. Returns the engines, in shard order.
pub fn run(
    setup: &RunSetup<'_>,
    start_ms: i64,
    events: Vec<RunEvent>,
    profiles: Vec<ProfileLine>,
    sinks: Vec<Option<Box<dyn Write + Send>>>,
) -> Vec<Engine> {
    let n = sinks.len().max(1);
    let mut workers = engines(setup, start_ms, profiles, sinks);
    let mut shares: Vec<Vec<RunEvent>> = (0..n).map(|_| Vec::new()).collect();
    for e in events {
        if e.key.is_empty() {
            // A business event: every engine starts its share of the members.
            for share in shares.iter_mut() {
                share.push(e.clone());
            }
        } else {
            shares[shard_of(&e.key, n as u32) as usize].push(e);
        }
    }
    // Each engine takes its events, then runs on until nothing of its own waits.
    std::thread::scope(|s| {
        for (worker, share) in workers.iter_mut().zip(shares) {
            s.spawn(move || {
                let count = share.len() as u64;
                take_events(worker, setup, share);
                setup.progress.fetch_add(count, Ordering::Relaxed);
                let (engine, sink) = worker;
                run_down(engine, setup, sink.as_deref_mut());
            });
        }
    });
    finish(setup, workers)
}

/// After every engine ran down on its own: the catch-up rounds, `until`, and the last flush.
fn finish(setup: &RunSetup<'_>, mut engines: Vec<Worker>) -> Vec<Engine> {
    // One engine alone would go on while any profile waits: timers of the others (a scheduled
    // audience read) fire meanwhile. So every engine catches up with the latest clock, until
    // they agree.
    if engines.len() > 1 {
        while let Some(latest) = engines.iter().map(|(e, _)| e.now_ms()).max() {
            let behind = engines.iter().any(|(e, _)| e.now_ms() < latest && e.next_due().is_some_and(|d| d <= latest));
            if !behind {
                break;
            }
            std::thread::scope(|s| {
                for (engine, sink) in &mut engines {
                    s.spawn(move || {
                        advance(engine, setup, latest, true);
                        flush_steps(engine, sink.as_deref_mut());
                        run_down(engine, setup, sink.as_deref_mut());
                    });
                }
            });
        }
    }
    if let Some(u) = setup.until {
        std::thread::scope(|s| {
            for (engine, sink) in &mut engines {
                s.spawn(move || {
                    advance(engine, setup, u.max(engine.now_ms()), true);
                    flush_steps(engine, sink.as_deref_mut());
                });
            }
        });
    }
    engines
        .into_iter()
        .map(|(engine, sink)| {
            if let Some(mut s) = sink {
                let _ = s.flush();
            }
            engine
        })
        .collect()
}

/// Fires everything due up to `to` (inclusive or not), answering calls as it goes: timer by
/// timer, so that each call is answered at its own time (not when the next event happens to
/// arrive, which would depend on other profiles' events).
fn advance(engine: &mut Engine, setup: &RunSetup<'_>, to: i64, inclusive: bool) {
    while let Some(due) = engine.next_due() {
        if due > to || (!inclusive && due == to) {
            break;
        }
        engine.advance(due, true);
        (setup.settle)(engine);
    }
    engine.advance(to, inclusive);
    (setup.settle)(engine);
}

/// Fires timers in order until nothing waits (or the next is after `until`).
fn run_down(engine: &mut Engine, setup: &RunSetup<'_>, mut sink: Option<&mut (dyn Write + Send + '_)>) {
    while engine.live().next().is_some() {
        let Some(due) = engine.next_due() else { break };
        if setup.until.is_some_and(|u| due > u) {
            break;
        }
        engine.advance(due, true);
        (setup.settle)(engine);
        flush_steps(engine, sink.as_deref_mut());
    }
}

fn flush_steps(engine: &mut Engine, sink: Option<&mut (dyn Write + Send + '_)>) {
    match sink {
        Some(out) => {
            for s in engine.take_steps() {
                let _ = serde_json::to_writer(&mut *out, &s);
                let _ = out.write_all(b"\n");
            }
        }
        None => drop(engine.take_steps()),
    }
}

/// Merges engines' step-event files (each in time order) into one, in time order; equal times
/// keep engine order. Lines start with `{"time":"...` in one fixed format, so the text order
/// of that field is the time order.
pub fn merge_steps(inputs: Vec<Box<dyn std::io::BufRead + '_>>, out: &mut dyn Write) -> std::io::Result<()> {
    let mut inputs = inputs;
    let mut heads: Vec<Option<String>> = Vec::with_capacity(inputs.len());
    for r in &mut inputs {
        heads.push(next_line(r.as_mut())?);
    }
    loop {
        let next =
            heads.iter().enumerate().filter_map(|(i, h)| h.as_deref().map(|h| (step_time(h), i))).min().map(|(_, i)| i);
        let Some(i) = next else { break };
        if let Some(line) = heads[i].take() {
            out.write_all(line.as_bytes())?;
            out.write_all(b"\n")?;
        }
        heads[i] = next_line(inputs[i].as_mut())?;
    }
    out.flush()
}

fn next_line(r: &mut dyn std::io::BufRead) -> std::io::Result<Option<String>> {
    let mut s = String::new();
    if r.read_line(&mut s)? == 0 {
        return Ok(None);
    }
    while s.ends_with('\n') || s.ends_with('\r') {
        s.pop();
    }
    Ok(Some(s))
}

fn step_time(line: &str) -> &str {
    line.strip_prefix("{\"time\":\"").and_then(|r| r.split('"').next()).unwrap_or("")
}

/// The reports of engines that shared a run, with the counts of reading its events.
pub fn report(engines: &mut [Engine], read: &Report) -> Report {
    let mut total = engines.first_mut().map(|e| e.report().clone()).unwrap_or_default();
    for e in engines.iter_mut().skip(1) {
        total.absorb(e.report());
    }
    total.absorb(read);
    total
}
