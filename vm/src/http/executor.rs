//! [`HttpExecutor`]: runs `call` and `fetch` against real HTTP services, with per-attempt
//! timeouts, retries, throttling, a limit on requests in flight per host, data source caching and
//! dry runs.

use super::cache::{cache_key, ResponseCache};
use super::limit::{InFlight, DEFAULT_PER_HOST};
use super::request::PreparedRequest;
use super::retry::{Backoff, CONNECTION_RETRIES};
use super::secret::{EnvSecrets, SecretSource, REDACTED};
use super::send::{attempt, Sent};
use super::throttle::Throttle;
use super::trace::{Attempt, AttemptResult, Recorder};
use crate::machine::Image;
use crate::value::Value;
use journey_bytecode::{HttpCode, HttpKind};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// How a call ended.
#[derive(Debug, Clone, PartialEq)]
pub enum CallOutcome {
    /// The response's value (null for a dry run or an empty body).
    Ok(Value),
    /// The last attempt got no response in time.
    Timeout {
        /// What happened, e.g. `no response from mail.example.com within 5s after 4 attempts`.
        reason: String,
    },
    /// Anything else: an HTTP error status, a connection failure, a body that does not fit.
    Error {
        /// What happened, e.g. `HTTP 503 from loyalty.example.com after 4 attempts`.
        reason: String,
    },
}

/// A call's outcome with how it was reached.
#[derive(Debug, Clone, PartialEq)]
pub struct CallReport {
    /// The outcome.
    pub outcome: CallOutcome,
    /// HTTP attempts made (0 for a cache hit, a dry run or a request that could not be built).
    pub attempts: u32,
    /// Whether a data source's value came from the cache.
    pub cached: bool,
}

/// Runs actions and data sources over HTTP. Share one per process: throttles, the limits on
/// requests in flight and the cache live here.
pub struct HttpExecutor {
    client: reqwest::Client,
    secrets: Arc<dyn SecretSource>,
    recorder: Option<Arc<dyn Recorder>>,
    dry_run: bool,
    backoff: Backoff,
    max_retry_after: Duration,
    throttles: Mutex<HashMap<String, Arc<Throttle>>>,
    in_flight: InFlight,
    cache: ResponseCache,
}

/// Settings for an [`HttpExecutor`].
pub struct HttpExecutorBuilder {
    secrets: Arc<dyn SecretSource>,
    recorder: Option<Arc<dyn Recorder>>,
    dry_run: bool,
    seed: Option<u64>,
    max_backoff: Duration,
    max_retry_after: Duration,
    proxy: bool,
    per_host: usize,
}

impl Default for HttpExecutorBuilder {
    fn default() -> Self {
        HttpExecutorBuilder {
            secrets: Arc::new(EnvSecrets),
            recorder: None,
            dry_run: false,
            seed: None,
            max_backoff: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(30),
            proxy: true,
            per_host: DEFAULT_PER_HOST,
        }
    }
}

impl HttpExecutorBuilder {
    /// Where `secret("NAME")` is read (environment variables by default).
    pub fn secrets(mut self, secrets: impl SecretSource + 'static) -> Self {
        self.secrets = Arc::new(secrets);
        self
    }

    /// Receives each attempt, dry-run request and cache hit.
    pub fn recorder(mut self, recorder: Arc<dyn Recorder>) -> Self {
        self.recorder = Some(recorder);
        self
    }

    /// Records requests instead of sending them; every call answers null.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Seeds the backoff jitter, for reproducible waits.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The longest backoff wait (60s by default).
    pub fn max_backoff(mut self, cap: Duration) -> Self {
        self.max_backoff = cap;
        self
    }

    /// The longest wait a `Retry-After` header may ask for (30s by default).
    pub fn max_retry_after(mut self, cap: Duration) -> Self {
        self.max_retry_after = cap;
        self
    }

    /// Requests in flight at once to one host, for declarations without `concurrency` (64 by
    /// default); requests over it wait their turn.
    pub fn per_host_limit(mut self, limit: usize) -> Self {
        self.per_host = limit;
        self
    }

    /// Ignores `HTTP_PROXY` and the like (they are honoured by default).
    pub fn no_proxy(mut self) -> Self {
        self.proxy = false;
        self
    }

