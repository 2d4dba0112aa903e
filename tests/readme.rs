//! The README's command examples, run through the real binary: every `$ journey ...` line in
//! the README's code blocks runs, and its exit code and the output the README shows must match
//! (so the README cannot drift from the binary).
//!
//! The output shown under a command is compared with the command's standard output followed by
//! its standard error: the lines before a `...` line must be its first lines; the lines after
//! each `...` must follow later, together and in order; a shown line ending in ` ...` stands for
//! any line that starts with the rest of it. With no `...` the command prints nothing more (but
//! `check`'s closing count line). A command exits 0, or 1 where its shown output has an `error[`. Commands run in the repository's root; one naming a file that is not there
//! runs in `tests/readme/`, which holds the README's example inputs (`broken.journey`).

use std::path::Path;
use std::process::Command;

const README: &str = include_str!("../README.md");

/// One `$ journey ...` example: the command line and the output shown under it.
struct Example {
    line: usize,
    command: String,
    shown: Vec<String>,
}

fn examples() -> Vec<Example> {
    let mut out = Vec::new();
    let mut in_block = false;
    let mut current: Option<Example> = None;
    for (i, line) in README.lines().enumerate() {
        if line.starts_with("```") {
            in_block = !in_block;
            out.extend(current.take());
            continue;
        }
        if !in_block {
            continue;
        }
        if let Some(cmd) = line.strip_prefix("$ ") {
            out.extend(current.take());
            // A trailing `# comment` is the README's note, not part of the command.
            let cmd = match cmd.find("  #") {
                Some(at) => &cmd[..at],
                None => cmd,
            };
            current = Some(Example { line: i + 1, command: cmd.trim().to_string(), shown: Vec::new() });
        } else if line.trim().is_empty() {
            out.extend(current.take());
        } else if let Some(ex) = current.as_mut() {
            ex.shown.push(line.to_string());
        }
    }
    out
}

fn run(ex: &Example) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let words = shlex::split(&ex.command).unwrap_or_else(|| panic!("README line {}: bad quoting", ex.line));
    assert_eq!(words[0], "journey", "README line {}: a `$` example runs journey", ex.line);
    let args = &words[1..];
    let local = args.iter().filter(|a| a.ends_with(".journey")).all(|a| root.join(a).exists());
    let dir = if local { root.to_path_buf() } else { root.join("tests/readme") };
    let out = Command::new(env!("CARGO_BIN_EXE_journey"))
        .args(args)
        .current_dir(&dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("journey runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let got: Vec<&str> = stdout.lines().chain(stderr.lines()).map(str::trim_end).collect();
    let context = || format!("README line {}: `{}`\n--- output:\n{stdout}{stderr}", ex.line, ex.command);
    let expect_code = if ex.shown.iter().any(|l| l.starts_with("error[")) { 1 } else { 0 };
    assert_eq!(out.status.code(), Some(expect_code), "{}", context());

    // The shown lines in runs split by `...` lines: the first run must be the output's first
    // lines, each later run must follow, together, after the one before.
    let shown: Vec<&str> = ex.shown.iter().map(|l| l.trim_end()).collect();
    let runs: Vec<&[&str]> = shown.split(|l| *l == "...").collect();
    let mut at = 0;
    for (i, run) in runs.iter().enumerate() {
        let found = if i == 0 {
            (got.len() >= run.len() && lines_match(run, &got[..run.len()])).then_some(0)
        } else {
            (at..=got.len().saturating_sub(run.len())).find(|&k| lines_match(run, &got[k..k + run.len()]))
        };
        let Some(k) = found else {
            panic!("the README's lines {run:#?} are not in the output where they should be: {}", context());
        };
        at = k + run.len();
    }
    if runs.len() == 1 {
        // Nothing elided at the end: the command printed nothing more (but a closing count line
        // the README leaves out after a diagnostic).
        let rest: Vec<&&str> = got[at..].iter().filter(|l| !l.is_empty() && !l.starts_with("checked ")).collect();
        assert!(rest.is_empty(), "the output goes on past what the README shows: {}", context());
    }
}

/// Whether shown lines match output lines: the same, or, for a shown line ending in ` ...`, an
/// output line that starts with the rest of it.
fn lines_match(shown: &[&str], got: &[&str]) -> bool {
    shown.iter().zip(got).all(|(s, g)| match s.strip_suffix(" ...") {
        Some(prefix) => g.starts_with(prefix),
        None => s == g,
    })
}

#[test]
fn every_readme_command_example_runs_as_shown() {
    let examples = examples();
    // The tour (check, test, run, eval) and the diagnostic example: a README that loses one
    // should lose it here on purpose.
    assert!(examples.len() >= 5, "found only {} `$ journey` examples in the README", examples.len());
    for ex in &examples {
        assert!(!ex.shown.is_empty(), "README line {}: `{}` shows no output", ex.line, ex.command);
        run(ex);
    }
}

/// The journey the README opens with checks clean beside the examples' declarations (its events
/// and its `email` channel are theirs), renamed: `examples/` has its own `CartRecovery`.
#[test]
fn the_readmes_opening_journey_checks_clean_with_the_examples() {
    let start = README.find("```\njourney ").expect("the README opens with a journey");
    let text = &README[start + 4..];
    let text = &text[..text.find("```").expect("its block closes")];
    assert!(text.starts_with("journey CartRecovery {"), "{text}");
    let dir = std::env::temp_dir().join(format!("journey-readme-opening-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"), &dir);
    std::fs::write(dir.join("readme.journey"), text.replacen("CartRecovery", "ReadmeCartRecovery", 1)).expect("write");
    let o = Command::new(env!("CARGO_BIN_EXE_journey"))
        .args(["check", dir.to_str().expect("path")])
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("0 errors, 0 warnings"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("dir");
    for entry in std::fs::read_dir(from).expect("read") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("name"));
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, target).expect("copy");
        }
    }
}
