"""Server-side batching: concurrent predict requests for one signature share one model call.

As TF Serving's ``--enable_batching``: requests queue per signature; a batch closes when it
holds ``max_batch_size`` rows or its oldest request has waited ``batch_timeout`` seconds,
and runs as soon as one of the model threads is free, so that requests arriving while the
model is busy join the next call. Outputs are split back by each request's row count. A
batch the model rejects (one bad request among good ones, e.g. a label out of range) is
re-run request by request, so that every request gets the answer it would get alone.

Only signatures whose inputs and outputs all have a leading batch dimension and that draw
no random numbers are batched (:attr:`kerasgan.export.server.protocol.Signature.batchable`).
Rows computed in a larger batch can differ from rows computed alone in the last bits of
float32 (the matrix kernels sum in another order for another batch size), as they already
do between a request of 1 row and one of 16.
"""

from __future__ import annotations

import asyncio
import collections
import time

import numpy as np

__all__ = ["Batcher"]


class _Item:
    __slots__ = ("arrays", "rows", "future", "queued")

    def __init__(self, arrays, rows, future, queued):
        self.arrays = arrays
        self.rows = rows
        self.future = future
        self.queued = queued


class Batcher:
    """Merges concurrent calls of one signature into batches (one asyncio event loop).

    Args:
        sig: the :class:`~kerasgan.export.server.protocol.Signature` (batchable).
        slots: an ``asyncio.Semaphore`` with one slot per model thread, shared by all
            model calls of the server.
        executor: the thread pool the model calls run in (off the event loop).
        max_batch_size: most rows in one merged call.
        batch_timeout: seconds the oldest request of a batch waits for more requests
            before the batch closes (0: close at once when a model thread is free).
        on_batch: optional ``f(signature_name, rows, requests, queue_seconds,
            runtime_seconds)`` called after each model call (``queue_seconds``: one wait
            per request, from its arrival to the call).

    Example:
        Inside a coroutine, ``outputs = await batcher.submit({"z": z}, len(z))``.
    """

    def __init__(self, sig, slots, executor, max_batch_size, batch_timeout, on_batch=None):
        self.sig = sig
        self._slots = slots
        self._executor = executor
        self.max_batch_size = max_batch_size
        self.batch_timeout = batch_timeout
        self._on_batch = on_batch
        self._queue = collections.deque()
        self._rows = 0
        self._arrived = asyncio.Event()
        self._collector = None
        self._running = set()

    async def submit(self, arrays, rows) -> dict:
        """Queues one request's inputs; returns its outputs ``{name: np.ndarray}``.

        Args:
            arrays: ``{input name: np.ndarray}``, each with ``rows`` rows.
            rows: the request's row count (at most ``max_batch_size``).

        Raises:
            RequestError: if the model rejects this request's inputs.
        """
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.append(_Item(arrays, rows, future, time.perf_counter()))
        self._rows += rows
        self._arrived.set()
        if self._collector is None:
            self._collector = loop.create_task(self._collect())
        return await future

    async def _collect(self):
        try:
            while self._queue:
                await self._slots.acquire()
                try:
                    await self._fill()
                    items = self._take()
                except BaseException:
                    self._slots.release()
                    raise
                task = asyncio.get_running_loop().create_task(self._run(items))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
        finally:
            self._collector = None

    async def _fill(self):
        """Waits until the batch is full or its oldest request waited ``batch_timeout``."""
        if self.batch_timeout <= 0:
            return
        deadline = self._queue[0].queued + self.batch_timeout
        while self._rows < self.max_batch_size:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return
            self._arrived.clear()
            try:
                async with asyncio.timeout(remaining):
                    await self._arrived.wait()
            except TimeoutError:
                return

    def _take(self):
        items = [self._queue.popleft()]
        rows = items[0].rows
        while self._queue and rows + self._queue[0].rows <= self.max_batch_size:
            item = self._queue.popleft()
            items.append(item)
            rows += item.rows
        self._rows -= rows
        return items

    async def _run(self, items):
        start = time.perf_counter()
        try:
            results = await asyncio.get_running_loop().run_in_executor(
                self._executor, self._call, [(item.arrays, item.rows) for item in items]
            )
        except asyncio.CancelledError:  # shutting down
            for item in items:
                item.future.cancel()
            raise
        except Exception as e:  # e.g. the executor was shut down
            results = [e] * len(items)
        finally:
            self._slots.release()
            if self._on_batch is not None:
                end = time.perf_counter()
                self._on_batch(
                    self.sig.name,
                    sum(item.rows for item in items),
                    len(items),
                    [start - item.queued for item in items],
                    end - start,
                )
        for item, result in zip(items, results):
            if item.future.done():  # the request was cancelled meanwhile
                continue
            if isinstance(result, BaseException):
                item.future.set_exception(result)
            else:
                item.future.set_result(result)

    def _call(self, requests):
        """In a model thread: one call for all requests, or one each if the batch fails."""
        if len(requests) > 1:
            names = list(self.sig.inputs)
            merged = {k: np.concatenate([arrays[k] for arrays, _ in requests]) for k in names}
            total = sum(rows for _, rows in requests)
            try:
                outputs = self.sig.call(merged)
            except Exception:
                outputs = None  # one request may be at fault: answer each on its own
            if outputs is not None and all(v.shape[:1] == (total,) for v in outputs.values()):
                results, start = [], 0
                for _, rows in requests:
                    results.append({k: v[start : start + rows] for k, v in outputs.items()})
                    start += rows
                return results
        results = []
        for arrays, _ in requests:
            try:
                results.append(self.sig.call(arrays))
            except Exception as e:
                results.append(e)
        return results
