//! Golden disassembly: each `tests/disasm/NAME.journey` compiles to the bytecode listed in
//! `tests/disasm/NAME.disasm` (`journey disasm NAME.journey`). A change in code generation shows
//! up here as a reviewable diff; `BLESS=1 cargo test --test disasm` rewrites the listings.

use std::path::Path;
use std::process::Command;

#[test]
fn disassembly_matches_the_golden_listings() {
    let bless = std::env::var_os("BLESS").is_some();
    let mut files: Vec<_> = std::fs::read_dir("tests/disasm")
        .expect("tests/disasm")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "journey"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "golden journeys in tests/disasm");
    let mut problems = Vec::new();
    for file in &files {
        let out = Command::new(env!("CARGO_BIN_EXE_journey")).arg("disasm").arg(file).output().expect("journey runs");
        let got = String::from_utf8(out.stdout).expect("utf-8");
        if out.status.code() != Some(0) {
            problems.push(format!(
                "{}: exit {:?}\n{}",
                file.display(),
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
            continue;
        }
        let golden = file.with_extension("disasm");
        if bless {
            std::fs::write(&golden, &got).expect("write golden listing");
            continue;
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_default();
        if got != want {
            problems.push(difference(&golden, &want, &got));
        }
    }
    assert!(problems.is_empty(), "{}\n(BLESS=1 rewrites the listings after review)", problems.join("\n\n"));
}

/// The first differing line, with a little context.
fn difference(golden: &Path, want: &str, got: &str) -> String {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let at = w.iter().zip(&g).position(|(a, b)| a != b).unwrap_or(w.len().min(g.len()));
    let from = at.saturating_sub(2);
    let show =
        |lines: &[&str]| lines.iter().skip(from).take(6).map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n");
    format!(
        "{} differs at line {} ({} lines expected, {} produced)\n  expected:\n{}\n  produced:\n{}",
        golden.display(),
        at + 1,
        w.len(),
        g.len(),
        show(&w),
        show(&g)
    )
}
