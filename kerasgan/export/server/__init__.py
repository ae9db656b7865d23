"""A local HTTP server speaking TF Serving's REST API for kerasgan exports.

``tensorflow_model_server`` is not installable from PyPI, so this package implements the
part of its REST API (https://www.tensorflow.org/tfx/serving/api_rest) that kerasgan's
exports need, as a starlette app on uvicorn. A client written against this server works
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
- ``GET /monitoring/prometheus/metrics``: request counts, latency histograms and batch
  sizes in Prometheus' text format (:mod:`kerasgan.export.server.metrics`).

The model directory is a model base path as TF Serving expects it
(``<dir>/<version>/saved_model.pb``); the highest numeric version that loads is served
(TF Serving's default "latest" policy; a newer version that cannot be loaded is skipped
with a warning), and :meth:`ModelServer.reload` (or ``poll_seconds``) switches to a newer
version when one appears. Directories that are not numbers, such as the
``.tmp-export-*`` a killed export leaves behind, are ignored.

Bad requests never stop the server. They are answered with a JSON object
``{"error": "..."}`` and status 400 (malformed JSON, wrong shape or dtype, values out of
the dtype's range, lists nested deeper than the input, missing or unknown input names,
unknown signature, both or neither of ``instances``/``inputs``, a batch or
``num_samples`` above ``max_batch``, a body holding more values than ``max_batch`` rows
need), 404 (unknown model, version or path), 405 (a method the path does not take), 408
(request head or body too slow), 411 (no Content-Length), 413 (body above
``max_body_bytes``, refused before it is read), 431 (request head above 64 KiB), 501
(a method HTTP does not define) or 503 (past ``limit_concurrency``). Shapes and dtypes
are checked against the signature's ``TensorSpec`` before the model is called, and the
messages name the input, the expected and the received shape.

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

Modules: :mod:`~kerasgan.export.server.versions` (which versions exist),
:mod:`~kerasgan.export.server.codec` (JSON to NumPy and back),
:mod:`~kerasgan.export.server.protocol` (the REST protocol without transport),
:mod:`~kerasgan.export.server.batching`, :mod:`~kerasgan.export.server.metrics` and
:mod:`~kerasgan.export.server.app` (:class:`ModelServer`, the HTTP layer).

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

from kerasgan.export.server.app import (
    DEFAULT_BATCH_TIMEOUT,
    DEFAULT_LIMIT_CONCURRENCY,
    DEFAULT_MAX_BATCH_SIZE,
    DEFAULT_TIMEOUT_BODY,
    DEFAULT_TIMEOUT_GRACEFUL_SHUTDOWN,
    DEFAULT_TIMEOUT_HEADER,
    DEFAULT_TIMEOUT_KEEP_ALIVE,
    METRICS_PATH,
    ModelServer,
)
from kerasgan.export.server.errors import RequestError
from kerasgan.export.server.protocol import (
    COUNT_INPUTS,
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_BODY_BYTES,
    ModelService,
)
from kerasgan.export.server.versions import available_versions, resolve_export

__all__ = [
    "COUNT_INPUTS",
    "DEFAULT_BATCH_TIMEOUT",
    "DEFAULT_LIMIT_CONCURRENCY",
    "DEFAULT_MAX_BATCH",
    "DEFAULT_MAX_BATCH_SIZE",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_TIMEOUT_BODY",
    "DEFAULT_TIMEOUT_GRACEFUL_SHUTDOWN",
    "DEFAULT_TIMEOUT_HEADER",
    "DEFAULT_TIMEOUT_KEEP_ALIVE",
    "METRICS_PATH",
    "ModelServer",
    "ModelService",
    "RequestError",
    "available_versions",
    "resolve_export",
]
