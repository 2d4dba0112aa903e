//! Runs `test` blocks: a fresh engine per test on a virtual clock, mocked actions and data
//! sources, expectations checked where they stand.

use crate::engine::{CallOutcome, Engine, Options, Payload, Routing, To};
use crate::library::EvalContext;
use crate::machine::{eval_chunk, Frame, Image, DEFAULT_BUDGET};
use crate::value::Value;
use journey_bytecode::{Addr, MockResult, TestCode, TestStep, Ty};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

/// The virtual clock's start when a test gives none.
pub const DEFAULT_START: &str = "2026-01-01T00:00:00Z";

/// A test's result.
#[derive(Debug, Clone, Serialize)]
pub struct TestResult {
    /// The file it is in.
    pub file: String,
    /// Its name.
    pub name: String,
    /// `passed` or `failed`.
    pub outcome: &'static str,
    /// The first failing expectation.
    pub failure: Option<String>,
    /// The line of the statement that failed (from 1), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// The path each instance took: `Journey: node -> node -> end "label"`.
    pub path: Vec<String>,
    /// The report of each journey the test entered, by name, in the shape of `journey run`'s
    /// and `journey serve`'s (its window: the 24 hours before the test's clock ends).
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub reports: serde_json::Map<String, serde_json::Value>,
}

/// A test's values: its chunks, run on the VM.
struct Values<'a> {
    image: &'a Image,
    test: &'a TestCode,
    /// The messages `expect sent ... as m` bound, by test slot.
    bound: std::cell::RefCell<Vec<Value>>,
}

impl Values<'_> {
    /// The value of the chunk at `at` (a constant expression).
    fn constant(&self, at: Addr) -> Value {
        let ctx = EvalContext::new(jiff::Timestamp::UNIX_EPOCH, jiff::tz::TimeZone::UTC);
        let mut locals = self.bound.borrow().clone();
        let mut frame = Frame {
            locals: &mut locals,
            event_paths: &[],
            event: &Value::Null,
            profile: &Value::Null,
            ctx: &ctx,
            secret: &|_| None,
        };
        let mut budget = DEFAULT_BUDGET;
        eval_chunk(self.image, &self.test.code, at, &mut frame, &mut Vec::new(), &mut budget).unwrap_or_default()
    }

    /// A constant read as the declared type, as the runtime reads the same value from JSON (an
    /// int literal for a `number` field is a number).
    fn typed(&self, at: Addr, ty: Option<&Ty>) -> Value {
        match ty {
            Some(ty) => Value::from_json_typed(&self.constant(at).to_json(), ty),
            None => self.constant(at),
        }
    }
}

fn ms(s: &str) -> i64 {
    crate::value::parse_datetime(s).map(|(t, _)| t.as_millisecond()).unwrap_or(0)
}

