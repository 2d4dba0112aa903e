//! Bad bytecode: damaged and tampered artifacts are refused with a clear error ("rebuild it with
//! `journey build`") by the loader and by `journey disasm`, never with a panic; and whatever the
//! verifier accepts runs without one (the interpreter trusts verified code).
//!
//! The artifact is the examples project's. Mutations: random byte flips and truncation of the
//! encoded artifact, and structural changes to the decoded program (out-of-range operands and
//! table entries, instructions replaced, removed, inserted or swapped, tables shortened),
//! re-encoded.

use journey_bytecode::artifact::{self, Artifact};
use journey_bytecode::{AuthCode, Code, MockResult, Op, Program, TestStep, UrlPart};
use journey_vm::engine::{CallOutcome, Engine, Options, Payload, To};
use journey_vm::http::HttpExecutor;
use journey_vm::machine::Image;
use journey_vm::value::Value;
use proptest::prelude::*;
use serde_json::Value as Json;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, OnceLock};

struct Examples {
    /// The artifact `journey build` writes for the examples.
    bytes: Vec<u8>,
    /// Its program.
    program: Program,
    /// (event, payload) in order.
    events: Vec<(String, Json)>,
    /// (key, attributes).
    profiles: Vec<(String, Json)>,
    /// A dry-run executor, to build each action's request.
    executor: HttpExecutor,
}

fn examples() -> &'static Examples {
    static E: OnceLock<Examples> = OnceLock::new();
    E.get_or_init(|| {
        let dir = PathBuf::from("examples");
        let loaded = journey_compiler::project::load(std::slice::from_ref(&dir)).expect("examples load");
        let registry = journey_compiler::SchemaRegistry::new(&loaded.config.schema_paths).expect("schemas");
        let checked =
            journey_compiler::check(&loaded.sources, &loaded.journey_files, &registry, &loaded.config.defaults);
        assert!(!checked.has_errors(), "the examples check");
        let program = journey_compiler::codegen::compile(&checked.program, &loaded.sources);
        let hash = journey_compiler::artifact::source_hash(&loaded.sources, &loaded.journey_files);
        let bytes = artifact::to_bytes(&artifact::artifact(program.clone(), Vec::new(), hash));
        let lines = |file: &str| -> Vec<Json> {
            std::fs::read_to_string(dir.join(file))
                .expect("examples data")
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()
        };
        let events = lines("events.jsonl")
            .into_iter()
            .filter_map(|l| Some((l["event"].as_str()?.to_string(), l.get("payload")?.clone())))
            .collect();
        let profiles = lines("profiles.jsonl")
            .into_iter()
            .filter_map(|l| Some((l["key"].as_str()?.to_string(), l.get("attributes")?.clone())))
            .collect();
        let executor = HttpExecutor::builder().dry_run(true).no_proxy().build().expect("executor");
        Examples { bytes, program, events, profiles, executor }
    })
}

/// Whether a refusal says what to do: rebuild (with `journey build`, or with a `journey` that has
/// every function the program calls).
fn clear(message: &str) -> bool {
    message.contains("rebuild it with `journey build`")
        || message.contains("build one with `journey build`")
        || message.contains("rebuild it with a matching `journey`")
}

/// Loads an artifact as the runtime does; a loaded one is disassembled and run.
fn load_and_run(bytes: &[u8]) -> Result<bool, String> {
    let a = match artifact::from_bytes(bytes) {
        Ok(a) => a,
        Err(e) => {
            let message = e.to_string();
            return if clear(&message) { Ok(false) } else { Err(format!("unclear refusal: {message}")) };
        }
    };
    journey_bytecode::disasm::disassemble(&a.program);
    match Image::load(a.program) {
        Ok(image) => {
            exercise(Arc::new(image));
            Ok(true)
        }
        Err(e) if clear(&e.to_string()) => Ok(false),
        Err(e) => Err(format!("unclear refusal: {e}")),
    }
}

