"""The task kinds, one module each, registered with :mod:`kerasgan.runner.registry`.

A task is ``run(cfg, run_dir, strategy) -> result``: it builds and compiles the
model in the strategy's scope, fits it with :func:`kerasgan.runner.loop.fit_checked`,
evaluates, writes ``samples.png`` and exports. A new kind (``translate``...) is a new
module here and one :func:`register_task` line.
"""

from kerasgan.runner.registry import register_task
from kerasgan.runner.tasks import distill, flow, gan, image_flow

register_task("gan", gan.run)
register_task("flow", flow.run)
register_task("image_flow", image_flow.run)
register_task("distill", distill.run)

__all__ = ["distill", "flow", "gan", "image_flow"]
