//! The protocol's framing, in front of the server: reads `Content-Length` frames, passes each
//! well-formed JSON-RPC message on and answers a malformed one itself (JSON-RPC "Parse error"
//! or "Invalid request"), so that one bad frame does not end the session. The framework stops
//! reading at the first frame it cannot decode; this layer makes sure it never sees one.
//!
//! Recovery: a header block without a usable `Content-Length` is answered and skipped up to
//! the next `Content-Length` header; bytes between frames that are not a header are answered
//! once and skipped; a body that holds the start of another frame (its `Content-Length` was
//! too large, or the body was cut short) is answered and reading resumes at that frame, even
//! while the body is still incomplete. Such a header can never be part of a valid body: JSON
//! does not allow the raw line break that ends it.

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tower_lsp_server::jsonrpc::{Request, Response};

/// JSON-RPC's "Parse error" code: the bytes are not a JSON text.
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC's "Invalid Request" code: JSON, but not a JSON-RPC message.
pub const INVALID_REQUEST: i64 = -32600;

const HEADER: &[u8] = b"content-length:";
/// A header block this long without its blank line is not a header.
const MAX_HEADER: usize = 8 * 1024;

/// What the framer makes of the input.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A well-formed message's body, to pass on.
    Message(Vec<u8>),
    /// The error response to send back for a malformed frame.
    Answer(Value),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// Expecting a header block.
    Header,
    /// Expecting a body of this many bytes.
    Body(usize),
    /// After a bad header block: skipping to the next `Content-Length` header.
    Skip,
}

/// Splits a byte stream into frames; fed with whatever arrives, never fails.
#[derive(Debug)]
pub struct Framer {
    buf: Vec<u8>,
    /// Where the unread bytes of `buf` start.
    start: usize,
    state: State,
    /// How far into an incomplete body a frame header was looked for.
    scanned: usize,
}

impl Default for Framer {
    fn default() -> Self {
        Framer { buf: Vec::new(), start: 0, state: State::Header, scanned: 0 }
    }
}

/// The error response to a malformed message, with why in `data`.
pub fn error_response(id: Value, code: i64, why: &str) -> Value {
    let message = if code == PARSE_ERROR { "Parse error" } else { "Invalid request" };
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message, "data": why}})
}

/// Frames a message as the protocol does.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

/// Judges a frame's body: `None` when it is a JSON-RPC message the server can take, else the
/// error response to send.
pub fn judge(body: &[u8]) -> Option<Value> {
    if body.is_empty() {
        return Some(error_response(Value::Null, PARSE_ERROR, "the message is empty"));
    }
    if let Err(e) = std::str::from_utf8(body) {
        let why = format!("the message is not UTF-8 (invalid byte at offset {})", e.valid_up_to());
        return Some(error_response(Value::Null, PARSE_ERROR, &why));
    }
    if serde_json::from_slice::<Response>(body).is_ok() {
        return None;
    }
    // The framework takes a message without `method` as a notification named ""; JSON-RPC
    // calls it invalid.
    if serde_json::from_slice::<Request>(body).is_ok_and(|r| !r.method().is_empty()) {
        return None;
    }
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Some(error_response(Value::Null, PARSE_ERROR, &format!("the message is not JSON: {e}"))),
    };
    // Answer a request by its id when it has a usable one, so the client is not left waiting;
    // never answer what looks like a response with its id.
    let id = match (value.get("method"), value.get("id")) {
        (Some(_), Some(id @ (Value::Number(_) | Value::String(_)))) => id.clone(),
        _ => Value::Null,
    };
    let why = match &value {
        Value::Object(o) if o.get("jsonrpc") != Some(&json!("2.0")) => "`jsonrpc` must be \"2.0\"",
        Value::Object(o) if o.get("method").is_some_and(|m| !m.is_string()) => "`method` must be a string",
        Value::Object(o) if o.get("method").is_none() && o.get("result").is_none() && o.get("error").is_none() => {
            "a request needs `method`; a response `result` or `error`"
        }
        Value::Object(_) => "the message is not a valid JSON-RPC request or response",
        Value::Array(_) => "batches are not supported; send one message per frame",
        _ => "a JSON-RPC message is an object",
    };
    Some(error_response(id, INVALID_REQUEST, why))
}

