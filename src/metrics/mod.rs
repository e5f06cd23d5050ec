//! Prometheus metrics: broker requests and latency by channel and outcome (denials by their
//! error code), live tokens, and each directory source's state. Counters move on the
//! request path without locks of their own; gauges are read when scraped.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    channel: String,
    /// `accepted`, or the refusal's error code (`token_revoked`, `policy_denied`…).
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Cut {
    channel: String,
    /// `access revoked`, `upstream stalled`, `upstream failed`, `response too large`.
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Channel {
    channel: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectionEnd {
    /// `main` or `broker`.
    listener: &'static str,
    /// `connection_limit`, `header_read_timeout`, `idle_timeout`, `request_timeout`.
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Source {
    source: String,
}

type Latency = Family<Channel, Histogram, fn() -> Histogram>;

fn latency_buckets() -> Histogram {
    // 100 µs … ~3 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

/// The daemon's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<Outcome, Counter>,
    cuts: Family<Cut, Counter>,
    activity_dropped: Counter,
    connections_closed: Family<ConnectionEnd, Counter>,
    latency: Latency,
    live_tokens: Gauge,
    source_live: Family<Source, Gauge>,
    source_lag: Family<Source, Gauge>,
    source_changes: Family<Source, Gauge>,
    sync_running: Family<Source, Gauge>,
    sync_read: Family<Source, Gauge>,
    sync_applied: Family<Source, Gauge>,
    /// Identity providers: seconds since discovery and since the key set, and counts.
    oidc: [Family<Source, Gauge>; 6],
    replica_lag: Gauge,
    replica_caught_up_age: Gauge,
    outbox_waiting: Gauge,
    writable: Gauge,
    unrecorded: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<Outcome, Counter>::default();
        registry.register(
            "staffgate_broker_requests",
            "Brokered requests by channel and outcome (accepted, or the refusal's code)",
            requests.clone(),
        );
        let cuts = Family::<Cut, Counter>::default();
        registry.register(
            "staffgate_broker_cuts",
            "Brokered responses cut mid-body, by channel and reason",
            cuts.clone(),
        );
        let activity_dropped = Counter::default();
        registry.register(
            "staffgate_activity_dropped",
            "Per-call activity records dropped (queue full, or kept too long while the database refused them)",
            activity_dropped.clone(),
        );
        let connections_closed = Family::<ConnectionEnd, Counter>::default();
        registry.register(
            "staffgate_connections_closed",
            "Client connections (or requests) the server ended, by listener and limit reached",
            connections_closed.clone(),
        );
        let latency: Latency = Family::new_with_constructor(latency_buckets);
        registry.register(
            "staffgate_broker_request_duration_seconds",
            "Accepted brokered requests, from arrival to the end of the response",
            latency.clone(),
        );
        let live_tokens = Gauge::default();
        registry.register(
            "staffgate_live_tokens",
            "Tokens the verifier holds (live or revoked, not yet expired)",
            live_tokens.clone(),
        );
        let source_live = Family::<Source, Gauge>::default();
        registry.register(
            "staffgate_directory_live",
            "1 while a directory source's persist stream is live",
            source_live.clone(),
        );
        let source_lag = Family::<Source, Gauge>::default();
        registry.register(
            "staffgate_directory_lag_milliseconds",
            "How stale a directory source's view may be",
            source_lag.clone(),
        );
        let source_changes = Family::<Source, Gauge>::default();
        registry.register(
            "staffgate_directory_changes_applied",
            "Live directory changes applied since start",
            source_changes.clone(),
        );
        let sync_running = Family::<Source, Gauge>::default();
        registry.register(
            "staffgate_directory_sync_running",
            "1 while a full sync (or persist mode's initial refresh) of the source runs",
            sync_running.clone(),
        );
        let sync_read = Family::<Source, Gauge>::default();
        registry.register(
            "staffgate_directory_sync_entries_read",
            "Entries the running sync has read so far (0 when none runs)",
            sync_read.clone(),
        );
        let sync_applied = Family::<Source, Gauge>::default();
        registry.register(
            "staffgate_directory_sync_people_applied",
            "People of the running sync's plan written so far (0 when none runs)",
            sync_applied.clone(),
        );
        let oidc: [Family<Source, Gauge>; 6] = Default::default();
        for (family, (name, help)) in oidc.iter().zip([
            (
                "staffgate_oidc_discovered_age_seconds",
                "Since an identity provider's discovery last succeeded (-1: never)",
            ),
            (
                "staffgate_oidc_key_set_age_seconds",
                "Since an identity provider's key set was fetched (-1: never)",
            ),
            (
                "staffgate_oidc_sessions_refreshed",
                "Provider sessions refreshed since start (on the replica running refreshes)",
            ),
            (
                "staffgate_oidc_sessions_ended_at_refresh",
                "Provider sessions ended because the provider refused the refresh",
            ),
            (
                "staffgate_oidc_refresh_failures",
                "Refreshes that could not be asked (the provider down or unreadable)",
            ),
            (
                "staffgate_oidc_backchannel_logouts",
                "Back-channel logouts applied since start",
            ),
        ]) {
            registry.register(name, help, family.clone());
        }
        let replica_lag = Gauge::default();
        registry.register(
            "staffgate_replica_log_lag_entries",
            "Change-log entries this replica has not applied yet",
            replica_lag.clone(),
        );
        let replica_caught_up_age = Gauge::default();
        registry.register(
            "staffgate_replica_caught_up_age_milliseconds",
            "Since this replica last showed it had applied the whole log (it refuses past its bound)",
            replica_caught_up_age.clone(),
        );
        let outbox_waiting = Gauge::default();
        registry.register(
            "staffgate_mail_outbox_waiting",
            "Mails queued and not yet accepted by the relay",
            outbox_waiting.clone(),
        );
        let writable = Gauge::default();
        registry.register(
            "staffgate_storage_writable",
            "1 while this replica's writes succeed; 0 while the database refuses them",
            writable.clone(),
        );
        let unrecorded = Gauge::default();
        registry.register(
            "staffgate_offboardings_unrecorded",
            "Offboardings the database refused, refused here from memory and retried until recorded",
            unrecorded.clone(),
        );
        Metrics {
            registry,
            cuts,
            activity_dropped,
            connections_closed,
            writable,
            unrecorded,
            replica_lag,
            replica_caught_up_age,
            outbox_waiting,
            requests,
            latency,
            live_tokens,
            source_live,
            source_lag,
            source_changes,
            sync_running,
            sync_read,
            sync_applied,
            oidc,
        }
    }
}

impl Metrics {
    pub fn accepted(&self, channel: &str, latency_us: i64) {
        self.requests
            .get_or_create(&Outcome {
                channel: channel.to_owned(),
                outcome: "accepted".into(),
            })
            .inc();
        self.latency
            .get_or_create(&Channel {
                channel: channel.to_owned(),
            })
            .observe(latency_us.max(0) as f64 / 1e6);
    }

    pub fn cut(&self, channel: &str, reason: &str) {
        self.cuts
            .get_or_create(&Cut {
                channel: channel.to_owned(),
                reason: reason.to_owned(),
            })
            .inc();
    }

    pub fn connection_closed(&self, listener: &'static str, reason: &'static str) {
        self.connections_closed
            .get_or_create(&ConnectionEnd { listener, reason })
            .inc();
    }

    pub fn activity_dropped(&self, n: u64) {
        self.activity_dropped.inc_by(n);
    }

    pub fn refused(&self, channel: &str, code: &str) {
        self.requests
            .get_or_create(&Outcome {
                channel: channel.to_owned(),
                outcome: code.to_owned(),
            })
            .inc();
    }

    /// Sets the gauges read at scrape time.
    pub fn set_live_tokens(&self, n: usize) {
        self.live_tokens.set(n as i64);
    }

    pub fn set_source(&self, source: &str, live: bool, lag_ms: Option<i64>, changes: u64) {
        let key = Source {
            source: source.to_owned(),
        };
        self.source_live.get_or_create(&key).set(i64::from(live));
        self.source_lag
            .get_or_create(&key)
            .set(lag_ms.unwrap_or(-1));
        self.source_changes.get_or_create(&key).set(changes as i64);
    }

    /// One identity provider's figures, in the order the `staffgate_oidc_*` families are
    /// registered: discovery age, key set age (seconds, -1 for never), refreshed, ended at
    /// refresh, refresh failures, back-channel logouts.
    pub fn set_provider(&self, source: &str, values: [i64; 6]) {
        let key = Source {
            source: source.to_owned(),
        };
        for (family, value) in self.oidc.iter().zip(values) {
            family.get_or_create(&key).set(value);
        }
    }

    /// A running sync's progress, or `None` when none runs.
    pub fn set_sync_progress(&self, source: &str, running: Option<(usize, usize)>) {
        let key = Source {
            source: source.to_owned(),
        };
        let (read, applied) = running.unwrap_or_default();
        self.sync_running
            .get_or_create(&key)
            .set(i64::from(running.is_some()));
        self.sync_read.get_or_create(&key).set(read as i64);
        self.sync_applied.get_or_create(&key).set(applied as i64);
    }

    pub fn set_replica(&self, lag_entries: i64, caught_up_age_ms: i64) {
        self.replica_lag.set(lag_entries);
        self.replica_caught_up_age.set(caught_up_age_ms);
    }

    pub fn set_storage(&self, writable: bool, unrecorded_offboardings: usize) {
        self.writable.set(i64::from(writable));
        self.unrecorded.set(unrecorded_offboardings as i64);
    }

    pub fn set_outbox(&self, waiting: i64) {
        self.outbox_waiting.set(waiting);
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn outcomes_and_latency_are_exposed() {
        let m = super::Metrics::default();
        m.accepted("whatsapp-main", 1500);
        m.refused("whatsapp-main", "token_revoked");
        m.set_source("corp", true, Some(0), 3);
        m.set_sync_progress("corp", Some((2500, 500)));
        let text = m.encode();
        assert!(
            text.contains(
                "staffgate_broker_requests_total{channel=\"whatsapp-main\",outcome=\"accepted\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("outcome=\"token_revoked\"} 1"));
        assert!(text.contains(
            "staffgate_broker_request_duration_seconds_count{channel=\"whatsapp-main\"} 1"
        ));
        assert!(text.contains("staffgate_directory_live{source=\"corp\"} 1"));
        assert!(text.contains("staffgate_directory_sync_running{source=\"corp\"} 1"));
        assert!(text.contains("staffgate_directory_sync_entries_read{source=\"corp\"} 2500"));
    }
}