/// Runs every part of a loaded program: the examples' events through the engine (calls
/// answered in turn, the clock moved on), each test, and each action's request.
fn exercise(image: Arc<Image>) {
    let ex = examples();
    let start = 1_778_572_800_000; // 2026-05-12T08:00:00Z
    let mut engine = Engine::new(image.clone(), start, Options { keep_paths: true, ..Options::default() });
    for (key, attributes) in &ex.profiles {
        engine.set_profile(key, Value::from_json(attributes));
    }
    for audience in &image.program.audiences {
        engine.audience_enter(audience, "ann@example.com");
    }
    let mut answer = 0u32;
    let mut settle = |engine: &mut Engine| {
        for _ in 0..8 {
            let calls = engine.take_calls();
            if calls.is_empty() {
                break;
            }
            for c in calls {
                answer += 1;
                let outcome = match answer % 3 {
                    0 => CallOutcome::Ok(Value::Null),
                    1 => CallOutcome::Error("refused".into()),
                    _ => CallOutcome::Timeout("slow".into()),
                };
                engine.complete_call(c.instance, outcome);
            }
        }
    };
    for (i, (event, payload)) in ex.events.iter().enumerate() {
        engine.advance(start + i as i64 * 3_600_000, true);
        let _ = engine.deliver(event, Payload::Json(payload), To::Key);
        settle(&mut engine);
    }
    for day in 1..=40 {
        engine.advance(start + day * 86_400_000, true);
        settle(&mut engine);
    }
    for test in &image.program.tests {
        journey_vm::testing::run_test(&image, test);
    }
    for (i, http) in image.program.http.iter().enumerate() {
        let args = vec![Value::str("x"); http.params.len()];
        let _ = ex.executor.prepare(&image, i as u32, &args, "k");
    }
}

#[test]
fn the_examples_artifact_loads_and_runs() {
    assert_eq!(load_and_run(&examples().bytes), Ok(true));
}

// ------------------------------------------------------------------------------------------------
// Structural mutations of the program.
// ------------------------------------------------------------------------------------------------

/// Every code vector of a program.
fn codes(p: &mut Program) -> Vec<&mut Code> {
    let mut out: Vec<&mut Code> = Vec::new();
    out.extend(p.events.iter_mut().map(|e| &mut e.code));
    out.extend(p.http.iter_mut().map(|h| &mut h.code));
    out.extend(p.journeys.iter_mut().map(|j| &mut j.code));
    out.extend(p.tests.iter_mut().map(|t| &mut t.code));
    out
}

/// A value near a table of `len` entries: inside, at its end, beyond it, or far away.
fn near(len: usize, pick: u32) -> u32 {
    let len = len as u32;
    match pick % 7 {
        0 => 0,
        1 => len.saturating_sub(1),
        2 => len,
        3 => len + 1,
        4 => u16::MAX as u32,
        5 => u32::MAX,
        _ => pick / 7 % (len + 2),
    }
}

/// Instructions to put in, with operands near the tables' sizes.
fn some_op(p: &Program, code_len: usize, pick: u32) -> Op {
    let v = pick / 64;
    match pick % 32 {
        0 => Op::Const(near(p.consts.len(), v)),
        1 => Op::Local(near(4, v) as u16),
        2 => Op::SetLocal(near(4, v) as u16),
        3 => Op::Field(near(p.names.len(), v)),
        4 => Op::Call(near(p.functions.len(), v) as u16, (v % 4) as u8),
        5 => Op::MakeRecord(near(p.shapes.len(), v)),
        6 => Op::MakeList(v % 4),
        7 => Op::Concat((v % 4) as u16),
        8 => Op::Jump(near(code_len, v)),
        9 => Op::JumpIfFalse(near(code_len, v)),
        10 => Op::JumpIfNotNull(near(code_len, v)),
        11 => Op::Lambda(v % 3),
        12 => Op::EventPath(near(3, v) as u16),
        13 => Op::Node(v % 4),
        14 => Op::Await(v % 3),
        15 => Op::ActionCall(v % 3),
        16 => Op::Split(v % 2),
        17 => Op::Cap(v % 2),
        18 => Op::UpdateProfile(v % 2),
        19 => Op::End(near(p.names.len(), v)),
        20 => Op::Wait,
        21 => Op::Ret,
        22 => Op::Pop,
        23 => Op::Add,
        24 => Op::Index,
        25 => Op::Event,
        26 => Op::Profile,
        27 => Op::InRange(v & 1 == 0),
        28 => Op::JumpJourney(near(p.names.len(), v)),
        29 => Op::Secret(near(p.names.len(), v)),
        30 => Op::And,
        _ => Op::Not,
    }
}

