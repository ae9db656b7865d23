"""The HTTP layer: TF Serving's REST API as a starlette app on uvicorn, and :class:`ModelServer`.

uvicorn owns the connections (one asyncio event loop, no thread per connection), the
keep-alive timeout, the concurrency limit and the graceful shutdown; this module adds what
it lacks: a deadline and a size limit for the request head, JSON bodies for the errors it
answers itself, body reading that refuses oversized bodies before holding them, model calls
in a bounded thread pool (off the event loop), optional request batching and the metrics.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import http
import logging
import math
import os
import socket
import sys
import threading
import time

import httptools
import numpy as np
import uvicorn
import uvloop
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.routing import Route
from uvicorn.protocols.http.flow_control import service_unavailable
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from kerasgan.export.server import codec
from kerasgan.export.server.batching import Batcher
from kerasgan.export.server.errors import RequestError
from kerasgan.export.server.metrics import CONTENT_TYPE, Metrics
from kerasgan.export.server.protocol import (
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_BODY_BYTES,
    ModelService,
    parse_route,
)

__all__ = [
    "DEFAULT_BATCH_TIMEOUT",
    "DEFAULT_LIMIT_CONCURRENCY",
    "DEFAULT_MAX_BATCH_SIZE",
    "DEFAULT_TIMEOUT_BODY",
    "DEFAULT_TIMEOUT_GRACEFUL_SHUTDOWN",
    "DEFAULT_TIMEOUT_HEADER",
    "DEFAULT_TIMEOUT_KEEP_ALIVE",
    "MAX_HEADER_BYTES",
    "METRICS_PATH",
    "ModelServer",
]

DEFAULT_LIMIT_CONCURRENCY = 1000
DEFAULT_TIMEOUT_KEEP_ALIVE = 30.0
DEFAULT_TIMEOUT_HEADER = 10.0
DEFAULT_TIMEOUT_BODY = 60.0
DEFAULT_TIMEOUT_GRACEFUL_SHUTDOWN = 3.0
DEFAULT_MAX_BATCH_SIZE = 256
DEFAULT_BATCH_TIMEOUT = 0.0
MAX_HEADER_BYTES = 64 * 2**10
METRICS_PATH = "/monitoring/prometheus/metrics"
# A refused body up to this size is still read (and discarded) so that the client receives
# the answer instead of a connection reset; beyond it the connection is closed.
_DRAIN_LIMIT = 256 * 2**20
# Bodies and answers above this size are decoded/encoded in the codec thread, one at a time,
# so that concurrent large requests never hold more than one parse's Python objects.
_INLINE_BYTES = 256 * 2**10
_INLINE_VALUES = 32 * 2**10
_BACKLOG = 2048
_JSON = b"application/json"
# uvicorn's own messages: errors always reach stderr, warnings (a refused connection)
# only for a verbose server.
_HTTP_LOG = logging.getLogger("kerasgan.export.server.http")
_HTTP_LOG.setLevel(logging.ERROR)
_HTTP_LOG_VERBOSE = logging.getLogger("kerasgan.export.server.http.verbose")
_HTTP_LOG_VERBOSE.setLevel(logging.WARNING)


def _raw_json_response(status, message, default_headers=()) -> bytes:
    """A complete ``Connection: close`` HTTP/1.1 response with a JSON error body."""
    body = codec.encode_json({"error": message})
    head = [b"HTTP/1.1 %d %s\r\n" % (status, http.HTTPStatus(status).phrase.encode())]
    for name, value in default_headers:
        head += [name, b": ", value, b"\r\n"]
    head.append(
        b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
        % len(body)
    )
    return b"".join(head) + body


class _CoalescingTransport:
    """A transport whose writes within one event-loop iteration go out in one send.

    uvicorn writes a response's head and its body separately: two system calls (and two
    TCP segments) per small answer instead of one.
    """

    __slots__ = ("_transport", "_loop", "_pending")

    def __init__(self, transport, loop):
        self._transport = transport
        self._loop = loop
        self._pending = None

    def write(self, data):
        if self._pending is None:
            self._pending = [data]
            self._loop.call_soon(self._flush)
        else:
            self._pending.append(data)

    def _flush(self):
        pending, self._pending = self._pending, None
        if not pending or self._transport.is_closing():
            return
        if len(pending) > 1 and sum(map(len, pending)) <= 2**16:
            pending = [b"".join(pending)]
        for data in pending:
            self._transport.write(data)

    def close(self):
        self._flush()
        self._transport.close()

    def __getattr__(self, name):
        return getattr(self._transport, name)


class _HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a head deadline and size limit and JSON errors.

    uvicorn starts its keep-alive timer only after a response, so a client that connects
    and sends nothing (or a head one byte at a time) would hold its connection, and a slot
    of ``limit_concurrency``, forever. Subclasses made by :func:`_protocol_for` carry the
    server's settings as class attributes.
    """

    model_server = None  # the ModelServer (uvicorn uses ``self.server`` for the address)
    timeout_header = DEFAULT_TIMEOUT_HEADER
    max_header_bytes = MAX_HEADER_BYTES

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.logger = _HTTP_LOG_VERBOSE if self.model_server.verbose else _HTTP_LOG
        self._head_timer = None
        self._head_bytes = 0
        self._head_size = 0
        self._head_too_large = False
        self._in_head = False

    def connection_made(self, transport):
        super().connection_made(_CoalescingTransport(transport, self.loop))
        self._begin_head()

    def connection_lost(self, exc):
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _begin_head(self):
        self._in_head = True
        self._head_bytes = 0  # bytes received while the head is incomplete
        self._head_size = 0  # bytes of the URL and headers parsed so far
        self._head_too_large = False
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.timeout_header, self._head_timed_out)

    def _cancel_head_timer(self):
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self):
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            self._refuse(
                408,
                f"the request head did not arrive within {self.timeout_header:g} s "
                f"(timeout_header={self.timeout_header:g})",
            )

    def _refuse(self, status, message):
        """Answers ``status`` with a JSON error and closes the connection."""
        self._in_head = False
        self._cancel_head_timer()
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:  # no answer half-written
            self.transport.write(
                _raw_json_response(status, message, self.server_state.default_headers)
            )
        self.transport.close()
        self.model_server._record_response(status)

    def on_message_begin(self):
        super().on_message_begin()
        self._begin_head()

    def _count_head(self, n):
        self._head_size += n
        if self._head_size > self.max_header_bytes:
            self._head_too_large = True
            raise ValueError("request head too large")  # stops the parser

    def on_url(self, url):
        super().on_url(url)
        self._count_head(len(url))

    def on_header(self, name, value):
        super().on_header(name, value)
        self._count_head(len(name) + len(value) + 4)

    def on_headers_complete(self):
        self._in_head = False
        self._cancel_head_timer()
        super().on_headers_complete()

    def data_received(self, data):
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserInvalidMethodError:
            self._refuse(501, "the request method is not implemented; the API takes GET and POST")
            return
        except httptools.HttpParserUpgrade:
            pass  # no WebSocket here: uvicorn answers the request as plain HTTP/1.1
        except httptools.HttpParserError as e:
            if self._head_too_large:
                self._refuse(431, f"the request head exceeds {self.max_header_bytes} bytes")
            else:
                self._refuse(400, f"malformed HTTP request: {e}")
            return
        if self._in_head:  # an incomplete head, which httptools buffers: bound it as well
            self._head_bytes += len(data)
            if self._head_bytes > self.max_header_bytes:
                self._refuse(431, f"the request head exceeds {self.max_header_bytes} bytes")

    def send_400_response(self, msg):
        self._refuse(400, msg)

    def _start_asgi_task(self, cycle, app):
        if app is service_unavailable:  # past limit_concurrency: a JSON 503 instead of text
            app = self.model_server._service_unavailable
        super()._start_asgi_task(cycle, app)


