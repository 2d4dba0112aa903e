//! Every feature of the language server through an in-process client over a duplex pipe:
//! initialize, diagnostics on open and change, hover, completion, definition, references,
//! symbols, rename, semantic tokens, formatting, quick fixes, UTF-16 positions.

use journey_lsp::testing::TestClient;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

#[path = "support/project.rs"]
mod project;

/// The declarations the journeys use (`support/project.rs`, shared with the benches).
const COMMON: &str = project::DECLARATIONS;

const MAIN: &str = r#"/// Reminds shoppers.
journey Reminder {
  start on CartAdd
  let email = profile.personalEmail.address ?? ""
  let first = profile.person.name.firstName ?? "there"
  if inAudience("VIP") { wait 1h }
  call SendEmail(to: email, template: "cart-${first}")
  await {
    on Purchase as p where p.commerce.order.priceTotal > 0 -> { end "bought" }
    after 2d -> { end "no" }
  }
}
"#;

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A fresh project folder with `journey.toml`, `common.journey` and `main.journey`.
fn project() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "journey-lsp-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("journey.toml"), "timezone = \"UTC\"\n").unwrap();
    std::fs::write(dir.join("common.journey"), COMMON).unwrap();
    std::fs::write(dir.join("main.journey"), MAIN).unwrap();
    dir
}

fn uri(path: &Path) -> String {
    tower_lsp_server::ls_types::Uri::from_file_path(path).unwrap().as_str().to_string()
}

/// The LSP position (UTF-16) of `needle`'s first occurrence in `text`, plus `delta` bytes.
fn pos(text: &str, needle: &str, delta: usize) -> Value {
    let at = text.find(needle).unwrap_or_else(|| panic!("{needle:?} not in text")) + delta;
    let line_start = text[..at].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line = text[..at].matches('\n').count();
    let character: usize = text[line_start..at].encode_utf16().count();
    json!({"line": line, "character": character})
}

fn doc_pos(uri: &str, p: Value) -> Value {
    json!({"textDocument": {"uri": uri}, "position": p})
}

async fn start(dir: &Path) -> (TestClient, String, String) {
    let mut c = TestClient::start();
    c.initialize().await;
    let (main, common) = (uri(&dir.join("main.journey")), uri(&dir.join("common.journey")));
    c.open(&main, MAIN).await;
    (c, main, common)
}

/// Replaces the whole text of an open document.
async fn change(c: &mut TestClient, uri: &str, version: i32, text: &str) {
    let params = json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]});
    c.notify("textDocument/didChange", params).await;
}

