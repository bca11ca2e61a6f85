"""Prometheus metrics of one worker process (prometheus_client), served on --metrics-host:--metrics-port."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.queue_depth = Gauge("ops_dispatch_queue_depth", "Escalations by state", ["state"], registry=r)
        self.oldest_pending = Gauge("ops_dispatch_oldest_pending_seconds", "Age of the oldest pending escalation",
                                    registry=r)
        self.dead = Gauge("ops_dispatch_dead", "Escalations that failed for good", registry=r)
        self.deliveries = Counter("ops_dispatch_deliveries", "Delivery attempts by destination and outcome",
                                  ["destination", "outcome"], registry=r)
        self.lease_expiries = Counter("ops_dispatch_lease_expiries", "Expired leases returned to the queue", registry=r)
        self.latency = Histogram("ops_dispatch_latency_seconds",
                                 "From an escalation falling due (its creation and NOTIFY, or its retry time) to its claim",
                                 buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300), registry=r)
        self.in_flight = Gauge("ops_dispatch_in_flight", "Deliveries in progress in this worker", registry=r)

    def serve(self, host: str, port: int) -> None:
        start_http_server(port, addr=host, registry=self.registry)

    def observe_stats(self, stats: dict) -> None:
        for state in ("pending", "claimed", "dead", "delivered"):
            self.queue_depth.labels(state).set(stats[state])
        self.dead.set(stats["dead"])
        self.oldest_pending.set(stats["oldest_pending_seconds"])
