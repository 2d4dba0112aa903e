//! The HTTP API of `journey serve` (axum). `openapi.json` describes it.

use crate::fields;
use crate::metrics::Metrics;
use crate::store::{Appended, LogKind, NewEntry};
use crate::worker::{wall_ms, Query, Wake};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json as JsonBody;
use axum::Router;
use journey_vm::engine::{Engine, Payload, Routing};
use serde_json::value::RawValue;
use serde_json::{json, Value as Json};
use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::oneshot;

/// The most one event line may hold (Adobe's guardrail).
pub const MAX_EVENT_BYTES: usize = 64 * 1024;
/// The most one request may hold.
pub const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;
/// By default, the most one profile write may hold.
pub const MAX_PROFILE_BYTES: usize = 256 * 1024;

/// A batch to append, with where to send the outcome.
pub type AppendRequest = (Vec<NewEntry>, oneshot::Sender<Result<Vec<Appended>, String>>);

/// What the handlers share.
pub struct AppState {
    /// The group-commit appender's queue (bounded: a full queue answers 429).
    pub appender: tokio::sync::mpsc::Sender<AppendRequest>,
    /// The worker's queue.
    pub worker: Mutex<std::sync::mpsc::Sender<Wake>>,
    /// Engines on the newest version, used only to validate events and compute keys.
    pub validators: Arc<Validators>,
    /// The bearer token, when auth is on.
    pub token: Option<String>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Publishes a journey (compiles the project, stores the version); returns the version.
    pub publish: Box<PublishFn>,
    /// The most log entries the engine may be behind before changes are refused with 429.
    pub max_lag: i64,
    /// The most one profile write may hold.
    pub max_profile_bytes: usize,
    /// The stored versions' canvases, for the console.
    pub canvases: Arc<crate::console::Canvases>,
}

/// Engines on the newest version that validate events and compute their keys: one per thread
/// that serves requests, so that requests validate side by side.
pub struct Validators(Vec<Mutex<Engine>>, std::sync::RwLock<HashSet<String>>);

impl Validators {
    /// `n` validators made by `make`.
    pub fn new(n: usize, make: impl Fn() -> Engine) -> Validators {
        let engines: Vec<Mutex<Engine>> = (0..n.max(1)).map(|_| Mutex::new(make())).collect();
        let business = business_events(&engines[0].lock().unwrap_or_else(PoisonError::into_inner).image().program);
        Validators(engines, std::sync::RwLock::new(business))
    }

    /// Adds the business events of stored versions: an event that an older version still
    /// loaded starts an audience's journeys on goes to every partition, however the newest
    /// version reads it.
    pub fn add_business<'a>(&self, programs: impl IntoIterator<Item = &'a journey_bytecode::Program>) {
        let mut business = self.1.write().unwrap_or_else(PoisonError::into_inner);
        for program in programs {
            business.extend(business_events(program));
        }
    }

    /// Whether some loaded version starts an audience's journeys on event `name`.
    pub fn is_business(&self, name: &str) -> bool {
        self.1.read().unwrap_or_else(PoisonError::into_inner).contains(name)
    }

    /// A validator, one not in use if there is one.
    pub fn get(&self) -> MutexGuard<'_, Engine> {
        for m in &self.0 {
            if let Ok(engine) = m.try_lock() {
                return engine;
            }
        }
        self.0[0].lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces every validator (a new version is published); the business events of the
    /// versions before are kept (they stay loaded).
    pub fn replace(&self, make: impl Fn() -> Engine) {
        for m in &self.0 {
            *m.lock().unwrap_or_else(PoisonError::into_inner) = make();
        }
        let image = self.get().image().clone();
        self.add_business([&image.program]);
    }
}

/// The events a version starts an audience's journeys on (`start on E for audience A`).
fn business_events(program: &journey_bytecode::Program) -> HashSet<String> {
    program
        .journeys
        .iter()
        .filter_map(|j| match &j.start {
            journey_bytecode::Start::EventForAudience { event, .. } => Some(event.clone()),
            _ => None,
        })
        .collect()
}

/// Publishes a journey: returns the new version, or the status and reason of the refusal.
pub type PublishFn = dyn Fn(&str) -> Result<u32, (StatusCode, String)> + Send + Sync;

