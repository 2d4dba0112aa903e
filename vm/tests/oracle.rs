//! Differential and robustness property tests of the runtime.
//!
//! - The oracle: random well-typed expressions, written as source text, go through the real
//!   pipeline (parse, check into the typed IR, compile to bytecode) and are evaluated by both the
//!   reference evaluator (`support/reference.rs`) and the bytecode VM (`machine.rs`); the results
//!   must agree.
//! - The engine's input path: `Engine::send` never panics, whatever JSON payload arrives for any
//!   event of the examples project, and whatever the calls answer and the clock does.

#[path = "support/json_fuzz.rs"]
mod json_fuzz;
#[path = "support/reference.rs"]
mod reference;

use journey_compiler::sources::Sources;
use journey_compiler::types::Ty;
use journey_compiler::SchemaRegistry;
use journey_vm::engine::{CallOutcome, Engine, Options, Payload, To};
use journey_vm::library::EvalContext;
use journey_vm::machine::{Expression, Image};
use journey_vm::value::Value;
use json_fuzz::{arb_json, mutate};
use proptest::prelude::*;
use reference::{eval, Env};
use serde_json::{json, Value as Json};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

// ------------------------------------------------------------------------------------------------
// Expression generator: typed, driven by a byte string so that shrinking the bytes toward zero
// shrinks the expression toward its simplest leaves.
// ------------------------------------------------------------------------------------------------

struct Gen<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Lambda parameters in scope (all of type int).
    vars: Vec<String>,
    next_var: usize,
}

const STRINGS: &[&str] = &["", "a", "Ab c", " x ", "héllo", "a,b", "2026-03-29", "12", "3.5", "true", "A"];
const INTS: &[&str] = &["0", "1", "2", "3", "7", "10", "42", "1_000", "9223372036854775807", "4611686018427387904"];
const NUMS: &[&str] = &["0.0", "0.5", "1.5", "2.25", "1e-3", "3.0", "1e300", "100.0"];
const DURS: &[&str] = &["0s", "500ms", "30s", "15m", "2h", "1d", "1d12h", "2w"];
const DTS: &[&str] = &[
    "2026-01-01T00:00:00Z",
    "2026-03-29T01:30:00Z",
    "2026-10-25T00:30:00+02:00",
    "2026-12-24T10:00:00+01:00",
    "2024-02-29T23:59:59Z",
];
const ZONES: &[&str] = &["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"];

