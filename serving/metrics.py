"""Prometheus metrics of one server (its own registry, served at /metrics).

``codemill_serve_generated_tokens_total`` counts every token the engine decodes, whether or
not anyone still reads it: after a client disconnects it must stop growing, which is how
the tests (and operators) see that cancellation really stops generation.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from serving.engine.engine import EngineObserver
from serving.engine.request import GenerationRequest

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
RATE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)


class ServeMetrics(EngineObserver):
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "codemill_serve_requests", "HTTP requests by endpoint and status", ["endpoint", "status"], registry=r
        )
        self.request_seconds = Histogram(
            "codemill_serve_request_seconds", "Request duration", ["endpoint"], buckets=LATENCY_BUCKETS, registry=r
        )
        self.ttft = Histogram(
            "codemill_serve_time_to_first_token_seconds",
            "From arrival to the first generated token (queueing and prefill included)",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.tokens_per_second = Histogram(
            "codemill_serve_stream_tokens_per_second",
            "Decoding speed of each finished request (tokens after the first / time since the first)",
            buckets=RATE_BUCKETS,
            registry=r,
        )
        self.generated_tokens = Counter(
            "codemill_serve_generated_tokens", "Tokens decoded by the engine", registry=r
        )
        self.prompt_tokens = Counter("codemill_serve_prompt_tokens", "Prompt tokens prefilled", registry=r)
        self.queue = Gauge("codemill_serve_queue_depth", "Requests waiting for a batch slot", registry=r)
        self.sequences = Gauge("codemill_serve_active_sequences", "Sequences in the decoding batch", registry=r)
        self.streams = Gauge("codemill_serve_active_streams", "Open streaming (SSE) responses", registry=r)
        self.cancellations = Counter(
            "codemill_serve_cancellations",
            "Requests stopped before their end (disconnect, superseded, time_limit, shutdown)",
            ["reason"],
            registry=r,
        )
        self.batch_size = Histogram(
            "codemill_serve_batch_size", "Sequences per decoding step", buckets=(1, 2, 4, 8, 16, 32, 64), registry=r
        )
        self.step_seconds = Histogram(
            "codemill_serve_decode_step_seconds", "Duration of one decoding step", buckets=LATENCY_BUCKETS, registry=r
        )
        self.rejected = Counter(
            "codemill_serve_rejected", "Requests refused before generation", ["reason"], registry=r
        )
        self.events = Counter("codemill_serve_completion_events", "Editor events received", ["event"], registry=r)
        self.events_pending = Gauge(
            "codemill_serve_completion_events_pending", "Events in the write-ahead log not yet in Delta", registry=r
        )

    # EngineObserver: called from the engine thread (prometheus_client is thread-safe).
    def queue_depth(self, depth: int) -> None:
        self.queue.set(depth)

    def active_sequences(self, count: int) -> None:
        self.sequences.set(count)

    def tokens_generated(self, count: int) -> None:
        self.generated_tokens.inc(count)

    def first_token(self, request: GenerationRequest) -> None:
        if request.time_to_first_token is not None:
            self.ttft.observe(request.time_to_first_token)

    def request_finished(self, request: GenerationRequest) -> None:
        if request.first_token_at is None or request.finished_at is None or request.completion_tokens < 2:
            return
        seconds = request.finished_at - request.first_token_at
        if seconds > 0:
            self.tokens_per_second.observe((request.completion_tokens - 1) / seconds)

    def cancelled(self, reason: str) -> None:
        self.cancellations.labels(reason=reason).inc()

    def step(self, batch_size: int, seconds: float) -> None:
        self.batch_size.observe(batch_size)
        self.step_seconds.observe(seconds)
