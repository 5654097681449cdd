"""A private asyncio loop in a daemon thread: the async SDK behind a sync face.

msgraph-sdk is async only and its httpx pool binds to the first loop that uses it, so a client
cannot be shared across ``asyncio.run`` calls (docs/graph-sdk-notes.md#the-sdk-is-async-only). One
long-lived loop per GraphApi lets
plain code, pytest and Prefect worker threads (which may run their own loops) all call it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    def __init__(self, name: str = "graph-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        if threading.current_thread() is self._thread:
            coro.close()
            # Blocking on our own loop from inside it would deadlock forever.
            raise RuntimeError("GraphApi's sync methods cannot be called from its own loop")
        if self.loop.is_closed():
            coro.close()
            raise RuntimeError("GraphApi is closed")
        # The caller's context variables go with the coroutine: a log line written on the loop
        # reaches the caller's run logs (a Prefect run is found from its context; flows/_logs.py).
        return asyncio.run_coroutine_threadsafe(_in_context(coro, contextvars.copy_context()), self.loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and wait for it (exceptions propagate unchanged)."""
        future = self.submit(coro)
        try:
            return future.result()
        except BaseException:
            future.cancel()        # e.g. KeyboardInterrupt in the caller: stop the work too
            raise

    def stop(self, final: Coroutine[Any, Any, Any] | None = None, timeout: float = 10.0) -> None:
        """Run ``final`` (cleanup) on the loop, then stop and close it. Idempotent."""
        if self.loop.is_closed():
            if final is not None:
                final.close()
            return
        if threading.current_thread() is self._thread:     # e.g. a GC finalizer on our loop
            if final is not None:
                final.close()
            self.loop.stop()
            return
        if final is not None:
            # Cleanup is best effort: never mask the caller's own error.
            with contextlib.suppress(Exception):
                self.submit(final).result(timeout)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self.loop.close()


async def _in_context(coro: Coroutine[Any, Any, T], context: contextvars.Context) -> T:
    """Run ``coro`` as a task in ``context``; cancelling the caller cancels it too."""
    return await asyncio.get_running_loop().create_task(coro, context=context)