impl<'a> Gen<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Gen { bytes, pos: 0, vars: Vec::new(), next_var: 0 }
    }

    /// A choice in `0..n`; 0 (the simplest) once the bytes run out.
    fn pick(&mut self, n: usize) -> usize {
        let Some(b) = self.bytes.get(self.pos) else { return 0 };
        self.pos += 1;
        *b as usize % n
    }

    fn of<'s>(&mut self, items: &[&'s str]) -> &'s str {
        items[self.pick(items.len())]
    }

    fn int(&mut self, d: u32) -> String {
        let choice = if d == 0 { 0 } else { self.pick(20) };
        match choice {
            0 | 1 => {
                if !self.vars.is_empty() && self.pick(2) == 1 {
                    let i = self.pick(self.vars.len());
                    self.vars[i].clone()
                } else {
                    self.of(INTS).to_string()
                }
            }
            2 => format!("({} + {})", self.int(d - 1), self.int(d - 1)),
            3 => format!("({} - {})", self.int(d - 1), self.int(d - 1)),
            4 => format!("({} * {})", self.int(d - 1), self.int(d - 1)),
            5 => format!("({} / {})", self.int(d - 1), self.int(d - 1)),
            6 => format!("({} % {})", self.int(d - 1), self.int(d - 1)),
            7 => format!("(-{})", self.int(d - 1)),
            8 => format!("(if {} then {} else {})", self.boolean(d - 1), self.int(d - 1), self.int(d - 1)),
            9 => format!("({} ?? {})", self.int_opt(d - 1), self.int(d - 1)),
            10 => format!("count({})", self.list_nullable(d - 1)),
            11 => format!("length({})", self.string(d - 1)),
            12 => format!("abs({})", self.int(d - 1)),
            13 => format!("round({})", self.num(d - 1)),
            14 => format!("listSize({})", self.list_nullable(d - 1)),
            15 => format!("indexOf({}, {})", self.string(d - 1), self.string(d - 1)),
            16 => format!("{}.n", self.record(d - 1)),
            17 => format!("floor({})", self.num(d - 1)),
            18 => format!("dayOfWeek({})", self.datetime(d - 1)),
            _ => format!("sum({})", self.list(d - 1)),
        }
    }

    /// An `int?`.
    fn int_opt(&mut self, d: u32) -> String {
        let choice = if d == 0 { 0 } else { self.pick(10) };
        match choice {
            0 => "null".into(),
            1 => self.int(d - 1),
            2 => format!("first({})", self.lambda_args(d - 1)),
            3 => format!("last({})", self.lambda_args(d - 1)),
            4 => format!("getListItem({}, {})", self.list(d - 1), self.int(d - 1)),
            5 => format!("at({}, {})", self.list(d - 1), self.int(d - 1)),
            6 => format!("toInteger({})", self.string(d - 1)),
            7 => format!("max({})", self.list(d - 1)),
            8 => format!("{}[{}]", self.list(d - 1), self.int(d - 1)),
            _ => format!("{}[\"n\"]", self.record(d - 1)),
        }
    }

    fn num(&mut self, d: u32) -> String {
        let choice = if d == 0 { 0 } else { self.pick(11) };
        match choice {
            0 => self.of(NUMS).to_string(),
            1 => format!("({} * {})", self.num(d - 1), self.num(d - 1)),
            2 => format!("({} / {})", self.num(d - 1), self.num(d - 1)),
            3 => format!("({} + {})", self.int(d - 1), self.num(d - 1)),
            4 => format!("({} - {})", self.num(d - 1), self.int(d - 1)),
            5 => format!("({} / 0.0)", self.num(d - 1)),
            6 => format!("(toDecimal({}) ?? 0.0)", self.string(d - 1)),
            7 => format!("(avg({}) ?? 1.0)", self.list(d - 1)),
            8 => format!("(-{})", self.num(d - 1)),
            9 => format!("({} % {})", self.num(d - 1), self.num(d - 1)),
            _ => format!("(if {} then {} else {})", self.boolean(d - 1), self.num(d - 1), self.num(d - 1)),
        }
    }

    fn string(&mut self, d: u32) -> String {
        let choice = if d == 0 { 0 } else { self.pick(17) };
        match choice {
            0 => format!("{:?}", self.of(STRINGS)),
            1 => format!("({} + {})", self.string(d - 1), self.string(d - 1)),
            2 => format!("({} + {})", self.string(d - 1), self.int(d - 1)),
            3 => format!("({} + {})", self.num(d - 1), self.string(d - 1)),
            4 => format!("\"<${{{}}}|${{{}}}>\"", self.int(d - 1), self.string(d - 1)),
            5 => format!("upper({})", self.string(d - 1)),
            6 => format!("lower({})", self.string(d - 1)),
            7 => format!("trim({})", self.string(d - 1)),
            8 => format!("substr({}, {}, {})", self.string(d - 1), self.int(d - 1), self.int(d - 1)),
            9 => format!("toString({})", self.any(d - 1)),
            10 => format!("concat({}, {})", self.string(d - 1), self.string(d - 1)),
            11 => format!("replaceAll({}, \"a\", {})", self.string(d - 1), self.string(d - 1)),
            12 => format!("({} ?? {})", self.string_opt(d - 1), self.string(d - 1)),
            13 => format!("(if {} then {} else {})", self.boolean(d - 1), self.string(d - 1), self.string(d - 1)),
            14 => format!("serializeList({}, \",\", {})", self.list_nullable(d - 1), self.boolean(d - 1)),
            15 => format!("{}.s", self.record(d - 1)),
            _ => format!("({} + {})", self.string(d - 1), self.int_opt(d - 1)),
        }
    }

    fn string_opt(&mut self, d: u32) -> String {
        match if d == 0 { 0 } else { self.pick(3) } {
            0 => "null".into(),
            1 => self.string(d - 1),
            _ => format!("{}.missing", if self.pick(2) == 0 { "event" } else { "profile" }),
        }
    }

    fn boolean(&mut self, d: u32) -> String {
        let choice = if d == 0 { self.pick(3) } else { self.pick(28) };
        match choice {
            0 => "true".into(),
            1 => "false".into(),
            2 => "null".into(),
            3 => format!("({} < {})", self.int(d - 1), self.int(d - 1)),
            4 => format!("({} == {})", self.int(d - 1), self.int_opt(d - 1)),
            5 => format!("({} != {})", self.string(d - 1), self.string(d - 1)),
            6 => format!("(not {})", self.boolean(d - 1)),
            7 => format!("({} and {})", self.boolean(d - 1), self.boolean(d - 1)),
            8 => format!("({} or {})", self.boolean(d - 1), self.boolean(d - 1)),
            9 => format!("({} in {})", self.int(d - 1), self.list(d - 1)),
            10 => format!("({} not in {})", self.int(d - 1), self.list(d - 1)),
            11 => format!("({} in {}..{})", self.int(d - 1), self.int(d - 1), self.int(d - 1)),
            12 => format!("({} not in {}..{})", self.int(d - 1), self.int(d - 1), self.int(d - 1)),
            13 => format!("({} is null)", self.int_opt(d - 1)),
            14 => format!("({} is not null)", self.int_opt(d - 1)),
            15 => format!("startWith({}, {})", self.string(d - 1), self.string(d - 1)),
            16 => format!("containIgnoreCase({}, {})", self.string(d - 1), self.string(d - 1)),
            17 => format!("isEmpty({})", self.string(d - 1)),
            18 => format!("({} >= {})", self.num(d - 1), self.int(d - 1)),
            19 => format!("({} has null)", self.list_nullable(d - 1)),
            20 => format!("({} is integer)", self.int_opt(d - 1)),
            21 => format!("({} < {})", self.string(d - 1), self.string(d - 1)),
            22 => format!("({} <= {})", self.datetime(d - 1), self.datetime(d - 1)),
            23 => format!("({} > {})", self.duration(d - 1), self.duration(d - 1)),
            24 => format!("(timeOf({}) in 09:00..18:00)", self.datetime(d - 1)),
            25 => format!("({} == {})", self.record(d - 1), self.record(d - 1)),
            26 => format!("({} ?? {})", self.boolean(d - 1), self.boolean(d - 1)),
            _ => format!("({} == null)", self.string_opt(d - 1)),
        }
    }

    /// A `list<int>` (items may be null).
    fn list(&mut self, d: u32) -> String {
        let choice = if d == 0 { 0 } else { self.pick(9) };
        match choice {
            0 | 1 => {
                let n = self.pick(4);
                let items: Vec<String> = (0..n).map(|_| self.int(d.saturating_sub(1))).collect();
                format!("[{}]", items.join(", "))
            }
            2 => format!("all({})", self.lambda_args(d - 1)),
            3 => format!("distinct({})", self.list(d - 1)),
            4 => format!("sort({}, {})", self.list(d - 1), self.boolean(0)),
            5 => format!("limit({}, {})", self.list(d - 1), self.int(d - 1)),
            6 => format!("intersect({}, {})", self.list(d - 1), self.list(d - 1)),
            7 => format!("{}.l", self.record(d - 1)),
            _ => format!("(if {} then {} else {})", self.boolean(d - 1), self.list(d - 1), self.list(d - 1)),
        }
    }

    /// A list that may hold nulls (`list<int?>`), where any list is taken.
    fn list_nullable(&mut self, d: u32) -> String {
        let n = self.pick(4);
        let items: Vec<String> =
            (0..n).map(|_| if self.pick(3) == 0 { "null".into() } else { self.int(d.saturating_sub(1)) }).collect();
        format!("[{}]", items.join(", "))
    }

    /// `list, x -> condition` with `x` an int in scope in the condition.
    fn lambda_args(&mut self, d: u32) -> String {
        let list = self.list(d);
        let var = format!("x{}", self.next_var);
        self.next_var += 1;
        self.vars.push(var.clone());
        let body = self.boolean(d);
        self.vars.pop();
        format!("{list}, {var} -> {body}")
    }

    /// A record `{ n: int, s: string, l: list<int> }`.
    fn record(&mut self, d: u32) -> String {
        match if d == 0 { 0 } else { self.pick(3) } {
            0 | 1 => format!(
                "{{ n: {}, s: {}, l: {} }}",
                self.int(d.saturating_sub(1)),
                self.string(d.saturating_sub(1)),
                self.list(d.saturating_sub(1))
            ),
            _ => format!("(if {} then {} else {})", self.boolean(d - 1), self.record(d - 1), self.record(d - 1)),
        }
    }

    /// A record read through `event` or `profile` (type `any`), or a literal.
    fn record_any(&mut self, d: u32) -> String {
        match self.pick(3) {
            0 => "event".into(),
            1 => "profile".into(),
            _ => self.record(d),
        }
    }

    fn duration(&mut self, d: u32) -> String {
        match if d == 0 { 0 } else { self.pick(5) } {
            0 => self.of(DURS).to_string(),
            1 => format!("({} + {})", self.duration(d - 1), self.duration(d - 1)),
            2 => format!("({} * {})", self.duration(d - 1), self.int(d - 1)),
            3 => format!("({} - {})", self.datetime(d - 1), self.datetime(d - 1)),
            _ => format!("(-{})", self.duration(d - 1)),
        }
    }

    fn datetime(&mut self, d: u32) -> String {
        match if d == 0 { 0 } else { self.pick(5) } {
            0 => self.of(DTS).to_string(),
            1 => format!("({} + {})", self.datetime(d - 1), self.duration(d - 1)),
            2 => format!("({} - {})", self.datetime(d - 1), self.duration(d - 1)),
            3 => "now()".into(),
            _ => format!("(toDateTime({}) ?? now())", self.string(d - 1)),
        }
    }

    /// Any of the types above.
    fn any(&mut self, d: u32) -> String {
        match self.pick(11) {
            0 => self.int(d),
            1 => self.num(d),
            2 => self.string(d),
            3 => self.boolean(d),
            4 => self.list(d),
            5 => self.record(d),
            6 => self.int_opt(d),
            7 => self.duration(d),
            8 => self.datetime(d),
            9 => self.list_nullable(d),
            _ => format!("{}.n", self.record_any(d)),
        }
    }
}

