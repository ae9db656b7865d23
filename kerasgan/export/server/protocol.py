"""TF Serving's REST protocol on a loaded SavedModel, without any transport.

:class:`ModelService` answers status, metadata and predict requests as TF Serving's REST
API does (https://www.tensorflow.org/tfx/serving/api_rest): it routes a method and path,
validates a decoded predict request against the signature's ``TensorSpec`` s, calls the
signature and shapes the answer (row format ``{"predictions": ...}`` or columnar format
``{"outputs": ...}``). The HTTP layer (:mod:`kerasgan.export.server.app`) and the in-process
Python API share it.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import urllib.parse

import numpy as np
import tensorflow as tf
from google.protobuf import json_format, text_format
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2

from kerasgan.export.server import codec
from kerasgan.export.server.errors import RequestError
from kerasgan.export.server.versions import resolve_export, version_dirs, version_fingerprint

__all__ = [
    "COUNT_INPUTS",
    "DEFAULT_MAX_BATCH",
    "DEFAULT_MAX_BODY_BYTES",
    "ModelService",
    "Route",
    "Servable",
    "Signature",
    "parse_route",
]

DEFAULT_MAX_BATCH = 10_000
DEFAULT_MAX_BODY_BYTES = 32 * 2**20
# Scalar integer inputs that ask the model for that many rows (``sample``'s ``num_samples``):
# capped by ``max_batch`` like the rows of a batch.
COUNT_INPUTS = ("num_samples",)
DEFAULT_SIGNATURE = "serving_default"
# Methods HTTP defines (RFC 9110, PATCH from RFC 5789): a route that does not take one answers
# 405; any other method answers 501.
HTTP_METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")
)
_ROUTE = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)"
    r"(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
    r"(?P<tail>/metadata|:[^/]*)?/?$"
)
_API_HELP = (
    "the API is GET /v1/models/<name>[/versions/<v>][/metadata] and "
    "POST /v1/models/<name>[/versions/<v>]:predict"
)
# Op types that make a signature's answer depend on more than its inputs: such signatures
# are never merged into batches (a seeded sampler would answer differently).
_NONDETERMINISTIC_OPS = frozenset(
    (
        "Multinomial",
        "TruncatedNormal",
        "ParameterizedTruncatedNormal",
        "StatelessMultinomial",
        "StatelessTruncatedNormal",
        "StatelessParameterizedTruncatedNormal",
        "Timestamp",
    )
)


def _read_signature_defs(path):
    """The ``serve`` MetaGraph's SignatureDef map as TF Serving's metadata prints it."""
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


def _op_types(fn) -> set[str]:
    graph_def = fn.graph.as_graph_def()
    types = {node.op for node in graph_def.node}
    for function in graph_def.library.function:
        types.update(node.op for node in function.node_def)
    return types


def _rows_dim(shape) -> bool:
    """True if ``shape`` has a leading dimension of any size (a batch of rows)."""
    return shape.rank is not None and shape.rank >= 1 and shape[0] is None


class Signature:
    """One callable signature: its concrete function, input/output specs and batching facts.

    Args:
        name: the signature's name.
        fn: its concrete function (from ``loaded.signatures``).

    Attributes:
        inputs: ``{name: tf.TensorSpec}``, sorted by name.
        outputs: ``{name: (tf.DType, tf.TensorShape)}``, sorted by name.
        random: the function draws random numbers or reads the clock.
        batchable: requests may be merged into one call: every input and output has a
            leading batch dimension and the function is not random.
    """

    def __init__(self, name, fn):
        self.name = name
        self.fn = fn
        _, kwargs = fn.structured_input_signature
        self.inputs = dict(sorted(kwargs.items()))  # name -> tf.TensorSpec
        self.outputs = {
            k: (tf.as_dtype(v.dtype), v.shape) for k, v in sorted(fn.structured_outputs.items())
        }
        self.scalar_inputs = [k for k, spec in self.inputs.items() if spec.shape.rank == 0]
        self.batcher = None  # the HTTP layer's request batcher, made on first use
        types = _op_types(fn)
        self.random = any("Random" in t for t in types) or bool(types & _NONDETERMINISTIC_OPS)
        self.batchable = (
            not self.random
            and bool(self.inputs)
            and all(_rows_dim(spec.shape) for spec in self.inputs.values())
            and all(_rows_dim(shape) for _, shape in self.outputs.values())
        )

    def describe(self) -> str:
        """``"name(input dtype shape, ...)"``, e.g. ``"serving_default(z float32 [None, 2])"``."""
        parts = [
            f"{k} {spec.dtype.name} {codec.format_shape(spec.shape)}"
            for k, spec in self.inputs.items()
        ]
        return f"{self.name}({', '.join(parts)})"

    def max_values(self, max_batch) -> int | None:
        """The most JSON values a valid request to this signature holds (None: unbounded).

        ``max_batch`` rows in the named row format (the largest encoding): per row one
        object, and per input its list and the lists and numbers nested in it.
        """
        per_row = 1
        for spec in self.inputs.values():
            shape = spec.shape
            if shape.rank is None or None in shape.as_list()[1:]:
                return None
            if shape.rank == 0:
                continue
            size, values = 1, 1
            for d in shape.as_list()[1:]:
                size *= d
                values += size
            per_row += values
        return max_batch * per_row

    def call(self, arrays) -> dict:
        """Runs the signature on ``{input: np.ndarray}``; returns ``{output: np.ndarray}``.

        Raises:
            RequestError: 400 if the function rejects the values (a failed check inside).
        """
        tensors = {k: tf.constant(v, dtype=self.inputs[k].dtype) for k, v in arrays.items()}
        try:
            outputs = self.fn(**tensors)
        except tf.errors.InvalidArgumentError as e:
            raise RequestError(
                400, f"signature {self.name!r} rejected the input: {e.message.strip()}"
            ) from None
        return {k: v.numpy() for k, v in sorted(outputs.items())}


class Servable:
    """One loaded version of the model.

    Args:
        version: the version number.
        path: its directory.
        max_batch: the server's row limit, for :attr:`max_values`.

    Raises:
        ValueError: if the SavedModel cannot be loaded or has no signatures (the message
            says why and names the version).
    """

    def __init__(self, version, path, max_batch=DEFAULT_MAX_BATCH):
        self.version = version
        self.path = path
        self.fingerprint = version_fingerprint(path)
        try:
            self.loaded = tf.saved_model.load(path)
            self.signatures = {
                k: Signature(k, fn) for k, fn in sorted(self.loaded.signatures.items())
            }
            self.signature_defs = _read_signature_defs(path)
        except Exception as e:  # a corrupt or half-written version: say which and why
            why = " ".join(f"{type(e).__name__}: {e}".split()).rstrip(".")
            raise ValueError(f"version {version} ({path}) cannot be loaded: {why[:500]}") from e
        if not self.signatures:
            raise ValueError(
                f"version {version} ({path}) cannot be loaded: the SavedModel has no signatures"
            )
        bounds = [s.max_values(max_batch) for s in self.signatures.values()]
        # Room for the request's own keys and a signature name beside the inputs.
        self.max_values = None if None in bounds else max(bounds) + 64


class Route:
    """A parsed request target: what is asked (``"status"``, ``"metadata"``, ``"predict"``).

    Attributes:
        kind: ``"status"``, ``"metadata"`` or ``"predict"``.
        version: the version in the URL, or None.
    """

    __slots__ = ("kind", "version")

    def __init__(self, kind, version):
        self.kind = kind
        self.version = version


def parse_route(method, path, model_name, served_version) -> Route:
    """Routes a method and request target of TF Serving's REST API.

    Args:
        method: the HTTP method.
        path: the request target (a query string is ignored).
        model_name: the served model's name.
        served_version: the served version, for the label error message.

    Returns:
        The :class:`Route`.

    Raises:
        RequestError: 501 for a method HTTP does not define, 404 for an unknown path,
            model or label, 400 for a malformed version, 405 (with an ``Allow``
            header) for a method the route does not take, 400 for ``:classify`` and
            ``:regress``.
    """
    if method not in HTTP_METHODS:
        raise RequestError(
            501, f"method {method!r} is not implemented; {_API_HELP}", {"Allow": "GET, HEAD, POST"}
        )
    target = urllib.parse.urlsplit(path).path
    m = _ROUTE.match(target)
    if m is None:
        raise RequestError(404, f"unknown path {target!r}; {_API_HELP}")
    name = urllib.parse.unquote(m["name"])
    if name != model_name:
        raise RequestError(
            404,
            f"Servable not found for request: Latest({name}); this server serves the model "
            f"{model_name!r}",
        )
    if m["label"] is not None:
        raise RequestError(
            404,
            f"version labels are not supported (requested label {m['label']!r}); use "
            f"/versions/{served_version} or no version",
        )
    version = m["version"]
    if version is not None:
        if not (version.isascii() and version.isdigit()):
            raise RequestError(
                400,
                f"the version in the URL must be a non-negative integer. Received: {version!r}",
            )
        version = int(version)
    tail = m["tail"]
    if tail is None or tail == "/metadata":
        if method not in ("GET", "HEAD"):
            raise RequestError(405, f"{target} takes GET, not {method}", {"Allow": "GET, HEAD"})
        return Route("status" if tail is None else "metadata", version)
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
        raise RequestError(405, f"{target} takes POST, not {method}", {"Allow": "POST"})
    return Route("predict", version)


def _check_shape(arr, spec, name, row_format):
    expected = codec.spec_info(spec).dims
    if expected is None:
        return
    ok = arr.ndim == len(expected) and all(e is None or e == a for e, a in zip(expected, arr.shape))
    if ok:
        return
    if row_format:
        raise RequestError(
            400,
            f"input {name!r}: each instance must have shape "
            f"{codec.format_shape(spec.shape[1:])}; received instances of shape "
            f"{list(arr.shape[1:])} (the signature's input is {codec.format_shape(spec.shape)}, "
            "None = any size)",
        )
    raise RequestError(
        400,
        f"input {name!r} expects shape {codec.format_shape(spec.shape)} (None = any size); "
        f"received shape {list(arr.shape)}",
    )


class ModelService:
    """TF Serving's REST protocol for the versions of one model: status, metadata, predict.

    Loads the newest loadable version under ``base_dir`` (a newer version that cannot be
    loaded is skipped with a warning on stderr) and answers requests on it; :meth:`reload`
    switches versions. Holds no sockets: :class:`kerasgan.export.server.ModelServer` adds
    the HTTP server.

    Args:
        base_dir: model base path, ``<base_dir>/<version>/saved_model.pb``.
        model_name: the ``<name>`` in the URLs (validated by the caller).
        max_batch: largest batch (rows of an input, or ``num_samples``) a request may
            ask for.
        non_finite: ``"nan"`` or ``"null"``, how NaN and infinities are written.
        verbose: also report version switches on stderr.

    Raises:
        ValueError: if no version under ``base_dir`` can be loaded (each one named, with
            the reason).
    """

    def __init__(self, base_dir, model_name, max_batch, non_finite, verbose=False):
        self.base_dir = base_dir
        self.model_name = model_name
        self.max_batch = max_batch
        self.non_finite = non_finite
        self.verbose = bool(verbose)
        self._reload_lock = threading.Lock()
        self._broken = {}  # version -> (fingerprint, reason) of versions that failed to load
        self._servable = None
        resolve_export(self.base_dir)  # the usual errors for a missing or empty directory
        servable = self._load_newest()
        if servable is None:
            reasons = "; ".join(reason for _, reason in self._broken.values())
            raise ValueError(
                f"No version under {self.base_dir!r} can be loaded: {reasons}. "
                f"Received: base_dir={self.base_dir!r}"
            )
        self._servable = servable

    # -- versions ----------------------------------------------------------------------------

    def _warn(self, message):
        sys.stderr.write(f"kerasgan serve: {message}\n")
        sys.stderr.flush()

    def _load_newest(self):
        """The newest version that loads (the served one if it is the newest), or None.

        Versions that failed before are retried only once their files change; each
        failure is reported once on stderr (at start-up only if another version loads:
        otherwise the constructor's error names them all).
        """
        current = self._servable
        failures = []
        found = None
        for version, path in sorted(version_dirs(self.base_dir).items(), reverse=True):
            fingerprint = version_fingerprint(path)
            if current is not None and version == current.version:
                if fingerprint == current.fingerprint:
                    found = current
                    break
            broken = self._broken.get(version)
            if broken is not None and broken[0] == fingerprint:
                continue
            try:
                found = Servable(version, path, self.max_batch)
                break
            except ValueError as e:
                self._broken[version] = (fingerprint, str(e))
                failures.append(str(e))
        if found is not None:
            self._broken.pop(found.version, None)
        if failures and (found is not None or current is not None):
            if current is not None and (found is None or found is current):
                outcome = f"keeping version {current.version}"
            else:
                outcome = f"serving version {found.version}, the newest version that loads"
            for failure in failures:
                self._warn(f"{failure}; {outcome}")
        return found

    def reload(self) -> bool:
        """Switches to the newest loadable version under ``base_dir`` if it is another one.

        A newer version that cannot be loaded is skipped with one warning on stderr (and
        retried when its files change); in-flight requests finish on the version they
        started with.

        Returns:
            True if another version is now served.

        Raises:
            ValueError: if ``base_dir`` no longer holds any version.
        """
        with self._reload_lock:
            resolve_export(self.base_dir)
            servable = self._load_newest()
            if servable is None or servable is self._servable:
                return False
            self._servable = servable
            if self.verbose:
                self._warn(f"now serving version {servable.version}")
            return True

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
        sig = sigs.get(DEFAULT_SIGNATURE) or next(iter(sigs.values()))

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
        return body if sig.name == DEFAULT_SIGNATURE else {"signature_name": sig.name, **body}

    # -- the API -----------------------------------------------------------------------------

    def servable_for(self, version=None) -> Servable:
        """The served :class:`Servable` (one snapshot: a reload may swap it meanwhile).

        Raises:
            RequestError: 404 if ``version`` is given and is not the served one.
        """
        servable = self._servable
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
        servable = self.servable_for(version)
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
        servable = self.servable_for(version)
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
            See the class example of :class:`kerasgan.export.server.ModelServer`; a flow
            answers ``server.predict({"instances": [[0.0, 0.0]]})`` with
            ``{"predictions": [<log-density at the origin>]}``.
        """
        sig, arrays, row_format = self.prepare(request, version)
        return self.answer(sig, sig.call(arrays), row_format)

    def handle(self, method, path, body=b"") -> tuple[int, dict]:
        """Routes one HTTP request: ``(status, JSON-ready payload)``.

        Args:
            method: ``"GET"``, ``"POST"``, ...
            path: the request target, e.g. ``"/v1/models/gan:predict"``.
            body: the raw request body.

        Returns:
            ``(200, response)``; refused requests raise :class:`RequestError`.
        """
        route = parse_route(method, path, self.model_name, self._servable.version)
        if route.kind == "status":
            return 200, self.status(route.version)
        if route.kind == "metadata":
            return 200, self.metadata(route.version)
        request = codec.decode_json(body, self.max_values)
        sig, arrays, row_format = self.prepare(request, route.version, codec.no_bools(body))
        return 200, self.answer(sig, sig.call(arrays), row_format)

    @property
    def max_values(self) -> int | None:
        """The most JSON values a valid predict body holds (None: unbounded)."""
        return self._servable.max_values

    # -- conversions -------------------------------------------------------------------------

    def prepare(self, request, version=None, no_bools=False):
        """Validates a decoded predict request: ``(signature, {input: array}, row_format)``.

        Args:
            request: the decoded JSON body.
            version: the version the URL names (None: the served one).
            no_bools: the raw body holds no ``true``/``false`` token (see
                :func:`kerasgan.export.server.codec.json_to_array`).

        Raises:
            RequestError: 400 for a malformed request, 404 for a version not served.
        """
        servable = self.servable_for(version)
        if not isinstance(request, dict):
            raise RequestError(
                400,
                "the request body must be a JSON object with 'instances' (row format) or "
                f"'inputs' (columnar format). Received: a JSON {codec.json_type(request)}",
            )
        unknown = sorted(set(request) - {"signature_name", "instances", "inputs"})
        if unknown:
            raise RequestError(
                400,
                f"unknown request key(s) {unknown}; a predict request has 'signature_name' "
                "(optional) and one of 'instances' (row format) or 'inputs' (columnar format)",
            )
        name = request.get("signature_name", DEFAULT_SIGNATURE)
        if not isinstance(name, str):
            raise RequestError(
                400, f"signature_name must be a string. Received: {json.dumps(name)[:60]}"
            )
        name = name or DEFAULT_SIGNATURE
        sig = servable.signatures.get(name)
        if sig is None:
            raise RequestError(
                400,
                f"Serving signature name: {name[:100]!r} not found in signature def; available "
                f"signatures: {sorted(servable.signatures)}",
            )
        if ("instances" in request) == ("inputs" in request):
            raise RequestError(
                400,
                "a predict request needs exactly one of 'instances' (row format) or 'inputs' "
                f"(columnar format). Received: {'both' if 'inputs' in request else 'neither'}",
            )
        if "instances" in request:
            return sig, self._parse_instances(sig, request["instances"], no_bools), True
        return sig, self._parse_inputs(sig, request["inputs"], no_bools), False

    def answer(self, sig, outputs, row_format) -> dict:
        """The response for ``{output: array}``: ``{"predictions": ...}`` or ``{"outputs": ...}``."""
        if row_format:
            return {"predictions": self._rows(sig, outputs)}
        if len(outputs) == 1:
            return {"outputs": codec.to_json(next(iter(outputs.values())), self.non_finite)}
        return {"outputs": {k: codec.to_json(v, self.non_finite) for k, v in outputs.items()}}

    def _check_names(self, sig, keys, where):
        keys = set(keys)
        missing = sorted(set(sig.inputs) - keys)
        extra = sorted(keys - set(sig.inputs))
        if missing or extra:
            problems = []
            if missing:
                problems.append(f"missing input(s) {missing}")
            if extra:
                problems.append(f"unknown input(s) {extra[:20]}")
            raise RequestError(
                400,
                f"{where}: {' and '.join(problems)}; signature {sig.name!r} takes inputs "
                f"{list(sig.inputs)}",
            )

    def _to_array(self, value, sig, name, row_format, no_bools=False):
        spec = sig.inputs[name]
        arr = codec.json_to_array(value, spec, name, row_format, no_bools)
        _check_shape(arr, spec, name, row_format)
        if arr.ndim >= 1 and arr.shape[0] > self.max_batch:
            raise RequestError(
                400,
                f"input {name!r} has a batch of {arr.shape[0]} rows, above the server's limit "
                f"max_batch={self.max_batch}",
            )
        if arr.ndim == 0 and name in COUNT_INPUTS and spec.dtype.is_integer:
            count = int(arr)
            if not 0 <= count <= self.max_batch:
                raise RequestError(
                    400,
                    f"input {name!r} must be in [0, {self.max_batch}] (the server's limit "
                    f"max_batch={self.max_batch}). "
                    f"Received: {count}",
                )
        return arr

    def _parse_instances(self, sig, instances, no_bools=False):
        if not isinstance(instances, list):
            raise RequestError(
                400,
                "'instances' must be a list with one element per row. "
                f"Received: a JSON {codec.json_type(instances)}",
            )
        if not instances:
            raise RequestError(400, "'instances' is an empty list")
        if len(instances) > self.max_batch:
            raise RequestError(
                400,
                f"'instances' has {len(instances)} rows, above the server's limit "
                f"max_batch={self.max_batch}",
            )
        scalars = sig.scalar_inputs
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
        return {k: self._to_array(v, sig, k, True, no_bools) for k, v in columns.items()}

    def _parse_inputs(self, sig, inputs, no_bools=False):
        if isinstance(inputs, dict):
            self._check_names(sig, inputs, "inputs")
            return {k: self._to_array(inputs[k], sig, k, False, no_bools) for k in sig.inputs}
        if len(sig.inputs) != 1:
            raise RequestError(
                400,
                f"signature {sig.name!r} has inputs {list(sig.inputs)}: 'inputs' must be an "
                "object keyed by input name",
            )
        name = next(iter(sig.inputs))
        return {name: self._to_array(inputs, sig, name, False, no_bools)}

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
            return codec.to_json(next(iter(outputs.values())), self.non_finite)
        columns = {k: codec.to_json(v, self.non_finite) for k, v in outputs.items()}
        return [{k: col[i] for k, col in columns.items()} for i in range(sizes.pop())]
