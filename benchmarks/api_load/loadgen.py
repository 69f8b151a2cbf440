"""A small load generator: N keep-alive HTTP/1.1 connections on loopback, each sending one
request after another for a fixed time; latency of every response, status counts, throughput.

Plain asyncio streams rather than an HTTP client library, so that the client costs little
next to the server it measures.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Outcome:
    seconds: float
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0

    def summary(self) -> dict[str, object]:
        return {
            "requests": len(self.latencies),
            "rps": round(self.throughput),
            "p50_ms": round(1000 * self.percentile(50), 2),
            "p99_ms": round(1000 * self.percentile(99), 2),
            "max_ms": round(1000 * max(self.latencies, default=0.0), 1),
            "statuses": dict(sorted(self.statuses.items())),
            "errors": dict(self.errors),
        }


def request_bytes(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    status = int(status_line.split()[1])
    length = int(headers.get("content-length", "0"))
    if length:
        await reader.readexactly(length)
    return status, headers


async def connection(
    port: int, request: bytes, start: float, stop: float, outcome: Outcome
) -> None:
    reader = writer = None
    while time.perf_counter() < stop:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert reader is not None
            sent = time.perf_counter()
            writer.write(request)
            status, _ = await read_response(reader)
            if sent >= start:  # the warm-up is not counted
                outcome.latencies.append(time.perf_counter() - sent)
                outcome.statuses[status] += 1
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            outcome.errors[type(exc).__name__] += 1
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.01)
    if writer is not None:
        writer.close()


async def load(
    port: int,
    path: str,
    headers: dict[str, str],
    *,
    clients: int,
    seconds: float,
    warmup: float = 1.0,
) -> Outcome:
    """`clients` connections hammering `path` for `warmup` + `seconds`."""
    request = request_bytes(path, headers)
    start = time.perf_counter() + warmup
    stop = start + seconds
    outcome = Outcome(seconds)
    await asyncio.gather(*(connection(port, request, start, stop, outcome) for _ in range(clients)))
    return outcome


def get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str]]:
    """One request (for set-up: ETags, checks)."""

    async def once() -> tuple[int, dict[str, str]]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request_bytes(path, headers or {}))
        try:
            return await read_response(reader)
        finally:
            writer.close()

    return asyncio.run(once())