/// The same instruction with its operand (if it has one) set to `v`.
fn with_operand(op: Op, v: u32) -> Op {
    match op {
        Op::Const(_) => Op::Const(v),
        Op::Local(_) => Op::Local(v as u16),
        Op::SetLocal(_) => Op::SetLocal(v as u16),
        Op::EventPath(_) => Op::EventPath(v as u16),
        Op::Field(_) => Op::Field(v),
        Op::Call(_, argc) if v & 1 == 0 => Op::Call(v as u16, argc),
        Op::Call(f, _) => Op::Call(f, v as u8),
        Op::Secret(_) => Op::Secret(v),
        Op::Concat(_) => Op::Concat(v as u16),
        Op::MakeList(_) => Op::MakeList(v),
        Op::MakeRecord(_) => Op::MakeRecord(v),
        Op::Jump(_) => Op::Jump(v),
        Op::JumpIfFalse(_) => Op::JumpIfFalse(v),
        Op::JumpIfNotNull(_) => Op::JumpIfNotNull(v),
        Op::JumpIfFalseKeep(_) => Op::JumpIfFalseKeep(v),
        Op::JumpIfTrueKeep(_) => Op::JumpIfTrueKeep(v),
        Op::Lambda(_) => Op::Lambda(v),
        Op::Node(_) => Op::Node(v),
        Op::Await(_) => Op::Await(v),
        Op::ActionCall(_) => Op::ActionCall(v),
        Op::Split(_) => Op::Split(v),
        Op::Cap(_) => Op::Cap(v),
        Op::UpdateProfile(_) => Op::UpdateProfile(v),
        Op::JumpJourney(_) => Op::JumpJourney(v),
        Op::End(_) => Op::End(v),
        other => other,
    }
}

