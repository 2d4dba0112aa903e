//! An in-process client for tests and benchmarks: a server on one end of a
//! [`tokio::io::duplex`] pipe, JSON-RPC messages on the other.

use serde_json::{json, Value};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// How long a test waits for an answer before it fails.
const TIMEOUT: Duration = Duration::from_secs(60);

/// A client talking to an in-process server.
pub struct TestClient {
    stats: crate::server::Stats,
    out: mpsc::UnboundedSender<Value>,
    incoming: mpsc::UnboundedReceiver<Value>,
    queue: VecDeque<Value>,
    next_id: i64,
}

/// Frames a message as the protocol does.
pub fn frame(msg: &Value) -> Vec<u8> {
    let body = msg.to_string();
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

/// Reads one framed message; `None` at the end of the stream.
pub async fn read_message<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> Option<Value> {
    let mut len = None;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length:").or_else(|| line.strip_prefix("content-length:")) {
            len = v.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0; len?];
    r.read_exact(&mut body).await.ok()?;
    serde_json::from_slice(&body).ok()
}

impl TestClient {
    /// Starts a server (on the current Tokio runtime) and a client connected to it.
    pub fn start() -> Self {
        let (client_end, server_end) = tokio::io::duplex(1 << 20);
        let (server_read, server_write) = tokio::io::split(server_end);
        let mut stats = None;
        let (service, socket) = tower_lsp_server::LspService::new(|client| {
            let backend = crate::Backend::new(client, Vec::new());
            stats = Some(backend.stats());
            backend
        });
        let stats = stats.expect("the backend is built at once");
        tokio::spawn(crate::serve_service(server_read, server_write, service, socket));
        let (client_read, mut client_write) = tokio::io::split(client_end);
        let (out, mut out_rx) = mpsc::unbounded_channel::<Value>();
        tokio::spawn(async move {
            while let Some(msg) = out_rx.recv().await {
                if client_write.write_all(&frame(&msg)).await.is_err() {
                    break;
                }
            }
        });
        let (in_tx, incoming) = mpsc::unbounded_channel();
        let answer = out.clone();
        tokio::spawn(async move {
            let mut r = BufReader::new(client_read);
            while let Some(msg) = read_message(&mut r).await {
                // Requests from the server (registrations, ...) get an empty answer.
                if msg.get("method").is_some() && msg.get("id").is_some() {
                    let _ = answer.send(json!({"jsonrpc": "2.0", "id": msg["id"], "result": null}));
                    continue;
                }
                if in_tx.send(msg).is_err() {
                    break;
                }
            }
        });
        TestClient { stats, out, incoming, queue: VecDeque::new(), next_id: 0 }
    }

    /// How many times the server checked a project so far (a testing hook: edits that
    /// arrive while a check runs are coalesced into one check).
    pub fn checks(&self) -> usize {
        self.stats.checks()
    }

    /// Sends a request and returns the whole response (`result` or `error`).
    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let _ = self.out.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let msg = self.recv().await;
            if msg.get("id") == Some(&json!(id)) && msg.get("method").is_none() {
                return msg;
            }
            self.queue.push_back(msg);
        }
    }

    /// Sends a notification.
    pub async fn notify(&mut self, method: &str, params: Value) {
        let _ = self.out.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    async fn recv(&mut self) -> Value {
        match tokio::time::timeout(TIMEOUT, self.incoming.recv()).await {
            Ok(Some(m)) => m,
            Ok(None) => panic!("the server closed the connection"),
            Err(_) => panic!("no message from the server within {TIMEOUT:?}"),
        }
    }

    /// Waits for the next notification `method` whose params satisfy `pred`.
    pub async fn notification(&mut self, method: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.queue.iter().position(|m| m["method"] == method && pred(&m["params"])) {
            return self.queue.remove(i).map(|m| m["params"].clone()).unwrap_or_default();
        }
        loop {
            let msg = self.recv().await;
            if msg["method"] == method && pred(&msg["params"]) {
                return msg["params"].clone();
            }
            self.queue.push_back(msg);
        }
    }

    /// Waits for the next diagnostics published for `uri`.
    pub async fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        let p = self.notification("textDocument/publishDiagnostics", |p| p["uri"] == uri).await;
        p["diagnostics"].as_array().cloned().unwrap_or_default()
    }

    /// Drops the notifications received so far.
    pub fn clear(&mut self) {
        while let Ok(m) = self.incoming.try_recv() {
            self.queue.push_back(m);
        }
        self.queue.clear();
    }

    /// `initialize` then `initialized`; returns the initialize result.
    pub async fn initialize(&mut self) -> Value {
        let r = self.request("initialize", json!({"processId": null, "rootUri": null, "capabilities": {}})).await;
        self.notify("initialized", json!({})).await;
        r["result"].clone()
    }

    /// Opens a document.
    pub async fn open(&mut self, uri: &str, text: &str) {
        let doc = json!({"uri": uri, "languageId": "journey", "version": 1, "text": text});
        self.notify("textDocument/didOpen", json!({ "textDocument": doc })).await;
    }

    /// `shutdown` then `exit`.
    pub async fn shutdown(mut self) {
        let _ = self.request("shutdown", Value::Null).await;
        self.notify("exit", Value::Null).await;
    }
}
