//! The hook through which the runtime sees each attempt (for step events and metrics), dry-run
//! requests and cache hits, and an in-memory recorder for tests and reports.

use super::request::RequestRecord;
use journey_bytecode::HttpKind;
use std::sync::Mutex;
use std::time::Duration;

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    /// A 2xx response that fits `returns`.
    Ok,
    /// No response within the per-attempt timeout.
    Timeout,
    /// Anything else, with its (redacted) reason.
    Error(String),
}

/// One HTTP attempt of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// Action or data source.
    pub kind: HttpKind,
    /// Its name.
    pub name: String,
    /// 1 for the first attempt.
    pub number: u32,
    /// The response status, when there was a response.
    pub status: Option<u16>,
    /// How it ended.
    pub result: AttemptResult,
    /// From sending to the end of the response (throttle waits not included).
    pub latency: Duration,
    /// The wait before the next attempt, when there is one.
    pub retry_in: Option<Duration>,
}

/// Receives what the executor does; every method has an empty default.
pub trait Recorder: Send + Sync {
    /// An attempt finished.
    fn attempt(&self, _attempt: &Attempt) {}
    /// A dry run recorded a request instead of sending it.
    fn dry_run(&self, _request: &RequestRecord) {}
    /// A data source call was answered from the cache.
    fn cache_hit(&self, _name: &str) {}
}

/// A recorder that keeps everything in memory.
#[derive(Debug, Default)]
pub struct MemoryRecorder {
    attempts: Mutex<Vec<Attempt>>,
    dry_runs: Mutex<Vec<RequestRecord>>,
    cache_hits: Mutex<Vec<String>>,
}

impl MemoryRecorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// The attempts so far.
    pub fn attempts(&self) -> Vec<Attempt> {
        self.attempts.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The dry-run requests so far.
    pub fn dry_runs(&self) -> Vec<RequestRecord> {
        self.dry_runs.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The names of the data sources answered from the cache, one per hit.
    pub fn cache_hits(&self) -> Vec<String> {
        self.cache_hits.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Recorder for MemoryRecorder {
    fn attempt(&self, attempt: &Attempt) {
        self.attempts.lock().unwrap_or_else(|e| e.into_inner()).push(attempt.clone());
    }

    fn dry_run(&self, request: &RequestRecord) {
        self.dry_runs.lock().unwrap_or_else(|e| e.into_inner()).push(request.clone());
    }

    fn cache_hit(&self, name: &str) {
        self.cache_hits.lock().unwrap_or_else(|e| e.into_inner()).push(name.to_string());
    }
}