/// An API error: a status and a reason, answered as `{"error": reason}`.
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error(self.0, self.1)
    }
}

type Shared = Arc<AppState>;

fn error(status: StatusCode, reason: impl Into<String>) -> Response {
    (status, JsonBody(json!({"error": reason.into()}))).into_response()
}

/// The router with every route.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/events", post(post_events))
        .route("/profiles/{key}", axum::routing::put(put_profile).patch(patch_profile))
        .route("/profiles/{key}/instances", get(get_instances))
        .route("/profiles/{key}/messages", get(get_messages))
        .route("/audiences/{name}/members", post(post_members))
        .route("/journeys", get(get_journeys))
        .route("/journeys/{name}/{action}", post(post_journey_action))
        .route("/journeys/{name}/report", get(get_report))
        .route("/journeys/{name}/graph.svg", get(get_graph))
        .route("/journeys/{name}/errors", get(get_errors))
        .route("/metrics", get(get_metrics))
        .route("/status", get(get_status))
        .route(
            "/openapi.json",
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], include_str!("openapi.json")) }),
        )
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .route("/healthz", get(|| async { "ok" }))
        // The console's files hold no data: served to all, they ask for the token.
        .route(
            "/",
            get(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], crate::console::INDEX_HTML) }),
        )
        .route(
            "/console/app.js",
            get(|| async { ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], crate::console::APP_JS) }),
        )
        .route(
            "/console/style.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], crate::console::STYLE_CSS) }),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), measure))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(state)
}

/// What every API route goes through, in one layer (one boxed future per request, not two):
/// the bearer token checked, then the whole request body read before the handler runs, so
/// that a body over the limit is answered 413 and one that pauses longer than
/// `--idle-timeout` 408, each with a reason.
async fn guard(State(state): State<Shared>, req: Request, next: Next) -> Response {
    if let Some(refused) = unauthorized(&state, &req) {
        return refused;
    }
    let (parts, body) = req.into_parts();
    let too_large = || {
        let mb = MAX_REQUEST_BYTES / (1024 * 1024);
        error(StatusCode::PAYLOAD_TOO_LARGE, format!("the request is over {mb} MB"))
    };
    // A Content-Length over the limit is answered at once.
    let length = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if length.is_some_and(|n| n > MAX_REQUEST_BYTES as u64) {
        return too_large();
    }
    match axum::body::to_bytes(body, MAX_REQUEST_BYTES).await {
        Ok(bytes) => next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await,
        Err(e) => {
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            while let Some(c) = cause {
                if c.is::<tower_http::timeout::TimeoutError>() {
                    return error(StatusCode::REQUEST_TIMEOUT, "the request body paused longer than --idle-timeout");
                }
                if c.is::<http_body_util::LengthLimitError>() {
                    return too_large();
                }
                cause = c.source();
            }
            error(StatusCode::BAD_REQUEST, format!("the request body could not be read: {e}"))
        }
    }
}

/// Times each request into the request latency histogram, by route and status.
async fn measure(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_default();
    let method = req.method().to_string();
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    state.metrics.request_done(route, method, response.status().as_u16(), started.elapsed());
    response
}

/// The 401 answer for a request without the right bearer token, when auth is on.
fn unauthorized(state: &AppState, req: &Request) -> Option<Response> {
    let token = state.token.as_ref()?;
    let given = req.headers().get(header::AUTHORIZATION).and_then(|v| bearer(v.as_bytes()));
    if given.is_some_and(|given| same_token(given, token.as_bytes())) {
        return None;
    }
    let mut response = error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token (Authorization: Bearer <token>)");
    response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    Some(response)
}

/// The credentials of an `Authorization` header of the `Bearer` scheme, whose name is
/// case-insensitive (RFC 9110, section 11.1).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let space = value.iter().position(|b| *b == b' ')?;
    let (scheme, rest) = value.split_at(space);
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let start = rest.iter().position(|b| *b != b' ')?;
    Some(rest[start..].trim_ascii_end())
}

/// Whether two tokens are equal, in time that does not depend on where they differ, nor on
/// the token's length (their digests are compared).
fn same_token(given: &[u8], token: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    Sha256::digest(given).ct_eq(&Sha256::digest(token)).into()
}

