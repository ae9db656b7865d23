"""SavedModel export with named signatures, laid out as TF Serving expects.

``saved_models/<name>/<version>/`` holds a SavedModel whose
``serving_default`` signature maps ``z`` (float32 ``[None, latent_dim]``) to
``samples``; a ``sample`` signature maps ``num_samples`` (int32 scalar) to
``samples`` (fresh noise on every call, in every process), and
``sample_seeded`` maps ``num_samples`` and ``seed`` (int64 scalar) to
reproducible ``samples``. Flows export ``log_prob`` and ``sample``
(:func:`export_flow`), image-to-image networks ``translate``
(:func:`export_translator`).

Example:
    >>> import kerasgan
    >>> from kerasgan import export
    >>> g = kerasgan.models.build_mlp_generator(2, 2)
    >>> d = kerasgan.models.build_mlp_discriminator(2)
    >>> gan = kerasgan.GAN(g, d, latent_dim=2)
    >>> path = export.export_generator(gan, "/tmp/kerasgan_doc_export", version=1)
"""

from __future__ import annotations

import os

import keras
import tensorflow as tf

from kerasgan.export import publish as _publish

__all__ = ["export_flow", "export_generator", "export_translator", "version_dir"]

_NUM_SAMPLES = tf.TensorSpec([], tf.int32, name="num_samples")
_SEED = tf.TensorSpec([], tf.int64, name="seed")


def _fresh_seed():
    """A stateless seed ``[2]`` that differs between calls and between processes.

    A stateful random op (``tf.random.normal``) traced while a global seed is
    set (recipes set one) gets fixed op seeds: every process that loads the
    SavedModel (each TF Serving restart) then replays the same stream, and the
    first ``sample`` call always returns the same samples. The microsecond
    clock breaks the tie between processes, the stateful counter between calls
    within one.
    """
    micros = tf.cast(tf.math.floormod(tf.timestamp() * 1e6, 2.0**31 - 1.0), tf.int32)
    counter = tf.random.uniform([], 0, 2**31 - 1, dtype=tf.int32)
    return tf.stack([micros, counter])


