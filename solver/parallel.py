"""One piece of pure work done on the other core while the solve goes on.

A solve is Python between CP-SAT runs; on a national plan the lower bound (5 s) and the check of
the first schedule (5 s) each hold one core while the other idles, as do the pre-checks and the
construction before them. Neither of a pair needs what the other makes, so one of them runs in a
forked child: the child starts with the parent's memory (the course domains already built),
computes, and sends back its pickled answer. `result()` is asked once. Where fork is not
available, or the child fails for any reason, the work is done in the parent instead: the answer
never depends on where it was computed.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import select
import signal
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from solver.heap import hold_heap, release_heap

T = TypeVar("T")


class Aside(Generic[T]):
    """`fn()` computed in a forked child (`in_child`), or in the parent when asked for."""

    def __init__(self, fn: Callable[[], T], in_child: bool) -> None:
        self.fn = fn
        self.pid: int | None = None
        self.fd: int | None = None
        self.seconds = 0.0  # how long the work itself took, wherever it ran
        self.held = False
        if in_child and hasattr(os, "fork"):
            self._fork()

    def _fork(self) -> None:
        read, write = os.pipe()
        # Objects alive now are left out of garbage collections until the answer is in.
        self.held = hold_heap()
        try:
            pid = os.fork()
        except OSError:  # no memory or processes left: do it in the parent
            self._release()
            os.close(read)
            os.close(write)
            return
        if pid == 0:  # the child: compute, answer, leave without running the parent's exits
            os.close(read)
            code = 0
            gc.disable()  # a short life: what it makes is freed when it exits
            try:
                started = time.monotonic()
                payload = pickle.dumps((self.fn(), time.monotonic() - started))
                with os.fdopen(write, "wb") as out:
                    out.write(payload)
            except BaseException:  # noqa: BLE001 - the parent computes it again
                code = 1
            os._exit(code)
        os.close(write)
        self.pid, self.fd = pid, read

    @property
    def in_child(self) -> bool:
        """Whether a child is working on it (else `result()` computes it in the parent)."""
        return self.pid is not None

    def ready(self, wait: float = 0.0) -> bool:
        """Whether `result()` would answer now without waiting for the child: it has begun
        to send its answer, or it has gone (waiting up to `wait` seconds for that). True
        without a child."""
        if self.fd is None:
            return True
        readable, _, _ = select.select([self.fd], [], [], max(0.0, wait))
        return bool(readable)

    def result(self) -> T:
        """The answer: the child's when it gave one, else computed here and now."""
        if self.pid is not None and self.fd is not None:
            with os.fdopen(self.fd, "rb") as answer:
                data = answer.read()
            self.fd = None
            _, status = os.waitpid(self.pid, 0)
            self.pid = None
            self._release()
            if os.waitstatus_to_exitcode(status) == 0 and data:
                value, self.seconds = pickle.loads(data)
                return value  # type: ignore[no-any-return]
        started = time.monotonic()
        value = self.fn()
        self.seconds = time.monotonic() - started
        return value

    def close(self) -> None:
        """Stop a child whose answer is no longer wanted (the solve ended another way)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.pid = None
            self._release()

    def _release(self) -> None:
        release_heap(self.held)
        self.held = False