/// By default, the most log entries the engine may be behind before events, profile writes and
/// audience changes are refused with 429 (about two seconds of its work): the log is durable,
/// but what the engine answers would be ever staler, and the log ever longer.
pub const MAX_ENGINE_LAG: i64 = 200_000;

/// Appends entries to the log (durably, by group commit); with `bounded`, refuses them with 429
/// while the engine is more than `max_lag` entries behind.
async fn append(state: &Shared, entries: Vec<NewEntry>, bounded: bool) -> Result<Vec<Appended>, ApiError> {
    let lag = state.metrics.engine_lag();
    if bounded && lag > state.max_lag {
        state.metrics.backpressure.fetch_add(1, Relaxed);
        return Err(ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            format!("the engine is {lag} log entries behind; retry after a short wait"),
        ));
    }
    let (tx, rx) = oneshot::channel();
    if let Err(e) = state.appender.try_send((entries, tx)) {
        return Err(match e {
            tokio::sync::mpsc::error::TrySendError::Full(_) => {
                state.metrics.backpressure.fetch_add(1, Relaxed);
                ApiError(StatusCode::TOO_MANY_REQUESTS, "the runtime is busy; retry after a short wait".into())
            }
            tokio::sync::mpsc::error::TrySendError::Closed(_) => {
                ApiError(StatusCode::SERVICE_UNAVAILABLE, "shutting down".into())
            }
        });
    }
    match rx.await {
        Ok(Ok(out)) => Ok(out),
        // The database is away (restarting, or unreachable): nothing was stored; retry later.
        Ok(Err(e)) if e.contains(crate::store::StoreError::UNAVAILABLE) => {
            Err(ApiError(StatusCode::SERVICE_UNAVAILABLE, format!("could not store: {e}; retry after a short wait")))
        }
        Ok(Err(e)) => Err(ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("could not store: {e}"))),
        Err(_) => Err(ApiError(StatusCode::SERVICE_UNAVAILABLE, "shutting down".into())),
    }
}

/// One event line's fields as JSON text: the payload is read into a value to be checked, and
/// stored as it came.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Line<'a> {
    #[serde(borrow, default, deserialize_with = "raw")]
    id: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "raw")]
    event: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "raw")]
    at: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "raw")]
    payload: Option<&'a RawValue>,
}

/// A field that is present, even as `null`.
fn raw<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue as serde::Deserialize>::deserialize(d).map(Some)
}

/// A field's text when it is a JSON string.
fn text(field: Option<&RawValue>) -> Option<String> {
    field.and_then(|r| serde_json::from_str::<String>(r.get()).ok())
}

/// Parses one event line and checks it against the newest version's event declarations.
fn validate(
    engine: &mut Engine,
    business: &Validators,
    line: &str,
    now: i64,
) -> Result<NewEntry, (Option<String>, String)> {
    if line.len() > MAX_EVENT_BYTES {
        return Err((None, format!("the event is {} bytes; the limit is {MAX_EVENT_BYTES}", line.len())));
    }
    let not_json = |e: serde_json::Error| (None, format!("not valid JSON: {e}"));
    if !line.trim_start().starts_with('{') {
        serde_json::from_str::<serde::de::IgnoredAny>(line).map_err(not_json)?;
        return Err((None, "missing \"event\": the event's name".into()));
    }
    let fields: Line = serde_json::from_str(line).map_err(|e| {
        let why = e.to_string();
        if why.starts_with("unknown field") {
            (None, format!("{why}: an event line has only these fields"))
        } else {
            (None, format!("not valid JSON: {why}"))
        }
    })?;
    let id = fields::event_id(fields.id).map_err(|why| (fields::echo_id(fields.id), why))?;
    let name = match fields.event {
        None => return Err((id, "missing \"event\": the event's name".into())),
        Some(raw) => match text(Some(raw)) {
            Some(name) if !name.is_empty() => name,
            Some(_) => return Err((id, "\"event\" is empty: give a declared event's name".into())),
            None => return Err((id, "\"event\" must be a string: a declared event's name".into())),
        },
    };
    let payload_text = fields.payload.map(RawValue::get).unwrap_or("{}");
    let payload: Json = serde_json::from_str(payload_text).map_err(not_json)?;
    // Arrival time by default; an event from the future is taken as arriving now.
    let at_ms = fields::event_time(fields.at, now).map_err(|why| (id.clone(), why))?;
    let program = &engine.image().program;
    let Some(decl) = program.events.iter().find(|e| e.name == name) else {
        let known: Vec<&str> = program.events.iter().map(|e| e.name.as_str()).collect();
        let hint = journey_compiler::suggest::did_you_mean(&name, known).map(|h| format!("; {h}")).unwrap_or_default();
        return Err((id, format!("unknown event `{name}`{hint}")));
    };
    journey_vm::payload::check_payload(&name, &decl.payload, payload_text).map_err(|e| (id.clone(), e))?;
    let now = engine.now_ms();
    if engine.is_business(&name) || business.is_business(&name) {
        // A business event (in this version or in an older one still loaded, which starts
        // journeys on it however this one reads it): every partition applies it, each starting
        // its own members (its `when` is judged there); its key, if it has one, is not needed
        // to place it (the partition that owns it delivers it there, see `Shard::apply`).
        return Ok(NewEntry::event(id, at_ms, &name, payload_text));
    }
    let Ok(Some(key)) = engine.route(&name, Payload::Json(&payload), now, Routing::Check) else {
        return Err((
            id,
            format!("the `{name}` payload has no profile key (its `key` is null or empty) or its `when` does not hold"),
        ));
    };
    // The key picks the event's partition on a partitioned store.
    Ok(NewEntry::event(id, at_ms, &name, payload_text).keyed(&key))
}

