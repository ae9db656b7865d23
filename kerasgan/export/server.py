"""A local HTTP server speaking TF Serving's REST API for kerasgan exports.

``tensorflow_model_server`` is not installable from PyPI, so this module
implements the part of its REST API (https://www.tensorflow.org/tfx/serving/api_rest)
that kerasgan's exports need, on the standard library's
``http.server.ThreadingHTTPServer``. A client written against this server works
unchanged against TF Serving:

- ``GET /v1/models/<name>[/versions/<v>]``: model status,
  ``{"model_version_status": [{"version": "1", "state": "AVAILABLE", "status":
  {"error_code": "OK", "error_message": ""}}]}``.
- ``GET /v1/models/<name>[/versions/<v>]/metadata``: ``{"model_spec": {...},
  "metadata": {"signature_def": {"signature_def": {...}}}}``, the SavedModel's
  ``SignatureDef`` map printed from its protocol buffer as TF Serving prints it
  (``dtype`` such as ``"DT_FLOAT"``, ``tensor_shape.dim[].size`` as strings,
  ``"-1"`` for any size).
- ``POST /v1/models/<name>[/versions/<v>]:predict`` with ``{"signature_name":
  optional, "instances": [...]}`` (row format, answered with ``{"predictions":
  [...]}``) or ``{"signature_name": optional, "inputs": ...}`` (columnar format,
  answered with ``{"outputs": ...}``). With a single output the output's name is
  left out (a list of per-row values, or the value itself); with several, rows
  are objects keyed by output name (row format) or ``outputs`` is one object
  (columnar format).

The model directory is a model base path as TF Serving expects it
(``<dir>/<version>/saved_model.pb``); the highest numeric version is served
(TF Serving's default "latest" policy), and :meth:`ModelServer.reload` (or
``poll_seconds``) switches to a newer version when one appears.

Bad requests never stop the server. They are answered with a JSON object
``{"error": "..."}`` and status 400 (malformed JSON, wrong shape or dtype,
missing or unknown input names, unknown signature, both or neither of
``instances``/``inputs``, a batch or ``num_samples`` above ``max_batch``), 404
(unknown model, version or path), 405 (wrong HTTP method), 411 (no
Content-Length) or 413 (body above ``max_body_bytes``). Shapes and dtypes are
checked against the signature's ``TensorSpec`` before the model is called, and
the messages name the input, the expected and the received shape.

Non-finite numbers: JSON has no NaN or Infinity. Like TF Serving, the server
writes them as the bare tokens ``NaN``, ``Infinity`` and ``-Infinity`` (Python's
``json``, TF Serving and most JSON libraries in lenient mode read them; strict
parsers such as JavaScript's ``JSON.parse`` do not) and accepts them in requests.
``non_finite="null"`` writes ``null`` instead, which every JSON parser reads but
which loses the distinction between NaN and the infinities.

Not implemented: ``:classify`` and ``:regress`` (kerasgan exports only have
predict signatures; answered with 400), ``{"b64": ...}`` binary strings (no
kerasgan export takes strings), version labels, and serving several models from
one process.

Example:
    >>> import json, urllib.request
    >>> import kerasgan
    >>> from kerasgan import export
    >>> gan = kerasgan.GAN(kerasgan.models.build_mlp_generator(2, 2),
    ...                    kerasgan.models.build_mlp_discriminator(2), latent_dim=2)
    >>> _ = export.export_generator(gan, "/tmp/kerasgan_doc_serve/gan", version=1)
    >>> with ModelServer("/tmp/kerasgan_doc_serve/gan", port=0) as server:
    ...     body = json.dumps({"instances": [[0.0, 1.0], [1.0, 0.0]]}).encode()
    ...     reply = urllib.request.urlopen(server.model_url + ":predict", body)
    ...     len(json.load(reply)["predictions"])
    2
"""

from __future__ import annotations

import http.server
import json
import os
import re
import socket
import socketserver
import sys
import threading
import time
import urllib.parse

import numpy as np

__all__ = [
    "DEFAULT_MAX_BATCH",
    "DEFAULT_MAX_BODY_BYTES",
    "ModelServer",
    "RequestError",
    "available_versions",
    "resolve_export",
]

