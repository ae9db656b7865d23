"""SavedModel export with named signatures, laid out as TF Serving expects.

``saved_models/<name>/<version>/`` holds a SavedModel whose
``serving_default`` signature maps ``z`` (float32 ``[None, latent_dim]``) to
``samples``; a ``sample`` signature maps ``num_samples`` (int32 scalar) to
``samples``.

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
import shutil
import tempfile

import keras
import tensorflow as tf

__all__ = ["export_generator", "version_dir"]


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


def export_generator(model, base_dir, version=None) -> str:
    """Exports a GAN's generator as a SavedModel for TF Serving.

    Signatures:
        ``serving_default``: ``z`` float32 ``[None, latent_dim]`` -> ``samples``.
        ``sample``: ``num_samples`` int32 scalar -> ``samples`` (``z ~ N(0, I)``).

    The SavedModel is written to a temporary directory and renamed into place,
    so a server polling ``base_dir`` never sees a half-written version.

    Args:
        model: a :class:`kerasgan.GAN` (anything with ``generator`` and
            ``latent_dim``).
        base_dir: model directory; the export goes to ``base_dir/<version>``.
        version: positive int; default: the next free version.

    Returns:
        The path of the written version directory.

    Example:
        See the module docstring.
    """
    generator = model.generator
    latent_dim = int(model.latent_dim)
    target = version_dir(base_dir, version)
    archive = keras.export.ExportArchive()
    archive.track(generator)

    # The first endpoint added becomes serving_default.
    def serve(z):
        return {"samples": generator(z, training=False)}

    def sample(num_samples):
        z = tf.random.normal(tf.stack([num_samples, latent_dim]))
        return {"samples": generator(z, training=False)}

    archive.add_endpoint(
        "serving_default",
        serve,
        input_signature=[tf.TensorSpec([None, latent_dim], tf.float32, name="z")],
    )
    archive.add_endpoint(
        "sample", sample, input_signature=[tf.TensorSpec([], tf.int32, name="num_samples")]
    )
    os.makedirs(base_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-export-", dir=base_dir)
    try:
        archive.write_out(tmp, verbose=False)
        if os.path.isdir(target):
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