/// Runs one test of a program.
pub fn run_test(image: &Arc<Image>, test: &TestCode) -> TestResult {
    let values = Values { image, test, bound: std::cell::RefCell::new(vec![Value::Null; test.slots()]) };
    let start = match test.steps.first() {
        Some(TestStep::Start(at)) => ms(at),
        _ => ms(DEFAULT_START),
    };
    let mut engine = Engine::new(image.clone(), start, Options { keep_paths: true, ..Default::default() })
        .with_secrets(|name| Some(format!("test-secret-{name}")));
    let mut mocks: HashMap<String, Mock> = HashMap::new();
    let mut pending_profile: Option<Value> = None;
    let mut failure: Option<String> = None;
    // Events sent in one millisecond, counted: each one's origin (see `run::RunEvent::origin`).
    let mut same_ms = crate::run::SameMs::default();
    let mut line = None;
    for (n, stmt) in test.steps.iter().enumerate() {
        let step = match stmt {
            TestStep::Start(_) => Ok(()),
            TestStep::Profile { key: Some(k), attributes } => {
                engine.set_profile(k, values.typed(*attributes, image.program.profile.as_ref()));
                Ok(())
            }
            TestStep::Profile { key: None, attributes } => {
                pending_profile = Some(values.typed(*attributes, image.program.profile.as_ref()));
                Ok(())
            }
            TestStep::AudienceHas { audience, key } => {
                engine.audience_enter(audience, key);
                settle(&mut engine, &mocks)
            }
            TestStep::Mock { target, result } => {
                let mock = match result {
                    MockResult::Value(v) => {
                        let returns = image.program.http.iter().find(|h| h.name == *target).map(|h| &h.returns);
                        Mock::Value(values.typed(*v, returns))
                    }
                    MockResult::Fail => Mock::Fail,
                    MockResult::Timeout => Mock::Timeout,
                };
                mocks.insert(target.clone(), mock);
                Ok(())
            }
            TestStep::Send { after_ms, event, payload } => {
                let to = engine.now_ms() + after_ms;
                advance(&mut engine, &mocks, to, false).and_then(|_| {
                    let json = values.constant(*payload).to_json();
                    if pending_profile.is_some() {
                        // The profile of the first event sent that has one (a keyless event has none).
                        let now = engine.now_ms();
                        if let Ok(Some(key)) = engine.route(event, Payload::Json(&json), now, Routing::Check) {
                            engine.set_profile(&key, pending_profile.take().unwrap_or_default());
                        }
                    }
                    // An event with a null or empty key is rejected and starts nothing, as at
                    // runtime: a test may send one to check just that, so it is no failure.
                    // The events before it in this millisecond tell its entries apart from
                    // theirs (a test may send one event several times in a row).
                    engine.set_event_origin(same_ms.next(to));
                    let _ = engine.deliver(event, Payload::Json(&json), To::Key);
                    engine.set_event_origin(0);
                    settle(&mut engine, &mocks)?;
                    // The event went first; what else was due at this instant runs now, before
                    // the next statement (an await's deadline the event did not meet).
                    advance(&mut engine, &mocks, to, true)
                })
            }
            TestStep::After(d) => {
                let to = engine.now_ms() + d;
                advance(&mut engine, &mocks, to, true)
            }
            TestStep::ExpectEnded { journey, label } => expect_ended(&engine, journey, label.as_deref()),
            TestStep::ExpectRunning { journey } => expect_running(&engine, journey),
            TestStep::ExpectConverted { no, journey, goal } => expect_converted(&engine, journey, goal, *no),
            TestStep::ExpectArm { journey, arm } => expect_arm(&engine, journey, arm),
            TestStep::ExpectCall { action, args, times } => {
                expect_call(&engine, action, args.map(|a| values.constant(a)), *times)
            }
            TestStep::ExpectNoCall { action } => expect_call(&engine, action, None, Some(0)),
            TestStep::ExpectSent { channel, template, to, times, bind } => {
                expect_sent(&engine, channel, template.as_deref(), to.as_deref(), *times).map(|last| {
                    if let (Some(b), Some(m)) = (bind, last) {
                        values.bound.borrow_mut()[*b as usize] = m;
                    }
                })
            }
            TestStep::ExpectSuppressed { channel, template, reason } => {
                expect_suppressed(&engine, channel, template.as_deref(), reason)
            }
        };
        if let Err(why) = step {
            failure = Some(why);
            line = test.lines.get(n).copied();
            break;
        }
    }
    TestResult {
        file: test.file.clone(),
        name: test.name.clone(),
        outcome: if failure.is_none() { "passed" } else { "failed" },
        failure,
        line,
        path: paths(&engine),
        reports: reports(&mut engine),
    }
}

/// A mock's answer, its value read as the declaration's `returns` type.
enum Mock {
    Value(Value),
    Fail,
    Timeout,
}

/// Fires everything due up to `to` (inclusive or not), answering calls with mocks as it goes.
fn advance(engine: &mut Engine, mocks: &HashMap<String, Mock>, to: i64, inclusive: bool) -> Result<(), String> {
    // Calls answered at one instant may start waits that are due before `to`: step timer by
    // timer so each answer is settled at its own time.
    while let Some(due) = engine.next_due() {
        if due > to || (!inclusive && due == to) {
            break;
        }
        engine.advance(due, true);
        settle(engine, mocks)?;
    }
    engine.advance(to, inclusive);
    settle(engine, mocks)
}

