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
    /// Print a journey's report for people: from a run's or a test's JSON, or a server.
    Report(cmd::report::Args),
    /// Run the durable runtime: an HTTP API over an embedded store.
    Serve(cmd::serve::ServeArgs),
    /// Ask a running `journey serve` for a summary.
    Status(cmd::serve::StatusArgs),
    /// Run the language server on stdin/stdout, for editors.
    Lsp(cmd::lsp::Args),
}

/// Sets what a write to a closed pipe does. A command whose reader went away (`journey test | head -1`) ends as Unix tools do: killed by
/// SIGPIPE (status 141 in a shell), quietly. Rust ignores SIGPIPE, so every `println!` would
/// instead panic ("failed printing to stdout", exit 101); restoring the default covers every
/// write, including those of libraries (clap's help, codespan), with no path left to forget.
/// `serve` and `lsp` ignore it again, as Rust does by default: a client that goes away must never
/// end the server, and the language server handles the end of its protocol stream itself.
fn sigpipe(default: bool) {
    #[cfg(unix)]
    // SAFETY: `signal` only sets the disposition of SIGPIPE; it is called before any thread is
    // started, so nothing else changes signal dispositions meanwhile.
    unsafe {
        libc::signal(libc::SIGPIPE, if default { libc::SIG_DFL } else { libc::SIG_IGN });
    }
    #[cfg(not(unix))]
    let _ = default;
}

/// mimalloc: `journey run` parses events on some threads and frees them on others, and the
/// server allocates from many tasks; the system allocator's per-thread arenas grow and lock
/// there.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    sigpipe(true);
    let cli = Cli::parse();
    if matches!(cli.command, Command::Serve(_) | Command::Lsp(_)) {
        sigpipe(false);
    }
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
        Command::Report(a) => cmd::report::run(a),
        Command::Serve(a) => cmd::serve::serve(a),
        Command::Status(a) => cmd::serve::status(a),
        Command::Lsp(a) => cmd::lsp::run(a),
    };
    ExitCode::from(code)
}
