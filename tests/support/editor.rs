//! What the editor set-up tests (`editor_emacs.rs`, `editor_neovim.rs`) share: the code block
//! of `docs/editors.md` they run as written, a copy of the example project with a typo to be
//! diagnosed, and a `PATH` that finds this build's `journey` first.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The first ```` ```LANG ```` block of the `## SECTION` section of docs/editors.md.
pub fn documented_block(section: &str, lang: &str) -> String {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/editors.md")).unwrap();
    let heading = format!("\n## {section}");
    let fence = format!("```{lang}\n");
    let rest = &doc[doc.find(&heading).unwrap_or_else(|| panic!("a {section} section in docs/editors.md"))..];
    let block =
        &rest[rest.find(&fence).unwrap_or_else(|| panic!("a {lang} block in the {section} section")) + fence.len()..];
    block[..block.find("```").unwrap()].to_string()
}

/// A fresh copy of the example project in a temp folder of its own (`journey-NAME-PID`), with a
/// typo (`item.nme`) in its cart recovery journey: (the folder, the project, the journey file,
/// the typo's line).
pub struct Setup {
    pub dir: PathBuf,
    pub project: PathBuf,
    pub file: PathBuf,
    pub typo_line: usize,
}

/// Lays out a [`Setup`] for an editor named `name`.
pub fn setup(name: &str) -> Setup {
    let dir = std::env::temp_dir().join(format!("journey-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let project = dir.join("project");
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"), &project);
    let file = project.join("cart-recovery.journey");
    let text = std::fs::read_to_string(&file).unwrap();
    let typo = text.replacen("item.name ??", "item.nme ??", 1);
    assert_ne!(typo, text, "the example still reads `item.name`");
    std::fs::write(&file, &typo).unwrap();
    let typo_line = typo[..typo.find("item.nme").unwrap()].matches('\n').count() + 1;
    Setup { dir, project, file, typo_line }
}

/// `PATH` with this build's `journey` first, as the documentation asks `journey` to be found.
pub fn path_with_journey() -> OsString {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_journey"));
    let inherited = std::env::var_os("PATH").unwrap_or_default();
    let paths = std::iter::once(bin.parent().unwrap().to_path_buf()).chain(std::env::split_paths(&inherited));
    std::env::join_paths(paths).unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}