/// How a `POST /events` body is read, by its `Content-Type`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum EventsBody {
    /// `application/json`: the body is one event, which may span lines.
    One,
    /// `application/x-ndjson` (or `application/jsonl`): one event per line, each judged alone.
    Lines,
    /// No or another type: one event if the whole body is one JSON value, else one per line.
    Either,
}

fn events_body(headers: &axum::http::HeaderMap) -> EventsBody {
    let Some(mime) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return EventsBody::Either;
    };
    let mime = mime.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match mime.as_str() {
        "application/json" => EventsBody::One,
        "application/x-ndjson" | "application/ndjson" | "application/jsonl" | "application/x-jsonlines" => {
            EventsBody::Lines
        }
        _ => EventsBody::Either,
    }
}

/// The body's event texts: the whole body when it is one event, else its non-blank lines.
/// A batch's lines are judged one by one: a bad line never rejects the others.
fn event_texts(text: &str, how: EventsBody) -> Result<Vec<&str>, ApiError> {
    let lines = || text.lines().filter(|l| !l.trim().is_empty()).collect::<Vec<&str>>();
    let one_value = || serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
    let texts = match how {
        EventsBody::One => {
            if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
                return Err(ApiError(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "not valid JSON: {e} (an application/json body is one event; send a batch as application/x-ndjson)"
                    ),
                ));
            }
            vec![text]
        }
        EventsBody::Lines => lines(),
        // A pretty-printed object is one JSON value; NDJSON of two or more lines never is.
        EventsBody::Either if text.trim().contains('\n') && one_value() => vec![text],
        EventsBody::Either => lines(),
    };
    if texts.is_empty() || texts.iter().all(|t| t.trim().is_empty()) {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "no events: send one JSON object, or one per line (NDJSON)".into(),
        ));
    }
    Ok(texts)
}