DEFAULT_MAX_BATCH = 10_000
DEFAULT_MAX_BODY_BYTES = 32 * 2**20
# Scalar integer inputs that ask the model for that many rows (``sample``'s ``num_samples``):
# capped by ``max_batch`` like the rows of a batch.
COUNT_INPUTS = ("num_samples",)
# A body above max_body_bytes is still read (and discarded) up to this size, so that the
# client receives the 413 instead of a connection reset; beyond it the connection is closed.
_DRAIN_LIMIT = 256 * 2**20
_DEFAULT_SIGNATURE = "serving_default"
_ROUTE = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)"
    r"(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
    r"(?P<tail>/metadata|:[^/]*)?/?$"
)
_API_HELP = (
    "the API is GET /v1/models/<name>[/versions/<v>][/metadata] and "
    "POST /v1/models/<name>[/versions/<v>]:predict"
)


class RequestError(Exception):
    """A request the server refuses: answered with ``status`` and ``{"error": message}``.

    Args:
        status: HTTP status code (400, 404, 405, 411 or 413).
        message: the error message sent to the client.
    """

    def __init__(self, status, message):
        super().__init__(message)
        self.status = int(status)
        self.message = str(message)


def _is_saved_model(path):
    return os.path.isfile(os.path.join(path, "saved_model.pb")) or os.path.isfile(
        os.path.join(path, "saved_model.pbtxt")
    )


def available_versions(base_dir) -> list[int]:
    """The numeric version subdirectories of ``base_dir`` that hold a SavedModel, ascending.

    Args:
        base_dir: a model base path, ``<base_dir>/<version>/saved_model.pb``.

    Returns:
        Sorted list of version numbers (empty if there is none).

    Example:
        >>> available_versions("/nonexistent")
        []
    """
    if not os.path.isdir(base_dir):
        return []
    return sorted(
        int(p)
        for p in os.listdir(base_dir)
        if p.isdigit() and _is_saved_model(os.path.join(base_dir, p))
    )


def resolve_export(base_dir, version=None, allow_version_dir=False) -> tuple[int | None, str]:
    """Finds the SavedModel to load under a TF Serving model base path.

    Args:
        base_dir: ``<base_dir>/<version>/saved_model.pb`` as TF Serving expects.
        version: int version to load; default: the highest available (TF
            Serving's "latest" policy).
        allow_version_dir: also accept ``base_dir`` being a SavedModel directory
            itself (then ``version`` must be None and the returned version is
            the directory's name if it is numeric, else None).

    Returns:
        ``(version, path)`` of the SavedModel directory.

    Raises:
        ValueError: if ``base_dir`` does not exist, holds no version with a
            SavedModel, or lacks the requested version.

    Example:
        >>> import kerasgan
        >>> from kerasgan import export
        >>> flow = kerasgan.flows.FlowModel((2,), [kerasgan.flows.MAF([8])])
        >>> _ = export.export_flow(flow, "/tmp/kerasgan_doc_resolve/flow", version=3)
        >>> resolve_export("/tmp/kerasgan_doc_resolve/flow", version=3)
        (3, '/tmp/kerasgan_doc_resolve/flow/3')
    """
    base_dir = os.fspath(base_dir)
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or version < 0
    ):
        raise ValueError(f"version must be a non-negative int. Received: version={version!r}")
    if not os.path.isdir(base_dir):
        raise ValueError(f"Export directory not found. Received: base_dir={base_dir!r}")
    versions = available_versions(base_dir)
    if not versions:
        if _is_saved_model(base_dir):
            if allow_version_dir and version is None:
                name = os.path.basename(os.path.normpath(base_dir))
                return (int(name) if name.isdigit() else None), base_dir
            raise ValueError(
                f"{base_dir!r} is a SavedModel directory itself, but a model base path with "
                "numbered version subdirectories (<dir>/<version>/saved_model.pb, as TF Serving "
                "expects) is needed: pass its parent directory. "
                f"Received: base_dir={base_dir!r}"
                + ("" if version is None else f", version={version!r}")
            )
        raise ValueError(
            "No version subdirectory holding a SavedModel (<dir>/<version>/saved_model.pb) "
            f"in {base_dir!r}; export one with kerasgan.export.export_generator or "
            f"export_flow. Received: base_dir={base_dir!r}"
        )
    if version is None:
        version = versions[-1]
    elif version not in versions:
        raise ValueError(
            f"Version {version} not found in {base_dir!r}; available versions: {versions}. "
            f"Received: version={version!r}"
        )
    return version, os.path.join(base_dir, str(version))


