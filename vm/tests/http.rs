//! The HTTP executor against real servers on 127.0.0.1, with declarations compiled from source.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use journey_vm::http::{AttemptResult, CallOutcome, HttpExecutor, MapSecrets, MemoryRecorder, CONNECTION_RETRIES};
use journey_vm::machine::Image;
use journey_vm::value::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    uri: String,
    headers: HeaderMap,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The server's answer: status, headers, body, after a delay.
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    delay: Duration,
}

fn reply(status: u16, body: &str) -> Reply {
    Reply {
        status,
        headers: vec![("content-type", "application/json".into())],
        body: body.into(),
        delay: Duration::ZERO,
    }
}

type Handler = dyn Fn(usize, &Seen) -> Reply + Send + Sync;

struct Server {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    fn hits(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

#[derive(Clone)]
struct AppState {
    seen: Arc<Mutex<Vec<Seen>>>,
    handler: Arc<Handler>,
}

async fn handle(State(s): State<AppState>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let seen =
        Seen { method: method.to_string(), uri: uri.to_string(), headers, body: String::from_utf8_lossy(&body).into() };
    let reply = {
        let mut all = s.seen.lock().unwrap();
        all.push(seen.clone());
        (s.handler)(all.len() - 1, &seen)
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut resp = (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
    for (k, v) in reply.headers {
        resp.headers_mut().insert(k, v.parse().unwrap());
    }
    resp
}

/// Starts a server on 127.0.0.1:0 answering every request with `handler(hit index, request)`.
async fn serve(handler: impl Fn(usize, &Seen) -> Reply + Send + Sync + 'static) -> Server {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let state = AppState { seen: seen.clone(), handler: Arc::new(handler) };
    let app = axum::Router::new().fallback(handle).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Server { base: format!("http://{addr}"), seen }
}

/// An action or data source of a loaded program.
#[derive(Clone)]
struct Decl {
    image: Arc<Image>,
    index: u32,
    name: String,
}

/// Compiles declarations (`BASE` in the source is replaced by the server's address).
fn compile(src: &str, base: &str) -> Vec<Decl> {
    let src = src.replace("BASE", base);
    let mut sources = journey_compiler::sources::Sources::default();
    let file = sources.add("t.journey", "t.journey".into(), src);
    let registry = journey_compiler::SchemaRegistry::new(&[]).unwrap();
    let checked = journey_compiler::check(&sources, &[file], &registry, &Default::default());
    assert!(!checked.has_errors(), "{:#?}", checked.diagnostics);
    let image = Arc::new(Image::load(journey_compiler::codegen::compile(&checked.program, &sources)).expect("loads"));
    let names: Vec<String> = image.program.http.iter().map(|h| h.name.clone()).collect();
    names.into_iter().enumerate().map(|(i, name)| Decl { image: image.clone(), index: i as u32, name }).collect()
}

fn decl(src: &str, base: &str) -> Decl {
    compile(src, base).remove(0)
}

fn secrets() -> MapSecrets {
    MapSecrets::new().with("TOKEN", "tok-S3CRET-123").with("API_KEY", "key S3CRET/+&").with("PASS", "pw-S3CRET")
}

fn executor(recorder: &Arc<MemoryRecorder>) -> HttpExecutor {
    HttpExecutor::builder().secrets(secrets()).recorder(recorder.clone()).seed(7).no_proxy().build().unwrap()
}

fn reason(o: &CallOutcome) -> &str {
    match o {
        CallOutcome::Ok(v) => panic!("expected a failure, got {v:?}"),
        CallOutcome::Timeout { reason } | CallOutcome::Error { reason } => reason,
    }
}

const LOYALTY: &str = r#"
datasource Loyalty(memberId: string, region: string?) = http GET "BASE/members/{memberId}" {
  query { "region": region, "v": "2" }
  timeout 2s
  retry 3 backoff 10ms
  returns { tier: string, points: int, since: date? }
}
"#;

#[tokio::test]
async fn success_fills_url_query_and_reads_typed_json() {
    let server = serve(|_, _| reply(200, r#"{"tier":"gold","points":1200,"since":"2024-03-01"}"#)).await;
    let http = decl(LOYALTY, &server.base);
    let rec = Arc::new(MemoryRecorder::new());
    let exec = executor(&rec);
    let report = exec.call_detailed(&http.image, http.index, &[Value::from("a b/c?"), Value::from("eu")], "k1").await;
    let CallOutcome::Ok(v) = &report.outcome else { panic!("{report:?}") };
    assert_eq!(v.field("tier"), Value::from("gold"));
    assert_eq!(v.field("points"), Value::Int(1200));
    assert!(matches!(v.field("since"), Value::Date(_)));
    assert_eq!(report.attempts, 1);
    let seen = server.seen();
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].uri, "/members/a%20b%2Fc%3F?region=eu&v=2");
    assert_eq!(seen[0].header("idempotency-key"), Some("k1"));
    assert_eq!(seen[0].header("accept"), Some("application/json"));
    // A null query parameter is left out.
    exec.call(&http.image, http.index, &[Value::from("m1"), Value::Null], "k2").await;
    assert_eq!(server.seen()[1].uri, "/members/m1?v=2");
    let attempts = rec.attempts();
    assert_eq!(attempts[0].status, Some(200));
    assert_eq!(attempts[0].result, AttemptResult::Ok);
    assert_eq!(attempts[0].number, 1);
}

#[tokio::test]
async fn a_null_url_parameter_fails_before_sending() {
    let server = serve(|_, _| reply(200, "{}")).await;
    let http = decl(LOYALTY, &server.base);
    let exec = executor(&Arc::new(MemoryRecorder::new()));
    let report = exec.call_detailed(&http.image, http.index, &[Value::Null, Value::Null], "k").await;
    assert_eq!(reason(&report.outcome), "Loyalty: URL parameter memberId is null");
    assert_eq!((report.attempts, server.hits()), (0, 0));
}

const SEND: &str = r#"
action SendEmail(to: string, template: string, vars: map<string>?) = http POST "BASE/v3/send" {
  headers { "X-Tenant": "acme" }
  body { to: to, template_id: template, data: vars }
  timeout 2s
  retry 3 backoff 10ms
  returns { messageId: string }
}
"#;

#[tokio::test]
async fn retries_a_500_with_the_same_idempotency_key() {
    let server = serve(|i, _| if i == 0 { reply(500, "oops") } else { reply(200, r#"{"messageId":"m-1"}"#) }).await;
    let http = decl(SEND, &server.base);
    let rec = Arc::new(MemoryRecorder::new());
    let report = executor(&rec)
        .call_detailed(
            &http.image,
            http.index,
            &[Value::from("a@x.io"), Value::from("welcome"), Value::Null],
            "inst-9/n3/0",
        )
        .await;
    assert!(matches!(&report.outcome, CallOutcome::Ok(v) if v.field("messageId") == Value::from("m-1")), "{report:?}");
    assert_eq!(report.attempts, 2);
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    for s in &seen {
        assert_eq!(s.method, "POST");
        assert_eq!(s.header("idempotency-key"), Some("inst-9/n3/0"));
        assert_eq!(s.header("content-type"), Some("application/json"));
        assert_eq!(s.header("x-tenant"), Some("acme"));
        // The null `data` is left out of the body.
        assert_eq!(s.body, r#"{"to":"a@x.io","template_id":"welcome"}"#);
    }
    let attempts = rec.attempts();
    assert_eq!(attempts.iter().map(|a| a.status).collect::<Vec<_>>(), [Some(500), Some(200)]);
    assert_eq!(attempts[0].result, AttemptResult::Error(format!("HTTP 500 from {}", &server.base[7..])));
    assert!(attempts[0].retry_in.is_some() && attempts[1].retry_in.is_none());
}

#[tokio::test]
async fn five_hundreds_until_the_last_attempt_give_an_error() {
    let server = serve(|_, _| reply(503, "")).await;
    let http = decl(SEND, &server.base);
    let report = executor(&Arc::new(MemoryRecorder::new()))
        .call_detailed(&http.image, http.index, &[Value::from("a"), Value::from("t"), Value::Null], "k")
        .await;
    let host = &server.base[7..];
    assert_eq!(report.outcome, CallOutcome::Error { reason: format!("HTTP 503 from {host} after 4 attempts") });
    assert_eq!((report.attempts, server.hits()), (4, 4));
}

#[tokio::test]
async fn a_404_is_not_retried() {
    let server = serve(|_, _| reply(404, r#"{"error":"no such member"}"#)).await;
    let http = decl(LOYALTY, &server.base);
    let report = executor(&Arc::new(MemoryRecorder::new()))
        .call_detailed(&http.image, http.index, &[Value::from("m"), Value::Null], "k")
        .await;
    assert_eq!(report.outcome, CallOutcome::Error { reason: format!("HTTP 404 from {}", &server.base[7..]) });
    assert_eq!((report.attempts, server.hits()), (1, 1));
}

#[tokio::test]
async fn a_429_waits_as_retry_after_says_capped() {
    let server = serve(|i, _| match i {
        0 => Reply { headers: vec![("retry-after", "1".into())], ..reply(429, "") },
        1 => Reply { headers: vec![("retry-after", "120".into())], ..reply(429, "") },
        _ => reply(200, r#"{"messageId":"m"}"#),
    })
    .await;
    // A long backoff: the waits seen can only come from Retry-After.
    let http = decl(&SEND.replace("backoff 10ms", "backoff 30s"), &server.base);
    let rec = Arc::new(MemoryRecorder::new());
    let exec = HttpExecutor::builder()
        .recorder(rec.clone())
        .max_retry_after(Duration::from_millis(1500))
        .seed(1)
        .no_proxy()
        .build()
        .unwrap();
    let report =
        exec.call_detailed(&http.image, http.index, &[Value::from("a"), Value::from("t"), Value::Null], "k").await;
    assert!(matches!(report.outcome, CallOutcome::Ok(_)), "{report:?}");
    let waits: Vec<_> = rec.attempts().iter().map(|a| a.retry_in).collect();
    assert_eq!(waits, [Some(Duration::from_secs(1)), Some(Duration::from_millis(1500)), None]);
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn a_stalled_server_times_out_after_retries() {
    let server = serve(|_, _| Reply { delay: Duration::from_secs(10), ..reply(200, "{}") }).await;
    let src = r#"
datasource Slow(id: string) = http GET "BASE/slow/{id}" {
  timeout 100ms
  retry 2 backoff 10ms
}
"#;
    let http = decl(src, &server.base);
    let rec = Arc::new(MemoryRecorder::new());
    let report = executor(&rec).call_detailed(&http.image, http.index, &[Value::from("x")], "k").await;
    let host = &server.base[7..];
    assert_eq!(
        report.outcome,
        CallOutcome::Timeout { reason: format!("no response from {host} within 100ms after 3 attempts") }
    );
    assert_eq!(report.attempts, 3);
    assert!(rec.attempts().iter().all(|a| a.result == AttemptResult::Timeout && a.status.is_none()));
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn connection_refused_is_retried_then_an_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let http = decl(LOYALTY, &format!("http://127.0.0.1:{port}"));
    let report = executor(&Arc::new(MemoryRecorder::new()))
        .call_detailed(&http.image, http.index, &[Value::from("m"), Value::Null], "k")
        .await;
    // `retry 3`, but a connection failure is retried at least CONNECTION_RETRIES times.
    let attempts = CONNECTION_RETRIES + 1;
    assert_eq!(
        report.outcome,
        CallOutcome::Error { reason: format!("connection refused by 127.0.0.1:{port} after {attempts} attempts") }
    );
    assert_eq!(report.attempts, attempts);
}

/// A server on 127.0.0.1 that closes the first `drop` connections without an answer (at once,
/// or once the request has arrived when `read_first`), then answers every request `{}`; it
/// counts the requests it answered.
async fn flaky(drop: usize, read_first: bool) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let answered = Arc::new(AtomicUsize::new(0));
    let count = answered.clone();
    tokio::spawn(async move {
        let mut accepted = 0;
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            accepted += 1;
            if accepted <= drop {
                if read_first {
                    // The request arrives, then the connection closes with no answer.
                    let mut buf = vec![0; 4096];
                    let _ = conn.read(&mut buf).await;
                }
                continue;
            }
            let count = count.clone();
            tokio::spawn(async move {
                let mut buf = vec![0; 4096];
                while let Ok(n) = conn.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    count.fetch_add(1, Ordering::SeqCst);
                    let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}").await;
                }
            });
        }
    });
    (base, answered)
}

const PING: &str = r#"action Ping() = http POST "BASE/ping" { timeout 2s retry 0 backoff 10ms }"#;

#[tokio::test]
async fn a_connection_reset_before_any_answer_is_retried_without_retry() {
    let (base, answered) = flaky(3, false).await;
    let http = decl(PING, &base);
    let rec = Arc::new(MemoryRecorder::new());
    let report = executor(&rec).call_detailed(&http.image, http.index, &[], "k").await;
    assert!(matches!(report.outcome, CallOutcome::Ok(_)), "{report:?}");
    assert_eq!(report.attempts, 4);
    assert_eq!(answered.load(Ordering::SeqCst), 1);
    assert!(rec.attempts()[..3].iter().all(|a| a.status.is_none() && a.retry_in.is_some()), "{:?}", rec.attempts());
}

#[tokio::test]
async fn a_connection_closed_before_any_answer_is_retried_without_retry() {
    let (base, answered) = flaky(2, true).await;
    let http = decl(PING, &base);
    let report = executor(&Arc::new(MemoryRecorder::new())).call_detailed(&http.image, http.index, &[], "k").await;
    assert!(matches!(report.outcome, CallOutcome::Ok(_)), "{report:?}");
    assert_eq!(report.attempts, 3);
    assert_eq!(answered.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_answer_is_not_retried_without_retry() {
    let server = serve(|_, _| reply(503, "")).await;
    let http = decl(PING, &server.base);
    let report = executor(&Arc::new(MemoryRecorder::new())).call_detailed(&http.image, http.index, &[], "k").await;
    assert_eq!(report.outcome, CallOutcome::Error { reason: format!("HTTP 503 from {}", &server.base[7..]) });
    assert_eq!((report.attempts, server.hits()), (1, 1));
}

/// Runs `n` calls of `decl` at once against a server that answers after 20 ms; the most requests
/// it held at once.
async fn peak_in_flight(src: &str, exec: HttpExecutor, n: i64) -> usize {
    let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (now2, most2) = (now.clone(), most.clone());
    let app = axum::Router::new().fallback(move || {
        let (now, most) = (now2.clone(), most2.clone());
        async move {
            most.fetch_max(now.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            now.fetch_sub(1, Ordering::SeqCst);
            "{}"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = Arc::new(decl(src, &base));
    let exec = Arc::new(exec);
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (exec, http) = (exec.clone(), http.clone());
            tokio::spawn(async move { exec.call(&http.image, http.index, &[Value::Int(i)], &format!("k{i}")).await })
        })
        .collect();
    for t in tasks {
        let outcome = t.await.unwrap();
        assert!(matches!(outcome, CallOutcome::Ok(_)), "{outcome:?}");
    }
    most.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_to_a_host_stay_within_its_limit() {
    let src = r#"action N(i: int) = http POST "BASE/n" { body { i: i } }"#;
    let exec = HttpExecutor::builder().per_host_limit(4).no_proxy().build().unwrap();
    let peak = peak_in_flight(src, exec, 60).await;
    assert!((1..=4).contains(&peak), "{peak} requests at once; the limit is 4");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_gives_a_declaration_a_limit_of_its_own() {
    let src = r#"action N(i: int) = http POST "BASE/n" { body { i: i } concurrency 2 }"#;
    let peak = peak_in_flight(src, HttpExecutor::builder().no_proxy().build().unwrap(), 30).await;
    assert!((1..=2).contains(&peak), "{peak} requests at once; the limit is 2");
    // Above the host's default: the declaration's own limit applies, not the default.
    let src = r#"action N(i: int) = http POST "BASE/n" { body { i: i } concurrency 6 }"#;
    let exec = HttpExecutor::builder().per_host_limit(1).no_proxy().build().unwrap();
    let peak = peak_in_flight(src, exec, 30).await;
    assert!((1..=6).contains(&peak), "{peak} requests at once; the limit is 6");
}

#[tokio::test]
async fn bad_json_and_mismatched_json_are_errors_without_retry() {
    let server = serve(|i, _| match i {
        0 => reply(200, "<html>hello</html>"),
        1 => reply(200, r#"{"tier":3,"points":1}"#),
        2 => reply(200, r#"{"tier":"gold"}"#),
        _ => reply(200, r#"{"tier":"gold","points":1,"since":"yesterday"}"#),
    })
    .await;
    let http = decl(LOYALTY, &server.base);
    let exec = executor(&Arc::new(MemoryRecorder::new()));
    let args = [Value::from("m"), Value::Null];
    let r = exec.call_detailed(&http.image, http.index, &args, "k").await;
    assert!(reason(&r.outcome).starts_with("response is not JSON: "), "{r:?}");
    assert_eq!(r.attempts, 1);
    let o = exec.call(&http.image, http.index, &args, "k").await;
    assert_eq!(reason(&o), "response does not match returns: field tier: expected string, found number");
    let o = exec.call(&http.image, http.index, &args, "k").await;
    assert_eq!(reason(&o), "response does not match returns: field points: missing, expected int");
    let o = exec.call(&http.image, http.index, &args, "k").await;
    assert_eq!(
        reason(&o),
        "response does not match returns: field since: expected date, found a string that is not a date"
    );
    assert_eq!(server.hits(), 4);
}

#[tokio::test]
async fn no_returns_accepts_any_json_and_empty_bodies() {
    let server = serve(|i, _| match i {
        0 => reply(200, r#"[1, {"a": null}]"#),
        _ => Reply { headers: vec![], ..reply(204, "") },
    })
    .await;
    let src = r#"action Ping(id: string) = http PUT "BASE/ping/{id}" { }"#;
    let http = decl(src, &server.base);
    let exec = executor(&Arc::new(MemoryRecorder::new()));
    let CallOutcome::Ok(v) = exec.call(&http.image, http.index, &[Value::from("1")], "k").await else { panic!() };
    assert_eq!(v.as_list().map(<[Value]>::len), Some(2));
    assert_eq!(exec.call(&http.image, http.index, &[Value::from("1")], "k").await, CallOutcome::Ok(Value::Null));
    assert_eq!(server.seen()[0].method, "PUT");
}

const AUTHS: &str = r#"
datasource Basic(id: string) = http GET "BASE/basic/{id}" { auth basic "ann" secret("PASS") }
datasource Bearer(id: string) = http GET "BASE/bearer/{id}" { auth bearer secret("TOKEN") }
datasource Keyed(id: string) = http GET "BASE/keyed/{id}" {
  auth header "X-Api-Key" secret("API_KEY")
  query { "key": secret("API_KEY") }
  headers { "X-Trace": "t-" + secret("TOKEN") }
}
"#;

#[tokio::test]
async fn auth_headers_arrive() {
    let server = serve(|_, _| reply(200, "{}")).await;
    let decls = compile(AUTHS, &server.base);
    let exec = executor(&Arc::new(MemoryRecorder::new()));
    for http in &decls {
        assert!(matches!(exec.call(&http.image, http.index, &[Value::from("1")], "k").await, CallOutcome::Ok(_)));
    }
    let seen = server.seen();
    // base64("ann:pw-S3CRET")
    assert_eq!(seen[0].header("authorization"), Some("Basic YW5uOnB3LVMzQ1JFVA=="));
    assert_eq!(seen[1].header("authorization"), Some("Bearer tok-S3CRET-123"));
    assert_eq!(seen[2].header("x-api-key"), Some("key S3CRET/+&"));
    assert_eq!(seen[2].header("x-trace"), Some("t-tok-S3CRET-123"));
    assert_eq!(seen[2].uri, "/keyed/1?key=key+S3CRET%2F%2B%26");
}

#[tokio::test]
async fn secrets_never_show_in_debug_records_or_errors() {
    let server = serve(|_, s| {
        // Echo the request back: a careless error message would quote it.
        Reply { status: 502, headers: vec![], body: format!("{s:?}"), delay: Duration::ZERO }
    })
    .await;
    let decls = compile(AUTHS, &server.base);
    let rec = Arc::new(MemoryRecorder::new());
    let exec = executor(&rec);
    let mut texts = Vec::new();
    for http in &decls {
        let req = exec.prepare(&http.image, http.index, &[Value::from("1")], "k").unwrap();
        texts.push(format!("{req:?}"));
        texts.push(format!("{:?}", req.record(&http.name)));
        let report = exec.call_detailed(&http.image, http.index, &[Value::from("1")], "k").await;
        texts.push(format!("{report:?}"));
    }
    texts.push(format!("{:?}", rec.attempts()));
    texts.push(format!("{exec:?}"));
    texts.push(format!("{:?}", secrets()));
    // A body that does not parse, holding the secret.
    let echo = serve(|_, s| reply(200, &format!("bad {}", s.header("authorization").unwrap_or("")))).await;
    let http = decl(r#"datasource E() = http GET "BASE/e" { auth bearer secret("TOKEN") }"#, &echo.base);
    let o = exec.call(&http.image, http.index, &[], "k").await;
    texts.push(format!("{o:?}"));
    let all = texts.join("\n");
    assert!(!all.contains("S3CRET"), "{all}");
    assert!(!all.contains("YW5uOnB3LVMzQ1JFVA"), "{all}");
    assert!(all.contains("***"));
    assert!(all.contains(&format!("HTTP 502 from {}", &server.base[7..])));
    // An unset secret fails the call, naming only the secret.
    let http = decl(r#"datasource U() = http GET "BASE/u" { auth bearer secret("NOPE") }"#, &server.base);
    assert_eq!(
        reason(&exec.call(&http.image, http.index, &[], "k").await),
        "bearer token of U: secret NOPE is not set"
    );
}

#[tokio::test]
async fn dry_run_records_without_sending() {
    let server = serve(|_, _| reply(200, "{}")).await;
    let rec = Arc::new(MemoryRecorder::new());
    let exec = HttpExecutor::builder().secrets(secrets()).recorder(rec.clone()).dry_run(true).build().unwrap();
    let http = decl(SEND, &server.base);
    let args = [Value::from("a@x.io"), Value::from("welcome"), Value::Null];
    assert_eq!(exec.call(&http.image, http.index, &args, "k9").await, CallOutcome::Ok(Value::Null));
    let keyed = compile(AUTHS, &server.base).remove(2);
    assert_eq!(exec.call(&keyed.image, keyed.index, &[Value::from("7")], "k10").await, CallOutcome::Ok(Value::Null));
    assert_eq!(server.hits(), 0);
    let runs = rec.dry_runs();
    assert_eq!(runs[0].name, "SendEmail");
    assert_eq!(runs[0].method, "POST");
    assert_eq!(runs[0].url, format!("{}/v3/send", server.base));
    assert_eq!(runs[0].body.as_deref(), Some(r#"{"to":"a@x.io","template_id":"welcome"}"#));
    assert!(runs[0].headers.contains(&("Idempotency-Key".into(), "k9".into())));
    assert_eq!(runs[1].url, format!("{}/keyed/7?key=***", server.base));
    assert!(runs[1].headers.contains(&("X-Api-Key".into(), "***".into())));
    assert!(runs[1].headers.contains(&("X-Trace".into(), "***".into())));
    // Unset secrets do not stop a dry run.
    let exec = HttpExecutor::builder().secrets(MapSecrets::new()).dry_run(true).build().unwrap();
    assert_eq!(exec.call(&keyed.image, keyed.index, &[Value::from("7")], "k").await, CallOutcome::Ok(Value::Null));
}

#[tokio::test]
async fn throttle_serves_a_burst_in_arrival_order() {
    let server = serve(|_, _| reply(200, "{}")).await;
    let src = r#"action Notify(i: int) = http POST "BASE/n" { query { "i": "" + i } throttle 2 per 100ms }"#;
    let http = Arc::new(decl(src, &server.base));
    let exec = Arc::new(executor(&Arc::new(MemoryRecorder::new())));
    let mut tasks = Vec::new();
    for i in 0..6 {
        let (exec, http) = (exec.clone(), http.clone());
        tasks.push(tokio::spawn(async move { exec.call(&http.image, http.index, &[Value::Int(i)], "k").await }));
        // Let it reach the throttle's queue before the next one arrives.
        tokio::task::yield_now().await;
    }
    for t in tasks {
        assert!(matches!(t.await.unwrap(), CallOutcome::Ok(_)));
    }
    let order: Vec<_> = server.seen().iter().map(|s| s.uri.clone()).collect();
    assert_eq!(order, (0..6).map(|i| format!("/n?i={i}")).collect::<Vec<_>>());
}

const CACHED: &str = r#"
datasource Tier(id: string) = http GET "BASE/tier/{id}" {
  cache 1s
  returns { tier: string }
}
"#;

#[tokio::test]
async fn cache_hits_and_expiry() {
    let server = serve(|_, _| reply(200, r#"{"tier":"gold"}"#)).await;
    let http = decl(CACHED, &server.base);
    let rec = Arc::new(MemoryRecorder::new());
    let exec = executor(&rec);
    let a = [Value::from("a")];
    let first = exec.call_detailed(&http.image, http.index, &a, "k").await;
    let second = exec.call_detailed(&http.image, http.index, &a, "k").await;
    assert_eq!(first.outcome, second.outcome);
    assert_eq!((first.cached, first.attempts), (false, 1));
    assert_eq!((second.cached, second.attempts), (true, 0));
    assert_eq!(server.hits(), 1);
    exec.call(&http.image, http.index, &[Value::from("b")], "k").await;
    assert_eq!(server.hits(), 2);
    assert_eq!(rec.cache_hits(), ["Tier"]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    exec.call(&http.image, http.index, &a, "k").await;
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn cache_keeps_no_errors_and_shares_concurrent_misses() {
    let server = serve(|i, _| match i {
        0 => reply(500, ""),
        _ => Reply { delay: Duration::from_millis(100), ..reply(200, r#"{"tier":"gold"}"#) },
    })
    .await;
    let http = Arc::new(decl(CACHED, &server.base));
    let exec = Arc::new(executor(&Arc::new(MemoryRecorder::new())));
    let a = [Value::from("a")];
    assert!(matches!(exec.call(&http.image, http.index, &a, "k").await, CallOutcome::Error { .. }));
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let (exec, http) = (exec.clone(), http.clone());
        tasks.push(tokio::spawn(async move { exec.call(&http.image, http.index, &[Value::from("a")], "k").await }));
    }
    for t in tasks {
        assert!(matches!(t.await.unwrap(), CallOutcome::Ok(_)));
    }
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn seeded_backoff_is_reproducible() {
    let server = serve(|_, _| reply(503, "")).await;
    let http = decl(&SEND.replace("backoff 10ms", "backoff 20ms"), &server.base);
    let mut runs = Vec::new();
    for _ in 0..2 {
        let rec = Arc::new(MemoryRecorder::new());
        executor(&rec).call(&http.image, http.index, &[Value::from("a"), Value::from("t"), Value::Null], "k").await;
        let waits: Vec<_> = rec.attempts().iter().map(|a| a.retry_in).collect();
        for (n, w) in waits.iter().take(3).enumerate() {
            assert!(w.unwrap() <= Duration::from_millis(20 << n), "{waits:?}");
        }
        runs.push(waits);
    }
    assert_eq!(runs[0], runs[1]);
}

#[tokio::test]
async fn redirects_stay_on_the_same_origin() {
    let other = serve(|_, _| reply(200, r#"{"where":"other"}"#)).await;
    let target = format!("{}/elsewhere", other.base);
    let server = serve(move |_, s| {
        if s.uri == "/moved" {
            Reply { headers: vec![("location", "/here".into())], ..reply(307, "") }
        } else if s.uri == "/away" {
            Reply { headers: vec![("location", target.clone())], ..reply(307, "") }
        } else {
            reply(200, r#"{"where":"here"}"#)
        }
    })
    .await;
    let decls = compile(
        r#"
datasource Moved() = http GET "BASE/moved" { auth header "X-Api-Key" secret("API_KEY") }
datasource Away() = http GET "BASE/away" { auth header "X-Api-Key" secret("API_KEY") }
"#,
        &server.base,
    );
    let exec = executor(&Arc::new(MemoryRecorder::new()));
    let CallOutcome::Ok(v) = exec.call(&decls[0].image, decls[0].index, &[], "k").await else { panic!() };
    assert_eq!(v.field("where"), Value::from("here"));
    let o = exec.call(&decls[1].image, decls[1].index, &[], "k").await;
    assert_eq!(reason(&o), format!("HTTP 307 from {}", &server.base[7..]));
    assert_eq!(other.hits(), 0);
}
