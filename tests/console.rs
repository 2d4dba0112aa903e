//! The web console in a real browser: `tests/console/console.test.mjs` (playwright-core driving
//! Debian's headless Chromium) against a `journey serve` started here with 20 journeys and a
//! token. Screenshots of the main views go to `target/console-screenshots/` on each run (the
//! README shows copies from `docs/screenshots/`). Without `node` or `/usr/bin/chromium` the test
//! says so and passes, except under CI (`.ci/run` installs both), where it fails.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::{temp_dir, Server};

const PROMO: &str = r#"
type Signal = { email: string }
event Visit: Signal { key email }
event Buy: Signal { key email }
event Other: Signal { key email }

/// The experiment: three labelled arms, then a day to buy; a purchase within 2 days converts
/// (even after the instance ended), so the experiment panel compares the arms.
journey Promo {
  start on Visit
  goal "purchase" on Buy within 2d
  split {
    20% "control" -> { }
    40% "A" -> { }
    40% "B" -> { }
  }
  await {
    on Buy -> { end "bought" }
    after 1d -> { end "no-buy" }
  }
}
"#;

/// The project: Promo and 19 more journeys (the console's first paint is measured with 20).
fn project(dir: &Path) {
    std::fs::write(dir.join("promo.journey"), PROMO).expect("write");
    let mut more = String::new();
    for i in 1..20 {
        more.push_str(&format!("journey Other{i:02} {{\n  start on Other\n  wait 1h\n  end \"done\"\n}}\n"));
    }
    std::fs::write(dir.join("others.journey"), more).expect("write");
}

fn missing_tools() -> Option<String> {
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is not installed".into());
    }
    if !Path::new("/usr/bin/chromium").exists() {
        return Some("/usr/bin/chromium is not installed (apt-get install chromium)".into());
    }
    None
}

#[test]
fn the_console_in_a_browser() {
    if let Some(why) = missing_tools() {
        assert!(std::env::var_os("CI").is_none(), "the browser tests need their tools under CI: {why}");
        eprintln!("skipped: {why}");
        return;
    }
    let tests = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/console");
    if !tests.join("node_modules/playwright-core").exists() {
        let ok = Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&tests).status();
        assert!(ok.is_ok_and(|s| s.success()), "npm ci in tests/console failed");
    }
    let dir = temp_dir("console");
    project(&dir);
    let token = "console-secret";
    let server = Server::start_with_token(&dir, &dir.join("j.db"), &[], Some(token));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let shots = target.join("console-screenshots");
    let out = Command::new("node")
        .arg("console.test.mjs")
        .current_dir(&tests)
        .env("CONSOLE_URL", &server.url)
        .env("CONSOLE_TOKEN", token)
        .env("SCREENSHOTS", &shots)
        .env("CONSOLE_PROJECT", &dir)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}");
    assert!(out.status.success(), "the browser tests failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    for view in ["login", "journey", "experiment", "profile", "stop-confirm", "stopped", "versions"] {
        assert!(shots.join(format!("{view}.png")).exists(), "no screenshot of {view}");
    }
}
