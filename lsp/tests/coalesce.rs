//! Edits that arrive while a check runs are coalesced: a burst of changes ends with the
//! diagnostics of the latest version, after far fewer checks than changes.

use journey_lsp::testing::TestClient;
use serde_json::{json, Value};

const HEADER: &str = "type Signup = { email: string, plan: string, seats: int }\n\
                      event SignUp: Signup { key email }\n\
                      action Send(to: string, template: string) = http POST \"https://mail.example.com/send\" {\n  \
                      body { to: to, template: template }\n}\n";

/// A project file of many journeys (enough that a check takes a while).
fn text(journeys: usize) -> String {
    let mut out = HEADER.to_string();
    for i in 0..journeys {
        out.push_str(&format!(
            "journey J{i} {{\n  start on SignUp\n  let who = event.email\n  if event.seats > {i} {{\n    \
             call Send(to: who, template: \"t{i}\")\n  }} else {{\n    wait 1d\n  }}\n  end \"done\"\n}}\n"
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_edits_ends_with_the_latest_version_after_few_checks() {
    let dir = std::env::temp_dir().join(format!("journey-lsp-coalesce-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let text = text(150);
    let path = dir.join("main.journey");
    std::fs::write(&path, &text).unwrap();
    let uri = tower_lsp_server::ls_types::Uri::from_file_path(&path).unwrap().as_str().to_string();

    let mut c = TestClient::start();
    c.initialize().await;
    c.open(&uri, &text).await;
    assert_eq!(c.diagnostics(&uri).await, Vec::<Value>::new());
    let before = c.checks();

    // Type 200 characters after the last `event.email`, as fast as the client can send them:
    // every version names a different unknown field.
    let at = text.rfind("event.email").unwrap() + "event.email".len();
    let line = text[..at].matches('\n').count();
    let character = at - text[..at].rfind('\n').unwrap() - 1;
    let edits = 200;
    for i in 0..edits {
        let p = json!({"line": line, "character": character + i});
        let change = json!({"range": {"start": p, "end": p}, "text": "x"});
        let params = json!({"textDocument": {"uri": uri, "version": i + 2}, "contentChanges": [change]});
        c.notify("textDocument/didChange", params).await;
    }
    let latest = edits as i64 + 1;
    let typed = format!("email{}", "x".repeat(edits));
    // Diagnostics arrive in version order and end with the latest version's.
    let mut seen = 0;
    let last = loop {
        let p = c.notification("textDocument/publishDiagnostics", |p| p["uri"] == uri).await;
        let v = p["version"].as_i64().expect("a version");
        assert!(v > seen, "version {v} published after version {seen}");
        seen = v;
        if v == latest {
            break p;
        }
    };
    let diags = last["diagnostics"].as_array().unwrap();
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert!(diags[0]["message"].as_str().unwrap().contains(&format!("`{typed}`")), "{diags:#?}");
    let checks = c.checks() - before;
    assert!(checks <= edits / 10, "{checks} checks for {edits} edits: stale versions were checked");

    // An edit after the burst is checked on its own, and its diagnostics are the next ones.
    let p = json!({"line": line, "character": character});
    let change = json!({"range": {"start": p, "end": {"line": line, "character": character + edits}}, "text": ""});
    let params = json!({"textDocument": {"uri": uri, "version": latest + 1}, "contentChanges": [change]});
    c.notify("textDocument/didChange", params).await;
    let next = c.notification("textDocument/publishDiagnostics", |p| p["uri"] == uri).await;
    assert_eq!(next["version"], latest + 1, "{next}");
    assert_eq!(next["diagnostics"], json!([]));
    c.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
