//! `journey fmt`: rewrite `.journey` files in the canonical layout (see `journey_grammar::fmt`).

use super::project::render;
use super::{plural, Color, FAILED, OK, PROBLEMS};
use journey_compiler::diag::Diagnostic;
use journey_compiler::sources::Sources;
use std::path::{Path, PathBuf};

/// Arguments of `journey fmt`.
#[derive(clap::Args)]
pub struct Args {
    /// Journey files or folders (every `.journey` under them; default: the current folder).
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Change nothing; list the files that would change (with the first changed lines) and
    /// exit with 1 if there are any.
    #[arg(long)]
    check: bool,
    /// Colour in syntax error reports.
    #[arg(long, value_enum, default_value_t)]
    color: Color,
}

/// How many changed lines `--check` shows per file.
const DIFF_LINES: usize = 12;

/// Runs `journey fmt`; returns the exit code.
pub fn run(args: Args) -> u8 {
    let default = [PathBuf::from(".")];
    let paths = if args.paths.is_empty() { &default[..] } else { &args.paths[..] };
    let mut files = Vec::new();
    for p in paths {
        if let Err(e) = collect(p, &mut files) {
            eprintln!("error: {e}");
            return FAILED;
        }
    }
    let mut sources = Sources::default();
    let mut diagnostics = Vec::new();
    let (mut changed, mut failed) = (0, false);
    // What goes to stdout is printed once every file is written: a reader that goes away early
    // (`journey fmt | head -1`) ends the command only when nothing is left half done.
    let mut report = String::new();
    for path in &files {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: cannot read `{}`: {e}", show(path));
                failed = true;
                continue;
            }
        };
        let formatted = match journey_grammar::fmt::format(&text) {
            Ok(f) => f,
            Err(errors) => {
                let id = sources.add(show(path), path.clone(), text);
                diagnostics.extend(errors.into_iter().map(|e| syntax_error(id, e)));
                continue;
            }
        };
        if formatted == text {
            continue;
        }
        changed += 1;
        if args.check {
            report.push_str(&format!("{} would be reformatted\n", show(path)));
            report.push_str(&diff(&text, &formatted, DIFF_LINES));
        } else if let Err(e) = write_atomically(path, &formatted) {
            eprintln!("error: cannot write `{}`: {e}", show(path));
            failed = true;
        } else {
            report.push_str(&format!("formatted {}\n", show(path)));
        }
    }
    print!("{report}");
    render(&diagnostics, &sources, args.color);
    let bad = sources.len();
    let verb = if args.check { "would reformat" } else { "reformatted" };
    eprintln!(
        "{} file{}: {verb} {changed}, {} already formatted{}",
        files.len(),
        plural(files.len()),
        files.len() - changed - bad,
        if bad > 0 { format!(", {bad} with syntax errors left unchanged") } else { String::new() }
    );
    if failed {
        FAILED
    } else if bad > 0 || (args.check && changed > 0) {
        PROBLEMS
    } else {
        OK
    }
}

fn show(p: &Path) -> String {
    let s = p.display().to_string();
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}

/// A syntax error reported as `journey check` reports it.
fn syntax_error(file: usize, e: journey_grammar::SyntaxError) -> Diagnostic {
    journey_compiler::syntax_diagnostic(file, e)
}

/// A file, or every `.journey` file under a folder (skipping hidden folders and `target`).
fn collect(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("`{}` does not exist", show(path)),
        _ => format!("cannot read `{}`: {e}", show(path)),
    })?;
    if !meta.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut found = Vec::new();
    walk(path, &mut found).map_err(|e| format!("cannot read `{}`: {e}", show(path)))?;
    found.sort();
    out.extend(found);
    Ok(())
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "target" || name == "node_modules" {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "journey") {
            out.push(path);
        }
    }
    Ok(())
}

/// Writes through a temporary file in the same folder and a rename, keeping the permissions.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.fmt-{}", std::process::id()));
    let result = (|| {
        std::fs::write(&tmp, text)?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A unified-style diff of `old` and `new`, showing at most `max` changed lines.
fn diff(old: &str, new: &str, max: usize) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let ops = line_diff(&a, &b);
    let mut out = String::new();
    let mut shown = 0;
    let mut i = 0;
    while i < ops.len() && shown < max {
        if ops[i].0 == ' ' {
            i += 1;
            continue;
        }
        // A hunk: one line of context before, the changes, one line after.
        let start = i.saturating_sub(1);
        let mut end = i;
        while end < ops.len() && (ops[end].0 != ' ' || ops.get(end + 1).is_some_and(|o| o.0 != ' ')) {
            end += 1;
        }
        let end = (end + 1).min(ops.len());
        let (line_a, line_b) = (ops[start].1, ops[start].2);
        out.push_str(&format!("@@ -{} +{} @@\n", line_a + 1, line_b + 1));
        for &(op, ia, ib) in &ops[start..end] {
            if shown >= max {
                out.push_str("  ...\n");
                break;
            }
            let line = if op == '+' { b[ib] } else { a[ia] };
            out.push_str(&format!("{op} {line}\n"));
            if op != ' ' {
                shown += 1;
            }
        }
        i = end;
    }
    out
}

/// Line operations (`' '` same, `-` removed, `+` added) with the line indexes in `a` and `b`,
/// from the longest common subsequence of the lines between the common head and tail.
fn line_diff(a: &[&str], b: &[&str]) -> Vec<(char, usize, usize)> {
    let head = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let tail = a[head..].iter().rev().zip(b[head..].iter().rev()).take_while(|(x, y)| x == y).count();
    let (ma, mb) = (&a[head..a.len() - tail], &b[head..b.len() - tail]);
    let mut ops: Vec<(char, usize, usize)> = (0..head).map(|k| (' ', k, k)).collect();
    if ma.len() * mb.len() <= 4_000_000 {
        let w = mb.len() + 1;
        let mut lcs = vec![0u32; (ma.len() + 1) * w];
        for i in (0..ma.len()).rev() {
            for j in (0..mb.len()).rev() {
                lcs[i * w + j] = if ma[i] == mb[j] {
                    lcs[(i + 1) * w + j + 1] + 1
                } else {
                    lcs[(i + 1) * w + j].max(lcs[i * w + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < ma.len() || j < mb.len() {
            if i < ma.len() && j < mb.len() && ma[i] == mb[j] {
                ops.push((' ', head + i, head + j));
                i += 1;
                j += 1;
            } else if i < ma.len() && (j == mb.len() || lcs[(i + 1) * w + j] >= lcs[i * w + j + 1]) {
                ops.push(('-', head + i, head + j.min(mb.len().saturating_sub(1))));
                i += 1;
            } else {
                ops.push(('+', head + i.min(ma.len().saturating_sub(1)), head + j));
                j += 1;
            }
        }
    } else {
        ops.extend((0..ma.len()).map(|i| ('-', head + i, head)));
        ops.extend((0..mb.len()).map(|j| ('+', head + ma.len(), head + j)));
    }
    ops.extend((0..tail).map(|k| (' ', a.len() - tail + k, b.len() - tail + k)));
    ops
}