/// Answers every outstanding call with its mock; an unmocked call fails the test.
fn settle(engine: &mut Engine, mocks: &HashMap<String, Mock>) -> Result<(), String> {
    loop {
        let calls = engine.take_calls();
        if calls.is_empty() {
            return Ok(());
        }
        for c in calls {
            let outcome = match mocks.get(&c.target) {
                Some(Mock::Value(v)) => CallOutcome::Ok(v.clone()),
                Some(Mock::Fail) => CallOutcome::Error("mocked failure".into()),
                Some(Mock::Timeout) => CallOutcome::Timeout("mocked timeout".into()),
                None => {
                    return Err(format!(
                        "`{}` called `{}`, which the test does not mock; add `mock {} -> {{ ... }}`",
                        c.journey, c.target, c.target
                    ))
                }
            };
            engine.complete_call(c.instance, outcome);
        }
    }
}

fn journey_index(engine: &Engine, name: &str) -> Option<u16> {
    engine.image().program.journeys.iter().position(|j| j.name == name).map(|i| i as u16)
}

fn label_text(label: Option<&str>) -> String {
    match label {
        Some(l) => format!("\"{l}\""),
        None => "without a label".into(),
    }
}

fn state_of(engine: &Engine, j: u16) -> String {
    let journey = &engine.image().program.journeys[j as usize];
    let mut parts: Vec<String> = engine
        .finished()
        .iter()
        .filter(|f| f.journey == j)
        .map(|f| format!("ended {}", label_text(f.ended.outcome.label())))
        .collect();
    for i in engine.live().filter(|i| i.journey == j) {
        let at = journey.nodes.get(i.node as usize).map(|n| n.label.as_str()).unwrap_or("its start");
        parts.push(format!("running at `{at}`"));
    }
    if parts.is_empty() {
        "it never started".into()
    } else {
        parts.join(", ")
    }
}

fn expect_ended(engine: &Engine, journey: &str, label: Option<&str>) -> Result<(), String> {
    let j = journey_index(engine, journey).ok_or_else(|| format!("no journey `{journey}`"))?;
    let ok = engine.finished().iter().any(|f| f.journey == j && (label.is_none() || f.ended.outcome.label() == label));
    if ok {
        return Ok(());
    }
    let want = label.map(|l| format!("ended \"{l}\"")).unwrap_or_else(|| "ended".into());
    Err(format!("expected {journey} {want}, but {}", state_of(engine, j)))
}

fn expect_running(engine: &Engine, journey: &str) -> Result<(), String> {
    let j = journey_index(engine, journey).ok_or_else(|| format!("no journey `{journey}`"))?;
    if engine.live().any(|i| i.journey == j) {
        Ok(())
    } else {
        Err(format!("expected {journey} running, but {}", state_of(engine, j)))
    }
}

/// `expect J converted "goal"` (`no`: `expect no J converted "goal"`): whether the test's
/// profile converted on the goal, by any of its entries into the journey.
fn expect_converted(engine: &Engine, journey: &str, goal: &str, no: bool) -> Result<(), String> {
    let j = journey_index(engine, journey).ok_or_else(|| format!("no journey `{journey}`"))?;
    let code = &engine.image().program.journeys[j as usize];
    let g =
        code.goals.iter().position(|x| x.name == goal).ok_or_else(|| format!("{journey} has no goal \"{goal}\""))?;
    let found = engine.conversions().iter().find(|c| c.journey == j && c.goal == g);
    match (found, no) {
        (None, false) => {
            let others: Vec<String> = engine
                .conversions()
                .iter()
                .filter(|c| c.journey == j)
                .map(|c| format!("\"{}\"", code.goals[c.goal].name))
                .collect();
            let started = engine.finished().iter().any(|f| f.journey == j) || engine.live().any(|i| i.journey == j);
            Err(if !started {
                format!("expected {journey} converted \"{goal}\", but {journey} never started")
            } else if others.is_empty() {
                format!(
                    "expected {journey} converted \"{goal}\", but no `{}` arrived in time (within {} of entry) with its condition true",
                    code.goals[g].event,
                    crate::engine::goals::duration_text(code.goals[g].window_ms)
                )
            } else {
                format!("expected {journey} converted \"{goal}\", but it converted only on {}", others.join(", "))
            })
        }
        (Some(c), true) => Err(format!(
            "expected no {journey} conversion on \"{goal}\", but it converted at {} ({} after entry)",
            crate::engine::clock::rfc3339(c.at_ms),
            crate::engine::goals::duration_text(c.at_ms - c.entered_ms)
        )),
        _ => Ok(()),
    }
}

