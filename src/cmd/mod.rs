//! The subcommands.

pub mod build;
pub mod check;
pub mod eval;
pub mod explain;
pub mod fmt;
pub mod graph;
pub mod lsp;
pub mod mocks;
pub mod project;
pub mod report;
pub mod run;
pub mod serve;
pub mod test;

use clap::ValueEnum;

/// Output format of commands that machines read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// Text for people (on stderr when it is diagnostics).
    #[default]
    Human,
    /// One JSON object per line on stdout.
    Json,
}

/// When to colour human output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Color {
    /// When stderr is a terminal.
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Exit code: success.
pub const OK: u8 = 0;
/// Exit code: the work found problems.
pub const PROBLEMS: u8 = 1;
/// Exit code: the command could not do its work.
pub const FAILED: u8 = 2;

/// The plural ending of a count's noun: "" for one, "s" otherwise.
pub fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
