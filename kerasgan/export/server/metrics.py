"""Prometheus metrics of the server, in the text exposition format (version 0.0.4).

Served at ``GET /monitoring/prometheus/metrics`` as TF Serving serves its own. The names
follow TF Serving's metrics where one exists (its ``/tensorflow/serving/request_count``
is exported as ``:tensorflow:serving:request_count``); latencies are in microseconds
and use TF Serving's buckets (10 x 1.8^i, 33 of them):

- ``:tensorflow:serving:request_count{model_name, status}``: predict requests by
  outcome (``OK``, ``INVALID_ARGUMENT``, ``NOT_FOUND``, ...).
- ``:tensorflow:serving:request_latency{model_name, API, entrypoint}``: histogram of
  the predict requests' time in the server, from the request head to the answer.
- ``:tensorflow:serving:runtime_latency{model_name, API, runtime}``: histogram of the
  model calls' time.
- ``:tensorflow:serving:batching_session:input_batch_size``,
  ``...:processed_batch_size`` and ``...:queuing_latency`` ``{model_name,
  signature_name}``: rows per request, rows per merged model call, and microseconds a
  request waited for its batch (with batching enabled).
- ``kerasgan_serve_http_responses_total{code}`` (every answer, including 404s and the
  503s of the concurrency limit) and ``kerasgan_serve_open_connections``.
"""

from __future__ import annotations

import bisect
import threading

