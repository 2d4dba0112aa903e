//! The VM runs compiled programs and depends on no part of the front end: neither the grammar
//! (nor pest, its parser generator) nor the compiler is among its normal dependencies, however
//! deep. (The tests may use the compiler to build programs from source.)

use std::process::Command;

/// The names of the packages `journey-vm` depends on to build (normal dependencies, on this
/// platform), as `cargo tree` lists them.
fn normal_dependencies() -> Vec<String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["tree", "-p", "journey-vm", "-e", "normal", "--prefix", "none", "--format", "{p}"])
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "cargo tree failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let mut names: Vec<String> = text.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_string).collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn the_vm_does_not_depend_on_the_front_end() {
    let names = normal_dependencies();
    assert!(names.iter().any(|n| n == "journey-bytecode"), "the VM runs journey-bytecode programs: {names:?}");
    let front_end: Vec<&String> = names
        .iter()
        .filter(|n| {
            matches!(n.as_str(), "journey-grammar" | "journey-compiler" | "journey-lsp" | "journey-runtime")
                || n.starts_with("pest")
        })
        .collect();
    assert!(front_end.is_empty(), "journey-vm depends on {front_end:?}; it must only need journey-bytecode");
}
