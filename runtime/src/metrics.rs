//! Counters for `GET /metrics` (Prometheus text format).

use journey_vm::engine::CallOutcome;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// The runtime's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Events accepted by the API.
    pub events_accepted: AtomicU64,
    /// Events rejected by the API.
    pub events_rejected: AtomicU64,
    /// Duplicate events (same client id) answered without appending.
    pub events_duplicate: AtomicU64,
    /// Requests refused with 429 because the queue was full.
    pub backpressure: AtomicU64,
    /// Events applied by the engine.
    pub events_applied: AtomicU64,
    /// Events the engine rejected (null key at apply time).
    pub rejected_at_apply: AtomicU64,
    /// Checkpoints written.
    pub checkpoints: AtomicU64,
    /// Calls answered successfully.
    pub calls_ok: AtomicU64,
    /// Calls that failed or timed out.
    pub calls_failed: AtomicU64,
    /// Total call latency in microseconds.
    pub call_latency_us: AtomicU64,
    /// The last log position appended.
    pub appended_seq: AtomicI64,
    /// The last log position the engine applied.
    pub applied_seq: AtomicI64,
}

impl Metrics {
    /// Records a call's outcome and latency.
    pub fn call_done(&self, outcome: &CallOutcome, latency: Duration) {
        match outcome {
            CallOutcome::Ok(_) => self.calls_ok.fetch_add(1, Relaxed),
            _ => self.calls_failed.fetch_add(1, Relaxed),
        };
        self.call_latency_us.fetch_add(latency.as_micros() as u64, Relaxed);
    }

    /// Log entries appended and not yet applied by the engine.
    pub fn engine_lag(&self) -> i64 {
        (self.appended_seq.load(Relaxed) - self.applied_seq.load(Relaxed)).max(0)
    }

    /// The counters plus the given gauges, as Prometheus text.
    pub fn render(&self, waiting: u64, log_entries: u64) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, v: u64| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}\n"));
        };
        counter("journey_events_accepted_total", "Events accepted by the API.", self.events_accepted.load(Relaxed));
        counter("journey_events_rejected_total", "Events rejected by the API.", self.events_rejected.load(Relaxed));
        counter(
            "journey_events_duplicate_total",
            "Events resent with a known id.",
            self.events_duplicate.load(Relaxed),
        );
        counter("journey_backpressure_total", "Requests refused with 429.", self.backpressure.load(Relaxed));
        counter("journey_events_applied_total", "Events applied by the engine.", self.events_applied.load(Relaxed));
        counter("journey_checkpoints_total", "State checkpoints written.", self.checkpoints.load(Relaxed));
        counter("journey_action_calls_ok_total", "Action and data source calls answered.", self.calls_ok.load(Relaxed));
        counter(
            "journey_action_calls_failed_total",
            "Calls that failed or timed out.",
            self.calls_failed.load(Relaxed),
        );
        counter(
            "journey_action_latency_seconds_sum",
            "Total call latency.",
            self.call_latency_us.load(Relaxed) / 1_000_000,
        );
        out.push_str(&format!(
            "# HELP journey_instances_waiting Instances waiting.\n# TYPE journey_instances_waiting gauge\njourney_instances_waiting {waiting}\n"
        ));
        out.push_str(&format!(
            "# HELP journey_engine_lag_entries Log entries the engine has not applied yet.\n# TYPE journey_engine_lag_entries gauge\njourney_engine_lag_entries {}\n",
            self.engine_lag()
        ));
        out.push_str(&format!(
            "# HELP journey_log_entries Entries in the durable log.\n# TYPE journey_log_entries gauge\njourney_log_entries {log_entries}\n"
        ));
        out
    }
}