async fn post_events(State(state): State<Shared>, headers: axum::http::HeaderMap, body: Bytes) -> Response {
    let Ok(text) = std::str::from_utf8(&body) else {
        return error(StatusCode::BAD_REQUEST, "the body is not UTF-8");
    };
    let lines = match event_texts(text, events_body(&headers)) {
        Ok(lines) => lines,
        Err(e) => return e.into_response(),
    };
    let mut rejected = Vec::new();
    let mut entries = Vec::with_capacity(lines.len());
    let mut indexes = Vec::with_capacity(lines.len());
    {
        let mut engine = state.validators.get();
        let now = wall_ms();
        for (i, line) in lines.iter().enumerate() {
            match validate(&mut engine, &state.validators, line, now) {
                Ok(entry) => {
                    indexes.push(i);
                    entries.push(entry);
                }
                Err((id, reason)) => rejected.push(json!({"index": i, "id": id, "reason": reason})),
            }
        }
    }
    if lines.len() == 1
        && !rejected.is_empty()
        && rejected[0]["reason"].as_str().is_some_and(|r| r.starts_with("not valid JSON"))
    {
        state.metrics.events_rejected.fetch_add(1, Relaxed);
        return error(StatusCode::BAD_REQUEST, rejected[0]["reason"].as_str().unwrap_or_default());
    }
    state.metrics.events_rejected.fetch_add(rejected.len() as u64, Relaxed);
    // The answer is written out directly: {"accepted": [...], "rejected": [...]}.
    let mut out = String::with_capacity(64 + entries.len() * 64);
    out.push_str(r#"{"accepted":["#);
    let accepted = entries.len();
    if !entries.is_empty() {
        let ids: Vec<Option<String>> = entries.iter_mut().map(|e| e.client_id.clone()).collect();
        let results = match append(&state, entries, true).await {
            Ok(r) => r,
            Err(resp) => return resp.into_response(),
        };
        let (mut new, mut duplicates) = (0, 0);
        for (n, ((i, id), r)) in indexes.into_iter().zip(ids).zip(results).enumerate() {
            let (seq, duplicate) = match r {
                Appended::New(s) => (s, false),
                Appended::Duplicate(s) => (s, true),
            };
            if duplicate {
                duplicates += 1;
            } else {
                new += 1;
            }
            let id = match id {
                Some(id) => serde_json::to_string(&id).unwrap_or_else(|_| "null".into()),
                None => "null".into(),
            };
            let comma = if n > 0 { "," } else { "" };
            let _ = write!(out, r#"{comma}{{"index":{i},"id":{id},"seq":{seq},"duplicate":{duplicate}}}"#);
        }
        state.metrics.events_accepted.fetch_add(new, Relaxed);
        state.metrics.events_duplicate.fetch_add(duplicates, Relaxed);
    }
    out.push_str(r#"],"rejected":"#);
    out.push_str(&Json::Array(rejected).to_string());
    out.push('}');
    let status = if accepted == 0 { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, [(header::CONTENT_TYPE, "application/json")], out).into_response()
}

fn json_body(body: &Bytes) -> Result<Json, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("not valid JSON: {e}")))
}

async fn write_profile(state: Shared, key: String, body: Bytes, patch: bool) -> Response {
    if body.len() > state.max_profile_bytes {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the profile is {} bytes; the limit is {} (--max-profile-bytes)",
                body.len(),
                state.max_profile_bytes
            ),
        );
    }
    let attributes = match json_body(&body) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    if !attributes.is_object() {
        return error(StatusCode::BAD_REQUEST, "profile attributes must be a JSON object");
    }
    let checked = {
        let engine = state.validators.get();
        fields::profile(&attributes, engine.image().program.profile.as_ref(), patch)
    };
    if let Err(why) = checked {
        return error(StatusCode::UNPROCESSABLE_ENTITY, why);
    }
    let kind = if patch { LogKind::ProfilePatch { key, attributes } } else { LogKind::ProfilePut { key, attributes } };
    let entry = match NewEntry::new(None, wall_ms(), &kind) {
        Ok(e) => e,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    match append(&state, vec![entry], true).await {
        Ok(r) => {
            JsonBody(json!({"seq": match r[0] { Appended::New(s) | Appended::Duplicate(s) => s }})).into_response()
        }
        Err(resp) => resp.into_response(),
    }
}

async fn put_profile(State(state): State<Shared>, Path(key): Path<String>, body: Bytes) -> Response {
    write_profile(state, key, body, false).await
}

async fn patch_profile(State(state): State<Shared>, Path(key): Path<String>, body: Bytes) -> Response {
    write_profile(state, key, body, true).await
}

