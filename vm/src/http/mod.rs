//! Actions and data sources over real HTTP: the executor behind `call` and `fetch`.
//!
//! [`HttpExecutor::call`] runs a compiled declaration's option code
//! ([`journey_bytecode::HttpCode`]) on the VM with the call's arguments, sends the request with a
//! per-attempt timeout, retries timeouts, connection errors, 429 and 5xx with exponential backoff
//! and full jitter (or the server's `Retry-After`), throttles each attempt per declaration, holds
//! requests in flight to a host to a limit, caches data source results, and reads
//! the response as the declared `returns` type. `secret("NAME")` values come from a
//! [`SecretSource`] and never appear in Debug output, records or error reasons.
//!
//! Choices the language leaves open:
//! - Null arguments: a null URL placeholder fails the call before sending; null query parameters
//!   and headers are left out; null record fields are left out of the JSON body (at any depth).
//! - `throttle` counts every attempt (retries included), since it protects the service.
//! - At most 64 requests are in flight at once to each origin (`scheme://host:port`), shared by
//!   the declarations without `concurrency N`; one with it has a limit of N of its own. An attempt
//!   takes its place before its throttle turn and gives it back when it ends (not during backoff).
//! - Connection failures (refused, reset or closed before any response, no file descriptor left)
//!   are retried at least 5 times with backoff, even without `retry`; DNS failures and timeouts
//!   only as `retry` says.
//! - `Retry-After` (in seconds, capped) is honoured on every retried status (429 and 5xx).
//! - Each attempt's timeout covers sending and reading the whole body; waits for a place in
//!   flight, for the throttle and between attempts come on top.
//! - Redirects are followed only within the same origin; a 3xx that is not followed fails.
//! - A dry run sends nothing, answers null, and reads unset secrets as `***`.

mod cache;
mod eval;
mod executor;
mod limit;
mod request;
mod response;
mod retry;
mod secret;
mod send;
mod throttle;
mod trace;

pub use cache::{cache_key, CacheKey, ResponseCache};
pub use executor::{CallOutcome, CallReport, HttpExecutor, HttpExecutorBuilder};
pub use limit::{InFlight, DEFAULT_PER_HOST};
pub use request::{PreparedRequest, RequestRecord};
pub use response::{read_body, validate};
pub use retry::{retry_after, retryable_status, Backoff, CONNECTION_RETRIES};
pub use secret::{EnvSecrets, MapSecrets, Redactor, SecretSource, REDACTED};
pub use throttle::Throttle;
pub use trace::{Attempt, AttemptResult, MemoryRecorder, Recorder};
