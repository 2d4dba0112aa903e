//! Tests as data: every `tests/ui/NAME.journey` file (or `tests/ui/NAME/` project folder) is
//! checked with the real binary; its rendered diagnostics must equal `NAME.stderr` and its JSON
//! output `NAME.jsonl`. Run with `BLESS=1` to write the expected files after reviewing a change.

use std::path::{Path, PathBuf};
use std::process::Command;

fn cases() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir("tests/ui")
        .expect("tests/ui exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.is_dir() || p.extension().is_some_and(|e| e == "journey"))
        .collect();
    out.sort();
    out
}

fn run(case: &Path, json: bool) -> (String, i32) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_journey"));
    cmd.arg("check").arg(case).arg("--color").arg("never");
    if json {
        cmd.args(["--format", "json"]);
    }
    let out = cmd.output().expect("journey runs");
    let text = if json { out.stdout } else { out.stderr };
    (String::from_utf8(text).expect("utf-8 output"), out.status.code().unwrap_or(-1))
}

fn expected_path(case: &Path, ext: &str) -> PathBuf {
    let stem = case.file_stem().expect("case name").to_string_lossy().to_string();
    case.with_file_name(format!("{stem}.{ext}"))
}

#[test]
fn ui_cases_match_expected_output() {
    let bless = std::env::var_os("BLESS").is_some();
    let mut failures = Vec::new();
    let cases = cases();
    assert!(!cases.is_empty(), "no ui cases found");
    for case in &cases {
        for (json, ext) in [(false, "stderr"), (true, "jsonl")] {
            let (got, code) = run(case, json);
            let got = format!("{got}exit: {code}\n");
            let path = expected_path(case, ext);
            if bless {
                std::fs::write(&path, &got).expect("write expected output");
                continue;
            }
            let want = std::fs::read_to_string(&path).unwrap_or_default();
            if want != got {
                failures.push(format!("--- {} ---\nexpected:\n{want}\ngot:\n{got}", path.display()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} ui outputs differ (BLESS=1 rewrites them):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_diagnostic_code_has_a_ui_case() {
    let mut seen = std::collections::BTreeSet::new();
    for case in cases() {
        let text = std::fs::read_to_string(expected_path(&case, "jsonl")).unwrap_or_default();
        for line in text.lines().filter(|l| l.starts_with('{')) {
            let v: serde_json::Value = serde_json::from_str(line).expect("json line");
            seen.insert(v["code"].as_str().unwrap_or_default().to_string());
        }
    }
    let missing: Vec<&str> =
        journey_compiler::codes::CODES.iter().map(|c| c.code).filter(|c| !seen.contains(*c)).collect();
    assert!(missing.is_empty(), "codes without a ui case: {missing:?}");
}

#[test]
fn every_explain_example_triggers_its_code() {
    let dir = std::env::temp_dir().join(format!("journey-explain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut failures = Vec::new();
    for info in journey_compiler::codes::CODES.iter().filter(|c| !c.example.is_empty()) {
        let file = dir.join(format!("{}.journey", info.code));
        std::fs::write(&file, info.example).expect("write example");
        let (out, _) = run(&file, true);
        let codes: Vec<String> = out
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| v["code"].as_str().unwrap_or_default().to_string())
            .collect();
        if !codes.iter().any(|c| c == info.code) {
            failures.push(format!("{}: example reported {codes:?}", info.code));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
