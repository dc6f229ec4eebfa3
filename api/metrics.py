"""Prometheus metrics of one app (one worker process): requests, latency, feed sources, pool.

Each app has its own registry, so several apps in one process (the tests) don't collide; with
several uvicorn workers each worker answers /metrics for itself.
"""

from __future__ import annotations

import logging
import time
from collections import Counter as Tally
from collections.abc import Iterable

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from psycopg_pool import AsyncConnectionPool

logger = logging.getLogger("recodb.api")

# Fresh slates take about 10 ms, stored pages well under 1 ms (DESIGN.md, `recodb bench`).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class PoolCollector:
    """The connection pool's state, read at scrape time."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    def collect(self) -> Iterable[Metric]:
        stats = self.pool.get_stats()
        for name, key, doc in (
            ("recodb_pool_size", "pool_size", "Connections open or being opened."),
            ("recodb_pool_available", "pool_available", "Idle connections in the pool."),
            ("recodb_pool_max_size", "pool_max", "Connections at most."),
            ("recodb_pool_requests_waiting", "requests_waiting", "Requests waiting for one."),
        ):
            yield GaugeMetricFamily(name, doc, value=stats.get(key, 0))
        for name, key, doc in (
            ("recodb_pool_requests", "requests_num", "Connection requests."),
            ("recodb_pool_requests_errors", "requests_errors", "Requests that got none."),
            ("recodb_pool_connections_lost", "connections_lost", "Broken connections found."),
            ("recodb_pool_connections_errors", "connections_errors", "Failed connection attempts."),
        ):
            yield CounterMetricFamily(name, doc, value=stats.get(key, 0))


class Metrics:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "recodb_http_requests", "HTTP requests by endpoint and status.",
            ["method", "endpoint", "status"], registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "recodb_http_request_duration_seconds", "HTTP request latency by endpoint.",
            ["method", "endpoint"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.sources = Counter(
            "recodb_recommendations", "Recommended posts by source (the row's reason).",
            ["reason"], registry=self.registry,
        )  # fmt: skip
        self.registry.register(PoolCollector(pool))

    def count_sources(self, reasons: Iterable[str]) -> None:
        for reason, n in Tally(reasons).items():
            self.sources.labels(reason).inc(n)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def metrics_middleware(app: ASGIApp) -> ASGIApp:
    """Count and time every routed request; log it as one JSON line when access logs are on."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        state = scope["litestar_app"].state
        status = 500
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, send_wrapper)
        finally:
            took = time.perf_counter() - started
            endpoint, method = scope.get("path_template") or scope["path"], scope["method"]
            metrics: Metrics = state.metrics
            metrics.requests.labels(method, endpoint, str(status)).inc()
            metrics.latency.labels(method, endpoint).observe(took)
            if state.settings.access_log:
                logger.info(
                    "request",
                    extra={"method": method, "path": scope["path"], "endpoint": endpoint,
                           "status": status, "ms": round(took * 1000, 2)},
                )  # fmt: skip

    return middleware