__all__ = ["CONTENT_TYPE", "Metrics", "grpc_status"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS_US = tuple(10.0 * 1.8**i for i in range(33))
_SIZE_BUCKETS = tuple(float(2**i) for i in range(17))
_GRPC_STATUS = {
    200: "OK",
    400: "INVALID_ARGUMENT",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    408: "DEADLINE_EXCEEDED",
    411: "INVALID_ARGUMENT",
    413: "INVALID_ARGUMENT",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
}


def grpc_status(http_status) -> str:
    """The TF Serving (gRPC) status name for an HTTP status, e.g. 400 -> ``INVALID_ARGUMENT``."""
    return _GRPC_STATUS.get(http_status, "UNKNOWN" if http_status < 500 else "INTERNAL")


def _labels(names, values):
    def esc(v):
        return str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return ",".join(f'{n}="{esc(v)}"' for n, v in zip(names, values))


def _number(x):
    return repr(float(x)) if isinstance(x, float) else str(x)


class _Counter:
    def __init__(self, name, help_text, labels):
        self.name, self.help, self.labels = name, help_text, labels
        self.values = {}

    def inc(self, key, amount=1):
        self.values[key] = self.values.get(key, 0) + amount

    def render(self):
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        for key, value in sorted(self.values.items()):
            lines.append(f"{self.name}{{{_labels(self.labels, key)}}} {_number(value)}")
        return lines


class _Histogram:
    def __init__(self, name, help_text, labels, buckets):
        self.name, self.help, self.labels, self.buckets = name, help_text, labels, buckets
        self.values = {}  # key -> [bucket counts..., sum, count]

    def observe(self, key, value):
        entry = self.values.get(key)
        if entry is None:
            entry = self.values[key] = [0] * len(self.buckets) + [0.0, 0]
        i = bisect.bisect_left(self.buckets, value)  # the first bucket with value <= le
        if i < len(self.buckets):
            entry[i] += 1
        entry[-2] += value
        entry[-1] += 1

    def render(self):
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for key, entry in sorted(self.values.items()):
            labels = _labels(self.labels, key)
            sep = "," if labels else ""
            running = 0
            for bound, n in zip(self.buckets, entry):
                running += n
                lines.append(f'{self.name}_bucket{{{labels}{sep}le="{bound:g}"}} {running}')
            lines.append(f'{self.name}_bucket{{{labels}{sep}le="+Inf"}} {entry[-1]}')
            lines.append(f"{self.name}_sum{{{labels}}} {_number(entry[-2])}")
            lines.append(f"{self.name}_count{{{labels}}} {entry[-1]}")
        return lines


class Metrics:
    """The counters and histograms of one server; thread-safe.

    Args:
        model_name: the served model's name (a label of every model metric).

    Example:
        >>> m = Metrics("gan")
        >>> m.request(200, 0.0015)
        >>> ':tensorflow:serving:request_count{model_name="gan",status="OK"} 1' in m.render()
        True
    """

    def __init__(self, model_name):
        self.model_name = model_name
        self._lock = threading.Lock()
        self._request_count = _Counter(
            ":tensorflow:serving:request_count",
            "The total number of requests.",
            ("model_name", "status"),
        )
        self._request_latency = _Histogram(
            ":tensorflow:serving:request_latency",
            "Distribution of wall time (in microseconds) for Tensorflow Serving request.",
            ("model_name", "API", "entrypoint"),
            _LATENCY_BUCKETS_US,
        )
        self._runtime_latency = _Histogram(
            ":tensorflow:serving:runtime_latency",
            "Distribution of wall time (in microseconds) for Tensorflow runtime.",
            ("model_name", "API", "runtime"),
            _LATENCY_BUCKETS_US,
        )
        batch_labels = ("model_name", "signature_name")
        self._input_batch_size = _Histogram(
            ":tensorflow:serving:batching_session:input_batch_size",
            "Tracks the batch size distribution on the inputs (rows per request).",
            batch_labels,
            _SIZE_BUCKETS,
        )
        self._processed_batch_size = _Histogram(
            ":tensorflow:serving:batching_session:processed_batch_size",
            "Tracks the batch size distribution on processing (rows per model call).",
            batch_labels,
            _SIZE_BUCKETS,
        )
        self._queuing_latency = _Histogram(
            ":tensorflow:serving:batching_session:queuing_latency",
            "Distribution of wall time spent (in microseconds) in queuing.",
            batch_labels,
            _LATENCY_BUCKETS_US,
        )
        self._http_responses = _Counter(
            "kerasgan_serve_http_responses_total", "HTTP responses by status code.", ("code",)
        )
        self._gauges = {}

    def request(self, status, seconds):
        """Records one predict request: its HTTP status and its time in the server."""
        with self._lock:
            self._request_count.inc((self.model_name, grpc_status(status)))
            self._request_latency.observe((self.model_name, "predict", "REST"), seconds * 1e6)

    def response(self, status):
        """Records one HTTP response of any kind."""
        with self._lock:
            self._http_responses.inc((str(status),))

    def model_call(self, seconds):
        """Records one unbatched model call."""
        with self._lock:
            self._runtime_latency.observe((self.model_name, "predict", "TF2"), seconds * 1e6)

    def batch(self, signature_name, rows, requests, queue_seconds, runtime_seconds):
        """Records one merged model call (the ``on_batch`` hook of the batcher)."""
        key = (self.model_name, signature_name)
        with self._lock:
            self._processed_batch_size.observe(key, rows)
            self._runtime_latency.observe(
                (self.model_name, "predict", "TF2"), runtime_seconds * 1e6
            )
            for wait in queue_seconds:
                self._queuing_latency.observe(key, wait * 1e6)

    def batch_input(self, signature_name, rows):
        """Records the rows of one request sent to the batcher."""
        with self._lock:
            self._input_batch_size.observe((self.model_name, signature_name), rows)

    def gauge(self, name, help_text, read):
        """Registers a gauge whose value ``read()`` gives at each scrape."""
        self._gauges[name] = (help_text, read)

    def render(self) -> str:
        """All metrics in Prometheus' text format."""
        with self._lock:
            lines = []
            for metric in (
                self._request_count,
                self._request_latency,
                self._runtime_latency,
                self._input_batch_size,
                self._processed_batch_size,
                self._queuing_latency,
                self._http_responses,
            ):
                lines.extend(metric.render())
        for name, (help_text, read) in sorted(self._gauges.items()):
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {read()}"]
        return "\n".join(lines) + "\n"
