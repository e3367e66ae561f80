//! The installation's metrics: one Prometheus registry per installation (never the process-wide
//! default one: two installations in one process keep apart), labelled with the tenant, rendered
//! in the text format when the host scrapes `/metrics`. Labels carry tenant, integration, state,
//! kind and reason — never a Bot ID's secret, a token or message content.

use std::collections::HashMap;
use std::sync::Arc;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// Latency buckets in seconds, from 0.5 ms (a thinking frame) to 10 minutes (a long agent run).
const BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0, 5.0, 30.0, 120.0, 600.0];

/// Every metric the plugin keeps for one installation.
pub struct Metrics {
    registry: Registry,
    /// Long connections by state (`connecting`, `connected`, `retrying`, `standby`, …).
    pub connections: IntGaugeVec,
    /// Accepted `aibot_subscribe`s. Connection counters carry no integration label: every idle
    /// bot would hold its own series (about 1.4 KiB per bot measured, with 8 KiB the budget of a
    /// whole idle connection); the Status tab shows each integration's own figures.
    pub subscribes: IntCounter,
    /// Reconnect attempts.
    pub reconnects: IntCounter,
    /// `disconnected_event`s: another connection took the bot.
    pub kicks: IntCounter,
    /// Subscribes refused for the credentials (853000).
    pub auth_failures: IntCounter,
    /// Callbacks by integration and kind (`text`, `enter_chat`, `card_click`, …).
    pub callbacks: IntCounterVec,
    /// Messages seen before (a redelivery or a retry), by integration.
    pub dedup_hits: IntCounterVec,
    /// From a callback's arrival to its first answer frame (the thinking frame).
    pub first_frame_seconds: Histogram,
    /// The shared store's round trip for a message's dedup key: the one store call before the
    /// thinking frame, so the part of [`Metrics::first_frame_seconds`] that is the store's.
    pub dedup_seconds: Histogram,
    /// Agent runs by outcome (`ok`, `failed`, `timeout`).
    pub agent_run_seconds: HistogramVec,
    /// Streams sealed before their lifetime, or refused as expired (846608), by integration.
    pub stream_expiries: IntCounterVec,
    /// Answers (or their rest) sent as proactive messages instead of the stream, by integration.
    pub stream_fallbacks: IntCounterVec,
    /// Webhook calls refused, by integration and reason.
    pub webhook_refusals: IntCounterVec,
    /// Bot lease changes (`acquired`, `lost`, `released`).
    pub lease_changes: IntCounterVec,
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let metric = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid counter definition");
    registry.register(Box::new(metric.clone())).expect("each metric is registered once");
    metric
}

fn plain_counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let metric = IntCounter::new(name, help).expect("a valid counter definition");
    registry.register(Box::new(metric.clone())).expect("each metric is registered once");
    metric
}

fn plain_histogram(registry: &Registry, name: &str, help: &str) -> Histogram {
    let opts = HistogramOpts::new(name, help).buckets(BUCKETS.to_vec());
    let metric = Histogram::with_opts(opts).expect("a valid histogram definition");
    registry.register(Box::new(metric.clone())).expect("each metric is registered once");
    metric
}

fn histogram(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    let opts = HistogramOpts::new(name, help).buckets(BUCKETS.to_vec());
    let metric = HistogramVec::new(opts, labels).expect("a valid histogram definition");
    registry.register(Box::new(metric.clone())).expect("each metric is registered once");
    metric
}

impl Metrics {
    /// The metrics of one installation in `tenant`.
    pub fn new(tenant: &str) -> Arc<Metrics> {
        let labels = HashMap::from([("tenant".to_string(), tenant.to_string())]);
        let registry = Registry::new_custom(None, Some(labels)).expect("a valid tenant label");
        let connections = IntGaugeVec::new(Opts::new("wecom_connections", "Long connections by state."), &["state"])
            .expect("a valid gauge definition");
        registry.register(Box::new(connections.clone())).expect("registered once");
        let r = &registry;
        Arc::new(Metrics {
            connections,
            subscribes: plain_counter(r, "wecom_subscribes_total", "Accepted subscribes."),
            reconnects: plain_counter(r, "wecom_reconnects_total", "Reconnect attempts."),
            kicks: plain_counter(r, "wecom_kicks_total", "Connections taken over by another one."),
            auth_failures: plain_counter(r, "wecom_auth_failures_total", "Subscribes refused (853000)."),
            callbacks: counter(r, "wecom_callbacks_total", "Callbacks received.", &["integration", "kind"]),
            dedup_hits: counter(r, "wecom_dedup_hits_total", "Messages seen before.", &["integration"]),
            first_frame_seconds: plain_histogram(
                r,
                "wecom_first_frame_seconds",
                "From a callback's arrival to its first answer frame.",
            ),
            dedup_seconds: plain_histogram(
                r,
                "wecom_dedup_seconds",
                "The shared store's round trip for a message's dedup key.",
            ),
            agent_run_seconds: histogram(r, "wecom_agent_run_seconds", "Agent run duration.", &["outcome"]),
            stream_expiries: counter(
                r,
                "wecom_stream_expiries_total",
                "Streams sealed near their lifetime or refused as expired.",
                &["integration"],
            ),
            stream_fallbacks: counter(
                r,
                "wecom_stream_fallbacks_total",
                "Answers continued as proactive messages.",
                &["integration"],
            ),
            webhook_refusals: counter(
                r,
                "wecom_webhook_refusals_total",
                "Webhook calls refused.",
                &["integration", "reason"],
            ),
            lease_changes: counter(r, "wecom_lease_changes_total", "Bot lease changes.", &["change"]),
            registry,
        })
    }

    /// The metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if TextEncoder::new().encode(&self.registry.gather(), &mut out).is_err() {
            return String::new();
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installations_keep_their_own_metrics_labelled_with_their_tenant() {
        let a = Metrics::new("tenant-a");
        let b = Metrics::new("tenant-b");
        a.subscribes.inc();
        a.callbacks.with_label_values(&["i1", "text"]).inc();
        a.connections.with_label_values(&["connected"]).inc();
        a.first_frame_seconds.observe(0.0007);
        let text = a.render();
        assert!(text.contains(r#"wecom_subscribes_total{tenant="tenant-a"} 1"#), "{text}");
        assert!(text.contains(r#"wecom_callbacks_total{integration="i1",kind="text",tenant="tenant-a"} 1"#), "{text}");
        assert!(text.contains(r#"wecom_connections{state="connected",tenant="tenant-a"} 1"#), "{text}");
        assert!(text.contains(r#"wecom_first_frame_seconds_bucket{tenant="tenant-a",le="0.001"} 1"#), "{text}");
        assert!(
            b.render().contains(r#"wecom_subscribes_total{tenant="tenant-b"} 0"#),
            "another installation saw nothing"
        );
    }
}
