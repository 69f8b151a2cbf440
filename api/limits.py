"""Request size limits: a body over its limit is refused with a 413 problem, before it is read
when its Content-Length says so, and as soon as it grows past the limit otherwise."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem_response


class BodyTooLarge(HTTPException):
    """Raised while a body is read (FastAPI passes HTTP errors on to the error handlers)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is over the {limit} bytes allowed here")


class BodyLimit:
    """Bodies up to `default` bytes; more for the (method, path) pairs in `larger`."""

    def __init__(
        self, app: ASGIApp, *, default: int, larger: Mapping[tuple[str, str], int]
    ) -> None:
        self.app, self.default, self.larger = app, default, dict(larger)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get((scope["method"], scope["path"]), self.default)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            too_large = BodyTooLarge(limit)
            await problem_response(413, too_large.detail)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)