/// `expect J arm "B"`: whether an instance of the journey took the experiment arm.
fn expect_arm(engine: &Engine, journey: &str, arm: &str) -> Result<(), String> {
    let j = journey_index(engine, journey).ok_or_else(|| format!("no journey `{journey}`"))?;
    let code = &engine.image().program.journeys[j as usize];
    let mut taken: Vec<String> = Vec::new();
    let mut each = |path: &[u32], profile: &str| {
        for n in path {
            let is_experiment = code
                .splits
                .iter()
                .any(|s| s.node == *n && !s.branches.is_empty() && s.branches.iter().all(|b| b.1.is_some()));
            if is_experiment {
                if let Some((_, name)) = crate::engine::report::split_arm(code, *n, profile) {
                    taken.push(name);
                }
            }
        }
    };
    for f in engine.finished().iter().filter(|f| f.journey == j) {
        each(&f.path, &f.profile);
    }
    for i in engine.live().filter(|i| i.journey == j) {
        each(engine.path_of(i.id).unwrap_or(&[]), &i.profile);
    }
    if taken.iter().any(|t| t == arm) {
        return Ok(());
    }
    Err(match taken.first() {
        Some(t) => format!("expected {journey} arm \"{arm}\", but it took \"{t}\""),
        None => format!("expected {journey} arm \"{arm}\", but {}", state_of(engine, j)),
    })
}

fn expect_call(engine: &Engine, action: &str, want: Option<Value>, times: Option<i64>) -> Result<(), String> {
    let program = &engine.image().program;
    let Some(http) = program.http.iter().find(|h| h.name == action) else {
        return Err(format!("no action or data source `{action}`"));
    };
    let matching = engine
        .call_log()
        .iter()
        .filter(|c| c.target == action)
        .filter(|c| match &want {
            None => true,
            Some(Value::Record(r)) => r.iter().all(|(k, v)| {
                http.params.iter().position(|(p, _)| p == k.as_str()).is_some_and(|i| c.args.get(i) == Some(v))
            }),
            Some(_) => false,
        })
        .count() as i64;
    let all = engine.call_log().iter().filter(|c| c.target == action).count();
    let described = match &want {
        Some(w) => format!("call {action} {}", w.to_json()),
        None => format!("call {action}"),
    };
    match times {
        Some(0) if matching > 0 && want.is_none() => Err(format!(
            "expected no call to {action}, but it was called {matching} time{}",
            if matching == 1 { "" } else { "s" }
        )),
        Some(n) if matching != n => Err(format!(
            "expected {described} {n} time{}, but it was made {matching} time{} ({all} call{} to {action} in all)",
            if n == 1 { "" } else { "s" },
            if matching == 1 { "" } else { "s" },
            if all == 1 { "" } else { "s" }
        )),
        None if matching == 0 => {
            let seen: Vec<String> = engine
                .call_log()
                .iter()
                .filter(|c| c.target == action)
                .map(|c| {
                    let args: Vec<String> =
                        http.params.iter().zip(&c.args).map(|((p, _), v)| format!("{p}: {}", v.to_json())).collect();
                    format!("{{ {} }}", args.join(", "))
                })
                .collect();
            Err(if seen.is_empty() {
                format!("expected {described}, but {action} was never called")
            } else {
                format!("expected {described}, but the calls were {}", seen.join(", "))
            })
        }
        _ => Ok(()),
    }
}

fn reports(engine: &mut Engine) -> serde_json::Map<String, serde_json::Value> {
    let now = engine.now_ms();
    let image = engine.image().clone();
    engine
        .report()
        .journeys
        .iter()
        .zip(&image.program.journeys)
        .filter(|(r, _)| r.started > 0)
        .map(|(r, code)| (r.journey.clone(), r.to_json(code, now, now - 86_400_000)))
        .collect()
}

fn template_text(template: Option<&str>) -> String {
    template.map(|t| format!(" \"{t}\"")).unwrap_or_default()
}