/// One structural change, chosen by `kind`, placed by `at`, valued by `pick`.
fn mutate(p: &mut Program, kind: u8, at: u32, pick: u32) {
    let at = at as usize;
    match kind % 14 {
        // An operand near or beyond its table.
        0 => {
            let mut codes = codes(p);
            let n = codes.len();
            let code = &mut codes[at % n];
            if !code.ops.is_empty() {
                let i = pick as usize % code.ops.len();
                let len = code.ops.len();
                code.ops[i] = with_operand(code.ops[i], near(len.max(8), pick / 13));
            }
        }
        // An instruction replaced, removed, inserted, or two swapped.
        1..=4 => {
            let op = some_op(p, 64, pick);
            let mut codes = codes(p);
            let n = codes.len();
            let code = &mut codes[at % n];
            if code.ops.is_empty() {
                return;
            }
            let i = pick as usize % code.ops.len();
            let j = (pick as usize / 7) % code.ops.len();
            match kind % 14 {
                1 => code.ops[i] = op,
                2 => {
                    code.ops.remove(i);
                }
                3 => code.ops.insert(i, op),
                _ => code.ops.swap(i, j),
            }
        }
        // A lambda's body or slot.
        5 => {
            let mut codes = codes(p);
            let n = codes.len();
            let code = &mut codes[at % n];
            let (len, lambdas) = (code.ops.len(), code.lambdas.len().max(1));
            if let Some(l) = code.lambdas.get_mut(pick as usize % lambdas) {
                if pick & 1 == 0 {
                    l.body = near(len, pick / 2);
                } else {
                    l.slot = near(8, pick / 2) as u16;
                }
            }
        }
        // A journey's tables: awaits, calls, splits, caps, updates, sizes.
        6..=9 => {
            let nj = p.journeys.len();
            let nh = p.http.len();
            let j = &mut p.journeys[at % nj];
            let len = j.code.ops.len();
            let v = near(len, pick / 16);
            match (kind % 14, pick % 4) {
                (6, 0) => j.awaits.iter_mut().flat_map(|a| &mut a.arms).for_each(|arm| arm.target = v),
                (6, 1) => j.awaits.iter_mut().flat_map(|a| &mut a.arms).for_each(|arm| arm.slot = Some(v as u16)),
                (6, 2) => j.awaits.iter_mut().flat_map(|a| &mut a.arms).for_each(|arm| arm.condition = Some(v)),
                (6, _) => j.awaits.iter_mut().for_each(|a| a.after = Some((v, near(len, pick / 7)))),
                (7, 0) => j.calls.iter_mut().for_each(|c| c.http = near(nh, pick / 16)),
                (7, 1) => j.calls.iter_mut().for_each(|c| c.next = v),
                (7, 2) => j.calls.iter_mut().for_each(|c| c.given.push(true)),
                (7, _) => j.calls.iter_mut().for_each(|c| c.on_error = Some(v)),
                (8, 0) => j.splits.iter_mut().flat_map(|s| &mut s.branches).for_each(|b| b.2 = v),
                (8, 1) => j.caps.iter_mut().for_each(|c| c.otherwise = v),
                (8, 2) => j.updates.iter_mut().for_each(|u| u.truncate(u.len().saturating_sub(1))),
                (8, _) => j.updates.iter_mut().flatten().for_each(Vec::clear),
                (_, 0) => j.locals = j.locals.saturating_sub(1),
                (_, 1) => {
                    j.event_paths.pop();
                }
                (_, 2) => {
                    j.nodes.pop();
                }
                _ => j.calls.iter_mut().for_each(|c| c.slot = Some(j.locals)),
            }
        }
        // An event's `key` or `when`.
        10 => {
            let n = p.events.len();
            let e = &mut p.events[at % n];
            let v = near(e.code.ops.len(), pick / 2);
            if pick & 1 == 0 {
                e.key = Some(v);
            } else {
                e.when = Some(v);
            }
        }
        // An action's option chunks.
        11 => {
            let n = p.http.len();
            let h = &mut p.http[at % n];
            let v = near(h.code.ops.len(), pick / 4);
            match pick % 4 {
                0 => h.url.iter_mut().for_each(|part| {
                    if let UrlPart::Param { value, .. } = part {
                        *value = v
                    }
                }),
                1 => h.headers.iter_mut().chain(&mut h.query).for_each(|(_, a)| *a = v),
                2 => h.body = Some(v),
                _ => h.auth = AuthCode::Bearer(v),
            }
        }
        // A test's values.
        12 => {
            let n = p.tests.len();
            let t = &mut p.tests[at % n];
            let v = near(t.code.ops.len(), pick);
            for step in &mut t.steps {
                match step {
                    TestStep::Profile { attributes: a, .. }
                    | TestStep::Send { payload: a, .. }
                    | TestStep::Mock { result: MockResult::Value(a), .. } => *a = v,
                    TestStep::ExpectCall { args, .. } => *args = Some(v),
                    _ => {}
                }
            }
        }
        // The shared tables.
        _ => match pick % 5 {
            0 => {
                p.consts.pop();
            }
            1 => {
                p.names.pop();
            }
            2 => p.shapes.iter_mut().for_each(|s| s.push(near(p.names.len(), pick / 5))),
            3 => {
                p.functions.pop();
            }
            _ => {
                if let Some(f) = p.functions.first_mut() {
                    *f = "noSuchFunction".into();
                }
            }
        },
    }
}