fn registry() -> &'static SchemaRegistry {
    static R: OnceLock<SchemaRegistry> = OnceLock::new();
    R.get_or_init(|| SchemaRegistry::new(&[]).expect("built-in schemas load"))
}

/// Checks `src` into the typed IR (`event` and `profile` of type `any`).
fn typed(src: &str) -> Result<journey_compiler::ir::Expr, String> {
    let mut sources = Sources::default();
    let file = sources.add("<expr>", "<expr>".into(), src.to_string());
    journey_compiler::check_expr(&sources, file, registry(), Ty::Any, Ty::Any)
        .map_err(|d| d.iter().map(|d| d.render_plain(&sources)).collect::<Vec<_>>().join("\n"))
}

/// A value rendered so that equal results render equally (NaN included) and an int is not
/// confused with an equal number.
fn render(v: &Value) -> String {
    format!("{} {v:?}", v.to_json())
}

/// Evaluates `src` with the reference evaluator and the bytecode VM.
fn both(src: &str, zone: &str) -> Result<(String, String), String> {
    let expr = typed(src)?;
    let event = Value::from_json(&json!({ "n": 5, "s": "ev", "l": [1, 2, null] }));
    let profile = Value::from_json(&json!({ "n": -3, "s": "pr", "l": [] }));
    let tz = jiff::tz::TimeZone::get(zone).expect("zone");
    let now: jiff::Timestamp = "2026-03-29T00:30:00Z".parse().expect("now");
    let ctx = EvalContext::new(now, tz.clone()).with_seed(11);
    let by_eval = eval(&expr, &mut Vec::new(), &Env::new(&event, &profile, &ctx));

    let (program, code) = journey_compiler::codegen::compile_expr(&expr);
    let expression = Expression::load(program, code).map_err(|e| e.to_string())?;
    let ctx = EvalContext::new(now, tz).with_seed(11);
    let by_vm = expression.eval(&event, &profile, &ctx).ok_or_else(|| format!("the VM ran out of budget on {src}"))?;
    Ok((render(&by_eval), render(&by_vm)))
}

