//! The Neovim set-up of `docs/editors.md`, as written: headless Neovim with the documented
//! `init.lua` opens a copy of the example project's cart recovery journey (with a typo in a
//! field name), receives the diagnostics of `journey lsp`, and formats the buffer through it.
//!
//! Needs `nvim` on the PATH (`.ci/run` installs Debian's, 0.7). Without it the test says so and
//! passes, except under CI (`CI=true`), where it fails.

#[path = "support/editor.rs"]
mod editor;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The first ```lua block of the "## Neovim" section of docs/editors.md.
fn documented_init() -> String {
    editor::documented_block("Neovim", "lua")
}

/// What the test does once Neovim has opened the file: wait for diagnostics, record them,
/// break a line's indentation, format, record the line.
const DRIVER: &str = r#"
local out = {}
local buf = vim.api.nvim_get_current_buf()
table.insert(out, "filetype " .. vim.bo[buf].filetype)
table.insert(out, "commentstring " .. vim.bo[buf].commentstring)
local got = vim.wait(60000, function() return #vim.diagnostic.get(buf) > 0 end, 50)
table.insert(out, "waited " .. tostring(got))
for _, d in ipairs(vim.diagnostic.get(buf)) do
  local code = d.code or (d.user_data and d.user_data.lsp and d.user_data.lsp.code)
  table.insert(out, string.format("diagnostic %d %s %s", d.lnum + 1, tostring(code), (d.message:gsub("\n", " | "))))
end
local n
for i, line in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
  if line:match("^  let cartId") then n = i end
end
local line = vim.api.nvim_buf_get_lines(buf, n - 1, n, false)[1]
vim.api.nvim_buf_set_lines(buf, n - 1, n, false, { "        " .. vim.trim(line) })
if vim.lsp.buf.format then
  vim.lsp.buf.format({ timeout_ms = 30000 })
else
  vim.lsp.buf.formatting_sync(nil, 30000)
end
table.insert(out, "formatted " .. vim.api.nvim_buf_get_lines(buf, n - 1, n, false)[1])
vim.fn.writefile(out, vim.env.JOURNEY_NVIM_OUT)
vim.cmd("qa!")
"#;

#[test]
fn the_documented_neovim_setup_shows_diagnostics_and_formats() {
    let version = Command::new("nvim").arg("--version").output().ok().filter(|o| o.status.success());
    let Some(version) = version else {
        let why = "nvim is not on the PATH: the Neovim set-up of docs/editors.md is NOT tested \
                   (install Neovim, e.g. `apt-get install neovim`; .ci/run does)";
        assert!(std::env::var("CI").map_or(true, |v| v != "true"), "{why}");
        eprintln!("\n*** SKIPPED: {why} ***\n");
        return;
    };
    let version = String::from_utf8_lossy(&version.stdout).lines().next().unwrap_or_default().to_string();
    eprintln!("testing the Neovim set-up with {version}");

    let editor::Setup { dir, project, file, typo_line } = editor::setup("nvim");
    std::fs::write(dir.join("init.lua"), documented_init()).unwrap();
    std::fs::write(dir.join("driver.lua"), DRIVER).unwrap();
    let out = dir.join("out.txt");

    let path = editor::path_with_journey();
    let mut child = Command::new("nvim")
        .args(["--headless", "-i", "NONE", "-n", "-u"])
        .arg(dir.join("init.lua"))
        .arg("-c")
        .arg(format!("luafile {}", dir.join("driver.lua").display()))
        .arg(&file)
        .current_dir(&project)
        .env("PATH", path)
        .env("JOURNEY_NVIM_OUT", &out)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nvim starts");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(180) {
            let _ = child.kill();
            panic!("headless Neovim did not finish within 3 minutes");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    let report = std::fs::read_to_string(&out)
        .unwrap_or_else(|_| panic!("Neovim wrote no report (exit {status}); its messages:\n{stderr}"));
    let lines: Vec<&str> = report.lines().collect();
    assert!(lines.contains(&"filetype journey"), "{report}\n{stderr}");
    assert!(lines.contains(&"commentstring // %s"), "{report}");
    assert!(lines.contains(&"waited true"), "no diagnostics from journey lsp:\n{report}\n{stderr}");
    let diagnostics: Vec<&&str> = lines.iter().filter(|l| l.starts_with("diagnostic ")).collect();
    assert_eq!(diagnostics.len(), 1, "{report}");
    let want = format!("diagnostic {typo_line} E0");
    assert!(diagnostics[0].starts_with(&want) && diagnostics[0].contains("`nme`"), "{report}");
    assert!(lines.contains(&"formatted   let cartId = event.commerce.cart.cartID ?? \"\""), "{report}\n{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
