//! The language's semantics as data: `tests/semantics/*.journey` hold one file per topic, each
//! test asserting one rule of the design contract (docs/language.md). This harness runs them through
//! `journey test --format json` and lists every failure with its reason and path.

use std::process::Command;

#[test]
fn every_semantics_test_passes() {
    let out = Command::new(env!("CARGO_BIN_EXE_journey"))
        .args(["test", "tests/semantics", "--format", "json"])
        .output()
        .expect("journey runs");
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut passed = 0;
    let mut failures = Vec::new();
    for line in stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("one JSON object per line");
        if v["outcome"] == "passed" {
            passed += 1;
            continue;
        }
        let mut text = format!(
            "{} :: {}\n    {}",
            v["file"].as_str().unwrap_or_default(),
            v["name"].as_str().unwrap_or_default(),
            v["failure"].as_str().unwrap_or_default()
        );
        for p in v["path"].as_array().into_iter().flatten() {
            text.push_str(&format!("\n    path: {}", p.as_str().unwrap_or_default()));
        }
        failures.push(text);
    }
    assert!(failures.is_empty(), "{} semantics test(s) failed:\n{}\n{stderr}", failures.len(), failures.join("\n"));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(passed, test_blocks("tests/semantics"), "every file's tests ran\n{stderr}");
}

/// The `test "..."` blocks written in the `.journey` files of a folder.
fn test_blocks(dir: &str) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("folder") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "journey") {
            let text = std::fs::read_to_string(&path).expect("read");
            n += text.lines().filter(|l| l.trim_start().starts_with("test \"")).count();
        }
    }
    assert!(n > 0, "no tests in {dir}");
    n
}

/// `split` percentages: the bucket of a profile is spread evenly over [0, 100), so a 10% branch
/// takes about a tenth of the profiles (the `.journey` tests check stability and 0%/100%).
#[test]
fn split_buckets_follow_the_percentages() {
    use journey_vm::engine::split_bucket;
    let n = 20_000;
    let mut under_10 = 0;
    let mut under_55 = 0;
    for i in 0..n {
        let key = format!("profile-{i}@example.com");
        let b = split_bucket(&key, "CartRecovery", 3);
        assert!((0.0..100.0).contains(&b), "{b}");
        assert_eq!(b, split_bucket(&key, "CartRecovery", 3), "stable");
        if b < 10.0 {
            under_10 += 1;
        }
        if b < 55.0 {
            under_55 += 1;
        }
    }
    let share = |k: i32| f64::from(k) / f64::from(n) * 100.0;
    assert!((share(under_10) - 10.0).abs() < 1.0, "10% branch took {:.2}%", share(under_10));
    assert!((share(under_55) - 55.0).abs() < 1.5, "first 55% took {:.2}%", share(under_55));
    // Another node or journey reshuffles: a profile's branches in two splits are independent.
    let same = (0..2_000)
        .filter(|i| {
            let key = format!("p{i}");
            (split_bucket(&key, "J", 1) < 50.0) == (split_bucket(&key, "J", 2) < 50.0)
        })
        .count();
    assert!((800..1200).contains(&same), "independent nodes agreed {same} of 2000 times");
}
