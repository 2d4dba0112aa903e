//! One HTTP attempt: send the prepared request, read the body (bounded), classify the result.

use super::request::PreparedRequest;
use super::response::read_body;
use super::retry::{retry_after, retryable_status};
use crate::value::Value;
use journey_bytecode::types::Ty;
use std::time::Duration;

/// The largest response body read.
const MAX_BODY: usize = 8 << 20;

/// How one attempt ended, before the retry decision.
#[derive(Debug)]
pub(crate) enum Sent {
    /// A 2xx response that fits `returns`.
    Ok(Value, u16),
    /// A final failure: never retried.
    Fatal(String, Option<u16>),
    /// A failure worth another attempt, with the server's `Retry-After` if it gave one.
    /// `connection`: no connection could be made, or it was closed before any response (see
    /// [`connection_failure`]); such failures are retried even without `retry`.
    Retry { reason: String, status: Option<u16>, after: Option<Duration>, connection: bool },
    /// No response within the timeout.
    Timeout,
}

/// Sends `req` once within `timeout`.
pub(crate) async fn attempt(
    client: &reqwest::Client,
    req: &PreparedRequest,
    returns: &Ty,
    timeout: Duration,
    max_retry_after: Duration,
) -> Sent {
    match tokio::time::timeout(timeout, send(client, req, returns, max_retry_after)).await {
        Ok(sent) => sent,
        Err(_) => Sent::Timeout,
    }
}

async fn send(client: &reqwest::Client, req: &PreparedRequest, returns: &Ty, max_retry_after: Duration) -> Sent {
    let host = req.host();
    let mut builder = client.request(req.method().clone(), req.url().clone());
    for (name, value) in req.headers() {
        builder = builder.header(name, value);
    }
    if let Some(body) = req.body() {
        builder = builder.body(body.to_string());
    }
    let mut resp = match builder.send().await {
        Ok(r) => r,
        Err(e) => return transport_error(e, &host, req, true),
    };
    let status = resp.status().as_u16();
    if !resp.status().is_success() {
        let reason = format!("HTTP {status} from {host}");
        return if retryable_status(status) {
            let after = retry_after(resp.headers(), max_retry_after);
            Sent::Retry { reason, status: Some(status), after, connection: false }
        } else {
            Sent::Fatal(reason, Some(status))
        };
    }
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY {
                    return Sent::Fatal(format!("response from {host} is over {} MiB", MAX_BODY >> 20), Some(status));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => return transport_error(e, &host, req, false),
        }
    }
    match read_body(&body, returns) {
        Ok(v) => Sent::Ok(v, status),
        Err(e) => Sent::Fatal(req.redactor().redact(&e), Some(status)),
    }
}

/// A transport failure as a retryable reason, without the URL (it may hold secrets).
/// `before_response`: it came before any response arrived.
fn transport_error(e: reqwest::Error, host: &str, req: &PreparedRequest, before_response: bool) -> Sent {
    let e = e.without_url();
    if e.is_timeout() {
        return Sent::Timeout;
    }
    let connection = before_response && connection_failure(&e);
    let root = root_cause(&e);
    let refused = io_kind(&e) == Some(std::io::ErrorKind::ConnectionRefused);
    let reason = if refused {
        format!("connection refused by {host}")
    } else if e.is_connect() {
        format!("cannot connect to {host}: {root}")
    } else if e.is_body() || e.is_decode() {
        format!("error reading the response from {host}: {root}")
    } else if e.is_builder() {
        return Sent::Fatal(req.redactor().redact(&format!("cannot build the request: {root}")), None);
    } else {
        format!("request to {host} failed: {root}")
    };
    Sent::Retry { reason: req.redactor().redact(&reason), status: None, after: None, connection }
}

/// Whether a failure before any response is one of the connection: refused, reset, aborted or
/// closed (by the service, or a middlebox, under load), timed out while connecting, or out of
/// local resources (open files, ports). A DNS failure or a malformed request is not: those do not
/// go away by waiting.
pub(crate) fn connection_failure(e: &(dyn std::error::Error + 'static)) -> bool {
    use std::io::ErrorKind::*;
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            // EMFILE and ENFILE (the same numbers on Linux and macOS): too many open files.
            let out_of_files = cfg!(unix) && matches!(io.raw_os_error(), Some(23 | 24));
            if out_of_files
                || matches!(
                    io.kind(),
                    ConnectionRefused
                        | ConnectionReset
                        | ConnectionAborted
                        | NotConnected
                        | BrokenPipe
                        | TimedOut
                        | AddrNotAvailable
                        | UnexpectedEof
                )
            {
                return true;
            }
        }
        if err.downcast_ref::<hyper::Error>().is_some_and(|h| h.is_incomplete_message()) {
            return true;
        }
        cur = err.source();
    }
    false
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

fn io_kind(e: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        cur = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::connection_failure;

    /// An error wrapping `inner` as its source, as reqwest and hyper wrap the socket's error.
    #[derive(Debug)]
    struct Wrapped(std::io::Error);
    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("error trying to connect")
        }
    }
    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    /// A connection that cannot be opened for want of file descriptors (EMFILE for the process,
    /// ENFILE for the system) is a connection failure, retried as a refused one is; a DNS-like
    /// failure is not.
    #[test]
    fn running_out_of_file_descriptors_is_a_connection_failure() {
        if !cfg!(unix) {
            return;
        }
        for errno in [24, 23] {
            let e = Wrapped(std::io::Error::from_raw_os_error(errno));
            assert!(connection_failure(&e), "errno {errno}: {}", e.0);
        }
        let refused = Wrapped(std::io::ErrorKind::ConnectionRefused.into());
        assert!(connection_failure(&refused));
        let unknown_host = Wrapped(std::io::Error::other("failed to lookup address information"));
        assert!(!connection_failure(&unknown_host));
    }
}
