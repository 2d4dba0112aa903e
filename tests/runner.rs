//! Tests of `journey test` itself: a wrong expectation fails with a clear message, the exit code
//! says so, and the JSON lines carry the contract's fields. Expected output: `tests/runner/*.jsonl`
//! (`BLESS=1` rewrites it after review).

use std::process::Command;

#[test]
fn wrong_expectations_fail_with_their_reason() {
    let out = Command::new(env!("CARGO_BIN_EXE_journey"))
        .args(["test", "tests/runner", "--format", "json"])
        .output()
        .expect("journey runs");
    assert_eq!(out.status.code(), Some(1), "failed tests exit 1");
    let got = String::from_utf8(out.stdout).expect("utf-8");
    for line in got.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("one JSON object per line");
        for key in ["file", "name", "outcome", "failure", "path"] {
            assert!(v.get(key).is_some(), "{key} missing in {line}");
        }
        let passed = v["outcome"] == "passed";
        assert_eq!(passed, v["failure"].is_null(), "a failure exactly when failed: {line}");
        assert_eq!(
            passed,
            v["name"].as_str().is_some_and(|n| n.starts_with("right")),
            "only `right` tests pass: {line}"
        );
    }
    let path = "tests/runner/wrong.jsonl";
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(path, &got).expect("write");
    }
    let want = std::fs::read_to_string(path).unwrap_or_default();
    assert_eq!(got, want, "output differs from {path} (BLESS=1 rewrites it)");
}

#[test]
fn the_examples_tests_pass() {
    let out = Command::new(env!("CARGO_BIN_EXE_journey")).args(["test", "examples"]).output().expect("journey runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let summary = text.lines().last().unwrap_or_default();
    assert!(summary.ends_with(" passed, 0 failed"), "{summary}");
    let passed: usize = summary.split(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let written: usize = std::fs::read_dir("examples")
        .expect("examples")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "journey"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read");
            text.lines().filter(|l| l.trim_start().starts_with("test \"")).count()
        })
        .sum();
    assert_eq!(passed, written, "every example test ran: {summary}");
}