    /// The executor.
    pub fn build(self) -> Result<HttpExecutor, String> {
        // Redirects are followed only within the same origin: a custom auth header (which
        // reqwest does not strip) must never reach another host.
        let redirects = reqwest::redirect::Policy::custom(|attempt| {
            let same_origin = attempt.previous().first().is_some_and(|first| first.origin() == attempt.url().origin());
            if same_origin && attempt.previous().len() <= 5 {
                attempt.follow()
            } else {
                attempt.stop()
            }
        });
        let mut client =
            reqwest::Client::builder().user_agent(concat!("journey/", env!("CARGO_PKG_VERSION"))).redirect(redirects);
        if !self.proxy {
            client = client.no_proxy();
        }
        let client = client.build().map_err(|e| format!("cannot start the HTTP client: {e}"))?;
        let backoff = match self.seed {
            Some(seed) => Backoff::new(seed, self.max_backoff),
            None => Backoff::unseeded(self.max_backoff),
        };
        Ok(HttpExecutor {
            client,
            secrets: self.secrets,
            recorder: self.recorder,
            dry_run: self.dry_run,
            backoff,
            max_retry_after: self.max_retry_after,
            throttles: Mutex::new(HashMap::new()),
            in_flight: InFlight::new(self.per_host),
            cache: ResponseCache::new(),
        })
    }
}

impl fmt::Debug for HttpExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpExecutor")
            .field("dry_run", &self.dry_run)
            .field("max_retry_after", &self.max_retry_after)
            .field("cached", &self.cache.len())
            .finish_non_exhaustive()
    }
}

/// Secrets for a dry run: unset ones read as `***` instead of failing.
struct DryRunSecrets<'a>(&'a dyn SecretSource);

impl SecretSource for DryRunSecrets<'_> {
    fn secret(&self, name: &str) -> Option<String> {
        Some(self.0.secret(name).unwrap_or_else(|| REDACTED.to_string()))
    }
}

impl HttpExecutor {
    /// Settings, starting from the defaults.
    pub fn builder() -> HttpExecutorBuilder {
        HttpExecutorBuilder::default()
    }

    /// Whether requests are recorded instead of sent.
    pub fn is_dry_run(&self) -> bool {
        self.dry_run
    }

    /// Builds the request a call of declaration `http` (an index into `image`'s actions and
    /// data sources) would send (for inspection; print it with `{:?}` or
    /// [`PreparedRequest::record`], which redact secrets).
    pub fn prepare(
        &self,
        image: &Image,
        http: u32,
        args: &[Value],
        idempotency_key: &str,
    ) -> Result<PreparedRequest, String> {
        self.prepare_code(image, &image.program.http[http as usize], args, idempotency_key)
    }

    fn prepare_code(
        &self,
        image: &Image,
        http: &HttpCode,
        args: &[Value],
        idempotency_key: &str,
    ) -> Result<PreparedRequest, String> {
        if self.dry_run {
            PreparedRequest::build(image, http, args, idempotency_key, &DryRunSecrets(&*self.secrets))
        } else {
            PreparedRequest::build(image, http, args, idempotency_key, &*self.secrets)
        }
    }

    /// Calls the action or fetches the data source `http` (an index into `image`'s) with `args`
    /// in parameter order. The `Idempotency-Key` header carries `idempotency_key` on every
    /// attempt.
    pub async fn call(&self, image: &Image, http: u32, args: &[Value], idempotency_key: &str) -> CallOutcome {
        self.call_detailed(image, http, args, idempotency_key).await.outcome
    }

    /// [`Self::call`], also telling how many attempts it took and whether the cache answered.
    pub async fn call_detailed(&self, image: &Image, http: u32, args: &[Value], idempotency_key: &str) -> CallReport {
        let http = &image.program.http[http as usize];
        let cache_ttl = match (http.kind, http.settings.cache_ms) {
            (HttpKind::DataSource, Some(ms)) if ms > 0 && !self.dry_run => Duration::from_millis(ms as u64),
            _ => return self.execute(image, http, args, idempotency_key).await,
        };
        let key = cache_key(&http.name, args);
        let mut ran = None;
        let slot = &mut ran;
        let result = self
            .cache
            .get_or_fetch(&key, move || async move {
                let report = self.execute(image, http, args, idempotency_key).await;
                *slot = Some(report.attempts);
                match report.outcome {
                    CallOutcome::Ok(v) => Ok((v, cache_ttl)),
                    _ => Err(report),
                }
            })
            .await;
        match result {
            Err(report) => report,
            Ok(value) => match ran {
                Some(attempts) => CallReport { outcome: CallOutcome::Ok(value), attempts, cached: false },
                None => {
                    if let Some(r) = &self.recorder {
                        r.cache_hit(&http.name);
                    }
                    CallReport { outcome: CallOutcome::Ok(value), attempts: 0, cached: true }
                }
            },
        }
    }