/// "an" before a word that starts with a vowel letter, or with a letter read as one ("an email",
/// "an sms", "a push"), else "a".
fn article(word: &str) -> &'static str {
    let lower = word.to_ascii_lowercase();
    if lower.starts_with(['a', 'e', 'i', 'o', 'u']) || lower == "sms" || lower.starts_with("sms ") {
        "an"
    } else {
        "a"
    }
}

/// The messages of the log so far, described for a failure.
fn log_text(engine: &Engine, channel: &str) -> String {
    let seen: Vec<String> = engine
        .message_log()
        .iter()
        .filter(|m| m.channel == channel)
        .map(|m| format!("\"{}\" to {} {}", m.template, m.to.as_deref().unwrap_or("(no address)"), m.outcome))
        .collect();
    if seen.is_empty() {
        format!("no message went through {channel}")
    } else {
        format!("the {channel} messages were: {}", seen.join(", "))
    }
}

/// `expect sent` (and `expect no sent`, with `times` 0); the most recent match, as `as m` binds it.
fn expect_sent(
    engine: &Engine,
    channel: &str,
    template: Option<&str>,
    to: Option<&str>,
    times: Option<i64>,
) -> Result<Option<Value>, String> {
    let matching: Vec<&crate::engine::messages::MessageRecord> = engine
        .message_log()
        .iter()
        .filter(|m| m.outcome == "sent" && m.channel == channel)
        .filter(|m| template.is_none_or(|t| m.template == t))
        .filter(|m| to.is_none_or(|t| m.to.as_deref() == Some(t)))
        .collect();
    let n = matching.len() as i64;
    let what =
        format!("{channel}{}{}", template_text(template), to.map(|t| format!(" to \"{t}\"")).unwrap_or_default());
    match times {
        Some(0) if n > 0 => Err(format!(
            "expected no {what} message sent, but {n} {} sent ({})",
            if n == 1 { "was" } else { "were" },
            log_text(engine, channel)
        )),
        Some(want) if n != want => Err(format!(
            "expected {want} {what} message{} sent, but {n} {} ({})",
            if want == 1 { "" } else { "s" },
            if n == 1 { "was" } else { "were" },
            log_text(engine, channel)
        )),
        None if n == 0 => {
            Err(format!("expected {} {what} message sent, but {}", article(&what), log_text(engine, channel)))
        }
        _ => Ok(matching.last().map(|m| crate::engine::messages::bound(m))),
    }
}

fn expect_suppressed(engine: &Engine, channel: &str, template: Option<&str>, reason: &str) -> Result<(), String> {
    let want = format!("suppressed:{reason}");
    let found = engine
        .message_log()
        .iter()
        .any(|m| m.channel == channel && m.outcome == want && template.is_none_or(|t| m.template == t));
    if found {
        Ok(())
    } else {
        Err(format!(
            "expected {} {channel}{} message suppressed because \"{reason}\", but {}",
            article(channel),
            template_text(template),
            log_text(engine, channel)
        ))
    }
}

fn paths(engine: &Engine) -> Vec<String> {
    let program = &engine.image().program;
    // A split names the arm the profile took.
    let describe = |j: u16, path: &[u32], profile: &str| -> String {
        let journey = &program.journeys[j as usize];
        path.iter()
            .filter_map(|n| crate::engine::report::path_label(journey, *n, profile))
            .collect::<Vec<_>>()
            .join(" -> ")
    };
    let mut out: Vec<(u64, String)> = engine
        .finished()
        .iter()
        .map(|f| {
            let name = &program.journeys[f.journey as usize].name;
            let end = match f.ended.outcome.label() {
                Some(l) => format!("ended \"{l}\""),
                None => "ended".into(),
            };
            let p = describe(f.journey, &f.path, &f.profile);
            (f.id, if p.is_empty() { format!("{name}: {end}") } else { format!("{name}: {p} => {end}") })
        })
        .collect();
    for i in engine.live() {
        let name = &program.journeys[i.journey as usize].name;
        let p = describe(i.journey, engine.path_of(i.id).unwrap_or(&[]), &i.profile);
        out.push((i.id, format!("{name}: {p} => running")));
    }
    out.sort();
    out.into_iter().map(|(_, s)| s).collect()
}
