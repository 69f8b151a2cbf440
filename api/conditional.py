"""Conditional GETs: representations with a strong ETag and Last-Modified, answered with 304
when the client has them; and the caches that keep them rendered."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import functools
import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool

CACHE_CONTROL = "private, no-cache"  # always revalidate: a new version shows at once
K = TypeVar("K")
V = TypeVar("V")
Reading = tuple[int, "asyncio.Future[V]"]  # a read under way, and the generation it started in


@dataclass(frozen=True)
class Representation:
    body: bytes
    media_type: str
    etag: str
    last_modified: dt.datetime

    @staticmethod
    def of(body: bytes, media_type: str, last_modified: dt.datetime) -> Representation:
        """A strong ETag: the hash of the very bytes sent."""
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        return Representation(body, media_type, etag, last_modified)


class RepresentationCache:
    """Rendered representations by a key that names everything they depend on (so entries
    never go stale, they only fall out of use); least recently used ones are dropped."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, Representation] = OrderedDict()

    def get(self, key: Hashable) -> Representation | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: Hashable, made: Representation) -> None:
        with self._lock:
            self._items[key] = made
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def get_or_make(self, key: Hashable, make: Callable[[], Representation]) -> Representation:
        """The cached one, or `make()` (outside the lock: a slow render must not hold up the
        cached reads of other threads)."""
        hit = self.get(key)
        if hit is None:
            hit = make()
            self.put(key, hit)
        return hit


class Remembered(Generic[K, V]):
    """Values of a blocking read, kept `ttl` seconds (for good when None), the `size` most
    recently used. One read per key runs at a time, in a thread: callers that find no value
    await it together; callers that find an expired one get it while it is read again."""

    def __init__(self, ttl: float | None = None, size: int = 1024) -> None:
        self.ttl, self.size = ttl, size
        self._lock = threading.Lock()
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._reads: dict[K, Reading[V]] = {}
        self._generation = 0

    async def get(self, key: K, read: Callable[[], V]) -> V:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        reading = self._reads.get(key)
        if reading is None or reading[0] != self._generation:
            reading = (self._generation, asyncio.ensure_future(run_in_threadpool(read)))
            self._reads[key] = reading
            reading[1].add_done_callback(functools.partial(self._read, key, reading))
        if hit is not None:
            return hit[1]
        return await asyncio.shield(reading[1])

    def _read(
        self, key: K, reading: tuple[int, asyncio.Future[V]], done: asyncio.Future[V]
    ) -> None:
        if self._reads.get(key) is reading:
            del self._reads[key]
        if done.cancelled() or done.exception() is not None:
            return  # nothing kept: the next caller reads again
        with self._lock:
            if reading[0] != self._generation:
                return  # forgotten while it was read
            expires = math.inf if self.ttl is None else time.monotonic() + self.ttl
            self._items[key] = (expires, done.result())
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def forget(self, unwanted: Callable[[V], bool] | None = None) -> None:
        """Drop the values `unwanted` picks (all of them by default), and let no read that is
        running now keep its value (it may have started before a change). Thread-safe."""
        with self._lock:
            self._generation += 1
            for key, (_, value) in list(self._items.items()):
                if unwanted is None or unwanted(value):
                    del self._items[key]


def etag_matches(header: str, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 13.1.2)."""
    if header.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in header.split(","))


def not_modified_since(header: str, last_modified: dt.datetime) -> bool:
    try:
        since = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    return last_modified.replace(microsecond=0) <= since


def conditional_response(request: Request, rep: Representation, **headers: str) -> Response:
    """200 with the body, or 304 when the client's copy is current (If-None-Match first,
    If-Modified-Since only without it)."""
    common = {
        "ETag": rep.etag,
        "Last-Modified": email.utils.format_datetime(rep.last_modified.astimezone(dt.UTC), True),
        "Cache-Control": CACHE_CONTROL,
        **headers,
    }
    match = request.headers.get("if-none-match")
    since = request.headers.get("if-modified-since")
    if (match is not None and etag_matches(match, rep.etag)) or (
        match is None and since is not None and not_modified_since(since, rep.last_modified)
    ):
        return Response(status_code=304, headers=common)
    return Response(rep.body, media_type=rep.media_type, headers=common)