impl Framer {
    /// Adds bytes read from the input.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    fn rest(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    fn advance(&mut self, n: usize) {
        self.start += n;
        self.scanned = 0;
    }

    /// The next frame that the bytes fed so far complete, if any.
    pub fn next_frame(&mut self) -> Option<Frame> {
        loop {
            match self.state {
                State::Header => {
                    // Blank lines between frames are harmless.
                    let blank = self.rest().iter().take_while(|b| b.is_ascii_whitespace()).count();
                    self.advance(blank);
                    let rest = self.rest();
                    if rest.is_empty() {
                        return None;
                    }
                    // Bytes that do not start a header (the tail of a message whose length was
                    // too short, stray text): answered once, skipped to the next header.
                    if !starts_header(rest) {
                        let skip = find_header(rest, 1).unwrap_or(rest.len().saturating_sub(HEADER.len()));
                        self.advance(skip);
                        self.state = State::Skip;
                        return Some(Frame::Answer(error_response(
                            Value::Null,
                            PARSE_ERROR,
                            "bytes outside a frame (expected a `Content-Length` header)",
                        )));
                    }
                    let Some(end) = find(rest, b"\r\n\r\n") else {
                        if rest.len() > MAX_HEADER {
                            self.state = State::Skip;
                            self.advance(1);
                            return Some(Frame::Answer(error_response(
                                Value::Null,
                                PARSE_ERROR,
                                "a header block longer than 8 KiB",
                            )));
                        }
                        return None;
                    };
                    let headers = &rest[..end];
                    let parsed = content_length(headers);
                    self.advance(end + 4);
                    match parsed {
                        Ok(len) => self.state = State::Body(len),
                        Err(why) => {
                            self.state = State::Skip;
                            return Some(Frame::Answer(error_response(Value::Null, PARSE_ERROR, &why)));
                        }
                    }
                }
                State::Skip => {
                    let rest = self.rest();
                    match find_header(rest, 0) {
                        Some(at) => {
                            self.advance(at);
                            self.state = State::Header;
                        }
                        None => {
                            let keep = HEADER.len() - 1;
                            self.advance(rest.len().saturating_sub(keep));
                            return None;
                        }
                    }
                }
                State::Body(len) => {
                    let rest = self.rest();
                    if rest.len() >= len {
                        let body = &rest[..len];
                        match judge(body) {
                            None => {
                                let body = body.to_vec();
                                self.advance(len);
                                self.state = State::Header;
                                return Some(Frame::Message(body));
                            }
                            Some(answer) => {
                                // A body that swallowed the start of the next frame: resume there.
                                let resume = complete_header_in(body, 0).unwrap_or(len);
                                self.advance(resume);
                                self.state = State::Header;
                                return Some(Frame::Answer(answer));
                            }
                        }
                    }
                    // Still incomplete: a frame header inside means this body was cut short.
                    let from = self.scanned.saturating_sub(HEADER.len() + 32);
                    if let Some(at) = complete_header_in(rest, from) {
                        self.advance(at);
                        self.state = State::Header;
                        return Some(Frame::Answer(error_response(
                            Value::Null,
                            PARSE_ERROR,
                            "the message is shorter than its Content-Length (another frame started inside it)",
                        )));
                    }
                    self.scanned = rest.len();
                    return None;
                }
            }
        }
    }

    /// At the end of the input: an answer for a frame left incomplete, if any.
    pub fn finish(&mut self) -> Option<Frame> {
        let incomplete = match self.state {
            State::Body(_) => true,
            State::Header => !self.rest().iter().all(u8::is_ascii_whitespace),
            State::Skip => false,
        };
        self.advance(self.rest().len());
        self.state = State::Header;
        incomplete.then(|| Frame::Answer(error_response(Value::Null, PARSE_ERROR, "the input ended inside a frame")))
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Whether `b` starts with something that may be a header line (`Name:`), possibly cut short.
fn starts_header(b: &[u8]) -> bool {
    let name = b.iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'-').count();
    name > 0 && (name == b.len() || b[name] == b':')
}

