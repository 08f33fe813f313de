"""Prometheus metrics for a running gateway (its own registry, so tests can run several).

With several relay processes (``gateway serve --processes N``) each child
writes its values to files in the directory the supervisor names in
``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode), and the
supervisor serves them summed: counters and histograms over all processes,
open connections summed over the live ones, and the store's counts as the
latest any process read.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from gateway.config import HostPort

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.messages = Counter(
            "chaperone_messages",
            "Messages by SMTP outcome (accepted, deferred, refused)",
            ["outcome"],
            registry=r,
        )
        self.copies = Counter(
            "chaperone_copies",
            "Recipient copies by verdict (forwarded, held, queued, failed)",
            ["verdict", "recipient_class"],
            registry=r,
        )
        self.rule_hits = Counter(
            "chaperone_rule_hits",
            "Findings that held or flagged a copy, by rule",
            ["rule", "category"],
            registry=r,
        )
        self.scan_errors = Counter(
            "chaperone_scan_errors", "Scans that failed closed (copy held unscanned)", registry=r
        )
        self.scan_seconds = Histogram(
            "chaperone_scan_seconds",
            "Scan latency per message",
            registry=r,
            buckets=_LATENCY_BUCKETS,
        )
        self.transaction_seconds = Histogram(
            "chaperone_transaction_seconds",
            "From end of DATA to the reply, per message",
            registry=r,
            buckets=_LATENCY_BUCKETS,
        )
        self.delivery_attempts = Counter(
            "chaperone_delivery_attempts",
            "Queued-copy delivery attempts by outcome",
            ["outcome"],
            registry=r,
        )
        self.copies_by_status = Gauge(
            "chaperone_store_copies",
            "Copies in the store by status (held = quarantine size, queued = queue depth)",
            ["status"],
            registry=r,
            multiprocess_mode="mostrecent",  # every process reads the same store
        )
        self.connections = Gauge(
            "chaperone_smtp_connections",
            "Open SMTP client connections",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.task_restarts = Counter(
            "chaperone_task_restarts",
            "Background tasks that died and were restarted",
            ["task"],
            registry=r,
        )
        self.reloads = Counter(
            "chaperone_reloads", "Configuration reloads by outcome", ["outcome"], registry=r
        )

    def serve(self, address: HostPort) -> None:
        start_http_server(address.port, addr=address.host, registry=self.registry)
