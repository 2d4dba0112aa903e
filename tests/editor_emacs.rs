//! The Emacs set-up of `docs/editors.md`, as written: Emacs in batch mode loads the documented
//! `journey-mode` and eglot configuration, opens a copy of the example project's cart recovery
//! journey (with a typo in a field name), and checks the mode, its highlighting and comment
//! syntax, and the diagnostics eglot receives from `journey lsp`.
//!
//! Needs `emacs` with eglot (built in from Emacs 29; Debian 12: `apt-get install emacs-nox
//! elpa-eglot`, about a minute, so `.ci/run` does not install it). Without it the test says so
//! and passes.

#[path = "support/editor.rs"]
mod editor;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The first ```elisp block of the "## Emacs" section of docs/editors.md.
fn documented_init() -> String {
    editor::documented_block("Emacs", "elisp")
}

/// Opens the file, reports the mode, two faces and a comment, starts eglot as `eglot-ensure`
/// would, and reports the diagnostics Flymake gets.
const DRIVER: &str = r#"
(find-file (getenv "JOURNEY_FILE"))
(princ (format "mode %s\n" major-mode))
(font-lock-ensure)
(goto-char (point-min))
(search-forward "journey CartRecovery")
(princ (format "keyword %s\n" (get-text-property (match-beginning 0) 'face)))
(princ (format "name %s\n" (get-text-property (- (point) 3) 'face)))
(princ (format "comment %s\n" (and (nth 4 (syntax-ppss (+ (point-min) 5))) t)))
(apply #'eglot (eglot--guess-contact))
(let ((deadline (+ (float-time) 60)) diags)
  (while (and (null diags) (< (float-time) deadline))
    (accept-process-output nil 0.2)
    (flymake-start)
    (setq diags (flymake-diagnostics)))
  (dolist (d diags)
    (princ (format "diagnostic %d %s\n" (line-number-at-pos (flymake-diagnostic-beg d))
                   (replace-regexp-in-string "\n" " | " (flymake-diagnostic-text d))))))
(kill-emacs 0)
"#;

#[test]
fn the_documented_emacs_setup_shows_diagnostics() {
    let has_eglot = Command::new("emacs")
        .args(["--batch", "-q", "--eval", "(progn (package-activate-all) (require 'eglot))"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_eglot {
        eprintln!(
            "\n*** SKIPPED: emacs with eglot is not installed: the Emacs set-up of docs/editors.md is NOT \
             tested (Debian: `apt-get install emacs-nox elpa-eglot`) ***\n"
        );
        return;
    }
    let editor::Setup { dir, project, file, typo_line } = editor::setup("emacs");
    std::fs::write(dir.join("init.el"), documented_init()).unwrap();
    std::fs::write(dir.join("driver.el"), DRIVER).unwrap();

    let path = editor::path_with_journey();
    // `-q`: no user init file, but installed packages (Debian's elpa-eglot) are activated as
    // at a normal start.
    let mut child = Command::new("emacs")
        .args(["--batch", "-q", "--eval", "(package-activate-all)", "-l"])
        .arg(dir.join("init.el"))
        .arg("-l")
        .arg(dir.join("driver.el"))
        .current_dir(&project)
        .env("PATH", path)
        .env("HOME", &dir)
        .env("JOURNEY_FILE", &file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("emacs starts");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(180) {
            let _ = child.kill();
            panic!("Emacs did not finish within 3 minutes");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let (report, messages) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = report.lines().collect();
    assert!(lines.contains(&"mode journey-mode"), "{report}\n{messages}");
    assert!(lines.contains(&"keyword font-lock-keyword-face"), "{report}");
    assert!(lines.contains(&"name font-lock-function-name-face"), "{report}");
    assert!(lines.contains(&"comment t"), "the file starts with a // comment: {report}");
    let diagnostics: Vec<&&str> = lines.iter().filter(|l| l.starts_with("diagnostic ")).collect();
    assert_eq!(diagnostics.len(), 1, "{report}\n{messages}");
    let want = format!("diagnostic {typo_line} journey [E0");
    assert!(diagnostics[0].starts_with(&want) && diagnostics[0].contains("`nme`"), "{report}");
    let _ = std::fs::remove_dir_all(&dir);
}
