//! The README's layout: the command line, the server and the language server build a project
//! only through `journey_compiler::driver`, so a project means the same thing to each.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

#[test]
fn the_cli_the_server_and_the_language_server_build_projects_through_the_driver() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The compiler's own stages, which only the driver strings together for a project.
    let stages = ["journey_compiler::check(", "codegen::compile(", "project::load(", "compiler::project::load("];
    for part in ["src", "runtime/src", "lsp/src"] {
        let files = rust_files(&root.join(part));
        let mut through_driver = false;
        for file in &files {
            let text = std::fs::read_to_string(file).expect("read");
            through_driver |= text.contains("driver::");
            for stage in stages {
                assert!(!text.contains(stage), "{} calls `{stage}` itself, not through the driver", file.display());
            }
        }
        assert!(through_driver, "{part} builds its projects through `journey_compiler::driver`");
    }
}
