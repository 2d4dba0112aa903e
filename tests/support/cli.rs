//! What the tests of the `journey` command share: running it and reading what it printed.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs `journey` with `args` to its end.
pub fn journey(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_journey")).args(args).output().expect("journey runs")
}

/// `journey run PROJECT --events EVENTS`, then the `more` arguments.
pub fn run(project: impl AsRef<Path>, events: impl AsRef<Path>, more: &[&str]) -> Output {
    journey(&[&["run", arg(project.as_ref()), "--events", arg(events.as_ref())], more].concat())
}

/// A path as an argument.
pub fn arg(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// What it printed on standard output.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What it printed on standard error.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
