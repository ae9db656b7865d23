"""Flow speed: kerasgan MAF against PyTorch zuko, and the distilled IAF's sampling speed-up.

One process, 2 threads each, same architecture (5 MAF transforms, MADE 2 x 256
hidden units, ReLU, alternating orders), batch 512, Adam(1e-3):

1. training steps/s of ``FlowModel.fit`` (library default: XLA on one device)
   against a zuko ``MAF`` training loop, at D = 8 and D = 64;
2. drawing 10,000 samples (compiled ``FlowModel.sample``; MAF sampling is D
   sequential passes) against zuko's ``flow().sample`` under ``no_grad``;
3. sampling 10,000 points from an IAF student against its MAF teacher (same
   sizes) at D = 8, 64, 256: the student needs one pass, the teacher D.

Ours is timed inside ``fit`` with a batch-end clock after a warm-up ``fit``
(compilation excluded); zuko after warm-up steps. Medians over windows;
windows during which other processes used >= 10% of the CPU are flagged.

Usage:
    python benchmarks/flow_speed.py [--quick] [--dims 8,64] [--sample-dims 8,64,256]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import torch  # noqa: E402
import zuko  # noqa: E402
from gan_step import BatchEndClock, IdleWaiter, _cpu_sample, foreign_share, summarize  # noqa: E402

from kerasgan import flows  # noqa: E402

HIDDEN = (256, 256)
TRANSFORMS = 5
BATCH = 512


def ours(d, inverse=False):
    cls = flows.IAF if inverse else flows.MAF
    orders = ["left-to-right", "right-to-left"]
    return flows.FlowModel(
        (d,), [cls(HIDDEN, input_order=orders[k % 2]) for k in range(TRANSFORMS)]
    )


def data(d, n=BATCH * 32, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(d, d)) / np.sqrt(d)
    return (rng.normal(size=(n, d)) @ a + 0.5).astype("float32")


def time_ours_training(d, steps, windows, wait):
    keras.utils.set_random_seed(0)
    model = ours(d)
    model.compile(keras.optimizers.Adam(1e-3))  # library default jit_compile=None
    x = data(d)
    ds = tf.data.Dataset.from_tensor_slices(x).batch(BATCH, drop_remainder=True).repeat()
    clock = BatchEndClock()
    model.fit(ds, steps_per_epoch=20, epochs=1, verbose=0, callbacks=[clock])
    window = max(steps // windows, 1)
    wait()
    model.fit(ds, steps_per_epoch=1 + window * windows, epochs=1, verbose=0, callbacks=[clock])
    m = clock.marks
    w = [
        (
            window / (m[1 + (k + 1) * window][2] - m[1 + k * window][2]),
            foreign_share(m[1 + k * window], m[1 + (k + 1) * window]),
        )
        for k in range(windows)
    ]
    return summarize(w)[0], bool(model.jit_compile)


def zuko_flow(d):
    torch.manual_seed(0)
    return zuko.flows.MAF(d, transforms=TRANSFORMS, hidden_features=HIDDEN)


def time_zuko_training(d, steps, windows, wait):
    flow = zuko_flow(d)
    opt = torch.optim.Adam(flow.parameters(), lr=1e-3)
    x = torch.from_numpy(data(d))
    n_batches = len(x) // BATCH
    i = 0

    def step():
        nonlocal i
        b = x[(i % n_batches) * BATCH : (i % n_batches + 1) * BATCH]
        i += 1
        loss = -flow().log_prob(b).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(20):
        step()
    window = max(steps // windows, 1)
    wait()
    w = []
    for _ in range(windows):
        s0 = _cpu_sample()
        for _ in range(window):
            step()
        s1 = _cpu_sample()
        w.append((window / (s1[2] - s0[2]), foreign_share(s0, s1)))
    return summarize(w)[0]


def sampler(model, n):
    return lambda: model.sample(n, seed=0).numpy()


def zuko_sampler(flow, n):
    def fn():
        with torch.no_grad():
            flow().sample((n,))

    return fn


def best_time(fn, repeats):
    fn()  # warm-up / trace
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run (< 2 min)")
    p.add_argument("--dims", default="8,64")
    p.add_argument("--sample-dims", default="8,64,256")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--windows", type=int, default=5)
    p.add_argument("--n-samples", type=int, default=10_000)
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    steps, repeats = (40, 2) if args.quick else (args.steps, 5)
    wait = (lambda: None) if args.quick else IdleWaiter(300)
    print(
        f"tensorflow {tf.__version__} | keras {keras.__version__} | torch {torch.__version__} | "
        f"zuko {zuko.__version__} | MAF {TRANSFORMS} x MADE{list(HIDDEN)}, batch {BATCH}"
    )
    rows = []
    for d in [int(v) for v in args.dims.split(",")]:
        z = time_zuko_training(d, steps, args.windows, wait)
        o, jit = time_ours_training(d, steps, args.windows, wait)
        z2 = time_zuko_training(d, steps, args.windows, wait)
        zt = statistics.median([z, z2])
        rows.append((f"MAF training, D={d} (steps/s)", o, zt, o / zt, f"XLA={jit}"))
        print(rows[-1])
        n = args.n_samples
        t_ours = best_time(sampler(ours(d), n), repeats)
        t_zuko = best_time(zuko_sampler(zuko_flow(d), n), repeats)
        rows.append((f"MAF sampling {n}, D={d} (s)", t_ours, t_zuko, t_zuko / t_ours, ""))
        print(rows[-1])
    for d in [int(v) for v in args.sample_dims.split(",")]:
        n = args.n_samples
        t_t = best_time(sampler(ours(d), n), repeats)
        t_s = best_time(sampler(ours(d, inverse=True), n), repeats)
        rows.append(
            (f"IAF student vs MAF teacher sampling {n}, D={d} (s)", t_s, t_t, t_t / t_s, "")
        )
        print(rows[-1])
    print(
        "\n| measurement | ours / student | peer (zuko) / teacher | ratio (>1: ours faster) | note |"
    )
    print("|---|---|---|---|---|")
    for name, a, b, r, note in rows:
        print(f"| {name} | {a:.4g} | {b:.4g} | {r:.2f} | {note} |")


if __name__ == "__main__":
    main()
