"""The data a config names, as an infinite, seeded ``tf.data`` pipeline of batches."""

from __future__ import annotations

import tensorflow as tf

from kerasgan.data import images, toy
from kerasgan.runner import registry

__all__ = ["make_dataset"]


def make_dataset(cfg):
    """Returns ``(dataset, info)`` for a resolved config.

    Images (``"digits"`` or a tfds name) come as ``x`` batches, or ``(x, y)``
    batches with int32 labels when the model is conditional; toy data as
    vectors from :func:`kerasgan.data.toy.load`.

    Returns:
        ``(dataset, info)``: ``info`` has ``kind`` (``"toy"`` or ``"image"``),
        ``shape`` (one example), ``num_classes`` for labelled data, and for toy
        data ``sample`` (2,000 training points) and, for Gaussian mixtures,
        ``mixture`` (true modes and exact ``log_prob``).

    Raises:
        ValueError: a labelled dataset whose class count is unknown.
    """
    name = cfg["dataset"]
    batch = cfg["batch_size"]
    if registry.is_image_dataset(name):
        size = cfg["image_size"]
        if name == "digits":
            ds = images.digits_dataset(batch_size=batch, size=size, split="train", seed=cfg["seed"])
        elif cfg["tfds_mock"]:
            import tensorflow_datasets as tfds  # optional and slow to import: only when used

            with tfds.testing.mock_data(num_examples=4 * batch):
                ds = images.load_tfds(name, batch_size=batch, seed=cfg["seed"])
        else:
            ds = images.load_tfds(name, batch_size=batch, seed=cfg["seed"])
        info = {"kind": "image"}
        if registry.is_conditional(cfg):
            ds = ds.map(lambda x, y, *rest: (x, tf.cast(y, tf.int32))).repeat()
            shape = tuple(ds.element_spec[0].shape[1:])
            info["num_classes"] = cfg["num_classes"] or (10 if name == "digits" else None)
            if info["num_classes"] is None:
                raise ValueError(
                    f"Set num_classes for the labelled dataset {name!r}. Received: num_classes=None"
                )
        else:
            ds = ds.map(lambda x, *rest: x).repeat()
            shape = tuple(ds.element_spec.shape[1:])
        info["shape"] = shape
        return ds, info
    x = toy.load(name, cfg["num_train_samples"], seed=cfg["seed"])
    info = {"kind": "toy", "shape": (x.shape[1],), "sample": x[:2000]}
    if name in toy.mixture_names():
        info["mixture"] = toy.get_mixture(name)
    ds = (
        tf.data.Dataset.from_tensor_slices(x)
        .shuffle(min(len(x), 100_000), seed=cfg["seed"], reshuffle_each_iteration=True)
        .repeat()
        .batch(batch, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )
    return ds, info
