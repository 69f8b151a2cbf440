"""The garbage collector kept off a solve's long-lived data.

Python's full collections scan every tracked object. A solve's plan, course domains and the
schedule being checked live as long as the work that made them and hold no garbage, yet on a
national plan (a 900 MB heap) each full collection of them took 0.05-0.3 s: 0.9 s of a 4.5 s
repair, freeing nothing.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

# Scopes holding the heap frozen in this process (a fork's child starts with its parent's);
# solves may run in threads of one process, hence the lock.
_holds = 0
_lock = threading.Lock()


def hold_heap() -> bool:
    """Leave the objects alive now out of garbage collections until `release_heap`.

    A full collection scans every object: on a national plan (a 900 MB heap) each takes
    0.05-0.3 s and frees nothing, since the plan lives as long as the solve; beside a forked
    child it also writes to every page both processes share, so both copy them (measured: the
    check beside the child 3.4 s instead of 2.6 s). Holds nest; False (nothing done) when the
    heap was frozen by someone else, whose freeze is theirs to undo.
    """
    global _holds
    with _lock:
        if _holds == 0 and gc.get_freeze_count() > 0:
            return False
        _holds += 1
        gc.freeze()  # also freezes what was made since an outer hold
        return True


def release_heap(held: bool) -> None:
    """Undo `hold_heap`; the outermost release lets the collector see the heap again."""
    global _holds
    if not held:
        return
    with _lock:
        _holds -= 1
        if _holds == 0:
            gc.unfreeze()


@contextlib.contextmanager
def heap_held() -> Iterator[None]:
    held = hold_heap()
    try:
        yield
    finally:
        release_heap(held)


# Passes pausing the collector now, and whether it was on before the first of them.
_pauses = 0
_was_enabled = False


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No collections while a pass builds what it needs and drops it (a check, a
    construction): its objects are freed by reference counting when it ends, and any cycles
    it left are found by the next collection after it. Counted, so that passes in two threads
    cannot leave the collector off."""
    global _pauses, _was_enabled
    with _lock:
        if _pauses == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _lock:
            _pauses -= 1
            if _pauses == 0 and _was_enabled:
                gc.enable()
