//! The server never crashes or hangs: random edit sequences (text inserted and deleted at
//! random places, UTF-16 ranges) go through an in-process server, each followed by a random
//! request at a random position; every request must be answered, no handler may panic, and
//! the server's text must end up as the client's (same semantic tokens as a fresh server
//! given the final text).

use journey_lsp::testing::TestClient;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};

const BASE: &str = r#"/// The customer profile.
profile = xdm "https://ns.adobe.com/xdm/context/profile"
    with "https://ns.adobe.com/xdm/context/profile-person-details",
         "https://ns.adobe.com/xdm/context/profile-personal-details"
schema CommerceEvent = xdm "https://ns.adobe.com/xdm/context/experienceevent"
    with "https://ns.adobe.com/xdm/context/experienceevent-commerce"
type Item = { sku: string, price: number }
event CartAdd: CommerceEvent { key identityMap.Email[0].id  when eventType == "commerce.productListAdds" }
audience VIP
action SendEmail(to: string, template: string) = http POST "https://mail.example.com/{to}" {
  body { to: to, template_id: template }
  returns { messageId: string }
}
/// Reminds shoppers. é 🙂
journey Reminder {
  start on CartAdd
  let email = profile.personalEmail.address ?? ""
  if inAudience("VIP") and count(event.productListItems) > 0 { wait 1h }
  call SendEmail(to: email, template: "cart-${profile.person.name.firstName ?? "x"}")
  await {
    on CartAdd as p where p.commerce.cart.cartID != null -> { end "again" }
    after 2d -> { jump Reminder }
  }
}
test "t" {
  send CartAdd { eventType: "commerce.productListAdds", identityMap: { Email: [{ id: "a@b.c" }] } }
  expect Reminder running
}
"#;

const SNIPPETS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "\"",
    "'",
    "`",
    "${",
    "\n",
    " ",
    "  ",
    "let ",
    "journey ",
    "event ",
    "profile.",
    "event.",
    ".",
    ",",
    ":",
    "=",
    "é",
    "🙂",
    "await {",
    "on ",
    "-> {",
    "end",
    "/*",
    "*/",
    "//",
    "///",
    "\\",
    "x",
    "1d",
    "09:00",
    "2026-01-01",
    "2026-02-30T10:00:00Z",
    "==",
    "??",
    "call ",
    "SendEmail(",
    "start on ",
    "p.",
    "inAudience(\"",
    "wait ",
    "split { 50% -> { } }",
    "if ",
    "else",
    "type T = ",
    "{ a: int }",
    "test \"",
    "mock ",
    "fetch ",
    "42",
    "3.5",
    "null",
    "\r\n",
    "\t",
    "%",
    "->",
    "x -> x",
    "all(",
    "`@id`",
];

const METHODS: &[&str] = &[
    "textDocument/hover",
    "textDocument/completion",
    "textDocument/definition",
    "textDocument/references",
    "textDocument/documentSymbol",
    "textDocument/semanticTokens/full",
    "textDocument/codeAction",
    "textDocument/formatting",
    "textDocument/prepareRename",
    "textDocument/rename",
];

static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            default(info);
        }));
    });
}

/// The UTF-16 position of char index `ci` of `text`.
fn position(text: &str, ci: usize) -> Value {
    let byte = text.char_indices().nth(ci).map(|(b, _)| b).unwrap_or(text.len());
    let line_start = text[..byte].rfind('\n').map(|i| i + 1).unwrap_or(0);
    json!({"line": text[..byte].matches('\n').count(), "character": text[line_start..byte].encode_utf16().count()})
}

/// Char index `ci`, moved off the middle of a `\r\n`: LSP positions cannot point between the
/// two (a column past a line's end is its end, before the break), so a client never edits there.
fn expressible(text: &str, ci: usize) -> usize {
    let b = byte(text, ci);
    if ci > 0 && text[..b].ends_with('\r') && text[b..].starts_with('\n') {
        ci - 1
    } else {
        ci
    }
}

/// The byte offset of char index `ci`.
fn byte(text: &str, ci: usize) -> usize {
    text.char_indices().nth(ci).map(|(b, _)| b).unwrap_or(text.len())
}

#[derive(Debug, Clone)]
struct Edit {
    at: u16,
    delete: usize,
    insert: String,
    method: usize,
    probe: u16,
}

