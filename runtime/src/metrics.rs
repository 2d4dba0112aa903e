//! The runtime's metrics for `GET /metrics`, in the OpenMetrics text format (which Prometheus
//! reads), encoded by `prometheus-client`.

use journey_vm::engine::CallOutcome;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

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
    /// The last log position appended.
    pub appended_seq: AtomicI64,
    /// The last log position the engine applied.
    pub applied_seq: AtomicI64,
    /// Latency histograms.
    pub latency: Latencies,
    /// On a cluster: how many partitions this node holds.
    pub partitions_held: AtomicI64,
    /// On a cluster: leases this node took, lost or handed over since it started.
    pub lease_changes: AtomicU64,
    /// Log entries the engine read back from the store (on a cluster, those this node committed
    /// for partitions it holds are handed to their workers instead).
    pub entries_read: AtomicU64,
    /// Whether this node is part of a cluster (the cluster's metrics are rendered).
    pub cluster: std::sync::atomic::AtomicBool,
}

/// Latency histograms, in seconds.
#[derive(Debug)]
pub struct Latencies {
    /// Action and data source calls, each from its first attempt to its outcome.
    pub calls: Histogram,
    /// HTTP requests, by route, method and status.
    pub requests: Family<RequestLabels, Histogram>,
}

/// The labels of a request's latency.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route's pattern, such as `/profiles/{key}/instances`.
    pub route: String,
    /// The request's method.
    pub method: String,
    /// The answer's status code.
    pub status: u16,
}

/// Buckets from 250 µs to about 33 s, doubling.
fn buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.000_25, 2.0, 18))
}

impl Default for Latencies {
    fn default() -> Latencies {
        Latencies { calls: buckets(), requests: Family::new_with_constructor(buckets) }
    }
}

impl Metrics {
    /// Records a call's outcome and latency.
    pub fn call_done(&self, outcome: &CallOutcome, latency: Duration) {
        match outcome {
            CallOutcome::Ok(_) => self.calls_ok.fetch_add(1, Relaxed),
            _ => self.calls_failed.fetch_add(1, Relaxed),
        };
        self.latency.calls.observe(latency.as_secs_f64());
    }

    /// Records an answered request.
    pub fn request_done(&self, route: String, method: String, status: u16, latency: Duration) {
        self.latency.requests.get_or_create(&RequestLabels { route, method, status }).observe(latency.as_secs_f64());
    }

    /// Log entries appended and not yet applied by the engine.
    pub fn engine_lag(&self) -> i64 {
        (self.appended_seq.load(Relaxed) - self.applied_seq.load(Relaxed)).max(0)
    }

    /// Every metric plus the given gauges, as OpenMetrics text ([`CONTENT_TYPE`]).
    pub fn render(&self, waiting: u64, log_entries: u64) -> String {
        let mut r = Registry::default();
        let counters = [
            ("journey_events_accepted", "Events accepted by the API.", &self.events_accepted),
            ("journey_events_rejected", "Events rejected by the API.", &self.events_rejected),
            ("journey_events_duplicate", "Events resent with a known id.", &self.events_duplicate),
            ("journey_backpressure", "Requests refused with 429.", &self.backpressure),
            ("journey_events_applied", "Events applied by the engine.", &self.events_applied),
            ("journey_checkpoints", "State checkpoints written.", &self.checkpoints),
            ("journey_action_calls_ok", "Action and data source calls answered.", &self.calls_ok),
            ("journey_action_calls_failed", "Calls that failed or timed out.", &self.calls_failed),
        ];
        for (name, help, value) in counters {
            r.register(name, help, ConstCounter::new(value.load(Relaxed)));
        }
        r.register(
            "journey_action_latency_seconds",
            "Action and data source call latency, from the first attempt to the outcome.",
            self.latency.calls.clone(),
        );
        r.register(
            "journey_http_request_duration_seconds",
            "HTTP request latency by route, method and status.",
            self.latency.requests.clone(),
        );
        let gauge = |v: u64| ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX));
        r.register("journey_instances_waiting", "Instances waiting.", gauge(waiting));
        r.register(
            "journey_engine_lag_entries",
            "Log entries the engine has not applied yet.",
            ConstGauge::new(self.engine_lag()),
        );
        r.register("journey_log_entries", "Entries in the durable log.", gauge(log_entries));
        if self.cluster.load(Relaxed) {
            r.register(
                "journey_partitions_held",
                "Partitions whose lease this node holds.",
                ConstGauge::new(self.partitions_held.load(Relaxed)),
            );
            r.register(
                "journey_lease_changes",
                "Partition leases this node took, lost or handed over.",
                ConstCounter::new(self.lease_changes.load(Relaxed)),
            );
        }
        r.register(
            "journey_log_entries_read",
            "Log entries the engine read back from the database (not handed over by this node's log writer).",
            ConstCounter::new(self.entries_read.load(Relaxed)),
        );
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &r) {
            tracing::error!("encoding the metrics failed: {e}");
        }
        out
    }
}