def _seed_pair(seed):
    """The stateless seed ``[2]`` (int32) for a user's int64 ``seed``."""
    seed = tf.cast(seed, tf.int64)
    return tf.cast(tf.stack([tf.math.floormod(seed, 2**31 - 1), seed // (2**31 - 1)]), tf.int32)


def version_dir(base_dir, version=None) -> str:
    """``base_dir/<version>``; by default one more than the largest existing version.

    Args:
        base_dir: the model's directory, e.g. ``saved_models/gan_ring8``.
        version: positive int, or None for the next free version.

    Returns:
        The version directory path.
    """
    if version is None:
        existing = (
            [int(p) for p in os.listdir(base_dir) if p.isdigit()] if os.path.isdir(base_dir) else []
        )
        version = max(existing, default=0) + 1
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"version must be a positive int. Received: version={version!r}")
    return os.path.join(base_dir, str(version))


def export_generator(model, base_dir, version=None, overwrite=True) -> str:
    """Exports a GAN's generator as a SavedModel for TF Serving.

    Signatures:
        ``serving_default``: ``z`` float32 ``[None, latent_dim]`` -> ``samples``.
        ``sample``: ``num_samples`` int32 scalar -> ``samples`` (``z ~ N(0, I)``,
        fresh on every call and in every process).
        ``sample_seeded``: ``num_samples`` int32 and ``seed`` int64 scalars ->
        ``samples``, the same for the same seed.

    The SavedModel is written to a temporary directory and renamed into place,
    so a server polling ``base_dir`` never sees a half-written version.

    Conditional generators (the model has ``num_classes``; its generator
    takes ``[z, labels]``) take ``labels`` int32 ``[None]`` as well:
    ``serving_default``: ``z``, ``labels`` -> ``samples``; ``sample``:
    ``labels`` -> one sample per label; ``sample_seeded``: ``labels``,
    ``seed`` -> the same. Labels outside ``[0, num_classes)`` are refused
    (an ``InvalidArgumentError``, a 400 from a server).

    Args:
        model: a :class:`kerasgan.GAN` (anything with ``generator`` and
            ``latent_dim``, and ``num_classes`` for a conditional one).
        base_dir: model directory; the export goes to ``base_dir/<version>``.
        version: positive int; default: the next free version (claimed under a
            lock: concurrent exports get different versions).
        overwrite: replace an existing ``base_dir/<version>`` (atomically: a reader
            sees the complete old or the complete new version at every instant);
            False raises ``FileExistsError`` instead.

    Returns:
        The path of the written version directory.

    Example:
        See the module docstring.
    """
    generator = model.generator
    latent_dim = int(model.latent_dim)
    _check_target(base_dir, version, overwrite)
    archive = keras.export.ExportArchive()
    archive.track(generator)
    num_classes = getattr(model, "num_classes", None)
    if num_classes:
        _conditional_generator_endpoints(archive, generator, latent_dim, int(num_classes))
        return _write_atomic(archive, base_dir, version, overwrite)

    # The first endpoint added becomes serving_default.
    def serve(z):
        return {"samples": generator(z, training=False)}

    def generate(num_samples, seed):
        z = tf.random.stateless_normal(tf.stack([num_samples, latent_dim]), seed=seed)
        return {"samples": generator(z, training=False)}

    archive.add_endpoint(
        "serving_default",
        serve,
        input_signature=[tf.TensorSpec([None, latent_dim], tf.float32, name="z")],
    )
    archive.add_endpoint(
        "sample", lambda num_samples: generate(num_samples, _fresh_seed()), [_NUM_SAMPLES]
    )
    archive.add_endpoint(
        "sample_seeded",
        lambda num_samples, seed: generate(num_samples, _seed_pair(seed)),
        [_NUM_SAMPLES, _SEED],
    )
    return _write_atomic(archive, base_dir, version, overwrite)


def _conditional_generator_endpoints(archive, generator, latent_dim, num_classes):
    labels_spec = tf.TensorSpec([None], tf.int32, name="labels")

    def checked(labels):
        checks = [
            tf.debugging.assert_greater_equal(labels, 0, message="labels must be >= 0"),
            tf.debugging.assert_less(
                labels, num_classes, message=f"labels must be < {num_classes}"
            ),
        ]
        with tf.control_dependencies(checks):  # before the embedding lookup runs
            return tf.identity(labels)

    def serve(z, labels):
        return {"samples": generator([z, checked(labels)], training=False)}

    def generate(labels, seed):
        labels = checked(labels)
        z = tf.random.stateless_normal(tf.stack([tf.shape(labels)[0], latent_dim]), seed=seed)
        return {"samples": generator([z, labels], training=False)}

    archive.add_endpoint(
        "serving_default",
        serve,
        input_signature=[tf.TensorSpec([None, latent_dim], tf.float32, name="z"), labels_spec],
    )
    archive.add_endpoint("sample", lambda labels: generate(labels, _fresh_seed()), [labels_spec])
    archive.add_endpoint(
        "sample_seeded",
        lambda labels, seed: generate(labels, _seed_pair(seed)),
        [labels_spec, _SEED],
    )


def _write_atomic(archive, base_dir, version, overwrite):
    """Writes the archive and publishes it as ``base_dir/<version>`` (see
    :mod:`kerasgan.export.publish`: atomic rename or exchange, versions claimed under a
    lock, 0755/0644, leftovers of killed exports cleaned)."""
    return _publish.publish(
        lambda tmp: archive.write_out(tmp, verbose=False), base_dir, version, overwrite
    )


def _check_target(base_dir, version, overwrite):
    """Fails fast, before tracing anything, on a bad version or a taken one."""
    version_dir(base_dir, version if version is not None else 1)
    if os.path.exists(base_dir) and not os.path.isdir(base_dir):
        raise ValueError(
            f"The export directory exists and is not a directory. Received: base_dir={base_dir!r}"
        )
    if version is not None and not overwrite and os.path.exists(os.path.join(base_dir, str(version))):
        raise FileExistsError(
            f"Version {version} already exists in {base_dir}; pass overwrite=True (CLI: --force) "
            f"to replace it. Received: version={version}"
        )


def export_flow(model, base_dir, version=None, overwrite=True) -> str:
    """Exports a :class:`kerasgan.flows.FlowModel` as a SavedModel for TF Serving.

    Signatures (``D`` = the event shape, ``(D,)`` or ``(H, W, C)`` for images;
    ``C`` = context size; dtype = the model's):
        ``serving_default`` and ``log_prob``: ``x [None, *D]`` (and ``context
        [None, C]`` for a conditional flow) -> ``log_prob [None]`` in nats.
        ``sample``: ``num_samples`` int32 scalar -> ``samples [num_samples, *D]``
        (fresh noise on every call and in every process); for a conditional
        flow ``context [None, C]`` -> one sample per row.
        ``sample_seeded`` (unconditional flows): ``num_samples`` int32 and
        ``seed`` int64 scalars -> the same ``samples`` for the same seed.
        Flows without an inverse (planar, radial) export only ``sample`` (also
        as ``serving_default``), returning ``samples`` and their ``log_prob``.

    Written to a temporary directory and renamed into place.

    Args:
        model: a built ``FlowModel``.
        base_dir: model directory; the export goes to ``base_dir/<version>``.
        version: positive int; default: the next free version (claimed under a
            lock: concurrent exports get different versions).
        overwrite: replace an existing ``base_dir/<version>`` (atomically: a reader
            sees the complete old or the complete new version at every instant);
            False raises ``FileExistsError`` instead.

    Returns:
        The path of the written version directory.

    Example:
        >>> from kerasgan import flows
        >>> flow = flows.FlowModel((2,), [flows.MAF([8])])
        >>> path = export_flow(flow, "/tmp/kerasgan_doc_flow_export", version=1)
    """
    from kerasgan.flows import FlowModel

    if not isinstance(model, FlowModel):
        raise ValueError(
            f"export_flow expects a kerasgan.flows.FlowModel. Received: {type(model).__name__}"
        )
    _check_target(base_dir, version, overwrite)
    dtype = tf.as_dtype(model.compute_dtype)
    c = model.context_size
    archive = keras.export.ExportArchive()
    archive.track(model)
    x_spec = tf.TensorSpec([None, *model.event_shape], dtype, name="x")
    from kerasgan.flows import Planar, Radial

    if any(isinstance(layer, (Planar, Radial)) for layer in model.flow_layers) and not c:
        # No inverse: only sampling, with the samples' own log-density (cached noise).
        def sample_only(num_samples, seed):
            dist = model.distribution()
            x = dist.sample(num_samples, seed=seed)
            return {"samples": x, "log_prob": dist.log_prob(x)}

        for name in ("serving_default", "sample"):
            archive.add_endpoint(name, lambda n: sample_only(n, _fresh_seed()), [_NUM_SAMPLES])
        archive.add_endpoint(
            "sample_seeded", lambda n, seed: sample_only(n, _seed_pair(seed)), [_NUM_SAMPLES, _SEED]
        )
        return _write_atomic(archive, base_dir, version, overwrite)
    if c:
        ctx_spec = tf.TensorSpec([None, c], dtype, name="context")

        def log_prob(x, context):
            return {"log_prob": model.distribution(context).log_prob(x)}

        def sample(context):
            n = tf.shape(context)[0]
            return {"samples": model.distribution(context).sample(n, seed=_fresh_seed())}

        for name in ("serving_default", "log_prob"):
            archive.add_endpoint(name, log_prob, input_signature=[x_spec, ctx_spec])
        archive.add_endpoint("sample", sample, input_signature=[ctx_spec])
    else:

        def log_prob(x):
            return {"log_prob": model.distribution().log_prob(x)}

        def sample(num_samples, seed):
            return {"samples": model.distribution().sample(num_samples, seed=seed)}

        for name in ("serving_default", "log_prob"):
            archive.add_endpoint(name, log_prob, input_signature=[x_spec])
        archive.add_endpoint("sample", lambda n: sample(n, _fresh_seed()), [_NUM_SAMPLES])
        archive.add_endpoint(
            "sample_seeded", lambda n, seed: sample(n, _seed_pair(seed)), [_NUM_SAMPLES, _SEED]
        )
    return _write_atomic(archive, base_dir, version, overwrite)


def export_translator(model, base_dir, version=None, overwrite=True) -> str:
    """Exports an image-to-image network as a SavedModel for TF Serving.

    For a pix2pix generator, one direction of a CycleGAN, or any
    ``keras.Model`` with one image input ``[None, H, W, C]`` (``H``/``W`` may be
    ``None`` for a fully convolutional network) and one image output.

    Signatures:
        ``serving_default`` and ``translate``: ``images`` ``[None, H, W, C]``
        (the model's dtype, channels-last, in the range the model was trained
        on; ``[-1, 1]`` for kerasgan's image data) -> ``translated`` (the
        model's output, ``training=False``).

    Written to a temporary directory and renamed into place.

    Args:
        model: a built ``keras.Model`` mapping an image batch to an image batch.
        base_dir: model directory; the export goes to ``base_dir/<version>``.
        version: positive int; default: the next free version (claimed under a
            lock: concurrent exports get different versions).
        overwrite: replace an existing ``base_dir/<version>`` (atomically: a reader
            sees the complete old or the complete new version at every instant);
            False raises ``FileExistsError`` instead.

    Returns:
        The path of the written version directory.

    Raises:
        ValueError: if ``model`` is not a ``keras.Model`` with one rank-4 input
            and a rank-4 output.

    Example:
        >>> inp = keras.Input((8, 8, 3))
        >>> net = keras.Model(inp, keras.layers.Conv2D(3, 3, padding="same")(inp))
        >>> path = export_translator(net, "/tmp/kerasgan_doc_translate", version=1)
    """
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"export_translator expects a keras.Model. Received: {type(model).__name__}"
        )
    if not is_image_to_image(model):
        raise ValueError(
            "export_translator expects a built model with one image input and one image "
            f"output, [None, H, W, C]. Received: inputs {_shapes(model, 'inputs')}, outputs "
            f"{_shapes(model, 'outputs')}"
        )
    inputs = model.inputs
    _check_target(base_dir, version, overwrite)
    spec = tf.TensorSpec(
        [None, *inputs[0].shape[1:]], tf.as_dtype(model.compute_dtype), name="images"
    )
    archive = keras.export.ExportArchive()
    archive.track(model)

    def translate(images):
        return {"translated": model(images, training=False)}

    for name in ("serving_default", "translate"):
        archive.add_endpoint(name, translate, input_signature=[spec])
    return _write_atomic(archive, base_dir, version, overwrite)


def _shapes(model, which):
    try:
        return [tuple(t.shape) for t in getattr(model, which) or []]
    except (AttributeError, ValueError):  # a subclassed model that was never called
        return None


def is_image_to_image(model) -> bool:
    """Whether ``model`` has one rank-4 input and one rank-4 output (what
    :func:`export_translator` takes)."""
    inputs, outputs = _shapes(model, "inputs"), _shapes(model, "outputs")
    return (
        bool(inputs and outputs)
        and len(inputs) == len(outputs) == 1
        and (len(inputs[0]) == len(outputs[0]) == 4)
    )