    /// The request, sent with retries (or recorded, in a dry run).
    async fn execute(&self, image: &Image, http: &HttpCode, args: &[Value], idempotency_key: &str) -> CallReport {
        let req = match self.prepare_code(image, http, args, idempotency_key) {
            Ok(r) => r,
            Err(reason) => return CallReport { outcome: CallOutcome::Error { reason }, attempts: 0, cached: false },
        };
        if self.dry_run {
            if let Some(r) = &self.recorder {
                r.dry_run(&req.record(&http.name));
            }
            return CallReport { outcome: CallOutcome::Ok(Value::Null), attempts: 0, cached: false };
        }
        let timeout = Duration::from_millis(http.settings.timeout_ms.max(1) as u64);
        let base = Duration::from_millis(http.settings.backoff_ms.max(0) as u64);
        let max_attempts = http.settings.retries.clamp(0, 100) as u32 + 1;
        // A connection failure is retried even without `retry`: the request reached no service.
        let max_connection_attempts = max_attempts.max(CONNECTION_RETRIES + 1);
        let throttle = http.settings.throttle.map(|(n, per)| self.throttle(&http.name, n, per));
        let own = http.settings.concurrency.map(|n| (http.name.as_str(), n.clamp(1, u32::MAX as i64) as usize));
        let origin = req.url().origin().ascii_serialization();
        let mut number = 0;
        loop {
            number += 1;
            // Over the limit, the call waits here (in `journey serve` it stays pending in the
            // engine's durable state meanwhile); backoff waits hold no place in flight.
            let in_flight = self.in_flight.acquire(&origin, own).await;
            if let Some(t) = &throttle {
                t.acquire().await;
            }
            let started = Instant::now();
            let sent = attempt(&self.client, &req, &http.returns, timeout, self.max_retry_after).await;
            let latency = started.elapsed();
            drop(in_flight);
            let last = number >= max_attempts;
            let (status, result, retry_in) = match &sent {
                Sent::Ok(_, status) => (Some(*status), AttemptResult::Ok, None),
                Sent::Fatal(reason, status) => (*status, AttemptResult::Error(reason.clone()), None),
                Sent::Retry { reason, status, after, connection } => {
                    let last = if *connection { number >= max_connection_attempts } else { last };
                    let wait = (!last).then(|| after.unwrap_or_else(|| self.backoff.delay(base, number - 1)));
                    (*status, AttemptResult::Error(reason.clone()), wait)
                }
                Sent::Timeout => {
                    let wait = (!last).then(|| self.backoff.delay(base, number - 1));
                    (None, AttemptResult::Timeout, wait)
                }
            };
            if let Some(r) = &self.recorder {
                let kind = http.kind;
                r.attempt(&Attempt { kind, name: http.name.clone(), number, status, result, latency, retry_in });
            }
            let after = if number > 1 { format!(" after {number} attempts") } else { String::new() };
            let outcome = match (sent, retry_in) {
                (Sent::Ok(v, _), _) => CallOutcome::Ok(v),
                (Sent::Fatal(reason, _), _) => CallOutcome::Error { reason: format!("{reason}{after}") },
                (_, Some(wait)) => {
                    tokio::time::sleep(wait).await;
                    continue;
                }
                (Sent::Retry { reason, .. }, None) => CallOutcome::Error { reason: format!("{reason}{after}") },
                (Sent::Timeout, None) => {
                    let reason = format!("no response from {} within {}{after}", req.host(), show(timeout));
                    CallOutcome::Timeout { reason }
                }
            };
            return CallReport { outcome, attempts: number, cached: false };
        }
    }

    /// The throttle of the action or data source `name`.
    fn throttle(&self, name: &str, n: i64, per_ms: i64) -> Arc<Throttle> {
        let rate = (n.max(1) as usize, Duration::from_millis(per_ms.max(1) as u64));
        let mut throttles = self.throttles.lock().unwrap_or_else(|e| e.into_inner());
        match throttles.get(name) {
            Some(t) if t.rate() == rate => t.clone(),
            _ => {
                let t = Arc::new(Throttle::new(rate.0, rate.1));
                throttles.insert(name.to_string(), t.clone());
                t
            }
        }
    }
}

/// `500ms`, `2s`, `2.5s`.
fn show(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else {
        format!("{}s", ms as f64 / 1000.0)
    }
}