def _read_signature_defs(path):
    """The ``serve`` MetaGraph's SignatureDef map as TF Serving's metadata prints it."""
    from google.protobuf import json_format, text_format
    from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    pb = os.path.join(path, "saved_model.pb")
    if os.path.isfile(pb):
        with open(pb, "rb") as f:
            saved_model.ParseFromString(f.read())
    else:
        with open(os.path.join(path, "saved_model.pbtxt")) as f:
            text_format.Parse(f.read(), saved_model)
    graphs = [g for g in saved_model.meta_graphs if "serve" in g.meta_info_def.tags]
    graphs = graphs or list(saved_model.meta_graphs)
    only_signatures = meta_graph_pb2.MetaGraphDef()
    for key, sig in graphs[0].signature_def.items():
        only_signatures.signature_def[key].CopyFrom(sig)
    # TF Serving prints fields with default values too (``"unknown_rank": false``).
    as_dict = json_format.MessageToDict(
        only_signatures, always_print_fields_with_no_presence=True, preserving_proto_field_name=True
    )
    return as_dict.get("signature_def", {})


class _Signature:
    """One callable signature: its concrete function and its input/output specs."""

    def __init__(self, name, fn):
        import tensorflow as tf

        self.name = name
        self.fn = fn
        _, kwargs = fn.structured_input_signature
        self.inputs = dict(sorted(kwargs.items()))  # name -> tf.TensorSpec
        self.outputs = {
            k: (tf.as_dtype(v.dtype), v.shape) for k, v in sorted(fn.structured_outputs.items())
        }

    def describe(self):
        parts = [
            f"{k} {spec.dtype.name} {_format_shape(spec.shape)}" for k, spec in self.inputs.items()
        ]
        return f"{self.name}({', '.join(parts)})"


class _Servable:
    """One loaded version of the model."""

    def __init__(self, version, path):
        import tensorflow as tf

        self.version = version
        self.path = path
        self.loaded = tf.saved_model.load(path)
        self.signatures = {k: _Signature(k, fn) for k, fn in sorted(self.loaded.signatures.items())}
        if not self.signatures:
            raise ValueError(f"The SavedModel has no signatures. Received: path={path!r}")
        self.signature_defs = _read_signature_defs(path)


def _format_shape(shape):
    if shape.rank is None:
        return "<unknown rank>"
    return "[" + ", ".join("None" if d is None else str(d) for d in shape.as_list()) + "]"


_JSON_TYPES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    dict: "object",
    list: "list",
    type(None): "null",
}


def _json_type(value):
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _json_to_array(value, dtype, name):
    """A nested JSON list (or a scalar) as a NumPy array of ``dtype``, checked element by element.

    Rejects ragged lists and elements of the wrong JSON type (strings, objects,
    booleans for numbers, non-integers for integer dtypes, integers out of range).
    """
    shape = []
    level = [value]
    while level and isinstance(level[0], list):
        n = len(level[0])
        for item in level:
            if not isinstance(item, list) or len(item) != n:
                raise RequestError(
                    400,
                    f"input {name!r} is ragged: nested lists of different lengths (or lists "
                    f"mixed with values) at depth {len(shape)}",
                )
        shape.append(n)
        level = [x for item in level for x in item]
    if dtype.is_floating:
        allowed, expected = (float, int), "JSON numbers"
    elif dtype.is_integer:
        allowed, expected = (int,), "JSON integers"
    elif dtype.is_bool:
        allowed, expected = (bool,), "JSON booleans"
    else:
        raise RequestError(
            400, f"input {name!r} has dtype {dtype.name}, which this server cannot decode from JSON"
        )
    for v in level:
        if type(v) not in allowed:  # exact types: a JSON boolean is not a number here
            what = "a nested list (the input is ragged)" if isinstance(v, list) else _json_type(v)
            raise RequestError(
                400,
                f"input {name!r} expects {dtype.name} values ({expected}); received "
                f"{json.dumps(v)[:60]} ({what})",
            )
    np_dtype = dtype.as_numpy_dtype
    if dtype.is_integer and level:
        info = np.iinfo(np_dtype)
        lo, hi = min(level), max(level)
        if lo < info.min or hi > info.max:
            bad = lo if lo < info.min else hi
            raise RequestError(
                400,
                f"input {name!r} expects {dtype.name} values in [{info.min}, {info.max}]; "
                f"received {bad}",
            )
    return np.array(level, dtype=np_dtype).reshape(shape)