fn codes(diags: &[Value]) -> Vec<String> {
    diags.iter().map(|d| d["code"].as_str().unwrap_or("").to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initialize_declares_the_features() {
    let mut c = TestClient::start();
    let caps = c.initialize().await["capabilities"].clone();
    for cap in [
        "hoverProvider",
        "completionProvider",
        "definitionProvider",
        "referencesProvider",
        "documentSymbolProvider",
        "renameProvider",
        "semanticTokensProvider",
        "documentFormattingProvider",
        "codeActionProvider",
    ] {
        assert!(!caps[cap].is_null(), "missing {cap}: {caps}");
    }
    assert_eq!(caps["positionEncoding"], "utf-16");
    assert_eq!(caps["textDocumentSync"]["change"], 2, "incremental sync");
    let legend = &caps["semanticTokensProvider"]["legend"]["tokenTypes"];
    assert!(legend.as_array().unwrap().iter().any(|t| t == "keyword"));
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnostics_on_open_and_change_even_with_a_syntax_error() {
    let dir = project();
    let (mut c, main, common) = start(&dir).await;
    assert_eq!(c.diagnostics(&main).await, Vec::<Value>::new());
    assert_eq!(c.diagnostics(&common).await, Vec::<Value>::new());

    // An unknown event, and a line that does not parse elsewhere in the file.
    let broken =
        MAIN.replace("on Purchase as", "on Purchse as").replace("  call SendEmail", "  let = = =\n  call SendEmail");
    change(&mut c, &main, 2, &broken).await;
    let diags = c.diagnostics(&main).await;
    assert_eq!(codes(&diags), ["E0001", "E0003"], "{diags:#?}");
    let e = &diags[1];
    assert_eq!(e["severity"], 1);
    assert_eq!(e["source"], "journey");
    assert!(e["codeDescription"].is_null());
    let msg = e["message"].as_str().unwrap();
    assert!(msg.starts_with("unknown event `Purchse`"), "{msg}");
    assert!(msg.contains("help: did you mean `Purchase`?"), "{msg}");
    assert_eq!(e["range"]["start"], pos(&broken, "Purchse", 0));
    assert_eq!(e["range"]["end"], pos(&broken, "Purchse", 7));

    // The same messages as `journey check`: a warning with its help.
    let warn = MAIN.replace("after 2d -> { end \"no\" }\n", "");
    change(&mut c, &main, 3, &warn).await;
    let diags = c.diagnostics(&main).await;
    assert_eq!(codes(&diags), ["W0001"], "{diags:#?}");
    assert_eq!(diags[0]["severity"], 2);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secondary_labels_become_related_information() {
    let dir = project();
    let (mut c, main, common) = start(&dir).await;
    c.diagnostics(&main).await;
    let dup = format!("{MAIN}\naudience VIP\n");
    change(&mut c, &main, 2, &dup).await;
    let diags = c.diagnostics(&main).await;
    assert_eq!(codes(&diags), ["E0002"]);
    let related = diags[0]["relatedInformation"].as_array().expect("related information");
    assert_eq!(related[0]["location"]["uri"], common.as_str());
    assert_eq!(related[0]["location"]["range"]["start"], pos(COMMON, "VIP", 0));
    assert!(related[0]["message"].as_str().unwrap().contains("first declared here"));
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_changes_apply_in_order() {
    let dir = project();
    let (mut c, main, _) = start(&dir).await;
    c.diagnostics(&main).await;
    // Type `zz` after `email` in the call, one character at a time, then delete it.
    let at = pos(MAIN, "to: email", 9);
    for (v, ch) in [(2, "z"), (3, "z")] {
        let mut end = at.clone();
        end["character"] = json!(at["character"].as_u64().unwrap() + (v as u64 - 2));
        let change = json!({"range": {"start": end, "end": end}, "text": ch});
        c.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": main, "version": v}, "contentChanges": [change]}),
        )
        .await;
    }
    let diags = c.diagnostics(&main).await;
    let diags =
        if diags[0]["message"].as_str().unwrap().contains("`emailz`") { c.diagnostics(&main).await } else { diags };
    assert!(diags[0]["message"].as_str().unwrap().starts_with("unknown name `emailzz`"), "{diags:#?}");
    let mut end = at.clone();
    end["character"] = json!(at["character"].as_u64().unwrap() + 2);
    let change = json!({"range": {"start": at, "end": end}, "text": ""});
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": main, "version": 4}, "contentChanges": [change]}),
    )
    .await;
    assert_eq!(c.diagnostics(&main).await, Vec::<Value>::new());
    c.shutdown().await;
}

fn hover_text(v: &Value) -> String {
    v["result"]["contents"]["value"].as_str().unwrap_or("").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hover_shows_types_docs_and_signatures() {
    let dir = project();
    let (mut c, main, _) = start(&dir).await;
    let h = |needle: &str, d: usize| doc_pos(&main, pos(MAIN, needle, d));

    let field = hover_text(&c.request("textDocument/hover", h("firstName", 2)).await);
    assert!(field.contains("(field) firstName: string?"), "{field}");
    assert!(field.contains("First name"), "the XDM title: {field}");
    let name = hover_text(&c.request("textDocument/hover", h("name.firstName", 1)).await);
    assert!(name.contains("(field) name:") && name.contains("Full name"), "{name}");

    let local = hover_text(&c.request("textDocument/hover", h("to: email", 5)).await);
    assert!(local.contains("(local) email: string"), "{local}");

    let action = hover_text(&c.request("textDocument/hover", h("SendEmail(", 2)).await);
    assert!(
        action.contains("action SendEmail(to: string, template: string, vars: map<string>?) -> { messageId: string }"),
        "{action}"
    );
    assert!(action.contains("Sends an email."), "the /// doc: {action}");

    let event = hover_text(&c.request("textDocument/hover", h("CartAdd", 1)).await);
    assert!(event.contains("event CartAdd: CommerceEvent"), "{event}");
    assert!(event.contains("Products were added to the cart.") && event.contains("`commerce`"), "{event}");

    let function = hover_text(&c.request("textDocument/hover", h("inAudience", 1)).await);
    assert!(function.contains("inAudience(string) -> bool"), "{function}");

    let param = hover_text(&c.request("textDocument/hover", h("template:", 1)).await);
    assert!(param.contains("(parameter) template: string"), "{param}");

    let binding = hover_text(&c.request("textDocument/hover", h("p.commerce", 0)).await);
    assert!(binding.contains("(local) p:"), "{binding}");
    c.shutdown().await;
}

fn labels(v: &Value) -> Vec<String> {
    v["result"]
        .as_array()
        .map(|a| a.iter().map(|i| i["label"].as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_in_context() {
    let dir = project();
    let (mut c, main, _) = start(&dir).await;
    c.diagnostics(&main).await;

    // After `profile.person.` on a line still being typed.
    let typing = MAIN.replace("  call SendEmail", "  let n = profile.person.\n  call SendEmail");
    change(&mut c, &main, 2, &typing).await;
    let at = pos(&typing, "profile.person.\n", 15);
    let items = labels(&c.request("textDocument/completion", doc_pos(&main, at)).await);
    assert!(items.contains(&"name".to_string()), "{items:?}");

    // `if profile.person.` without its block yet.
    let typing = MAIN.replace("  call SendEmail", "  if profile.person.na\n  call SendEmail");
    change(&mut c, &main, 3, &typing).await;
    let at = pos(&typing, "person.na\n", 9);
    let items = labels(&c.request("textDocument/completion", doc_pos(&main, at)).await);
    assert!(items.contains(&"name".to_string()), "{items:?}");

    // Fields of a local, and of an `as` binding.
    let typing = MAIN.replace("priceTotal > 0", "priceTotal > 0 and p.");
    change(&mut c, &main, 4, &typing).await;
    let items = labels(&c.request("textDocument/completion", doc_pos(&main, pos(&typing, "and p.", 6))).await);
    assert!(items.contains(&"commerce".to_string()) && items.contains(&"identityMap".to_string()), "{items:?}");

    change(&mut c, &main, 5, MAIN).await;
    let at = |needle: &str, d: usize| doc_pos(&main, pos(MAIN, needle, d));
    let events = labels(&c.request("textDocument/completion", at("start on CartAdd", 9)).await);
    assert!(events.contains(&"CartAdd".to_string()) && events.contains(&"Purchase".to_string()), "{events:?}");
    assert!(!events.contains(&"SendEmail".to_string()));
    let actions = labels(&c.request("textDocument/completion", at("call SendEmail", 5)).await);
    assert_eq!(actions, ["SendEmail"]);
    let audiences = labels(&c.request("textDocument/completion", at("VIP\")", 0)).await);
    assert_eq!(audiences, ["VIP"]);

    // In an expression: locals, `event`, `profile`, functions with their signature.
    let expr = c.request("textDocument/completion", at("template: \"cart", 10)).await;
    let items = labels(&expr);
    for want in ["email", "first", "event", "profile", "inAudience", "lower"] {
        assert!(items.contains(&want.to_string()), "{want} missing from {items:?}");
    }
    assert!(!items.contains(&"p".to_string()), "`p` is not visible before the await");
    let lower = expr["result"].as_array().unwrap().iter().find(|i| i["label"] == "lower").unwrap().clone();
    assert_eq!(lower["detail"], "lower(string) -> string");

    // At a statement start: statement keywords; at the top level: declaration keywords.
    let stmt = labels(&c.request("textDocument/completion", at("  let email", 2)).await);
    assert!(stmt.contains(&"await".to_string()) && stmt.contains(&"let".to_string()), "{stmt:?}");
    let top = labels(&c.request("textDocument/completion", at("journey Reminder", 0)).await);
    assert!(top.contains(&"datasource".to_string()) && !top.contains(&"let".to_string()), "{top:?}");
    c.shutdown().await;
}

/// Messages: channels after `send`, templates the project already uses after the channel, send
/// names after `on opened`, and a channel's hover.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_completion_and_channel_hover() {
    let dir = project();
    let (mut c, main, _) = start(&dir).await;
    c.diagnostics(&main).await;
    let text = r#"/// Email to the personal address.
channel email {
  to profile.personalEmail.address
  deliver SendEmail
}
frequency email 3 per 7d
journey Reminder {
  start on CartAdd
  send email "hello" as hi
  send email "bye"
  await {
    on opened hi -> { }
    after 1d -> { }
  }
}
"#;
    change(&mut c, &main, 2, text).await;
    let at = |needle: &str, d: usize| doc_pos(&main, pos(text, needle, d));
    let channels = labels(&c.request("textDocument/completion", at("send email \"bye", 5)).await);
    assert!(channels.contains(&"email".to_string()) && channels.contains(&"transactional".to_string()), "{channels:?}");
    let templates = labels(&c.request("textDocument/completion", at("send email \"bye", 11)).await);
    assert!(templates.contains(&"\"hello\"".to_string()), "{templates:?}");
    let sends = labels(&c.request("textDocument/completion", at("on opened hi", 10)).await);
    assert_eq!(sends, ["hi"]);
    let hover = hover_text(&c.request("textDocument/hover", at("send email \"hello", 6)).await);
    assert!(hover.contains("channel email"), "{hover}");
    assert!(hover.contains("delivered by `SendEmail`") && hover.contains("frequency email 3 per 7d"), "{hover}");
    c.shutdown().await;
}

/// Goals: `goal` among the settings, events after `goal "NAME" on`, and a journey's hover
/// lists its goals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goal_completion_and_hover() {
    let dir = project();
    let (mut c, main, _) = start(&dir).await;
    c.diagnostics(&main).await;
    let text = r#"journey Promo {
  start on CartAdd
  goal "purchase" on Purchase as p within 7d value p.commerce.order.priceTotal ?? 0
  goal "again" on Purchase within 1d
  wait 1h
}
"#;
    change(&mut c, &main, 2, text).await;
    let at = |needle: &str, d: usize| doc_pos(&main, pos(text, needle, d));
    let settings = labels(&c.request("textDocument/completion", at("  wait 1h", 2)).await);
    assert!(settings.contains(&"goal".to_string()), "{settings:?}");
    let events = labels(&c.request("textDocument/completion", at("goal \"again\" on Purchase", 19)).await);
    assert!(events.contains(&"Purchase".to_string()) && !events.contains(&"timeout".to_string()), "{events:?}");
    let hover = hover_text(&c.request("textDocument/hover", at("Promo", 1)).await);
    assert!(hover.contains("Goal \"purchase\": converts on `Purchase` within 7d of entry, with a value."), "{hover}");
    assert!(hover.contains("Goal \"again\": converts on `Purchase` within 1d of entry."), "{hover}");
    c.shutdown().await;
}

/// Sorted labels, for comparing item sets.
fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_in_a_string_not_closed_yet() {
    let dir = project();
    let (mut c, main, common) = start(&dir).await;
    c.diagnostics(&main).await;
    c.open(&common, COMMON).await;
    let mut version = 1;
    // Completes at the end of `line`, typed into `base` on a line of its own after `after`:
    // once with the string closed (`closing` after the cursor), once as typed (no closing
    // quote, the cursor at the end of the line). `after` empty: at the very end of the file.
    let mut both = async |uri: &str, base: &str, after: &str, line: &str, closing: &str| {
        let mut out = Vec::new();
        for close in [closing, ""] {
            let text = if after.is_empty() {
                format!("{base}{line}{close}")
            } else {
                base.replacen(after, &format!("{after}{line}{close}\n"), 1)
            };
            version += 1;
            change(&mut c, uri, version, &text).await;
            let at = pos(&text, &format!("{after}{line}"), after.len() + line.len());
            out.push(c.request("textDocument/completion", doc_pos(uri, at)).await);
        }
        let unclosed = out.pop().unwrap();
        (out.pop().unwrap(), unclosed)
    };

    // `xdm "`: classes; `with "` and `, "`: the class's field groups; each with or without
    // a prefix typed, and at the very end of the file.
    let profile = "https://ns.adobe.com/xdm/context/profile";
    let with = "schema X = xdm \"https://ns.adobe.com/xdm/context/profile\"\n    with \"";
    let comma = format!("{with}https://ns.adobe.com/xdm/context/profile-person-details\", \"");
    let cases = [
        ("audience VIP\n", "schema X = xdm \""),
        ("audience VIP\n", "schema X = xdm \"https://ns.adobe.com/xdm/context/pro"),
        ("", "\nschema X = xdm \""),
        ("audience VIP\n", with),
        ("", &format!("\n{with}")),
        ("audience VIP\n", &comma),
    ];
    for (after, line) in cases {
        let (closed, unclosed) = both(&common, COMMON, after, line, "\"").await;
        let (want, got) = (sorted(labels(&closed)), sorted(labels(&unclosed)));
        assert!(!want.is_empty(), "{line:?}: nothing even when closed");
        assert_eq!(got, want, "{line:?}");
        let first = &unclosed["result"][0]["textEdit"];
        assert!(first["newText"].as_str().unwrap().ends_with('"'), "the id closes the string: {first}");
        let closed_first = &closed["result"][0]["textEdit"];
        assert!(!closed_first["newText"].as_str().unwrap().ends_with('"'), "{closed_first}");
        assert_eq!(first["range"]["start"], closed_first["range"]["start"], "{line:?}");
        if line.ends_with("xdm \"") {
            assert!(got.contains(&profile.to_string()), "{got:?}");
        }
        if line.contains("with") {
            assert!(got.iter().all(|i| !i.contains("experienceevent-commerce")), "{line:?}: the profile's groups");
        }
    }

    // `inAudience("` (and `inSegment("`), with or without the name begun.
    for line in ["  if inAudience(\"", "  if inAudience(\"V", "  let s = inSegment(\""] {
        let (closed, unclosed) = both(&main, MAIN, "  start on CartAdd\n", line, "\")").await;
        assert_eq!(labels(&closed), ["VIP"], "{line:?}");
        assert_eq!(labels(&unclosed), ["VIP"], "{line:?}");
    }

    // Neighbours: an unclosed plain string, a line comment and an unclosed block comment at
    // the end of their line offer nothing (not keywords); an unclosed `${` still completes.
    for (line, want) in [
        ("  let s = \"hello ", None),
        ("  // a note ", None),
        ("  /* a note ", None),
        ("  let s = 'hello ", None),
        ("  let s = \"Hi ${profile.person.", Some("name")),
    ] {
        let text = MAIN.replacen("  start on CartAdd\n", &format!("  start on CartAdd\n{line}\n"), 1);
        version += 1;
        change(&mut c, &main, version, &text).await;
        let at = pos(&text, line, line.len());
        let items = labels(&c.request("textDocument/completion", doc_pos(&main, at)).await);
        match want {
            None => assert!(items.is_empty(), "{line:?}: {items:?}"),
            Some(w) => assert!(items.contains(&w.to_string()), "{line:?}: {items:?}"),
        }
    }
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn definition_references_and_symbols() {
    let dir = project();
    let (mut c, main, common) = start(&dir).await;
    let def = c.request("textDocument/definition", doc_pos(&main, pos(MAIN, "SendEmail", 3))).await;
    let loc = &def["result"][0];
    assert_eq!(loc["uri"], common.as_str());
    assert_eq!(loc["range"]["start"], pos(COMMON, "SendEmail", 0));

    let local = c.request("textDocument/definition", doc_pos(&main, pos(MAIN, "to: email", 5))).await;
    assert_eq!(local["result"][0]["range"]["start"], pos(MAIN, "email =", 0));

    let mut params = doc_pos(&common, pos(COMMON, "event CartAdd", 7));
    params["context"] = json!({"includeDeclaration": true});
    let refs = c.request("textDocument/references", params).await["result"].as_array().unwrap().clone();
    assert_eq!(refs.len(), 2, "{refs:#?}");
    assert!(refs.iter().any(|r| r["uri"] == main.as_str() && r["range"]["start"] == pos(MAIN, "CartAdd", 0)));

    let symbols = c.request("textDocument/documentSymbol", json!({"textDocument": {"uri": main}})).await;
    let j = &symbols["result"][0];
    assert_eq!(j["name"], "Reminder");
    let children: Vec<&str> = j["children"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(children, ["email", "first", "p"]);
    let common_symbols = c.request("textDocument/documentSymbol", json!({"textDocument": {"uri": common}})).await;
    let names: Vec<&str> =
        common_symbols["result"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["profile", "CommerceEvent", "CartAdd", "Purchase", "VIP", "SendEmail", "Loyalty"]);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rename_across_files_and_refusals() {
    let dir = project();
    let (mut c, main, common) = start(&dir).await;
    let at = doc_pos(&main, pos(MAIN, "CartAdd", 2));
    let prep = c.request("textDocument/prepareRename", at.clone()).await;
    assert_eq!(prep["result"]["start"], pos(MAIN, "CartAdd", 0));

    let mut params = at.clone();
    params["newName"] = json!("CartAdded");
    let edit = c.request("textDocument/rename", params).await;
    let changes = &edit["result"]["changes"];
    assert_eq!(changes[&main][0]["newText"], "CartAdded");
    assert_eq!(changes[&common][0]["range"]["start"], pos(COMMON, "CartAdd", 0));

    // The audience named in a string: only the text inside the quotes changes.
    let mut params = doc_pos(&main, pos(MAIN, "VIP\")", 1));
    params["newName"] = json!("Gold");
    let edit = c.request("textDocument/rename", params).await;
    assert_eq!(edit["result"]["changes"][&main][0]["range"]["start"], pos(MAIN, "VIP\")", 0));

    for (bad, why) in [("Purchase", "already declared"), ("let", "keyword"), ("9lives", "not a valid name")] {
        let mut params = at.clone();
        params["newName"] = json!(bad);
        let r = c.request("textDocument/rename", params).await;
        let msg = r["error"]["message"].as_str().unwrap_or_default().to_string();
        assert!(msg.contains(why), "{bad}: {r}");
    }

    // A local: its declaration and every use.
    let mut params = doc_pos(&main, pos(MAIN, "email =", 1));
    params["newName"] = json!("address");
    let edit = c.request("textDocument/rename", params).await;
    assert_eq!(edit["result"]["changes"][&main].as_array().unwrap().len(), 2);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semantic_tokens_classify_the_file() {
    let dir = project();
    let (mut c, main, _) = start(&dir).await;
    let r = c.request("textDocument/semanticTokens/full", json!({"textDocument": {"uri": main}})).await;
    let data: Vec<u64> = r["result"]["data"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    assert_eq!(data.len() % 5, 0);
    let lines: Vec<Vec<u16>> = MAIN.split('\n').map(|l| l.encode_utf16().collect()).collect();
    let (mut line, mut col) = (0usize, 0usize);
    let mut tokens = Vec::new();
    for t in data.chunks(5) {
        if t[0] > 0 {
            line += t[0] as usize;
            col = t[1] as usize;
        } else {
            col += t[1] as usize;
        }
        let text = String::from_utf16_lossy(&lines[line][col..col + t[2] as usize]);
        tokens.push((text, t[3], t[4]));
    }
    let find = |s: &str| tokens.iter().find(|t| t.0 == s).cloned().unwrap_or_else(|| panic!("{s} in {tokens:?}"));
    let legend = journey_lsp::tokens::TYPES;
    let kind = |s: &str| legend[find(s).1 as usize].as_str().to_string();
    assert_eq!(kind("/// Reminds shoppers."), "comment");
    assert_eq!(kind("journey"), "keyword");
    assert_eq!(kind("Reminder"), "namespace");
    assert_eq!(find("Reminder").2 & 1, 1, "declaration modifier");
    assert_eq!(kind("CartAdd"), "event");
    assert_eq!(kind("SendEmail"), "function");
    assert_eq!(kind("email"), "variable");
    assert_eq!(kind("firstName"), "property");
    assert_eq!(kind("inAudience"), "function");
    assert_eq!(kind("1h"), "number");
    assert_eq!(kind("\"cart-"), "string");
    assert_eq!(kind("${"), "operator");
    assert_eq!(kind("??"), "operator");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn formatting_rewrites_the_document() {
    let dir = project();
    let (mut c, main, _) = start(&dir).await;
    let messy = "journey   Reminder {\nstart on CartAdd\n      wait 1h\n}\n";
    change(&mut c, &main, 2, messy).await;
    let r = c
        .request(
            "textDocument/formatting",
            json!({"textDocument": {"uri": main}, "options": {"tabSize": 2, "insertSpaces": true}}),
        )
        .await;
    let edits = r["result"].as_array().unwrap();
    assert_eq!(edits.len(), 1, "{r}");
    let want = journey_grammar::fmt::format(messy).unwrap();
    assert_eq!(edits[0]["newText"], want.as_str());
    assert_ne!(want, messy);
    // A file that does not parse is left alone.
    change(&mut c, &main, 3, "journey X {").await;
    let r = c
        .request(
            "textDocument/formatting",
            json!({"textDocument": {"uri": main}, "options": {"tabSize": 2, "insertSpaces": true}}),
        )
        .await;
    assert_eq!(r["result"], json!([]));
    c.shutdown().await;
}

/// Applies LSP text edits (UTF-16 ranges) to a text.
fn apply(text: &str, edits: &[Value]) -> String {
    let offset = |p: &Value| {
        let (line, ch) = (p["line"].as_u64().unwrap() as usize, p["character"].as_u64().unwrap() as usize);
        let start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
        let mut units = 0;
        for (i, c) in text[start..].char_indices() {
            if units >= ch {
                return start + i;
            }
            units += c.len_utf16();
        }
        text.len()
    };
    let mut spans: Vec<(usize, usize, String)> = edits
        .iter()
        .map(|e| (offset(&e["range"]["start"]), offset(&e["range"]["end"]), e["newText"].as_str().unwrap().to_string()))
        .collect();
    spans.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut out = text.to_string();
    for (a, b, t) in spans {
        out.replace_range(a..b, &t);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_fixes_apply_did_you_mean() {
    let dir = project();
    let (mut c, main, _) = start(&dir).await;
    c.diagnostics(&main).await;
    let typos = MAIN
        .replace("on Purchase", "on Purchse")
        .replace("name.firstName", "name.firstNme")
        .replace("inAudience(\"VIP\")", "inAudience(\"VIPs\")")
        .replace("template: \"cart", "templte: \"cart");
    change(&mut c, &main, 2, &typos).await;
    let diags = c.diagnostics(&main).await;
    let helped = diags.iter().filter(|d| d["message"].as_str().unwrap().contains("did you mean")).count();
    assert_eq!(helped, 4, "{diags:#?}");
    let mut text = typos.clone();
    for version in 3..13 {
        let whole = json!({"start": {"line": 0, "character": 0}, "end": {"line": 99, "character": 0}});
        let params = json!({"textDocument": {"uri": main}, "range": whole, "context": {"diagnostics": []}});
        let actions = c.request("textDocument/codeAction", params).await["result"].as_array().unwrap().clone();
        let Some(action) = actions.first() else { break };
        assert_eq!(action["kind"], "quickfix");
        assert!(action["title"].as_str().unwrap().starts_with("Replace with"));
        let edits = action["edit"]["changes"][&main].as_array().unwrap().clone();
        text = apply(&text, &edits);
        change(&mut c, &main, version, &text).await;
        c.diagnostics(&main).await;
    }
    assert_eq!(text, MAIN);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_fixes_anywhere_on_the_line_built_from_diagnostic_data() {
    let dir = project();
    let (mut c, main, _) = start(&dir).await;
    c.diagnostics(&main).await;
    let typo = MAIN.replace("on Purchase", "on Purchse");
    change(&mut c, &main, 2, &typo).await;
    let diags = c.diagnostics(&main).await;
    assert_eq!(codes(&diags), ["E0003"], "{diags:#?}");
    // The suggestion travels as data, with the exact range it replaces.
    let fix = &diags[0]["data"]["fix"];
    assert_eq!(fix["replacement"], "Purchase");
    assert_eq!(fix["range"]["start"], pos(&typo, "Purchse", 0));
    assert_eq!(fix["range"]["end"], pos(&typo, "Purchse", 7));
    let ask = |range: Value, sent: Value| json!({"textDocument": {"uri": main}, "range": range, "context": {"diagnostics": sent}});
    let line = pos(&typo, "Purchse", 0)["line"].clone();
    // A cursor at the start of the line (before the diagnostic) is enough.
    let cursor = json!({"line": line, "character": 0});
    let r = c.request("textDocument/codeAction", ask(json!({"start": cursor, "end": cursor}), json!([]))).await;
    let actions = r["result"].as_array().unwrap().clone();
    assert_eq!(actions.len(), 1, "{r}");
    assert_eq!(actions[0]["title"], "Replace with `Purchase`");
    assert_eq!(actions[0]["edit"]["changes"][&main][0]["newText"], "Purchase");
    // Another line offers nothing of its own...
    let top = json!({"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}});
    let r = c.request("textDocument/codeAction", ask(top.clone(), json!([]))).await;
    assert_eq!(r["result"].as_array().map_or(0, Vec::len), 0, "{r}");
    // ...but the diagnostics the client sends in the context are fixed from their data.
    let r = c.request("textDocument/codeAction", ask(top.clone(), json!([diags[0].clone()]))).await;
    let actions = r["result"].as_array().unwrap().clone();
    assert_eq!(actions.len(), 1, "{r}");
    assert_eq!(actions[0]["edit"]["changes"][&main][0]["range"], fix["range"]);
    // A diagnostic without data gets no fix, whatever its text says.
    let mut bare = diags[0].clone();
    bare.as_object_mut().unwrap().remove("data");
    let r = c.request("textDocument/codeAction", ask(top, json!([bare]))).await;
    assert_eq!(r["result"].as_array().map_or(0, Vec::len), 0, "{r}");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_fixes_keep_quotes_and_fix_time_zones() {
    let dir = project();
    let (mut c, main, _) = start(&dir).await;
    c.diagnostics(&main).await;
    let text = MAIN.replace("start on CartAdd", "start on CartAdd\n  timezone \"PST\"");
    change(&mut c, &main, 2, &text).await;
    let diags = c.diagnostics(&main).await;
    assert_eq!(codes(&diags), ["E0024"], "{diags:#?}");
    assert_eq!(diags[0]["data"]["fix"]["replacement"], "\"America/Los_Angeles\"");
    let at = pos(&text, "timezone", 0);
    let r = c
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": main}, "range": {"start": at, "end": at}, "context": {"diagnostics": []}}),
        )
        .await;
    let edits = r["result"][0]["edit"]["changes"][&main].as_array().unwrap().clone();
    assert_eq!(
        apply(&text, &edits),
        MAIN.replace("start on CartAdd", "start on CartAdd\n  timezone \"America/Los_Angeles\"")
    );
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_count_utf16_units() {
    let dir = project();
    let (mut c, main, _) = start(&dir).await;
    c.diagnostics(&main).await;
    let text = MAIN.replace("let first =", "let cafe = \"é🙂\" + unknownName\n  let x = \"🙂é\" + cafe\n  let first =");
    change(&mut c, &main, 2, &text).await;
    let diags = c.diagnostics(&main).await;
    assert_eq!(codes(&diags), ["E0003"], "{diags:#?}");
    let start = pos(&text, "unknownName", 0);
    assert_eq!(start["character"], 21, "é is 1 unit, 🙂 is 2");
    assert_eq!(diags[0]["range"]["start"], start);
    assert_eq!(diags[0]["range"]["end"], pos(&text, "unknownName", 11));
    // Hover on a name after an emoji and an accent: its range is in UTF-16 units too.
    let at = pos(&text, "+ cafe", 3);
    assert_eq!(at["character"], 19);
    let h = c.request("textDocument/hover", doc_pos(&main, at)).await;
    assert!(hover_text(&h).contains("(local) cafe: string"), "{h}");
    assert_eq!(h["result"]["range"]["start"], pos(&text, "+ cafe", 2));
    assert_eq!(h["result"]["range"]["end"]["character"], 22);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_fixes_for_functions_values_time_zones_and_schema_ids() {
    let dir = project();
    let (mut c, main, common) = start(&dir).await;
    c.diagnostics(&main).await;
    c.open(&common, COMMON).await;
    let cases = [
        (MAIN.replace("start on CartAdd", "start on CartAdd\n  timezone \"Europe/Pariss\""), "\"Europe/Paris\""),
        (MAIN.replace("let first = ", "let low = lowr(email)\n  let first = "), "lower"),
        (
            MAIN.replace("let first = ", "let bought = event.eventType == \"commerce.purchase\"\n  let first = "),
            "\"commerce.purchases\"",
        ),
        (
            format!("{MAIN}\nschema Bad = xdm \"https://ns.adobe.com/xdm/context/profil\"\n"),
            "\"https://ns.adobe.com/xdm/context/profile\"",
        ),
    ];
    for (version, (text, want)) in cases.iter().enumerate() {
        change(&mut c, &main, version as i32 + 2, text).await;
        let diags = c.diagnostics(&main).await;
        assert_eq!(diags.len(), 1, "{diags:#?}");
        let params =
            json!({"textDocument": {"uri": main}, "range": diags[0]["range"], "context": {"diagnostics": diags}});
        let actions = c.request("textDocument/codeAction", params).await["result"].as_array().unwrap().clone();
        assert_eq!(actions.len(), 1, "{actions:#?}");
        let edit = &actions[0]["edit"]["changes"][&main][0];
        assert_eq!(edit["newText"], *want);
        assert_eq!(edit["range"], diags[0]["range"]);
        assert_eq!(actions[0]["diagnostics"][0]["code"], diags[0]["code"]);
    }
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_created_deleted_and_closed_on_disk() {
    let dir = project();
    let (mut c, main, _) = start(&dir).await;
    c.diagnostics(&main).await;
    let extra_path = dir.join("extra.journey");
    std::fs::write(&extra_path, "journey Extra {\n  start on Purchse\n}\n").unwrap();
    let extra = uri(&extra_path);
    let watched = |kind: u32| json!({"changes": [{"uri": extra, "type": kind}]});
    c.notify("workspace/didChangeWatchedFiles", watched(1)).await;
    let diags = c.diagnostics(&extra).await;
    assert_eq!(codes(&diags), ["E0003"], "{diags:#?}");

    std::fs::remove_file(&extra_path).unwrap();
    c.notify("workspace/didChangeWatchedFiles", watched(3)).await;
    assert_eq!(c.diagnostics(&extra).await, Vec::<Value>::new());

    // Unsaved text with a mistake, then closed: what is on disk counts again.
    change(&mut c, &main, 2, &MAIN.replace("on Purchase", "on Purchse")).await;
    assert_eq!(codes(&c.diagnostics(&main).await), ["E0003"]);
    c.notify("textDocument/didClose", json!({"textDocument": {"uri": main}})).await;
    assert_eq!(c.diagnostics(&main).await, Vec::<Value>::new());
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_of_results_payloads_and_profile_updates() {
    let dir = project();
    let (mut c, main, common) = start(&dir).await;
    c.diagnostics(&main).await;

    let typing =
        MAIN.replace("  call SendEmail", "  let member = fetch Loyalty(email)\n  let t = member.\n  call SendEmail");
    change(&mut c, &main, 2, &typing).await;
    let items = labels(&c.request("textDocument/completion", doc_pos(&main, pos(&typing, "member.\n", 7))).await);
    assert_eq!(items, ["tier", "points"]);
    let sources = labels(&c.request("textDocument/completion", doc_pos(&main, pos(&typing, "fetch Loyalty", 6))).await);
    assert_eq!(sources, ["Loyalty"]);

    let typing = MAIN.replace("  call SendEmail", "  update profile {\n    person.\n  }\n  call SendEmail");
    change(&mut c, &main, 3, &typing).await;
    let items = labels(&c.request("textDocument/completion", doc_pos(&main, pos(&typing, "person.\n", 7))).await);
    assert!(items.contains(&"name".to_string()), "{items:?}");

    // In an event's `when`, the payload's fields by their bare names.
    let typing =
        COMMON.replace("when eventType == \"commerce.purchases\"", "when eventType == \"commerce.purchases\" and comm");
    c.open(&common, &typing).await;
    let at = pos(&typing, "and comm", 8);
    let items = labels(&c.request("textDocument/completion", doc_pos(&common, at)).await);
    assert!(items.contains(&"commerce".to_string()) && items.contains(&"eventType".to_string()), "{items:?}");
    assert!(!items.contains(&"profile".to_string()), "no profile in `when`: {items:?}");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_ids_and_files() {
    let dir = project();
    let (mut c, main, common) = start(&dir).await;
    c.diagnostics(&main).await;
    c.open(&common, COMMON).await;
    let h = c.request("textDocument/hover", doc_pos(&common, pos(COMMON, "profile-person-details", 3))).await;
    let text = hover_text(&h);
    assert!(text.contains("XDM field group") && text.contains("profile-person-details"), "{text}");

    // Field groups for the class after `with "`, replacing the string's text.
    let typing = COMMON.replace("profile-personal-details\"", "profile-personal-details\",\n         \"\"");
    change(&mut c, &common, 2, &typing).await;
    let at = pos(&typing, ",\n         \"\"", 12);
    let r = c.request("textDocument/completion", doc_pos(&common, at.clone())).await;
    let items = labels(&r);
    assert!(
        items.contains(&"https://ns.adobe.com/xdm/context/profile-loyalty-details".to_string()) || items.len() > 5,
        "{items:?}"
    );
    assert!(items.iter().all(|i| !i.contains("experienceevent-commerce")), "only the profile's field groups");
    let edit = &r["result"][0]["textEdit"];
    assert_eq!(edit["range"]["start"], at);

    // A JSON Schema file: go to it.
    std::fs::write(dir.join("order.schema.json"), r#"{"type": "object", "properties": {"id": {"type": "string"}}}"#)
        .unwrap();
    let orders = format!("{MAIN}\nschema Order = json \"order.schema.json\"\n");
    change(&mut c, &main, 2, &orders).await;
    let def = c.request("textDocument/definition", doc_pos(&main, pos(&orders, "order.schema", 2))).await;
    let target = def["result"][0]["uri"].as_str().unwrap_or_default().to_string();
    assert!(target.ends_with("order.schema.json"), "{def}");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renaming_a_parameter_renames_argument_names() {
    let dir = project();
    let (mut c, main, common) = start(&dir).await;
    c.open(&common, COMMON).await;
    let mut params = doc_pos(&common, pos(COMMON, "template: string", 2));
    params["newName"] = json!("layout");
    let edit = c.request("textDocument/rename", params).await;
    let changes = &edit["result"]["changes"];
    let in_common = apply(COMMON, changes[&common].as_array().unwrap());
    assert!(in_common.contains("(to: string, layout: string, vars: map<string>?)"), "{in_common}");
    assert!(in_common.contains("template_id: layout"), "the body key stays: {in_common}");
    let in_main = apply(MAIN, changes[&main].as_array().unwrap());
    assert!(in_main.contains("call SendEmail(to: email, layout: \"cart-"), "{in_main}");

    // The URL placeholder follows the data source's parameter.
    let mut params = doc_pos(&common, pos(COMMON, "Loyalty(memberId", 9));
    params["newName"] = json!("address");
    let edit = c.request("textDocument/rename", params).await;
    let in_common = apply(COMMON, edit["result"]["changes"][&common].as_array().unwrap());
    assert!(
        in_common.contains("Loyalty(address: string) = http GET \"https://loyalty.example.com/members/{address}\""),
        "{in_common}"
    );
    c.shutdown().await;
}