/// Where a `Content-Length` header (any case) starts in `b`, looking from `from`.
fn find_header(b: &[u8], from: usize) -> Option<usize> {
    (from..b.len().saturating_sub(HEADER.len() - 1)).find(|&i| b[i..i + HEADER.len()].eq_ignore_ascii_case(HEADER))
}

/// Where a complete `Content-Length: <digits>\r\n` line starts in `b`, looking from `from`.
fn complete_header_in(b: &[u8], mut from: usize) -> Option<usize> {
    while let Some(at) = find_header(b, from) {
        let after = &b[at + HEADER.len()..];
        let spaces = after.iter().take_while(|c| **c == b' ' || **c == b'\t').count();
        let digits = after[spaces..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits > 0 && after[spaces + digits..].starts_with(b"\r\n") {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// The `Content-Length` of a header block, or why it has none.
fn content_length(headers: &[u8]) -> Result<usize, String> {
    let mut len = None;
    for line in headers.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            return Err(format!("a header line without `:`: {:?}", String::from_utf8_lossy(line)));
        };
        let (name, value) = (&line[..colon], String::from_utf8_lossy(&line[colon + 1..]).trim().to_string());
        if name.eq_ignore_ascii_case(b"content-length") {
            match value.parse::<usize>() {
                Ok(n) => len = Some(n),
                Err(_) => return Err(format!("`Content-Length: {value}` is not a length in bytes")),
            }
        }
    }
    len.ok_or_else(|| "a header block without `Content-Length`".to_string())
}

/// Reads frames from `input`: passes each message to `server` (framed again) and each error
/// answer to `answers`, until the input ends or the server stops reading.
pub async fn pump_input<R, W>(mut input: R, mut server: W, answers: mpsc::UnboundedSender<Vec<u8>>)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut framer = Framer::default();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        while let Some(f) = framer.next_frame() {
            match f {
                Frame::Message(body) => {
                    if server.write_all(&frame(&body)).await.is_err() || server.flush().await.is_err() {
                        return;
                    }
                }
                Frame::Answer(a) => {
                    eprintln!("journey lsp: answered a malformed message: {}", a["error"]["data"]);
                    let _ = answers.send(frame(a.to_string().as_bytes()));
                }
            }
        }
        match input.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => framer.feed(&chunk[..n]),
        }
    }
    if let Some(Frame::Answer(a)) = framer.finish() {
        let _ = answers.send(frame(a.to_string().as_bytes()));
    }
    let _ = server.shutdown().await;
}

/// Copies the server's frames to `output`, with the answers to malformed frames between them,
/// until the server's output ends.
pub async fn pump_output<R, W>(server: R, output: W, mut answers: mpsc::UnboundedReceiver<Vec<u8>>)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite,
{
    tokio::pin!(output);
    let (frames_tx, mut frames) = mpsc::unbounded_channel::<Vec<u8>>();
    let split = async move {
        let mut r = BufReader::new(server);
        while let Some(f) = read_frame(&mut r).await {
            if frames_tx.send(f).is_err() {
                break;
            }
        }
    };
    let write = async {
        loop {
            // Answers first: one is queued as its bad frame is read, before any later message
            // reaches the server, so the client gets it before the responses to what followed
            // (a client waiting for the answer then the response must not see them swapped).
            let f = tokio::select! {
                biased;
                Some(a) = answers.recv() => a,
                f = frames.recv() => match f { Some(f) => f, None => break },
            };
            if output.write_all(&f).await.is_err() || output.flush().await.is_err() {
                break;
            }
        }
        // The server is done; answers to frames read before it ended still go out.
        while let Ok(a) = answers.try_recv() {
            let _ = output.write_all(&a).await;
        }
        let _ = output.flush().await;
    };
    tokio::join!(split, write);
}