def _check_shape(arr, spec, name, row_format):
    if spec.shape.rank is None:
        return
    expected = spec.shape.as_list()
    ok = arr.ndim == len(expected) and all(e is None or e == a for e, a in zip(expected, arr.shape))
    if ok:
        return
    if row_format:
        raise RequestError(
            400,
            f"input {name!r}: each instance must have shape {_format_shape(spec.shape[1:])}; "
            f"received instances of shape {list(arr.shape[1:])} "
            f"(the signature's input is {_format_shape(spec.shape)}, None = any size)",
        )
    raise RequestError(
        400,
        f"input {name!r} expects shape {_format_shape(spec.shape)} (None = any size); "
        f"received shape {list(arr.shape)}",
    )


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address, handler, model_server):
        self.model_server = model_server
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    def server_bind(self):
        # HTTPServer.server_bind calls socket.getfqdn, a reverse DNS lookup that can hang offline.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls on small responses
    server_version = "kerasgan-serve"
    sys_version = ""
    timeout = 120  # idle keep-alive connections release their thread

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_DELETE(self):
        self._handle("DELETE")

    def do_PATCH(self):
        self._handle("PATCH")

    def log_request(self, code="-", size="-"):
        pass  # one line per request is written by _handle (verbose only)

    def log_message(self, format, *args):
        if self.server.model_server.verbose:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")

    def _read_body(self):
        limit = self.server.model_server.max_body_bytes
        if self.headers.get("Transfer-Encoding", "identity").lower() != "identity":
            self.close_connection = True
            raise RequestError(
                411, "chunked transfer encoding is not supported: send a Content-Length header"
            )
        length = self.headers.get("Content-Length")
        if length is None:
            if self.command == "POST":
                self.close_connection = True  # a body may follow that we cannot delimit
                raise RequestError(411, "a POST request needs a Content-Length header")
            return b""
        try:
            n = int(length)
            if n < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            raise RequestError(400, f"bad Content-Length header. Received: {length!r}") from None
        if n > limit:
            if n <= _DRAIN_LIMIT:
                while n > 0:  # read and drop it, so that the client can read our answer
                    chunk = self.rfile.read(min(n, 1 << 16))
                    if not chunk:
                        break
                    n -= len(chunk)
            else:
                self.close_connection = True
            raise RequestError(
                413,
                f"request body of {int(length)} bytes exceeds the server's limit "
                f"max_body_bytes={limit}",
            )
        return self.rfile.read(n)

    def _handle(self, method):
        start = time.perf_counter()
        server = self.server.model_server
        try:
            body = self._read_body()
            status, payload = server.handle(method, self.path, body)
        except RequestError as e:
            status, payload = e.status, {"error": e.message}
        except Exception as e:  # never let one request take the server down
            status, payload = 500, {"error": f"internal server error: {type(e).__name__}: {e}"}
        data = json.dumps(payload, allow_nan=True).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 405:
            self.send_header("Allow", "POST" if ":" in self.path else "GET")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        if server.verbose:
            ms = (time.perf_counter() - start) * 1e3
            sys.stderr.write(
                f'{self.address_string()} "{self.requestline}" {status} {len(data)}B {ms:.1f}ms\n'
            )