async fn post_members(State(state): State<Shared>, Path(name): Path<String>, body: Bytes) -> Response {
    let v = match json_body(&body) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let known = state.validators.get().image().program.audiences.contains(&name);
    if !known {
        return error(StatusCode::NOT_FOUND, format!("no audience `{name}` is declared"));
    }
    let how = "give profile keys as {\"enter\": [\"k1\"], \"exit\": [\"k2\"]}";
    let Some(fields) = v.as_object() else { return error(StatusCode::BAD_REQUEST, how) };
    if let Some(other) = fields.keys().find(|k| *k != "enter" && *k != "exit") {
        return error(StatusCode::UNPROCESSABLE_ENTITY, format!("unknown field `{other}`: {how}"));
    }
    let mut lists: Vec<(Vec<String>, bool)> = Vec::new();
    for (field, enters) in [("enter", true), ("exit", false)] {
        let Some(list) = fields.get(field) else { continue };
        let Some(items) = list.as_array() else {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("\"{field}\" must be a list of profile keys: {how}"),
            );
        };
        let mut keys = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match item.as_str() {
                Some(k) if !k.is_empty() => keys.push(k.to_string()),
                _ => {
                    return error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        format!("{field}[{i}]: a profile key is a non-empty string, found {item}"),
                    )
                }
            }
        }
        lists.push((keys, enters));
    }
    let now = wall_ms();
    let mut entries = Vec::new();
    for (keys, enters) in lists {
        for key in keys {
            match NewEntry::new(None, now, &LogKind::Audience { audience: name.clone(), key, enters }) {
                Ok(e) => entries.push(e),
                Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            }
        }
    }
    if entries.is_empty() {
        return error(StatusCode::BAD_REQUEST, "give profile keys as {\"enter\": [\"k1\"], \"exit\": [\"k2\"]}");
    }
    let n = entries.len();
    match append(&state, entries, true).await {
        Ok(_) => JsonBody(json!({"changes": n})).into_response(),
        Err(resp) => resp.into_response(),
    }
}

async fn ask<T: Send + 'static>(state: &Shared, make: impl FnOnce(oneshot::Sender<T>) -> Query) -> Result<T, ApiError> {
    let (tx, rx) = oneshot::channel();
    let sent = state.worker.lock().map(|w| w.send(Wake::Query(make(tx))).is_ok()).unwrap_or(false);
    if !sent {
        return Err(ApiError(StatusCode::SERVICE_UNAVAILABLE, "the engine is not running".into()));
    }
    rx.await.map_err(|_| ApiError(StatusCode::SERVICE_UNAVAILABLE, "the engine is not running".into()))
}

async fn get_journeys(State(state): State<Shared>) -> Response {
    match ask(&state, Query::Journeys).await {
        Ok(v) => JsonBody(v).into_response(),
        Err(r) => r.into_response(),
    }
}

/// `GET /journeys/NAME/report[?since=RFC3339][&hours=true]`: the window from `since` (the last
/// 24 hours when absent); with `hours`, each version's hourly counts too. The query is read by
/// hand so that a bad value is answered as every other 400 is, in JSON with the fix.
async fn get_report(
    State(state): State<Shared>,
    Path(name): Path<String>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    let since = match q.get("since").map(|s| s.parse::<jiff::Timestamp>()) {
        None => None,
        Some(Ok(t)) => Some(t.as_millisecond()),
        Some(Err(e)) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("`since` is not a date-time ({e}); give RFC 3339, like 2026-12-01T00:00:00Z"),
            )
        }
    };
    let hours = match q.get("hours").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return error(StatusCode::BAD_REQUEST, format!("`hours` is `{other}`; give true or false")),
    };
    match ask(&state, |tx| Query::Report(name.clone(), since, hours, tx)).await {
        Ok(Some(v)) => JsonBody(v).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no journey `{name}`")),
        Err(r) => r.into_response(),
    }
}