/// Generates one expression of a random type from `bytes`.
fn expression(bytes: &[u8], depth: u32) -> String {
    let mut g = Gen::new(bytes);
    g.any(depth)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, max_shrink_iters: 4_000, ..ProptestConfig::default() })]

    #[test]
    fn evaluator_and_vm_agree(bytes in proptest::collection::vec(any::<u8>(), 0..160), depth in 1u32..6, zone in 0usize..4) {
        let src = expression(&bytes, depth);
        match both(&src, ZONES[zone]) {
            Ok((by_eval, by_vm)) => prop_assert_eq!(&by_eval, &by_vm, "{}", src),
            // The generator writes only well-typed expressions: a rejection is a generator bug
            // or a checker bug, either worth seeing.
            Err(why) => prop_assert!(false, "{src} was rejected:\n{why}"),
        }
    }
}

/// Hand-picked expressions around the null rules, short-circuits, division by zero, overflow and
/// lambdas, through both evaluators.
#[test]
fn evaluator_and_vm_agree_on_the_edges() {
    let cases = [
        "false and null",
        "null and false",
        "true or null",
        "null or true",
        "null and true",
        "not null",
        "null ?? null ?? 3",
        "1 / 0",
        "1.5 / 0",
        "7 % 0",
        "-9223372036854775807 - 2",
        "9223372036854775807 + 1",
        "9223372036854775807 * 2",
        "(-9223372036854775807 - 1) / -1",
        "(-9223372036854775807 - 1) % -1",
        "-(-9223372036854775807 - 1)",
        "abs(-9223372036854775807 - 1)",
        "0.0 / 0.0 * 0",
        "1e308 * 10.0",
        "\"a\" + null + 1 + 2.5 + true",
        "\"${null}|${[1, null]}|${{ a: 1 }}\"",
        "[1, null] == [1, null]",
        "null == null",
        "3 in [1, null, 3]",
        "null in [1, null]",
        "2 not in 1..3",
        "first([1, 2, 3], x -> x > 1)",
        "last([1, 2, 3], x -> x < 3)",
        "all([1, 2, 3], x -> first([x, x + 1], y -> y > 2) is not null)",
        "all([1, 2, 3], x -> all([x], y -> x == y) == [x])",
        "first(null, x -> x > 1)",
        "first([null, 2], x -> x > 1)",
        "{ n: 1, s: \"a\" }.n + { n: 2 }[\"n\"]",
        "[10, 20][1] + [10, 20][-1] ?? 0",
        "if null then 1 else 2",
        "2026-03-29T01:30:00Z + 1d",
        "dayOfWeek(2026-03-29T23:30:00Z)",
        "timeOf(2026-03-29T01:30:00Z)",
        "substr(\"héllo\", 1, 3)",
        "substr(\"abc\", 5, 1)",
        "substr(\"abc\", -1, 99)",
        "toInteger(\"9223372036854775808\")",
        "round(1e300)",
        "floor(-1e300)",
        "sum([9223372036854775807, 1])",
        "avg([])",
        "limit([1, 2, 3], -1)",
        "2h * 9223372036854775807",
        "2026-01-01T00:00:00Z + 9223372036854775807ms",
    ];
    let mut failures = Vec::new();
    for zone in ZONES {
        for src in cases {
            match both(src, zone) {
                Ok((a, b)) if a != b => failures.push(format!("{src} in {zone}: evaluator {a}, VM {b}")),
                Ok(_) => {}
                Err(why) => failures.push(format!("{src}: {why}")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The generator's output checks: most expressions of every depth are accepted (this keeps the
/// property test from silently testing only leaves).
#[test]
fn generated_expressions_are_well_typed() {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rejected = Vec::new();
    for i in 0..500 {
        let bytes: Vec<u8> = (0..120)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        let src = expression(&bytes, 1 + i % 5);
        if let Err(why) = typed(&src) {
            rejected.push(format!("{src}\n{why}"));
        }
    }
    let mut kinds: Vec<String> =
        rejected.iter().filter_map(|r| r.lines().find(|l| l.starts_with("error")).map(str::to_string)).collect();
    kinds.sort();
    kinds.dedup();
    assert!(
        rejected.is_empty(),
        "{} rejected:\n{}\ne.g. {}",
        rejected.len(),
        kinds.join("\n"),
        rejected.first().cloned().unwrap_or_default()
    );
}

// ------------------------------------------------------------------------------------------------
// The engine's input path.
// ------------------------------------------------------------------------------------------------

struct Examples {
    image: Arc<Image>,
    /// Every event of the project with the payloads its tests and events file send.
    events: Vec<(String, Vec<Json>)>,
    profiles: Vec<(String, Json)>,
}

fn examples() -> &'static Examples {
    static E: OnceLock<Examples> = OnceLock::new();
    E.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples");
        let loaded = journey_compiler::project::load(std::slice::from_ref(&dir)).expect("examples load");
        let registry = SchemaRegistry::new(&loaded.config.schema_paths).expect("schemas");
        let checked =
            journey_compiler::check(&loaded.sources, &loaded.journey_files, &registry, &loaded.config.defaults);
        assert!(!checked.has_errors(), "the examples check");
        let program = journey_compiler::codegen::compile(&checked.program, &loaded.sources);
        let ctx = EvalContext::new(jiff::Timestamp::UNIX_EPOCH, jiff::tz::TimeZone::UTC);
        let mut events: Vec<(String, Vec<Json>)> =
            program.events.iter().map(|e| (e.name.clone(), Vec::new())).collect();
        for t in &checked.program.tests {
            for s in &t.stmts {
                if let journey_compiler::ir::TestStmt::Send { event, payload, .. } = s {
                    let v = eval(payload, &mut Vec::new(), &Env::new(&Value::Null, &Value::Null, &ctx)).to_json();
                    if let Some((_, ps)) = events.iter_mut().find(|(n, _)| n == event) {
                        ps.push(v);
                    }
                }
            }
        }
        let lines = std::fs::read_to_string(dir.join("events.jsonl")).unwrap_or_default();
        for line in lines.lines().filter_map(|l| serde_json::from_str::<Json>(l).ok()) {
            if let (Some(name), Some(p)) = (line["event"].as_str(), line.get("payload")) {
                if let Some((_, ps)) = events.iter_mut().find(|(n, _)| n == name) {
                    ps.push(p.clone());
                }
            }
        }
        let profiles = std::fs::read_to_string(dir.join("profiles.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Json>(l).ok())
            .filter_map(|p| Some((p["key"].as_str()?.to_string(), p["attributes"].clone())))
            .collect();
        Examples { image: Arc::new(Image::load(program).expect("image loads")), events, profiles }
    })
}

#[derive(Debug, Clone)]
enum Step {
    /// Send event `i` with a mutation of one of its seed payloads (or a payload of its own).
    Send { event: usize, seed: usize, path: u32, with: Json, whole: bool },
    /// Advance the clock.
    After(i64),
    /// Answer the calls in flight.
    Answer(u8),
    /// Audience changes.
    Audience { audience: usize, profile: usize, enters: bool },
}

fn arb_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (any::<usize>(), any::<usize>(), any::<u32>(), arb_json(), proptest::bool::weighted(0.2))
            .prop_map(|(event, seed, path, with, whole)| Step::Send { event, seed, path, with, whole }),
        2 => prop_oneof![Just(0i64), 1i64..3_600_000, 3_600_000i64..40 * 86_400_000].prop_map(Step::After),
        2 => any::<u8>().prop_map(Step::Answer),
        1 => (any::<usize>(), any::<usize>(), any::<bool>())
            .prop_map(|(audience, profile, enters)| Step::Audience { audience, profile, enters }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Whatever arrives, in whatever order, with whatever answers: the engine never panics, and
    /// what it reports stays consistent.
    #[test]
    fn the_engine_never_panics_on_any_input(steps in proptest::collection::vec(arb_step(), 1..40)) {
        let ex = examples();
        let start = "2026-05-12T08:00:00Z".parse::<jiff::Timestamp>().expect("start").as_millisecond();
        let mut engine = Engine::new(ex.image.clone(), start, Options { keep_paths: true, step_events: true, seed: 3, ..Options::default() })
            .with_secrets(|_| Some("s".into()));
        let profile_ty = ex.image.program.profile.clone();
        for (k, attrs) in &ex.profiles {
            let v = match &profile_ty {
                Some(t) => Value::from_json_typed(attrs, t),
                None => Value::from_json(attrs),
            };
            engine.set_profile(k, v);
        }
        let audiences = ex.image.program.audiences.clone();
        let keys = ["ann@example.com", "ben@example.com", "cara@example.com", "dan@example.com", ""];
        for step in steps {
            match step {
                Step::Send { event, seed, path, with, whole } => {
                    let (name, seeds) = &ex.events[event % ex.events.len()];
                    let payload = if whole || seeds.is_empty() {
                        with
                    } else {
                        let mut p = seeds[seed % seeds.len()].clone();
                        mutate(&mut p, path, with);
                        p
                    };
                    let _ = engine.deliver(name, Payload::Json(&payload), To::Key);
                }
                Step::After(ms) => {
                    let to = engine.now_ms() + ms;
                    engine.advance(to, ms % 2 == 0);
                }
                Step::Answer(how) => {
                    for (i, c) in engine.take_calls().into_iter().enumerate() {
                        let outcome = match (usize::from(how) + i) % 4 {
                            0 => CallOutcome::Ok(Value::Null),
                            1 => CallOutcome::Ok(Value::from_json(&json!({
                                "messageId": "m", "id": "i", "code": "C", "items": [{ "sku": "s" }],
                                "available": true, "tier": "gold", "points": 12
                            }))),
                            2 => CallOutcome::Timeout("t".into()),
                            _ => CallOutcome::Error("e".into()),
                        };
                        engine.complete_call(c.instance, outcome);
                    }
                }
                Step::Audience { audience, profile, enters } => {
                    if !audiences.is_empty() {
                        let a = &audiences[audience % audiences.len()];
                        let k = keys[profile % keys.len()];
                        if enters { engine.audience_enter(a, k) } else { engine.audience_exit(a, k) }
                    }
                }
            }
        }
        // Run on: answer every call with an error and fire timers until no instance is left
        // (scheduled audience reads may keep starting new ones: bounded).
        for _ in 0..2_000 {
            let calls = engine.take_calls();
            for c in &calls {
                engine.complete_call(c.instance, CallOutcome::Error("drain".into()));
            }
            if !calls.is_empty() {
                continue;
            }
            if engine.live().next().is_none() {
                break;
            }
            match engine.next_due() {
                Some(due) => engine.advance(due, true),
                None => break,
            }
        }
        let report = engine.report().clone();
        for j in &report.journeys {
            let ended: u64 = j.ended.values().sum();
            prop_assert_eq!(ended + j.running, j.started, "{}: every instance started has ended or runs", &j.journey);
        }
        // Nothing waits on nothing: a live instance waits for a timer or a call.
        let waiting_on_nothing = engine
            .live()
            .filter(|i| matches!(i.waiting, journey_vm::engine::instance::Waiting::Running))
            .count();
        prop_assert_eq!(waiting_on_nothing, 0);
    }
}

/// Every event of the examples project, with payloads of every shape (not objects, wrong types
/// at every field the seeds have, nulls, deep nesting, huge numbers): accepted, filtered or
/// rejected, never a panic.
#[test]
fn every_event_takes_any_payload() {
    let ex = examples();
    let start = "2026-05-12T08:00:00Z".parse::<jiff::Timestamp>().expect("start").as_millisecond();
    let mut engine = Engine::new(ex.image.clone(), start, Options { keep_paths: true, ..Options::default() });
    let odd = [
        json!(null),
        json!([]),
        json!("x"),
        json!(1e308),
        json!({}),
        json!({ "identityMap": null }),
        json!({ "identityMap": { "Email": "ann@example.com" } }),
        json!({ "identityMap": { "Email": [{ "id": 42 }] } }),
        json!({ "identityMap": { "Email": [{ "id": "" }] } }),
        json!({ "customer": { "email": ["a"] }, "status": 7 }),
        json!({ "a": { "b": { "c": { "d": { "e": { "f": [[[[[]]]]] } } } } } }),
        json!({ "timestamp": "not a date", "occurredAt": "2026-02-30T25:61:00Z", "eventType": null }),
    ];
    let fillers =
        [json!(null), json!(-9_223_372_036_854_775_807i64), json!(""), json!([1, "a", null]), json!({ "z": 1 })];
    for (name, seeds) in &ex.events {
        for p in &odd {
            let _ = engine.deliver(name, Payload::Json(p), To::Key);
        }
        for seed in seeds {
            // Each top-level and second-level field replaced by each filler.
            let paths: Vec<Vec<String>> = seed
                .as_object()
                .into_iter()
                .flat_map(|m| {
                    m.iter().flat_map(|(k, v)| {
                        let mut out = vec![vec![k.clone()]];
                        if let Some(inner) = v.as_object() {
                            out.extend(inner.keys().map(|k2| vec![k.clone(), k2.clone()]));
                        }
                        out
                    })
                })
                .collect();
            for path in &paths {
                for f in &fillers {
                    let mut p = seed.clone();
                    let mut at = &mut p;
                    for k in path {
                        at = &mut at[k.as_str()];
                    }
                    *at = f.clone();
                    let _ = engine.deliver(name, Payload::Json(&p), To::Key);
                    for c in engine.take_calls() {
                        engine.complete_call(c.instance, CallOutcome::Ok(Value::Null));
                    }
                }
            }
        }
        let now = engine.now_ms();
        engine.advance(now + 86_400_000, true);
        for c in engine.take_calls() {
            engine.complete_call(c.instance, CallOutcome::Timeout("t".into()));
        }
    }
    assert!(engine.report().events > 0, "some payloads were accepted");
}