class _Endpoint:
    """An ASGI app calling ``handler(request) -> Response``.

    starlette routes a plain function for GET and HEAD only; an ASGI app gets every
    method, so that the handler answers the others with JSON 405/501.
    """

    def __init__(self, handler):
        self.handler = handler

    async def __call__(self, scope, receive, send):
        status, body, headers, content_type = await self.handler(Request(scope, receive, send))
        raw = [(b"content-type", content_type), (b"content-length", b"%d" % len(body))]
        raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})


def _protocol_for(server, timeout_header):
    return type(
        "KerasganHttpProtocol",
        (_HttpProtocol,),
        {"model_server": server, "timeout_header": timeout_header},
    )


class _Uvicorn(uvicorn.Server):
    """uvicorn's server, telling the app when its graceful shutdown begins."""

    def __init__(self, config, on_shutdown):
        super().__init__(config)
        self._on_shutdown = on_shutdown

    async def shutdown(self, sockets=None):
        self._on_shutdown()
        await super().shutdown(sockets=sockets)


def _bind(host, port):
    """A listening TCP socket on ``host:port`` (names resolved; IPv6 as well)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(_BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}. Received: {name}={value!r}")
    return value


def _check_seconds(name, value, positive):
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
        or (positive and value == 0)
    ):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be a finite number {bound}. Received: {name}={value!r}")
    return float(value)


class ModelServer(ModelService):
    """Serves a kerasgan export over TF Serving's REST API (predict, status, metadata).

    The model is loaded and the port bound when the object is created; requests are
    handled once :meth:`start` (background thread) or :meth:`serve_forever` (blocking)
    runs. Connections are handled by uvicorn on one asyncio event loop (uvloop); model calls run
    in a pool of ``model_threads`` threads (TensorFlow releases the GIL while it
    computes). With ``enable_batching``, concurrent predict requests for one signature
    are merged into one model call (:mod:`kerasgan.export.server.batching`).

    Args:
        base_dir: model base path, ``<base_dir>/<version>/saved_model.pb``.
        model_name: the ``<name>`` in the URLs; default: ``base_dir``'s basename.
        host: interface to listen on (``"0.0.0.0"`` for every interface).
        port: TCP port; 0 picks a free one (read it back from :attr:`port`).
        max_batch: largest batch (rows of an input, or ``num_samples``) a
            request may ask for; larger ones get a 400.
        max_body_bytes: largest request body; larger ones get a 413 before the
            body is read.
        non_finite: how NaN and infinities are written: ``"nan"`` (the bare
            tokens ``NaN``/``Infinity``/``-Infinity``, as TF Serving does) or
            ``"null"``.
        poll_seconds: if positive, check ``base_dir`` this often and switch to
            a newer version when one appears (TF Serving polls every second by
            default); 0 disables polling (call :meth:`reload` yourself).
        verbose: log one line per request to stderr.
        limit_concurrency: most open connections plus running requests; past it,
            requests are answered 503 at once (uvicorn's ``limit_concurrency``).
        timeout_keep_alive: seconds an idle keep-alive connection stays open.
        timeout_header: seconds a client has, from connecting or from the first byte
            of a request, to send the complete request head (then 408 and close).
        timeout_body: seconds a client has to send a request body (then 408).
        timeout_graceful_shutdown: on shutdown, seconds in-flight requests have to
            finish before they are cancelled.
        enable_batching: merge concurrent predict requests of one signature into one
            model call (signatures whose inputs and outputs all have a batch
            dimension and that draw no random numbers).
        max_batch_size: most rows in one merged call; a larger request runs alone.
        batch_timeout: seconds a batch waits for more requests after its first one
            (0: run as soon as a model thread is free; requests that arrive while the
            model is busy still share the next call).
        model_threads: concurrent model calls (default: 1 with batching, so that requests
            arriving during a call share the next one (TensorFlow still computes each call on
            all cores); else the number of CPUs, at most 4).

    Raises:
        ValueError: for a bad argument or a ``base_dir`` without a loadable SavedModel.
        OSError: if the address cannot be bound (e.g. the port is in use).

    Example:
        >>> import kerasgan
        >>> from kerasgan import export
        >>> flow = kerasgan.flows.FlowModel((2,), [kerasgan.flows.MAF([8])])
        >>> _ = export.export_flow(flow, "/tmp/kerasgan_doc_serve/flow", version=1)
        >>> server = ModelServer("/tmp/kerasgan_doc_serve/flow", port=0).start()
        >>> server.model_url.endswith("/v1/models/flow")
        True
        >>> reply = server.predict({"signature_name": "sample", "inputs": {"num_samples": 2}})
        >>> len(reply["outputs"])
        2
        >>> server.shutdown()
    """

    def __init__(
        self,
        base_dir,
        model_name=None,
        host="127.0.0.1",
        port=8501,
        *,
        max_batch=DEFAULT_MAX_BATCH,
        max_body_bytes=DEFAULT_MAX_BODY_BYTES,
        non_finite="nan",
        poll_seconds=0.0,
        verbose=False,
        limit_concurrency=DEFAULT_LIMIT_CONCURRENCY,
        timeout_keep_alive=DEFAULT_TIMEOUT_KEEP_ALIVE,
        timeout_header=DEFAULT_TIMEOUT_HEADER,
        timeout_body=DEFAULT_TIMEOUT_BODY,
        timeout_graceful_shutdown=DEFAULT_TIMEOUT_GRACEFUL_SHUTDOWN,
        enable_batching=False,
        max_batch_size=DEFAULT_MAX_BATCH_SIZE,
        batch_timeout=DEFAULT_BATCH_TIMEOUT,
        model_threads=None,
    ):
        _check_int("max_batch", max_batch, 1)
        _check_int("max_body_bytes", max_body_bytes, 1)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an int in [0, 65535]. Received: port={port!r}")
        if non_finite not in ("nan", "null"):
            raise ValueError(
                f"non_finite must be 'nan' or 'null'. Received: non_finite={non_finite!r}"
            )
        self.poll_seconds = _check_seconds("poll_seconds", poll_seconds, positive=False)
        self.limit_concurrency = _check_int("limit_concurrency", limit_concurrency, 1)
        self.timeout_keep_alive = _check_seconds("timeout_keep_alive", timeout_keep_alive, True)
        self.timeout_header = _check_seconds("timeout_header", timeout_header, True)
        self.timeout_body = _check_seconds("timeout_body", timeout_body, True)
        self.timeout_graceful_shutdown = _check_seconds(
            "timeout_graceful_shutdown", timeout_graceful_shutdown, False
        )
        if not isinstance(enable_batching, bool):
            raise ValueError(
                f"enable_batching must be a bool. Received: enable_batching={enable_batching!r}"
            )
        self.enable_batching = enable_batching
        self.max_batch_size = _check_int("max_batch_size", max_batch_size, 1)
        self.batch_timeout = _check_seconds("batch_timeout", batch_timeout, positive=False)
        if model_threads is None:  # one merged call at a time makes the batches largest
            model_threads = 1 if enable_batching else max(1, min(os.cpu_count() or 1, 4))
        self.model_threads = _check_int("model_threads", model_threads, 1)
        self.max_body_bytes = max_body_bytes
        base_dir = os.path.abspath(os.fspath(base_dir))
        name = os.path.basename(base_dir) if model_name is None else model_name
        if not isinstance(name, str) or not name or any(c in name for c in "/:?#% "):
            raise ValueError(
                "model_name must be a non-empty string without '/', ':', '?', '#', '%' or spaces. "
                f"Received: model_name={name!r}"
            )
        super().__init__(base_dir, name, max_batch, non_finite, verbose)
        self._metrics = Metrics(name)
        self._stop = threading.Event()
        self._threads = []
        self._running = False
        self._closed = False
        self._sock = _bind(host, port)
        self._model_pool = concurrent.futures.ThreadPoolExecutor(
            self.model_threads, thread_name_prefix=f"kerasgan-serve-{self.port}-model"
        )
        self._codec_pool = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix=f"kerasgan-serve-{self.port}-codec"
        )
        self._slots = asyncio.Semaphore(self.model_threads)
        self._draining = False
        self._reading = set()  # request tasks waiting for their body
        self._app = Starlette(
            routes=[
                Route(METRICS_PATH, _Endpoint(self._metrics_endpoint)),
                Route("/{path:path}", _Endpoint(self._endpoint)),
            ]
        )
        config = uvicorn.Config(
            self._app,
            http=_protocol_for(self, self.timeout_header),
            ws="none",
            lifespan="off",
            interface="asgi3",
            loop="uvloop",
            log_config=None,
            access_log=False,
            proxy_headers=False,
            server_header=False,
            headers=[("server", "kerasgan-serve")],
            limit_concurrency=self.limit_concurrency,
            timeout_keep_alive=self.timeout_keep_alive,
            timeout_graceful_shutdown=self.timeout_graceful_shutdown,
            backlog=_BACKLOG,
        )
        self._uvicorn = _Uvicorn(config, self._begin_shutdown)
        self._metrics.gauge(
            "kerasgan_serve_open_connections",
            "Open HTTP connections.",
            lambda: len(self._uvicorn.server_state.connections),
        )

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def host(self) -> str:
        """The interface the server listens on."""
        return self._sock.getsockname()[0]

    @property
    def port(self) -> int:
        """The bound TCP port (the picked one when created with ``port=0``)."""
        return self._sock.getsockname()[1]

    @property
    def url(self) -> str:
        """``http://host:port`` of the server."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def model_url(self) -> str:
        """``http://host:port/v1/models/<name>``; append ``:predict`` or ``/metadata``."""
        return f"{self.url}/v1/models/{self.model_name}"

    @property
    def batched_signatures(self) -> list[str]:
        """The served signatures whose requests are merged (empty without batching)."""
        if not self.enable_batching:
            return []
        return [k for k, s in self._servable.signatures.items() if s.batchable]

    def _start_polling(self):
        if self.poll_seconds > 0:
            t = threading.Thread(target=self._poll, name="kerasgan-serve-poll", daemon=True)
            t.start()
            self._threads.append(t)

    def _poll(self):
        last_error = None
        while not self._stop.wait(self.poll_seconds):
            try:
                self.reload()
                last_error = None
            except Exception as e:  # keep serving the loaded version
                if str(e) != last_error:
                    self._warn(f"reload failed, keeping version {self.version}: {e}")
                last_error = str(e)

    def _serve(self):
        uvloop.run(self._uvicorn.serve(sockets=[self._sock]))

    def start(self):
        """Serves requests from a background thread; returns ``self``.

        Returns:
            This server, so that ``server = ModelServer(d, port=0).start()`` works.

        Raises:
            RuntimeError: if the server already runs, was shut down, or did not start.
        """
        if self._closed or self._running:
            raise RuntimeError("ModelServer.start: the server is already running or shut down")
        self._running = True
        t = threading.Thread(target=self._serve, name="kerasgan-serve", daemon=True)
        t.start()
        self._threads.append(t)
        deadline = time.monotonic() + 60
        while not self._uvicorn.started and t.is_alive() and time.monotonic() < deadline:
            time.sleep(0.005)
        if not self._uvicorn.started:
            self.shutdown()
            raise RuntimeError("ModelServer.start: the HTTP server did not start")
        self._start_polling()
        return self

    def serve_forever(self):
        """Serves requests in the calling thread until :meth:`shutdown`, SIGINT or SIGTERM.

        In the main thread, SIGINT (Ctrl-C) and SIGTERM start a graceful shutdown:
        the server stops accepting, finishes in-flight requests for up to
        ``timeout_graceful_shutdown`` seconds, then re-raises the signal (SIGINT
        becomes KeyboardInterrupt).
        """
        if self._closed or self._running:
            raise RuntimeError(
                "ModelServer.serve_forever: the server is already running or shut down"
            )
        self._running = True
        self._start_polling()
        try:
            self._serve()
        finally:
            self.shutdown()

    def shutdown(self):
        """Stops serving and closes the listening socket. Safe to call more than once.

        In-flight requests get ``timeout_graceful_shutdown`` seconds to finish.
        """
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._uvicorn.should_exit = True
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout=self.timeout_graceful_shutdown + 10)
        self._sock.close()
        self._model_pool.shutdown(wait=False, cancel_futures=True)
        self._codec_pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.shutdown()

    # -- HTTP --------------------------------------------------------------------------------

    def _begin_shutdown(self):
        """In the event loop, as uvicorn's graceful shutdown starts: requests still
        waiting for their body are answered 503 now; those being computed finish."""
        self._draining = True
        for task in list(self._reading):
            task.cancel()

    def _record_response(self, status):
        self._metrics.response(status)

    async def _service_unavailable(self, scope, receive, send):
        body = codec.encode_json(
            {
                "error": "the server is at its concurrency limit "
                f"(limit_concurrency={self.limit_concurrency}); retry later"
            }
        )
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            (b"retry-after", b"1"),
        ]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        self._record_response(503)

    async def _metrics_endpoint(self, request):
        if request.method not in ("GET", "HEAD"):
            status = 405 if request.method in ("POST", "PUT", "DELETE", "PATCH") else 501
            data = codec.encode_json({"error": f"{METRICS_PATH} takes GET, not {request.method}"})
            self._record_response(status)
            return status, data, {"Allow": "GET, HEAD"}, _JSON
        self._record_response(200)
        return 200, self._metrics.render().encode(), {}, CONTENT_TYPE.encode()

    async def _endpoint(self, request: Request):
        start = time.perf_counter()
        scope = request.scope
        method = scope["method"]
        target = scope["raw_path"].decode("latin-1")
        headers = {}
        route = None
        try:
            route = parse_route(method, target, self.model_name, self._servable.version)
            if route.kind == "status":
                data = codec.encode_json(self.status(route.version))
            elif route.kind == "metadata":
                data = codec.encode_json(self.metadata(route.version))
            else:
                data = await self._predict(request, route.version)
            status = 200
        except RequestError as e:
            status, data, headers = e.status, codec.encode_json({"error": e.message}), e.headers
        except ClientDisconnect:
            status, data = 499, b""  # nobody to answer; uvicorn drops the response
        except asyncio.CancelledError:
            if not self._draining:
                raise
            # timeout_graceful_shutdown is over: answer rather than let uvicorn log a traceback
            status = 503
            data = codec.encode_json({"error": "the server shut down before the answer"})
            headers = {"Connection": "close"}
        except Exception as e:  # never let one request take the server down
            status = 500
            data = codec.encode_json({"error": f"internal server error: {type(e).__name__}: {e}"})
        if route is not None and route.kind == "predict":
            self._metrics.request(status, time.perf_counter() - start)
        self._record_response(status)
        if self.verbose:
            query = scope.get("query_string", b"")
            line = target + ("?" + query.decode("latin-1") if query else "")
            client = scope.get("client") or ("-", 0)
            ms = (time.perf_counter() - start) * 1e3
            sys.stderr.write(
                f'{client[0]} "{method} {line} HTTP/{scope["http_version"]}" {status} '
                f"{len(data)}B {ms:.1f}ms\n"
            )
        return status, data, headers, _JSON

    async def _read_body(self, request):
        """The request body, refused (413/411/400/408) before more than needed is held.

        A refused body of at most 256 MiB is still read and dropped, so that the client
        (which sends it before reading the answer) receives the answer rather than a
        connection reset.
        """
        length = chunked = expect = None
        for name, value in request.scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"expect":
                expect = b"100-continue" in value.lower()
        if length is None and not chunked:
            raise RequestError(
                411, "a POST request needs a Content-Length header", {"Connection": "close"}
            )
        limit = self.max_body_bytes
        task = asyncio.current_task()
        if self._draining:
            raise RequestError(503, "the server is shutting down", {"Connection": "close"})
        self._reading.add(task)
        try:
            async with asyncio.timeout(self.timeout_body):
                if length is not None and int(length) > limit:
                    drain = int(length) <= _DRAIN_LIMIT and not expect
                    if drain:
                        async for _ in request.stream():
                            pass
                    raise RequestError(
                        413,
                        f"request body of {int(length)} bytes exceeds the server's limit "
                        f"max_body_bytes={limit}",
                        None if drain else {"Connection": "close"},
                    )
                message = await request.receive()
                if message["type"] != "http.request":
                    raise ClientDisconnect()
                if not message.get("more_body", False):  # all of it came with the head
                    body = message.get("body", b"")
                    if len(body) > limit:  # chunked: no length known in advance
                        raise RequestError(
                            413,
                            f"request body exceeds the server's limit max_body_bytes={limit}",
                            {"Connection": "close"},
                        )
                    max_values = self.max_values
                    if max_values is not None and codec.count_values(body) > max_values:
                        raise self._too_many_values(max_values)
                    return body
                stream = request.stream()
                body, refused = await self._receive_counted(stream, limit, message["body"])
                if refused is not None:
                    read = len(body)
                    del body
                    async for chunk in stream:  # drop the rest, up to the drain limit
                        read += len(chunk)
                        if read > _DRAIN_LIMIT:
                            refused.headers["Connection"] = "close"
                            break
                    raise refused
        except TimeoutError:
            raise RequestError(
                408,
                f"the request body did not arrive within {self.timeout_body:g} s "
                f"(timeout_body={self.timeout_body:g})",
                {"Connection": "close"},
            ) from None
        except asyncio.CancelledError:
            if not self._draining:
                raise
            task.uncancel()
            raise RequestError(
                503, "the server is shutting down", {"Connection": "close"}
            ) from None
        finally:
            self._reading.discard(task)
        return body

    def _too_many_values(self, max_values):
        return RequestError(
            400,
            f"the request body holds more than {max_values} JSON values, more than the largest "
            f"valid request (max_batch={self.max_batch} rows of the served signatures) needs; "
            "send fewer rows per request",
        )

    async def _receive_counted(self, stream, limit, first=b""):
        """``(body, None)``, or ``(part read, RequestError)`` once the body is refused."""
        max_values = self.max_values
        values = 0
        buf = bytearray()

        async def chunks():
            if first:
                yield first
            async for chunk in stream:
                yield chunk

        async for chunk in chunks():
            buf += chunk
            if len(buf) > limit:  # chunked: no length known in advance
                return buf, RequestError(
                    413, f"request body exceeds the server's limit max_body_bytes={limit}"
                )
            if max_values is not None:
                values += chunk.count(b",") + chunk.count(b"[") + chunk.count(b"{")
                if values >= max_values:
                    return buf, self._too_many_values(max_values)
        return buf, None

    def _decode_and_prepare(self, holder, version):
        body = holder.pop()  # the only reference: freed as soon as it is decoded
        request = codec.decode_json(body, self.max_values)
        no_bools = codec.no_bools(body)
        del body
        return self.prepare(request, version, no_bools)

    def _encode_answer(self, sig, outputs, row_format):
        finite = self.non_finite == "null" or all(
            v.dtype.kind not in "fc" or np.isfinite(v).all() for v in outputs.values()
        )
        return codec.encode_json(self.answer(sig, outputs, row_format), finite)

    async def _predict(self, request, version):
        body = await self._read_body(request)
        loop = asyncio.get_running_loop()
        holder, large = [body], len(body) > _INLINE_BYTES
        del body
        if large:
            prepared = await loop.run_in_executor(
                self._codec_pool, self._decode_and_prepare, holder, version
            )
        else:
            prepared = self._decode_and_prepare(holder, version)
        sig, arrays, row_format = prepared
        outputs = await self._call_model(sig, arrays)
        if sum(v.size for v in outputs.values()) > _INLINE_VALUES:
            return await loop.run_in_executor(
                self._codec_pool, self._encode_answer, sig, outputs, row_format
            )
        return self._encode_answer(sig, outputs, row_format)

    async def _call_model(self, sig, arrays):
        if self.enable_batching and sig.batchable:
            rows = {a.shape[0] for a in arrays.values()}
            if len(rows) == 1 and 0 < (n := rows.pop()) <= self.max_batch_size:
                batcher = sig.batcher
                if batcher is None:
                    batcher = sig.batcher = Batcher(
                        sig,
                        self._slots,
                        self._model_pool,
                        self.max_batch_size,
                        self.batch_timeout,
                        self._metrics.batch,
                    )
                self._metrics.batch_input(sig.name, n)
                return await batcher.submit(arrays, n)
        async with self._slots:
            start = time.perf_counter()
            outputs = await asyncio.get_running_loop().run_in_executor(
                self._model_pool, sig.call, arrays
            )
            self._metrics.model_call(time.perf_counter() - start)
            return outputs
