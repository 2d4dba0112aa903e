//! The VS Code extension (`editors/vscode/`), as part of the one test command: its build with
//! npm, its TextMate grammar (scope assertions, snapshots of every example, no invalid token),
//! the client's unit tests, and a smoke test of `journey lsp` with the binary built here.
//!
//! Needs Node.js 20+ with npm on the PATH; packages come from the npm registry (`npm ci` from the
//! committed lockfile on a fresh clone).

use std::path::Path;
use std::process::Command;

fn npm(dir: &Path, args: &[&str]) {
    let out = Command::new("npm")
        .args(args)
        .current_dir(dir)
        .env("JOURNEY_BIN", env!("CARGO_BIN_EXE_journey"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run `npm {}` ({e}): install Node.js 20+ with npm", args.join(" ")));
    let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "`npm {}` in {} failed:\n{text}", args.join(" "), dir.display());
    if args == ["test"] {
        // node's test runner closes with its counts, e.g. "# pass 148" and "# fail 0".
        let count = |label: &str| -> Option<u64> {
            text.lines().find_map(|l| l.trim().strip_prefix(label).and_then(|n| n.trim().parse().ok()))
        };
        let (pass, fail) = (count("ℹ pass").or(count("# pass")), count("ℹ fail").or(count("# fail")));
        assert!(pass.is_some_and(|p| p > 0), "no extension test ran:\n{text}");
        assert_eq!(fail, Some(0), "{text}");
    }
}

#[test]
fn the_vscode_extension_builds_and_its_tests_pass() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("editors/vscode");
    if dir.join("node_modules").is_dir() {
        npm(&dir, &["install", "--no-audit", "--no-fund", "--prefer-offline"]);
    } else {
        npm(&dir, &["ci", "--no-audit", "--no-fund"]);
    }
    npm(&dir, &["run", "build"]);
    npm(&dir, &["test"]);
}