fn edit() -> impl Strategy<Value = Edit> {
    (
        any::<u16>(),
        0usize..12,
        prop::collection::vec(prop::sample::select(SNIPPETS), 0..4),
        0..METHODS.len(),
        any::<u16>(),
    )
        .prop_map(|(at, delete, parts, method, probe)| Edit { at, delete, insert: parts.concat(), method, probe })
}

fn params(method: &str, uri: &str, pos: Value) -> Value {
    let doc = json!({ "uri": uri });
    match method {
        "textDocument/documentSymbol" | "textDocument/semanticTokens/full" => json!({ "textDocument": doc }),
        "textDocument/formatting" => json!({"textDocument": doc, "options": {"tabSize": 2, "insertSpaces": true}}),
        "textDocument/codeAction" => {
            json!({"textDocument": doc, "range": {"start": pos, "end": pos}, "context": {"diagnostics": []}})
        }
        "textDocument/references" => {
            json!({"textDocument": doc, "position": pos, "context": {"includeDeclaration": true}})
        }
        "textDocument/rename" => json!({"textDocument": doc, "position": pos, "newName": "Renamed"}),
        _ => json!({"textDocument": doc, "position": pos}),
    }
}

async fn tokens(c: &mut TestClient, uri: &str) -> Value {
    c.request("textDocument/semanticTokens/full", json!({"textDocument": {"uri": uri}})).await["result"].clone()
}

fn run(edits: Vec<Edit>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(16 << 20)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let uri = "untitled:robust.journey";
        let mut c = TestClient::start();
        c.initialize().await;
        c.open(uri, BASE).await;
        let mut text = BASE.to_string();
        for (v, e) in edits.iter().enumerate() {
            let chars = text.chars().count();
            let at = expressible(&text, e.at as usize * (chars + 1) / (u16::MAX as usize + 1));
            let end = expressible(&text, (at + e.delete).min(chars)).max(at);
            let range = json!({"start": position(&text, at), "end": position(&text, end)});
            let (a, b) = (byte(&text, at), byte(&text, end));
            text.replace_range(a..b, &e.insert);
            let change = json!({"textDocument": {"uri": uri, "version": v + 2}, "contentChanges": [{"range": range, "text": e.insert}]});
            c.notify("textDocument/didChange", change).await;
            let probe = expressible(&text, e.probe as usize * (text.chars().count() + 1) / (u16::MAX as usize + 1));
            let method = METHODS[e.method];
            let r = tokio::time::timeout(
                std::time::Duration::from_secs(30),
                c.request(method, params(method, uri, position(&text, probe))),
            )
            .await
            .unwrap_or_else(|_| panic!("{method} hung after {e:?}"));
            assert!(r.get("result").is_some() || r.get("error").is_some(), "{r}");
            c.clear();
        }
        // The server's text is the client's: a fresh server given the final text agrees.
        let mine = tokens(&mut c, uri).await;
        let mut fresh = TestClient::start();
        fresh.initialize().await;
        fresh.open(uri, &text).await;
        assert_eq!(mine, tokens(&mut fresh, uri).await, "text after the edits:\n{text}");
        c.shutdown().await;
        fresh.shutdown().await;
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_edit_sequences_never_crash_or_hang(edits in prop::collection::vec(edit(), 1..24)) {
        count_panics();
        let before = PANICS.load(Ordering::SeqCst);
        run(edits);
        prop_assert_eq!(PANICS.load(Ordering::SeqCst), before, "a handler panicked (see stderr)");
    }
}

/// Deleting everything, typing into an empty file, and hostile nesting.
#[test]
fn extreme_texts() {
    count_panics();
    let deep = format!("journey J {{ start on E\n let x = {}1{} }}", "(".repeat(5000), ")".repeat(5000));
    let long_line = format!("journey J {{ let x = \"{}\" }}", "é🙂".repeat(20_000));
    let edits = vec![
        Edit { at: 0, delete: 100_000, insert: String::new(), method: 1, probe: 0 },
        Edit { at: 0, delete: 0, insert: deep, method: 5, probe: 30_000 },
        Edit { at: 0, delete: 100_000, insert: long_line, method: 0, probe: 40_000 },
        Edit { at: 0, delete: 0, insert: "\"${\"${\"${".repeat(200), method: 5, probe: 100 },
    ];
    let before = PANICS.load(Ordering::SeqCst);
    run(edits);
    assert_eq!(PANICS.load(Ordering::SeqCst), before);
}
