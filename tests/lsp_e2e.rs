//! End to end: the real `journey lsp` binary over stdio: initialize, didOpen a file with a
//! mistake, receive its diagnostics, shutdown, exit (and the process ends with status 0); and
//! malformed frames are answered without ending the session.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn send(stdin: &mut impl Write, msg: Value) {
    let body = msg.to_string();
    write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("write to the server");
    stdin.flush().expect("flush");
}

fn read(r: &mut impl BufRead) -> Option<Value> {
    let mut len = None;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length:") {
            len = v.trim().parse().ok();
        }
    }
    let mut body = vec![0; len?];
    r.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

#[test]
fn journey_lsp_over_stdio() {
    let text = "type Signup = { email: string }\nevent SignUp: Signup { key email }\n\
                journey Welcome {\n  start on SignUp\n  if emial == \"\" { end \"no-email\" }\n  wait 1h\n}\n";
    let (dir, uri) = project("e2e", text);
    let mut lsp = Lsp::start(Stdio::inherit());
    let init = lsp.open(&uri, text);
    assert_eq!(init["result"]["serverInfo"]["name"], "journey-lsp");
    let diags = lsp.wait("diagnostics", |m| is_diagnostics(m, &uri))["params"]["diagnostics"].clone();
    let diags = diags.as_array().unwrap();
    assert!(!diags.is_empty(), "a mistake is reported");
    assert!(
        diags.iter().any(|d| d["code"] == "E0003" && d["message"].as_str().unwrap().contains("`emial`")),
        "{diags:?}"
    );

    send(&mut lsp.stdin, json!({"jsonrpc": "2.0", "id": 2, "method": "shutdown", "params": null}));
    let m = lsp.wait("shutdown answer", |m| m["id"] == 2);
    assert!(m.get("error").is_none(), "{m}");
    send(&mut lsp.stdin, json!({"jsonrpc": "2.0", "method": "exit", "params": null}));
    drop(lsp.stdin);
    assert_exits(&mut lsp.child, &dir, "after `exit`");
}

/// A project folder of its own holding `welcome.journey` with `text`, and that file's URI.
fn project(name: &str, text: &str) -> (PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("journey-lsp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("welcome.journey");
    std::fs::write(&path, text).unwrap();
    let uri = format!("file://{}", path.display());
    (dir, uri)
}

/// Whether `m` publishes the diagnostics of `uri`.
fn is_diagnostics(m: &Value, uri: &str) -> bool {
    m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri
}

/// Waits, with a deadline, for the server to end with status 0; then removes its project.
fn assert_exits(child: &mut Child, dir: &Path, when: &str) {
    for _ in 0..600 {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "journey lsp exited with {status}");
            let _ = std::fs::remove_dir_all(dir);
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("journey lsp did not exit {when}");
}

/// A `journey lsp` process and the messages it wrote.
struct Lsp {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    rx: mpsc::Receiver<Value>,
}

impl Lsp {
    /// Starts `journey lsp`, its standard error going to `stderr`.
    fn start(stderr: Stdio) -> Lsp {
        let mut child = Command::new(env!("CARGO_BIN_EXE_journey"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("journey lsp starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            while let Some(m) = read(&mut r) {
                if tx.send(m).is_err() {
                    break;
                }
            }
        });
        Lsp { child, stdin, rx }
    }

    /// Initializes the session and opens `uri` with `text`; the answer to `initialize`.
    fn open(&mut self, uri: &str, text: &str) -> Value {
        send(
            &mut self.stdin,
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"processId": null, "rootUri": null, "capabilities": {}}}),
        );
        let init = self.wait("initialize answer", |m| m["id"] == 1);
        send(&mut self.stdin, json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}));
        send(
            &mut self.stdin,
            json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {"uri": uri, "languageId": "journey", "version": 1, "text": text}}}),
        );
        init
    }

    fn raw(&mut self, bytes: &[u8]) {
        self.stdin.write_all(bytes).expect("write to the server");
        self.stdin.flush().expect("flush");
    }

    /// The next message satisfying `pred` (others are dropped).
    fn wait(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            match self.rx.recv_timeout(Duration::from_secs(60)) {
                Ok(m) if pred(&m) => return m,
                Ok(_) => {}
                Err(_) => {
                    let status = self.child.try_wait().ok().flatten();
                    panic!("no {what} (the server's exit status: {status:?})")
                }
            }
        }
    }
}

