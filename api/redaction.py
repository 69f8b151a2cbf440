"""Secrets kept out of logs: a feed's URL carries its token, so logged paths show /feeds/***."""

from __future__ import annotations

import logging
import re

FEED_TOKEN = re.compile(r"/feeds/[^/\s?\"]+")


def redact(text: str) -> str:
    return FEED_TOKEN.sub("/feeds/***", text)


class RedactFeedTokens(logging.Filter):
    """For the access log, whose records carry the request path as an argument."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True