/// `GET /journeys/NAME/graph.svg[?version=N]`: the journey's canvas in version `N` as stored
/// (its latest version in `/journeys` when absent).
async fn get_graph(
    State(state): State<Shared>,
    Path(name): Path<String>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    use crate::console::Drawing;
    let version = match q.get("version") {
        Some(v) => match v.parse::<u32>() {
            Ok(n) => n,
            Err(_) => return error(StatusCode::BAD_REQUEST, format!("`version` is `{v}`; give a version number")),
        },
        None => {
            let latest = match ask(&state, Query::Journeys).await {
                Ok(list) => list
                    .as_array()
                    .and_then(|l| l.iter().find(|j| j["name"] == name.as_str()))
                    .and_then(|j| j["versions"].as_array().and_then(|v| v.last()).and_then(|v| v["version"].as_u64())),
                Err(r) => return r.into_response(),
            };
            match latest {
                Some(n) => n as u32,
                None => return error(StatusCode::NOT_FOUND, format!("no journey `{name}`")),
            }
        }
    };
    let canvases = state.canvases.clone();
    let journey = name.clone();
    match tokio::task::spawn_blocking(move || canvases.svg(&journey, version)).await {
        Ok(Ok(Drawing::Svg(svg))) => ([(header::CONTENT_TYPE, "image/svg+xml")], svg.to_string()).into_response(),
        Ok(Ok(Drawing::NoVersion)) => error(StatusCode::NOT_FOUND, format!("no version {version}")),
        Ok(Ok(Drawing::NoJourney)) => error(StatusCode::NOT_FOUND, format!("version {version} has no journey `{name}`")),
        Ok(Ok(Drawing::NotKept)) => error(
            StatusCode::NOT_FOUND,
            format!("version {version} was published before versions kept their canvas, and the project's files have changed since: no drawing of it"),
        ),
        Ok(Err(why)) => error(StatusCode::SERVICE_UNAVAILABLE, format!("the stored versions cannot be read: {why}")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn get_errors(State(state): State<Shared>, Path(name): Path<String>) -> Response {
    match ask(&state, |tx| Query::Errors(name, tx)).await {
        Ok(v) => JsonBody(v).into_response(),
        Err(r) => r.into_response(),
    }
}

async fn get_instances(State(state): State<Shared>, Path(key): Path<String>) -> Response {
    match ask(&state, |tx| Query::Instances(key, tx)).await {
        Ok(v) => JsonBody(v).into_response(),
        Err(r) => r.into_response(),
    }
}

/// `GET /profiles/{key}/messages`: the profile's messages, oldest first, with their outcome and
/// reactions, as the last checkpoint holds them (a fraction of a second behind the engine).
async fn get_messages(State(state): State<Shared>, Path(key): Path<String>) -> Response {
    match ask(&state, |tx| Query::Messages(key, tx)).await {
        Ok(Ok(v)) => JsonBody(v).into_response(),
        Ok(Err(why)) => error(StatusCode::SERVICE_UNAVAILABLE, format!("the message log cannot be read: {why}")),
        Err(r) => r.into_response(),
    }
}

async fn get_status(State(state): State<Shared>) -> Response {
    match ask(&state, Query::Status).await {
        Ok(mut v) => {
            v["accepted"] = json!(state.metrics.events_accepted.load(Relaxed));
            v["rejected"] = json!(state.metrics.events_rejected.load(Relaxed));
            JsonBody(v).into_response()
        }
        Err(r) => r.into_response(),
    }
}

async fn get_metrics(State(state): State<Shared>) -> Response {
    let status = ask(&state, Query::Status).await.unwrap_or(json!({}));
    let text = state
        .metrics
        .render(status["instances_waiting"].as_u64().unwrap_or(0), status["log_entries"].as_u64().unwrap_or(0));
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response()
}

async fn post_journey_action(State(state): State<Shared>, Path((name, action)): Path<(String, String)>) -> Response {
    let exists = state.validators.get().image().program.journeys.iter().any(|j| j.name == name);
    if !exists && action != "publish" {
        return error(StatusCode::NOT_FOUND, format!("no journey `{name}`"));
    }
    let kind = match action.as_str() {
        "publish" => match (state.publish)(&name) {
            Ok(version) => LogKind::Publish { version, journeys: vec![name.clone()] },
            Err((status, why)) => return error(status, why),
        },
        "close" => LogKind::Close { journey: name.clone() },
        "stop" => LogKind::Stop { journey: name.clone() },
        other => return error(StatusCode::NOT_FOUND, format!("unknown action `{other}`; use publish, close or stop")),
    };
    let version = match &kind {
        LogKind::Publish { version, .. } => Some(*version),
        _ => None,
    };
    let entry = match NewEntry::new(None, wall_ms(), &kind) {
        Ok(e) => e,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    // Lifecycle commands are never refused for the engine's lag (a publish has stored its
    // version already).
    match append(&state, vec![entry], false).await {
        Ok(_) => JsonBody(json!({"journey": name, "action": action, "version": version})).into_response(),
        Err(resp) => resp.into_response(),
    }
}