class ModelServer:
    """Serves a kerasgan export over TF Serving's REST API (predict, status, metadata).

    The model is loaded and the port bound when the object is created; requests
    are handled once :meth:`start` (background thread) or :meth:`serve_forever`
    (blocking) runs. Each connection gets its own thread; concurrent requests
    call the loaded signature concurrently (TensorFlow releases the GIL while it
    computes).

    Args:
        base_dir: model base path, ``<base_dir>/<version>/saved_model.pb``.
        model_name: the ``<name>`` in the URLs; default: ``base_dir``'s basename.
        host: interface to listen on (``"0.0.0.0"`` for every interface).
        port: TCP port; 0 picks a free one (read it back from :attr:`port`).
        max_batch: largest batch (rows of an input, or ``num_samples``) a
            request may ask for; larger ones get a 400.
        max_body_bytes: largest request body; larger ones get a 413.
        non_finite: how NaN and infinities are written: ``"nan"`` (the bare
            tokens ``NaN``/``Infinity``/``-Infinity``, as TF Serving does) or
            ``"null"``.
        poll_seconds: if positive, check ``base_dir`` this often and switch to
            a newer version when one appears (TF Serving polls every second by
            default); 0 disables polling (call :meth:`reload` yourself).
        verbose: log one line per request to stderr.

    Raises:
        ValueError: for a bad argument or a ``base_dir`` without a SavedModel.
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
    ):
        for arg, value in (("max_batch", max_batch), ("max_body_bytes", max_body_bytes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{arg} must be a positive int. Received: {arg}={value!r}")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an int in [0, 65535]. Received: port={port!r}")
        if non_finite not in ("nan", "null"):
            raise ValueError(
                f"non_finite must be 'nan' or 'null'. Received: non_finite={non_finite!r}"
            )
        if not isinstance(poll_seconds, (int, float)) or poll_seconds < 0:
            raise ValueError(
                f"poll_seconds must be a number >= 0. Received: poll_seconds={poll_seconds!r}"
            )
        self.base_dir = os.path.abspath(os.fspath(base_dir))
        name = os.path.basename(self.base_dir) if model_name is None else model_name
        if not isinstance(name, str) or not name or any(c in name for c in "/:?#% "):
            raise ValueError(
                "model_name must be a non-empty string without '/', ':', '?', '#', '%' or spaces. "
                f"Received: model_name={name!r}"
            )
        self.model_name = name
        self.max_batch = max_batch
        self.max_body_bytes = max_body_bytes
        self.non_finite = non_finite
        self.poll_seconds = float(poll_seconds)
        self.verbose = bool(verbose)
        self._servable = _Servable(*resolve_export(self.base_dir))
        self._reload_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []
        self._running = False
        self._closed = False
        self._httpd = _HTTPServer((host, port), _Handler, self)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def host(self) -> str:
        """The interface the server listens on."""
        return self._httpd.server_address[0]

    @property
    def port(self) -> int:
        """The bound TCP port (the picked one when created with ``port=0``)."""
        return self._httpd.server_address[1]

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
    def version(self) -> int:
        """The version being served."""
        return self._servable.version

    @property
    def signatures(self) -> dict:
        """The served version's signatures: ``{name: concrete function}``."""
        return {k: s.fn for k, s in self._servable.signatures.items()}

    def describe_signatures(self) -> list[str]:
        """One line per signature, e.g. ``"serving_default(z float32 [None, 2])"``."""
        return [s.describe() for s in self._servable.signatures.values()]

    def example_request(self) -> dict:
        """A small valid predict request for the served model (printed by ``kerasgan serve``).

        ``sample`` with ``num_samples=4`` when the export has it, else zeros in
        the shape of ``serving_default``'s inputs (row format when every input
        has a batch dimension; an unknown size other than the batch is 16, which
        a fully convolutional image-to-image network with up to four 2x
        downsamplings takes).

        Returns:
            A JSON-ready request body.
        """
        sigs = self._servable.signatures
        sample = sigs.get("sample")
        if sample is not None and list(sample.inputs) == ["num_samples"]:
            return {"signature_name": "sample", "inputs": {"num_samples": 4}}
        sig = sigs.get(_DEFAULT_SIGNATURE) or next(iter(sigs.values()))

        def zeros(spec, skip):
            dims = [] if spec.shape.rank is None else spec.shape.as_list()[skip:]
            return np.zeros(
                [16 if d is None else d for d in dims], spec.dtype.as_numpy_dtype
            ).tolist()

        if all(spec.shape.rank for spec in sig.inputs.values()):
            if len(sig.inputs) == 1:
                body = {"instances": [zeros(next(iter(sig.inputs.values())), 1)]}
            else:
                body = {"instances": [{k: zeros(s, 1) for k, s in sig.inputs.items()}]}
        else:
            body = {"inputs": {k: zeros(s, 0) for k, s in sig.inputs.items()}}
        return body if sig.name == _DEFAULT_SIGNATURE else {"signature_name": sig.name, **body}

    def _start_polling(self):
        if self.poll_seconds > 0:
            t = threading.Thread(target=self._poll, name="kerasgan-serve-poll", daemon=True)
            t.start()
            self._threads.append(t)

    def start(self):
        """Serves requests from a background thread; returns ``self``.

        Returns:
            This server, so that ``server = ModelServer(d, port=0).start()`` works.
        """
        if self._closed or self._running:
            raise RuntimeError("ModelServer.start: the server is already running or shut down")
        self._running = True
        t = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="kerasgan-serve",
            daemon=True,
        )
        t.start()
        self._threads.append(t)
        self._start_polling()
        return self

    def serve_forever(self):
        """Serves requests in the calling thread until :meth:`shutdown` or KeyboardInterrupt."""
        if self._closed or self._running:
            raise RuntimeError(
                "ModelServer.serve_forever: the server is already running or shut down"
            )
        self._running = True
        self._start_polling()
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self.shutdown()

    def shutdown(self):
        """Stops serving and closes the listening socket. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._running:
            self._httpd.shutdown()  # returns at once if serve_forever already ended
        self._httpd.server_close()
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout=10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.shutdown()

    def reload(self) -> bool:
        """Switches to the latest version under ``base_dir`` if it differs from the served one.

        In-flight requests finish on the version they started with.

        Returns:
            True if another version is now served.
        """
        with self._reload_lock:
            version, path = resolve_export(self.base_dir)
            if version == self._servable.version:
                return False
            self._servable = _Servable(version, path)
            if self.verbose:
                sys.stderr.write(f"kerasgan serve: now serving version {version}\n")
            return True

    def _poll(self):
        while not self._stop.wait(self.poll_seconds):
            try:
                self.reload()
            except Exception as e:  # keep serving the loaded version
                sys.stderr.write(f"kerasgan serve: reload failed, keeping the old version: {e}\n")

    # -- the API -----------------------------------------------------------------------------

    def _servable_for(self, version=None):
        servable = self._servable  # one snapshot per request (reload may swap it)
        if version is not None and int(version) != servable.version:
            raise RequestError(
                404,
                f"Servable not found for request: Specific({self.model_name}, {version}); "
                f"the served version is {servable.version}",
            )
        return servable

    def status(self, version=None) -> dict:
        """The model status response of ``GET /v1/models/<name>[/versions/<v>]``.

        Args:
            version: optional int; a version that is not served raises a 404 RequestError.

        Returns:
            ``{"model_version_status": [{"version": "1", "state": "AVAILABLE", ...}]}``.
        """
        servable = self._servable_for(version)
        return {
            "model_version_status": [
                {
                    "version": str(servable.version),
                    "state": "AVAILABLE",
                    "status": {"error_code": "OK", "error_message": ""},
                }
            ]
        }

    def metadata(self, version=None) -> dict:
        """The response of ``GET /v1/models/<name>[/versions/<v>]/metadata``.

        Args:
            version: optional int; a version that is not served raises a 404 RequestError.

        Returns:
            ``{"model_spec": {"name", "signature_name", "version"}, "metadata":
            {"signature_def": {"signature_def": {name: SignatureDef as JSON}}}}``.
        """
        servable = self._servable_for(version)
        return {
            "model_spec": {
                "name": self.model_name,
                "signature_name": "",
                "version": str(servable.version),
            },
            "metadata": {"signature_def": {"signature_def": servable.signature_defs}},
        }

    def predict(self, request, version=None) -> dict:
        """Answers a predict request: the in-process path behind ``POST ...:predict``.

        Args:
            request: the decoded JSON body, ``{"signature_name": optional,
                "instances": ...}`` or ``{"signature_name": optional, "inputs": ...}``.
            version: optional int; a version that is not served raises a 404 RequestError.

        Returns:
            ``{"predictions": ...}`` (row format) or ``{"outputs": ...}``
            (columnar format), made of JSON-ready Python lists and numbers.

        Raises:
            RequestError: for a request the server refuses (``status`` 400 or 404).

        Example:
            See the class example; the flow there answers
            ``server.predict({"instances": [[0.0, 0.0]]})`` with
            ``{"predictions": [<log-density at the origin>]}``.
        """
        servable = self._servable_for(version)
        if not isinstance(request, dict):
            raise RequestError(
                400,
                "the request body must be a JSON object with 'instances' (row format) or "
                f"'inputs' (columnar format). Received: a JSON {_json_type(request)}",
            )
        unknown = sorted(set(request) - {"signature_name", "instances", "inputs"})
        if unknown:
            raise RequestError(
                400,
                f"unknown request key(s) {unknown}; a predict request has 'signature_name' "
                "(optional) and one of 'instances' (row format) or 'inputs' (columnar format)",
            )
        name = request.get("signature_name", _DEFAULT_SIGNATURE)
        if not isinstance(name, str):
            raise RequestError(
                400, f"signature_name must be a string. Received: {json.dumps(name)[:60]}"
            )
        name = name or _DEFAULT_SIGNATURE
        sig = servable.signatures.get(name)
        if sig is None:
            raise RequestError(
                400,
                f"Serving signature name: {name!r} not found in signature def; available "
                f"signatures: {sorted(servable.signatures)}",
            )
        if ("instances" in request) == ("inputs" in request):
            raise RequestError(
                400,
                "a predict request needs exactly one of 'instances' (row format) or 'inputs' "
                f"(columnar format). Received: {'both' if 'inputs' in request else 'neither'}",
            )
        if "instances" in request:
            outputs = self._run(sig, self._parse_instances(sig, request["instances"]))
            return {"predictions": self._rows(sig, outputs)}
        outputs = self._run(sig, self._parse_inputs(sig, request["inputs"]))
        if len(outputs) == 1:
            return {"outputs": self._to_json(next(iter(outputs.values())))}
        return {"outputs": {k: self._to_json(v) for k, v in outputs.items()}}

    def handle(self, method, path, body=b"") -> tuple[int, dict]:
        """Routes one HTTP request: ``(status, JSON-ready payload)``.

        Args:
            method: ``"GET"``, ``"POST"``, ...
            path: the request target, e.g. ``"/v1/models/gan:predict"``.
            body: the raw request body.

        Returns:
            ``(200, response)``; refused requests raise :class:`RequestError`.
        """
        target = urllib.parse.urlsplit(path).path
        m = _ROUTE.match(target)
        if m is None:
            raise RequestError(404, f"unknown path {target!r}; {_API_HELP}")
        name = urllib.parse.unquote(m["name"])
        if name != self.model_name:
            raise RequestError(
                404,
                f"Servable not found for request: Latest({name}); this server serves the model "
                f"{self.model_name!r}",
            )
        if m["label"] is not None:
            raise RequestError(
                404,
                f"version labels are not supported (requested label {m['label']!r}); use "
                f"/versions/{self._servable.version} or no version",
            )
        version = m["version"]
        if version is not None:
            if not version.isdigit():
                raise RequestError(
                    400,
                    f"the version in the URL must be a non-negative integer. Received: {version!r}",
                )
            version = int(version)
        tail = m["tail"]
        if tail is None or tail == "/metadata":
            if method != "GET":
                raise RequestError(405, f"{target} takes GET, not {method}")
            if tail is None:
                return 200, self.status(version)
            return 200, self.metadata(version)
        verb = tail[1:]
        if verb in ("classify", "regress"):
            raise RequestError(
                400,
                f":{verb} is not supported: kerasgan exports have predict signatures only; "
                "use :predict",
            )
        if verb != "predict":
            raise RequestError(404, f"unknown verb {tail!r}; {_API_HELP}")
        if method != "POST":
            raise RequestError(405, f"{target} takes POST, not {method}")
        try:
            request = json.loads(body.decode("utf-8"))
        except UnicodeDecodeError:
            raise RequestError(400, "the request body is not UTF-8 text") from None
        except json.JSONDecodeError as e:
            raise RequestError(400, f"malformed JSON in the request body: {e}") from None
        except RecursionError:
            raise RequestError(400, "the request body's JSON is nested too deeply") from None
        return 200, self.predict(request, version)

    # -- conversions -------------------------------------------------------------------------

    def _check_names(self, sig, keys, where):
        keys = set(keys)
        missing = sorted(set(sig.inputs) - keys)
        extra = sorted(keys - set(sig.inputs))
        if missing or extra:
            problems = []
            if missing:
                problems.append(f"missing input(s) {missing}")
            if extra:
                problems.append(f"unknown input(s) {extra}")
            raise RequestError(
                400,
                f"{where}: {' and '.join(problems)}; signature {sig.name!r} takes inputs "
                f"{list(sig.inputs)}",
            )

    def _to_array(self, value, sig, name, row_format):
        spec = sig.inputs[name]
        arr = _json_to_array(value, spec.dtype, name)
        _check_shape(arr, spec, name, row_format)
        if arr.ndim >= 1 and arr.shape[0] > self.max_batch:
            raise RequestError(
                400,
                f"input {name!r} has a batch of {arr.shape[0]} rows, above the server's limit "
                f"max_batch={self.max_batch}",
            )
        if name in COUNT_INPUTS and arr.ndim == 0 and spec.dtype.is_integer:
            count = int(arr)
            if not 0 <= count <= self.max_batch:
                raise RequestError(
                    400,
                    f"input {name!r} must be in [0, {self.max_batch}] (the server's limit "
                    f"max_batch={self.max_batch}). "
                    f"Received: {count}",
                )
        return arr

    def _parse_instances(self, sig, instances):
        if not isinstance(instances, list):
            raise RequestError(
                400,
                "'instances' must be a list with one element per row. "
                f"Received: a JSON {_json_type(instances)}",
            )
        if not instances:
            raise RequestError(400, "'instances' is an empty list")
        if len(instances) > self.max_batch:
            raise RequestError(
                400,
                f"'instances' has {len(instances)} rows, above the server's limit "
                f"max_batch={self.max_batch}",
            )
        scalars = [k for k, spec in sig.inputs.items() if spec.shape.rank == 0]
        if scalars:
            example = json.dumps({"signature_name": sig.name, "inputs": dict.fromkeys(scalars, 4)})
            raise RequestError(
                400,
                f"signature {sig.name!r} has scalar input(s) {scalars}, which the row format "
                f"('instances') cannot carry; use the columnar format, e.g. {example}",
            )
        named = [isinstance(inst, dict) for inst in instances]
        if any(named) and not all(named):
            raise RequestError(400, "'instances' mixes objects (named inputs) and plain values")
        if all(named):
            for i, inst in enumerate(instances):
                self._check_names(sig, inst, f"instances[{i}]")
            columns = {k: [inst[k] for inst in instances] for k in sig.inputs}
        else:
            if len(sig.inputs) != 1:
                raise RequestError(
                    400,
                    f"signature {sig.name!r} has inputs {list(sig.inputs)}: each instance must be "
                    "an object keyed by input name",
                )
            columns = {next(iter(sig.inputs)): instances}
        return {k: self._to_array(v, sig, k, row_format=True) for k, v in columns.items()}

    def _parse_inputs(self, sig, inputs):
        if isinstance(inputs, dict):
            self._check_names(sig, inputs, "inputs")
            return {k: self._to_array(inputs[k], sig, k, row_format=False) for k in sig.inputs}
        if len(sig.inputs) != 1:
            raise RequestError(
                400,
                f"signature {sig.name!r} has inputs {list(sig.inputs)}: 'inputs' must be an "
                "object keyed by input name",
            )
        name = next(iter(sig.inputs))
        return {name: self._to_array(inputs, sig, name, row_format=False)}

    def _run(self, sig, arrays):
        import tensorflow as tf

        tensors = {k: tf.constant(v, dtype=sig.inputs[k].dtype) for k, v in arrays.items()}
        try:
            outputs = sig.fn(**tensors)
        except tf.errors.InvalidArgumentError as e:
            raise RequestError(
                400, f"signature {sig.name!r} rejected the input: {e.message.strip()}"
            ) from None
        return {k: v.numpy() for k, v in sorted(outputs.items())}

    def _to_json(self, arr):
        if self.non_finite == "null" and arr.dtype.kind in "fc":
            finite = np.isfinite(arr)
            if not finite.all():
                obj = arr.astype(object)
                obj[~finite] = None
                return obj.tolist()
        return arr.tolist()

    def _rows(self, sig, outputs):
        sizes = {v.shape[0] if v.ndim else None for v in outputs.values()}
        if None in sizes or len(sizes) != 1:
            shapes = {k: list(v.shape) for k, v in outputs.items()}
            raise RequestError(
                400,
                f"signature {sig.name!r} returned outputs without one common batch dimension "
                f"({shapes}), which the row format cannot carry; use the columnar format "
                "('inputs')",
            )
        if len(outputs) == 1:
            return self._to_json(next(iter(outputs.values())))
        columns = {k: self._to_json(v) for k, v in outputs.items()}
        return [{k: col[i] for k, col in columns.items()} for i in range(sizes.pop())]