fn raw_frame(body: &[u8]) -> Vec<u8> {
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

#[test]
fn malformed_frames_are_answered_and_the_server_keeps_serving() {
    let text = "type Signup = { email: string }\nevent SignUp: Signup { key email }\n\
                journey Welcome {\n  start on SignUp\n  let who = event.email\n  wait 1h\n}\n";
    let (dir, uri) = project("frames", text);
    let diagnostics = |m: &Value| is_diagnostics(m, &uri);
    let mut lsp = Lsp::start(Stdio::null());
    lsp.open(&uri, text);
    let first = lsp.wait("diagnostics", diagnostics);
    assert_eq!(first["params"]["diagnostics"], json!([]), "{first}");

    // Each bad frame, and the JSON-RPC error it is answered with. (After a header block
    // without a usable length, input is skipped up to the next `Content-Length`.)
    let parse = -32700;
    let invalid = -32600;
    let bad: Vec<(&str, Vec<u8>, i64)> = vec![
        ("invalid JSON", raw_frame(b"{this is not json}"), parse),
        ("truncated JSON", raw_frame(br#"{"jsonrpc":"2.0","id":3,"method":"textDocument/hov"#), parse),
        ("not UTF-8", raw_frame(b"\"\xe9\""), parse),
        ("empty body", raw_frame(b""), parse),
        ("not JSON-RPC", raw_frame(br#"{"hello":"world"}"#), invalid),
        ("a batch", raw_frame(br#"[{"jsonrpc":"2.0","method":"initialized"}]"#), invalid),
        ("a wrong jsonrpc version", raw_frame(br#"{"jsonrpc":"1.0","method":"initialized"}"#), invalid),
        ("no Content-Length", b"Content-Type: application/json\r\n\r\n{\"x\":1}".to_vec(), parse),
        ("a bad Content-Length", b"Content-Length: twelve\r\n\r\n{\"x\":1}".to_vec(), parse),
        ("a Content-Length that does not fit", b"Content-Length: 99999999999999999999999\r\n\r\n".to_vec(), parse),
    ];
    for (what, bytes, code) in &bad {
        lsp.raw(bytes);
        let answer = lsp.wait(&format!("answer to {what}"), |m| m.get("error").is_some());
        assert_eq!(answer["error"]["code"], *code, "{what}: {answer}");
        assert_eq!(answer["id"], Value::Null, "{what}: {answer}");
        assert!(lsp.child.try_wait().unwrap().is_none(), "the server ended after {what}");
    }

    // A Content-Length far larger than what follows, then a good request: the request is
    // found inside the would-be body, answered, and the bad frame gets its own error.
    let at = text.find("email\n  wait").unwrap();
    let hover = json!({"jsonrpc": "2.0", "id": 4, "method": "textDocument/hover",
        "params": {"textDocument": {"uri": uri}, "position": {"line": 4, "character": at - text[..at].rfind('\n').unwrap() - 1}}});
    let mut bytes = b"Content-Length: 1000000000\r\n\r\n{\"jsonrpc\":".to_vec();
    bytes.extend(raw_frame(hover.to_string().as_bytes()));
    lsp.raw(&bytes);
    let answer = lsp.wait("answer to a huge Content-Length", |m| m.get("error").is_some());
    assert_eq!(answer["error"]["code"], parse, "{answer}");
    let hovered = lsp.wait("hover answer", |m| m["id"] == 4);
    let shown = hovered["result"]["contents"]["value"].as_str().unwrap_or_default();
    assert!(shown.contains("string"), "hover still works: {hovered}");

    // Diagnostics still follow edits.
    send(
        &mut lsp.stdin,
        json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {"textDocument": {"uri": uri, "version": 2},
            "contentChanges": [{"range": {"start": {"line": 4, "character": 23}, "end": {"line": 4, "character": 23}}, "text": "x"}]}}),
    );
    let after = lsp.wait("diagnostics after the edit", diagnostics);
    assert_eq!(after["params"]["version"], 2, "{after}");
    let list = after["params"]["diagnostics"].as_array().unwrap();
    assert!(list.iter().any(|d| d["message"].as_str().unwrap().contains("emailx")), "{after}");

    send(&mut lsp.stdin, json!({"jsonrpc": "2.0", "id": 5, "method": "shutdown", "params": null}));
    lsp.wait("shutdown answer", |m| m["id"] == 5);
    send(&mut lsp.stdin, json!({"jsonrpc": "2.0", "method": "exit", "params": null}));
    // The client keeps stdin open: the server still ends after `exit`.
    assert_exits(&mut lsp.child, &dir, "after `exit` while its stdin stayed open");
}
