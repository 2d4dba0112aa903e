//! `journey`: customer journeys as code. One binary, one subcommand per job.

mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Customer journeys as code: check, explain, and (soon) run journey scripts.
#[derive(Parser)]
#[command(name = "journey", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check journey files against the language and their schemas; report every problem.
    Check(cmd::check::Args),
    /// Explain a diagnostic code: what it means, an example, and the fix.
    Explain(cmd::explain::Args),
    /// Compile a project to a bytecode artifact the VM runs without the sources.
    Build(cmd::build::BuildArgs),
    /// Print the bytecode of an artifact or a project.
    Disasm(cmd::build::DisasmArgs),
    /// Evaluate one expression and print its value as JSON.
    Eval(cmd::eval::Args),
    /// Run the `test` blocks on a virtual clock with mocked actions and data sources.
    Test(cmd::test::Args),
    /// Run journeys over a file of events on a virtual clock; print paths and a report.
    Run(cmd::run::Args),
    /// Rewrite journey files in the canonical layout (or, with --check, list those that differ).
    Fmt(cmd::fmt::Args),
    /// Draw journeys as the canvas: Mermaid, Graphviz DOT, or SVG.
    Graph(cmd::graph::Args),
    /// Run the durable runtime: an HTTP API over an embedded store.
    Serve(cmd::serve::ServeArgs),
    /// Ask a running `journey serve` for a summary.
    Status(cmd::serve::StatusArgs),
    /// Run the language server on stdin/stdout, for editors.
    Lsp(cmd::lsp::Args),
}

/// mimalloc: `journey run` parses events on some threads and frees them on others, and the
/// server allocates from many tasks; the system allocator's per-thread arenas grow and lock
/// there.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Check(a) => cmd::check::run(a),
        Command::Explain(a) => cmd::explain::run(a),
        Command::Build(a) => cmd::build::build(a),
        Command::Disasm(a) => cmd::build::disasm(a),
        Command::Eval(a) => cmd::eval::run(a),
        Command::Test(a) => cmd::test::run(a),
        Command::Run(a) => cmd::run::run(a),
        Command::Fmt(a) => cmd::fmt::run(a),
        Command::Graph(a) => cmd::graph::run(a),
        Command::Serve(a) => cmd::serve::serve(a),
        Command::Status(a) => cmd::serve::status(a),
        Command::Lsp(a) => cmd::lsp::run(a),
    };
    ExitCode::from(code)
}