/// One whole frame (header and body) of the server's own output.
async fn read_frame<R: AsyncBufReadExt + Unpin>(r: &mut R) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut len = None;
    loop {
        let before = head.len();
        if r.read_until(b'\n', &mut head).await.ok()? == 0 {
            return None;
        }
        let line = String::from_utf8_lossy(&head[before..]).trim().to_string();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                len = value.trim().parse::<usize>().ok();
            }
        }
    }
    let start = head.len();
    head.resize(start + len?, 0);
    r.read_exact(&mut head[start..]).await.ok()?;
    Some(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The answer to a bad frame goes out before a server frame that is ready at the same time
    /// (the response to a message that came after the bad frame): in the order of the input.
    #[tokio::test]
    async fn an_answer_goes_out_before_the_responses_to_later_messages() {
        let response = frame(br#"{"jsonrpc":"2.0","id":4,"result":null}"#);
        let answer = frame(error_response(Value::Null, PARSE_ERROR, "bad").to_string().as_bytes());
        let (tx, rx) = mpsc::unbounded_channel();
        tx.send(answer.clone()).expect("queued");
        drop(tx);
        let mut out = Vec::new();
        pump_output(&response[..], &mut out, rx).await;
        assert_eq!(out, [answer, response].concat(), "{}", String::from_utf8_lossy(&out));
    }

    fn run(input: &[&[u8]]) -> Vec<Frame> {
        let mut f = Framer::default();
        let mut out = Vec::new();
        for chunk in input {
            f.feed(chunk);
            while let Some(x) = f.next_frame() {
                out.push(x);
            }
        }
        out.extend(f.finish());
        out
    }

    fn msg(id: i64) -> Vec<u8> {
        format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"hover","params":{{}}}}"#).into_bytes()
    }

    fn code(f: &Frame) -> i64 {
        match f {
            Frame::Answer(a) => a["error"]["code"].as_i64().unwrap(),
            Frame::Message(m) => panic!("a message passed: {}", String::from_utf8_lossy(m)),
        }
    }

    #[test]
    fn passes_good_frames_in_any_chunking() {
        let mut all = frame(&msg(1));
        all.extend(frame(&msg(2)));
        for size in [1, 3, 7, all.len()] {
            let chunks: Vec<&[u8]> = all.chunks(size).collect();
            assert_eq!(run(&chunks), vec![Frame::Message(msg(1)), Frame::Message(msg(2))], "chunks of {size}");
        }
    }

    #[test]
    fn answers_bad_bodies_and_goes_on() {
        let cases: &[(&[u8], i64)] = &[
            (b"{not json", PARSE_ERROR),
            (br#"{"jsonrpc":"2.0","id":1,"meth"#, PARSE_ERROR),
            (b"\"\xe9\"", PARSE_ERROR),
            (b"", PARSE_ERROR),
            (br#"{"hello":1}"#, INVALID_REQUEST),
            (br#"[{"jsonrpc":"2.0","id":1,"method":"x"}]"#, INVALID_REQUEST),
            (br#"{"jsonrpc":"1.0","id":1,"method":"x"}"#, INVALID_REQUEST),
            (br#"{"jsonrpc":"2.0","id":1,"method":5}"#, INVALID_REQUEST),
            (br#"{"jsonrpc":"2.0","id":1}"#, INVALID_REQUEST),
            (b"42", INVALID_REQUEST),
        ];
        for (body, want) in cases {
            let mut input = frame(body);
            input.extend(frame(&msg(7)));
            let got = run(&[&input]);
            assert_eq!(got.len(), 2, "{:?}: {got:?}", String::from_utf8_lossy(body));
            assert_eq!(code(&got[0]), *want, "{:?}", String::from_utf8_lossy(body));
            assert_eq!(got[1], Frame::Message(msg(7)));
        }
    }

    #[test]
    fn a_request_with_an_id_is_answered_by_it() {
        let got = run(&[&frame(br#"{"jsonrpc":"2.0","id":9,"method":5}"#)]);
        let Frame::Answer(a) = &got[0] else { panic!() };
        assert_eq!(a["id"], 9);
        let got = run(&[&frame(b"{bad")]);
        let Frame::Answer(a) = &got[0] else { panic!() };
        assert_eq!(a["id"], Value::Null);
    }

    #[test]
    fn recovers_from_bad_headers() {
        let good = frame(&msg(3));
        let cases: &[&[u8]] = &[
            b"Content-Length: abc\r\n\r\n{}",
            b"Content-Length: -1\r\n\r\n",
            b"Content-Type: application/vscode-jsonrpc\r\n\r\n{\"jsonrpc\":\"2.0\"}",
            b"Content-Length: 99999999999999999999999999\r\n\r\n",
            b"garbage\r\n",
            b"Content-Length 5\r\n\r\nhello",
        ];
        for bad in cases {
            let mut input = bad.to_vec();
            input.extend(&good);
            let got = run(&[&input]);
            assert_eq!(got.last(), Some(&Frame::Message(msg(3))), "{:?}: {got:?}", String::from_utf8_lossy(bad));
            assert!(got[..got.len() - 1].iter().all(|f| code(f) == PARSE_ERROR), "{got:?}");
            assert!(!got[..got.len() - 1].is_empty(), "{:?} is answered", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn a_length_too_large_does_not_swallow_the_next_frame() {
        // Longer than what follows: the next frame is found inside the incomplete body.
        let mut input = b"Content-Length: 1000000\r\n\r\n{\"jsonrpc\":".to_vec();
        input.extend(frame(&msg(4)));
        let got = run(&[&input]);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(code(&got[0]), PARSE_ERROR);
        assert_eq!(got[1], Frame::Message(msg(4)));
        // A bit too large: the body is complete but holds the next frame's start.
        let mut input = b"Content-Length: 40\r\n\r\n{\"x\":".to_vec();
        input.extend(frame(&msg(5)));
        input.extend(frame(&msg(6)));
        let got = run(&[&input]);
        assert_eq!(got[1..], [Frame::Message(msg(5)), Frame::Message(msg(6))], "{got:?}");
    }

    /// The end-to-end test's bytes (after a header it skipped), arriving split anywhere or a
    /// byte at a time: always the answer, then the message found inside the would-be body.
    #[test]
    fn a_length_too_large_is_recovered_from_in_any_chunking() {
        let mut input = b"Content-Length: 99999999999999999999999\r\n\r\n".to_vec();
        let start = input.len();
        input.extend(b"Content-Length: 1000000000\r\n\r\n{\"jsonrpc\":");
        input.extend(frame(&msg(4)));
        for at in start..input.len() {
            let got = run(&[&input[..start], &input[start..at], &input[at..]]);
            assert_eq!(got.len(), 3, "split at {at}: {got:?}");
            assert_eq!([code(&got[0]), code(&got[1])], [PARSE_ERROR, PARSE_ERROR], "split at {at}");
            assert_eq!(got[2], Frame::Message(msg(4)), "split at {at}");
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run(&bytes)[2..], [Frame::Message(msg(4))], "a byte at a time");
    }

    #[test]
    fn a_length_too_small_leaves_a_tail_that_is_skipped() {
        let body = msg(8);
        let mut input = b"Content-Length: 10\r\n\r\n".to_vec();
        input.extend(&body);
        input.extend(frame(&msg(9)));
        let got = run(&[&input]);
        assert_eq!(got.last(), Some(&Frame::Message(msg(9))), "{got:?}");
        assert!(got[..got.len() - 1].iter().all(|f| code(f) == PARSE_ERROR));
    }

    #[test]
    fn lowercase_header_and_content_type_are_accepted() {
        let body = msg(1);
        let mut input = format!(
            "content-length: {}\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n",
            body.len()
        )
        .into_bytes();
        input.extend(&body);
        assert_eq!(run(&[&input]), vec![Frame::Message(body)]);
    }

    #[test]
    fn input_ending_inside_a_frame_is_answered() {
        let got = run(&[b"Content-Length: 50\r\n\r\n{\"json"]);
        assert_eq!(got.len(), 1);
        assert_eq!(code(&got[0]), PARSE_ERROR);
    }
}
