//! `journey eval`: evaluate one expression and print its value as JSON.

use super::project::render;
use super::{Color, FAILED, OK, PROBLEMS};
use journey_compiler::sources::Sources;
use journey_compiler::types::Ty;
use journey_vm::library::{date, EvalContext};
use journey_vm::machine::{Expression, DEFAULT_BUDGET};
use journey_vm::value::Value;
use std::path::PathBuf;

/// Arguments of `journey eval`.
#[derive(clap::Args)]
pub struct Args {
    /// The expression, e.g. 'avg([10, 3, 8])' (quote it for the shell).
    expr: String,
    /// The current instant for `now()` and the date functions (RFC 3339; default: the real clock).
    #[arg(long, value_name = "DATETIME")]
    now: Option<String>,
    /// The time zone for `dayOfWeek`, `timeOf` and local date-times (IANA name).
    #[arg(long, value_name = "TZ", default_value = "UTC")]
    timezone: String,
    /// A JSON file whose value is `event`.
    #[arg(long, value_name = "FILE")]
    event: Option<PathBuf>,
    /// A JSON file whose value is `profile`.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// Seed for `random()` and `uuid()` (the same seed gives the same values).
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn read_json(path: &PathBuf) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        format!("`{}` is not valid JSON at line {}, column {}: {e}", path.display(), e.line(), e.column())
    })?;
    Ok(Value::from_json(&json))
}

/// Runs `journey eval`.
pub fn run(args: Args) -> u8 {
    let now = match &args.now {
        Some(s) => match s.parse::<jiff::Timestamp>() {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: --now `{s}` is not an RFC 3339 date-time ({e}); write e.g. 2026-06-15T12:00:00Z");
                return FAILED;
            }
        },
        None => jiff::Timestamp::now(),
    };
    let Some(tz) = date::zone(&args.timezone) else {
        eprintln!("error: --timezone `{}` is not an IANA time zone; write e.g. Europe/Paris", args.timezone);
        return FAILED;
    };
    let event = match args.event.as_ref().map(read_json).transpose() {
        Ok(v) => v.unwrap_or(Value::Null),
        Err(e) => {
            eprintln!("error: {e}");
            return FAILED;
        }
    };
    let profile = match args.profile.as_ref().map(read_json).transpose() {
        Ok(v) => v.unwrap_or(Value::Null),
        Err(e) => {
            eprintln!("error: {e}");
            return FAILED;
        }
    };
    let registry = match journey_compiler::SchemaRegistry::new(&[]) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return FAILED;
        }
    };
    // Compiled like any other expression and run on the VM.
    let mut sources = Sources::default();
    let file = sources.add("<expr>", "<expr>".into(), args.expr.clone());
    let expr = match journey_compiler::check_expr(&sources, file, &registry, Ty::Any, Ty::Any) {
        Ok(expr) => expr,
        Err(diagnostics) => {
            render(&diagnostics, &sources, Color::Auto);
            return PROBLEMS;
        }
    };
    let (program, code) = journey_compiler::codegen::compile_expr(&expr);
    let expression = match Expression::load(program, code) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return FAILED;
        }
    };
    let ctx = EvalContext::new(now, tz).with_seed(args.seed);
    match expression.eval(&event, &profile, &ctx) {
        Some(v) => {
            println!("{}", v.to_json());
            OK
        }
        None => {
            eprintln!("error: the expression ran past its budget of {DEFAULT_BUDGET} instructions");
            FAILED
        }
    }
}