fn encode(program: Program) -> Vec<u8> {
    let a = Artifact {
        header: artifact::artifact(Program::default(), Vec::new(), "test".into()).header,
        program,
        canvases: Vec::new(),
    };
    artifact::to_bytes(&a)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn tampered_programs_are_refused_or_run(changes in proptest::collection::vec((any::<u8>(), any::<u32>(), any::<u32>()), 1..4)) {
        let mut program = examples().program.clone();
        for (kind, at, pick) in &changes {
            mutate(&mut program, *kind, *at, *pick);
        }
        let outcome = load_and_run(&encode(program));
        prop_assert!(outcome.is_ok(), "{:?}: {:?}", changes, outcome);
    }

    #[test]
    fn damaged_artifacts_are_refused_or_run(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6), cut in any::<usize>(), truncate in any::<bool>()) {
        let mut bytes = examples().bytes.clone();
        for (at, x) in &flips {
            let i = at % bytes.len();
            bytes[i] ^= x | 1;
        }
        if truncate {
            bytes.truncate(cut % bytes.len());
        }
        let outcome = load_and_run(&bytes);
        prop_assert!(outcome.is_ok(), "{:?}", outcome);
    }
}

/// Each instruction operand set just beyond its table is refused: every kind of instruction with
/// an operand, in every piece of code.
#[test]
fn every_operand_beyond_its_table_is_refused() {
    let base = &examples().program;
    let mut refused = 0;
    let count = codes(&mut base.clone()).len();
    for c in 0..count {
        let code = codes(&mut base.clone())[c].clone();
        let mut seen = std::collections::HashSet::new();
        for (i, op) in code.ops.iter().enumerate() {
            // Local slots and event paths are `u16`s: the largest is beyond any table here.
            let beyond = match op {
                Op::Const(_) => base.consts.len() as u32,
                Op::Field(_) | Op::Secret(_) | Op::JumpJourney(_) => base.names.len() as u32,
                Op::End(n) if *n != journey_bytecode::NO_LABEL => base.names.len() as u32,
                Op::Call(..) => base.functions.len() as u32,
                Op::MakeRecord(_) => base.shapes.len() as u32,
                Op::Jump(_)
                | Op::JumpIfFalse(_)
                | Op::JumpIfNotNull(_)
                | Op::JumpIfFalseKeep(_)
                | Op::JumpIfTrueKeep(_) => code.ops.len() as u32,
                Op::Lambda(_) => code.lambdas.len() as u32,
                Op::Local(_) | Op::SetLocal(_) | Op::EventPath(_) => u16::MAX as u32,
                Op::Node(_) | Op::Await(_) | Op::ActionCall(_) | Op::Split(_) | Op::Cap(_) | Op::UpdateProfile(_) => {
                    u16::MAX as u32
                }
                _ => continue,
            };
            if !seen.insert(std::mem::discriminant(op)) {
                continue;
            }
            let mut program = base.clone();
            codes(&mut program)[c].ops[i] = with_operand(*op, beyond);
            match artifact::from_bytes(&encode(program)) {
                Err(e) if clear(&e.to_string()) => refused += 1,
                other => {
                    panic!("code {c} at {i}: {op:?} with operand {beyond} was not refused: {:?}", other.map(|_| ()))
                }
            }
        }
    }
    assert!(refused > 100, "only {refused} operands tried");
}

/// `journey disasm` refuses a damaged, a tampered and a wrong-version artifact with a clear
/// error and exit code 2.
#[test]
fn disasm_refuses_bad_artifacts_clearly() {
    let ex = examples();
    let dir = std::env::temp_dir().join(format!("journey-bad-bytecode-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut tampered = ex.program.clone();
    if let Some(op) = tampered.journeys[0].code.ops.iter_mut().find(|op| matches!(op, Op::Node(_))) {
        *op = Op::Const(tampered.consts.len() as u32 + 5);
    }
    let mut version = ex.bytes.clone();
    version[8] = 1;
    let cases = [
        ("truncated.jbc", ex.bytes[..ex.bytes.len() / 2].to_vec(), "the artifact is damaged"),
        ("tampered.jbc", encode(tampered), "the artifact holds invalid bytecode: journey"),
        ("version.jbc", version, "artifact format version 1 is not supported"),
    ];
    for (name, bytes, says) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write");
        let o = Command::new(env!("CARGO_BIN_EXE_journey")).arg("disasm").arg(&path).output().expect("journey runs");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(says) && clear(&err), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(o.stdout.is_empty(), "{name}: nothing is printed");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
