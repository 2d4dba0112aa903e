//! The README's two commands need nothing from the network: the standard XDM schemas are built
//! in and nothing is fetched at run time. Checked by running the binary with no network at all
//! (a network namespace of its own, with only a loopback that is down).

use std::process::{Command, Output};

/// Runs `journey ARGS` with no network (`unshare -rn`).
fn offline(args: &[&str]) -> Output {
    Command::new("unshare")
        .args(["-rn", env!("CARGO_BIN_EXE_journey")])
        .args(args)
        .output()
        .expect("`unshare` (util-linux) runs: this test needs it and user namespaces")
}

#[test]
fn the_tour_runs_without_a_network() {
    // Where user namespaces are off (some distributions' defaults), this cannot be checked; CI's
    // machine has them, and there the test must run.
    let can = Command::new("unshare").args(["-rn", "true"]).output().is_ok_and(|o| o.status.success());
    if !can {
        assert!(std::env::var_os("CI").is_none(), "CI needs `unshare -rn` (util-linux, user namespaces)");
        eprintln!("skipped: `unshare -rn` is not available here");
        return;
    }
    // The namespace really has no network: nothing answers, not even loopback.
    let probe = Command::new("unshare")
        .args(["-rn", "bash", "-c", "echo > /dev/tcp/127.0.0.1/5432"])
        .output()
        .expect("unshare runs bash");
    assert!(!probe.status.success(), "the probe reached a port: the namespace has a network");
    assert!(String::from_utf8_lossy(&probe.stderr).contains("unreachable"), "{probe:?}");
    for args in [
        &["check", "examples"][..],
        &["test", "examples"],
        &[
            "run",
            "examples",
            "--events",
            "examples/events.jsonl",
            "--profiles",
            "examples/profiles.jsonl",
            "--mocks",
            "examples/mocks.jsonl",
        ],
    ] {
        let o = offline(args);
        assert!(
            o.status.success(),
            "journey {} without a network: {}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
}
