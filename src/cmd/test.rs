//! `journey test`: run the `test` blocks of a project on a virtual clock with mocks.

use super::project::{compile, ProjectArgs};
use super::{Format, FAILED, OK, PROBLEMS};
use journey_vm::machine::Image;
use journey_vm::testing::run_test;
use std::sync::Arc;

/// Arguments of `journey test`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    project: ProjectArgs,
    /// Only tests whose name contains this text.
    #[arg(long, value_name = "TEXT")]
    filter: Option<String>,
    /// Output format: text for people, or one JSON object per test on stdout.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// Runs `journey test`.
pub fn run(args: Args) -> u8 {
    let (_, program) = match compile(&args.project.paths, &args.project.schemas.dirs) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let tests = program.tests.clone();
    let image = match Image::load(program) {
        Ok(i) => Arc::new(i),
        Err(e) => {
            eprintln!("error: {e}");
            return FAILED;
        }
    };
    let (mut passed, mut failed) = (0, 0);
    for t in tests.iter().filter(|t| args.filter.as_ref().is_none_or(|f| t.name.contains(f.as_str()))) {
        let r = run_test(&image, t);
        if r.failure.is_none() {
            passed += 1;
        } else {
            failed += 1;
        }
        match args.format {
            Format::Json => println!("{}", serde_json::to_string(&r).unwrap_or_default()),
            Format::Human => {
                let mark = if r.failure.is_none() { "ok  " } else { "FAIL" };
                println!("{mark} {} :: {}", r.file, r.name);
                if let Some(f) = &r.failure {
                    match r.line {
                        Some(line) => println!("     {}:{line}: {f}", r.file),
                        None => println!("     {f}"),
                    }
                    for p in &r.path {
                        println!("     path: {p}");
                    }
                }
            }
        }
    }
    if args.format == Format::Human {
        println!("\n{passed} passed, {failed} failed");
    } else {
        eprintln!("{passed} passed, {failed} failed");
    }
    if failed > 0 {
        PROBLEMS
    } else {
        OK
    }
}
