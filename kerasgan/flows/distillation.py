"""Probability density distillation: a fast-sampling student (IAF) learns a fast-density teacher (MAF)."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from kerasgan import distribute
from kerasgan import losses as losses_lib
from kerasgan._internal import data_checks as _data_checks
from kerasgan._internal.checks import check_positive_int
from kerasgan._internal.jit import resolve_jit_compile
from kerasgan.flows.model import FlowModel
from kerasgan.flows.targets import EnergyTarget
from kerasgan.saving import OptimizerCompileMixin, SeedStateMixin

__all__ = ["DensityDistiller"]


@keras.saving.register_keras_serializable(package="kerasgan")
class DensityDistiller(OptimizerCompileMixin, SeedStateMixin, keras.Model):
    """Trains ``student`` to match a frozen ``teacher`` by minimizing KL(student || teacher).

    The loss is the Monte Carlo estimate on the student's own samples::

        KL(s || t) = E_{x ~ s}[ log s(x) - log t(x) ]
                   ~ mean_i [ log s(x_i) - log t(x_i) ],   x_i = f_s(z_i),  z_i ~ N(0, I)

    differentiated through the reparameterized samples. It suits the pair of
    Parallel WaveNet: the student (an IAF) samples in one pass and scores its
    own samples cheaply from the cached noise (sampling and ``log_prob`` run
    in the same traced step), the teacher (a MAF) scores any point in one
    pass. The teacher's weights are frozen and never updated.

    Train with ``fit(steps_per_epoch=N, epochs=E, batch_size=B)`` (no data:
    each step draws ``B`` student samples; for conditional flows pass the
    contexts as ``x``). Logs ``kl`` (nats).

    With an :class:`EnergyTarget` as teacher (an unnormalized ``log p~ =
    -U``), the same loss fits the student by reverse KL to the target and
    reads ``KL(s || p) - log Z`` (Rezende and Mohamed's planar/radial setting).

    Args:
        teacher: a trained :class:`FlowModel` (typically MAF layers) or an
            :class:`EnergyTarget`.
        student: a :class:`FlowModel` with the same event shape (typically IAF layers).
        seed: seed of the student's noise.
        anneal_steps: if > 0, the teacher's log-density is scaled by
            ``beta_t = min(1, 0.01 + t / anneal_steps)`` in the loss (Rezende and
            Mohamed's annealing, which helps a reverse-KL fit reach every mode of
            an energy); the logged ``kl`` is always the unscaled estimate.

    Returns:
        A ``keras.Model``.

    Example:
        >>> from kerasgan import flows
        >>> t = flows.FlowModel((2,), [flows.MAF([8])])
        >>> s = flows.FlowModel((2,), [flows.IAF([8])])
        >>> d = flows.DensityDistiller(t, s)
        >>> d.compile("adam")

    Reference:
        Parallel WaveNet: Fast High-Fidelity Speech Synthesis, van den Oord et
        al., 2018.
    """

    def __init__(self, teacher, student, seed=None, anneal_steps=0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(anneal_steps, bool) or not isinstance(anneal_steps, int) or anneal_steps < 0:
            raise ValueError(
                f"anneal_steps must be an int >= 0. Received: anneal_steps={anneal_steps!r}"
            )
        self.anneal_steps = anneal_steps
        if not isinstance(teacher, (FlowModel, EnergyTarget)):
            raise ValueError(
                "teacher must be a kerasgan.flows.FlowModel or EnergyTarget. Received: "
                f"{type(teacher).__name__}"
            )
        if not isinstance(student, FlowModel):
            raise ValueError(
                f"student must be a kerasgan.flows.FlowModel. Received: {type(student).__name__}"
            )
        if teacher.event_shape != student.event_shape:
            raise ValueError(
                "teacher and student must have the same event shape. Received: "
                f"teacher.event_shape={teacher.event_shape}, "
                f"student.event_shape={student.event_shape}"
            )
        if teacher.context_size != student.context_size:
            raise ValueError(
                "teacher and student must take the same context. Received: "
                f"context_size={teacher.context_size} and {student.context_size}"
            )
        self.teacher = teacher
        self.student = student
        self.teacher.trainable = False
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.built = True

    @property
    def metrics(self):
        return [self.kl_tracker]

    def call(self, inputs=None):
        return self.student.sample(1)

    def sample(self, n, context=None, seed=None):
        """Student samples (see :meth:`FlowModel.sample`)."""
        return self.student.sample(n, context=context, seed=seed)

    def _log_ratio(self, n, seed, context=None, with_teacher=False):
        """``(x, log s(x) - log t(x))`` for ``n`` student samples (one traced computation)."""
        student = self.student.distribution(context)
        replicas = distribute.num_replicas()
        if replicas > 1:
            # Every replica draws the global batch's base noise from the same seed and
            # keeps its own rows: different samples per replica, and exactly the
            # samples one device would draw for the same global batch.
            z = distribute.replica_slice(student.distribution.sample(n * replicas, seed=seed), n)
            x = student.bijector.forward(z)
        else:
            x = student.sample(n, seed=seed)
        log_s = student.log_prob(x)  # cached noise: no inverse pass for IAF students
        if isinstance(self.teacher, FlowModel):
            log_t = self.teacher.distribution(context).log_prob(x)
        else:  # an unnormalized target: the loss is KL - log Z
            log_t = tf.cast(self.teacher.log_prob(x), x.dtype)
        if with_teacher:
            return x, log_s - log_t, log_t
        return x, log_s - log_t

    def log_ratio(self, n, context=None, seed=None):
        """Student samples and ``log s(x) - log t(x)`` per sample (a compiled call).

        Args:
            n: number of samples.
            context: ``[n, C]`` or ``[C]`` for conditional flows.
            seed: optional int seed.

        Returns:
            ``(x [n, D], log_ratio [n])``; the mean of ``log_ratio`` estimates
            KL(student || teacher) in nats.
        """
        n = check_positive_int(n, "n")
        s = self.student._draw_seed(seed)
        if self.student.context_size:
            _, context = self.student._check_inputs(
                np.zeros((int(n),) + self.student.event_shape), context
            )
            return self._fn("ctx")(tf.constant(int(n)), s, context)
        return self._fn("plain")(tf.constant(int(n)), s)

    def _fn(self, key):
        cache = self.__dict__.setdefault("_fns", {})
        if key not in cache:
            if key == "ctx":
                cache[key] = tf.function(self._log_ratio, reduce_retracing=True)
            else:
                cache[key] = tf.function(lambda n, s: self._log_ratio(n, s), reduce_retracing=True)
        return cache[key]

    def warm_start(self, num_samples=50_000, epochs=3, batch_size=512, optimizer=None, verbose=0):
        """Fits the student by maximum likelihood on teacher samples (forward KL(t || s)).

        Reverse KL is mode-seeking: a student that starts unimodal can settle on
        one mode of a multimodal teacher (measured: KL 1.2 nats = -log 0.3, one
        component of ``gauss3``). A few epochs of maximum likelihood on teacher
        samples first (the IAF's density of arbitrary points costs D passes, so
        this is slower per step than distillation) cover every mode; the
        reverse-KL ``fit`` then refines.

        Args:
            num_samples: teacher samples to fit (unconditional flows only).
            epochs, batch_size: of the maximum-likelihood fit.
            optimizer: default ``Adam(1e-3)``.
            verbose: passed to ``fit``.

        Returns:
            The ``History`` of the student's maximum-likelihood fit.
        """
        if not isinstance(self.teacher, FlowModel):
            raise ValueError(
                "warm_start needs a FlowModel teacher to sample from. Received: "
                f"{type(self.teacher).__name__}"
            )
        if self.student.context_size:
            raise ValueError("warm_start supports unconditional flows only.")
        x = self.teacher.sample(int(num_samples), seed=self.seed).numpy()
        if not getattr(self.student, "compiled", False):
            self.student.compile(optimizer or keras.optimizers.Adam(1e-3))
        return self.student.fit(x, batch_size=batch_size, epochs=epochs, verbose=verbose)

    def kl(self, n=10000, context=None, seed=None):
        """Monte Carlo KL(student || teacher) in nats from ``n`` student samples."""
        return float(tf.reduce_mean(self.log_ratio(n, context, seed)[1]))

    def compile(self, optimizer="adam", jit_compile=None, steps_per_execution=1, **kwargs):
        """Configures the student's optimizer.

        Args:
            optimizer: optimizer for the student.
            jit_compile: XLA (``None``: on for one device, off under several replicas).
            steps_per_execution: train steps per compiled call.

        Returns:
            None.
        """

        self._remember_compile_args(jit_compile, steps_per_execution)
        jit_compile = resolve_jit_compile(jit_compile, model=self.student)
        super().compile(
            optimizer=optimizer,
            jit_compile=bool(jit_compile),
            steps_per_execution=steps_per_execution,
            **kwargs,
        )
        self.optimizer.build(self.student.trainable_variables)

    def train_step(self, data):
        if isinstance(data, (tuple, list)):
            data = data[0]
        n = tf.shape(data)[0]
        context = data if self.student.context_size else None
        seed = tf.cast(self.seed_generator.next(), tf.int32)
        variables = self.student.trainable_variables
        with tf.GradientTape() as tape:
            _, log_ratio, log_t = self._log_ratio(n, seed, context, with_teacher=True)
            objective = log_ratio
            if self.anneal_steps:
                step = tf.cast(self.optimizer.iterations, log_t.dtype)
                beta = tf.minimum(1.0, 0.01 + step / float(self.anneal_steps))
                objective = log_ratio + (1.0 - beta) * log_t  # log s - beta log t
            loss = losses_lib.global_batch_mean(objective)
        grads = tape.gradient(loss, variables)
        self.optimizer.apply(grads, variables)
        self.kl_tracker.update_state(log_ratio)
        return distribute.replica_logs({"kl": self.kl_tracker.result()})

    def fit(self, x=None, y=None, batch_size=256, steps_per_epoch=None, **kwargs):
        """``keras.Model.fit`` without data: ``steps_per_epoch`` steps of ``batch_size`` samples.

        For conditional flows pass the contexts as ``x`` (``[N, C]``); each
        step then draws one student sample per context. Contexts must be
        numeric, non-empty and finite after the casts into the flows (to
        ``floatx``, then to the flows' compute dtype); a dataset of contexts
        is checked as it streams.

        Args:
            x: ``None`` (data-free), or contexts ``[N, C]`` (array, list or
                ``tf.data.Dataset``) for conditional flows.
            y: unused (as for ``keras.Model.fit``).
            batch_size: samples per step.
            steps_per_epoch: steps per epoch (required without data).
            **kwargs: other ``keras.Model.fit`` arguments.

        Returns:
            The ``History``.

        Raises:
            ValueError: a bad ``steps_per_epoch``/``batch_size``, a missing
                context, or contexts that are non-numeric, empty, of the wrong
                shape or non-finite in the compute dtype.
        """
        if x is None:
            if steps_per_epoch is None or int(steps_per_epoch) < 1:
                raise ValueError(
                    "Without data, fit needs steps_per_epoch >= 1. Received: "
                    f"steps_per_epoch={steps_per_epoch!r}"
                )
            if self.student.context_size:
                raise ValueError(
                    "A conditional student needs contexts: fit(x=contexts). Received: x=None"
                )
            if int(batch_size) < 1:
                raise ValueError(f"batch_size must be >= 1. Received: batch_size={batch_size!r}")
            x = tf.data.Dataset.from_tensors(tf.zeros([int(batch_size), 0])).repeat()
            kwargs.setdefault("shuffle", False)
            return super().fit(x, steps_per_epoch=int(steps_per_epoch), **kwargs)
        x = self._checked_contexts(x)
        with _data_checks.as_value_error():
            history = super().fit(
                x, y, batch_size=batch_size, steps_per_epoch=steps_per_epoch, **kwargs
            )
        return _data_checks.require_history(history, type(self).__name__, (), kwargs)

    def _checked_contexts(self, x):
        """``fit``'s ``x`` checked: contexts of a conditional student, else row counts."""
        owner = type(self).__name__
        size = self.student.context_size
        dtypes = [self.student.compute_dtype]
        if isinstance(self.teacher, FlowModel):
            dtypes.append(self.teacher.compute_dtype)
        if isinstance(x, tf.data.Dataset):
            _data_checks.require_batches(x, owner)
            if not size:
                return x
            dtype = _data_checks.narrowest(dtypes)
            return _data_checks.checked(x, first_only=True, dtype=dtype, names=("context",))
        if isinstance(x, dict):
            raise ValueError(
                f"{owner}.fit takes contexts as an array [N, C] or a dataset. Received: a "
                f"dict with keys {sorted(x)}"
            )
        arr = _data_checks.numeric_array(x)
        _data_checks.require_rows(arr)
        if size:
            if arr.ndim != 2 or arr.shape[1] != size:
                raise ValueError(
                    f"x must hold contexts of shape [N, {size}] (one per student sample). "
                    f"Received: x with shape {arr.shape}"
                )
            _data_checks.check_finite(arr, _data_checks.array_dtypes(arr, dtypes))
        return x if isinstance(x, tf.Tensor) else arr

    def get_config(self):
        config = super().get_config()
        config.update(
            teacher=keras.saving.serialize_keras_object(self.teacher),
            student=keras.saving.serialize_keras_object(self.student),
            seed=self.seed,
            anneal_steps=self.anneal_steps,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["teacher"] = keras.saving.deserialize_keras_object(config["teacher"])
        config["student"] = keras.saving.deserialize_keras_object(config["student"])
        return cls(**config)
