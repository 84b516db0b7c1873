"""Prometheus metrics for one app: requests, latencies and the served index.

Each app has its own CollectorRegistry, so several apps in one process never collide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from service.identity import ReplicaName
from service.reload import SearcherHolder

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
UNMATCHED = "unmatched"  # requests no route answers share one label, whatever their path
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class IndexCollector(Collector):
    """Reads the served generation at scrape time, and who serves it."""

    def __init__(self, holder: Callable[[], SearcherHolder | None], replica: ReplicaName) -> None:
        self._holder = holder
        self._replica = replica

    def collect(self) -> Iterator[Metric]:
        holder = self._holder()
        current = holder.current if holder else None
        # Its own series: the index series keep their labels, and a scrape joins the two.
        replica = InfoMetricFamily("iomqa_replica", "The replica (or process) scraped")
        replica.add_metric([], {"replica": str(self._replica)})
        yield replica
        loaded = GaugeMetricFamily("iomqa_index_loaded", "1 when an index is being served")
        loaded.add_metric([], 1 if current else 0)
        yield loaded
        if current is None or holder is None:
            return
        info = InfoMetricFamily("iomqa_index", "The served index generation")
        info.add_metric([], {"version": current.version, "model": current.manifest.model})
        yield info
        yield GaugeMetricFamily(
            "iomqa_index_documents", "Documents in the served index", current.manifest.documents
        )
        yield GaugeMetricFamily(
            "iomqa_index_passages", "Passages in the served index", current.manifest.passages
        )
        if holder.loaded_at is not None:
            yield GaugeMetricFamily(
                "iomqa_index_loaded_timestamp_seconds",
                "Unix time the served index was loaded (last reload)",
                holder.loaded_at,
            )


class Metrics:
    def __init__(
        self, holder: Callable[[], SearcherHolder | None], replica: ReplicaName | None = None
    ) -> None:
        self.replica = replica or ReplicaName()
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "iomqa_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "iomqa_http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route template and status",
            ["method", "endpoint", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(IndexCollector(holder, self.replica))

    def replica_bytes(self) -> bytes:
        """The replica's name as a header value."""
        return str(self.replica).encode("latin-1", "replace")

    def observe(self, method: str, endpoint: str, status: int, seconds: float) -> None:
        labels = (method, endpoint, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
