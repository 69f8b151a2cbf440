"""The ways a notification leaves: a signed webhook, an email over SMTP, a local JSON-lines file.

Each sender raises on failure, so the outbox retries. Every message carries the notification's
idempotency key (a header; the Message-ID of an email; a field of a file line), so that a
receiver can drop the duplicate of a delivery that was retried after it had in fact arrived.
"""

from __future__ import annotations

import email.message
import email.utils
import hashlib
import hmac
import json
import smtplib
from pathlib import Path
from typing import Any

import httpx

SIGNATURE_HEADER = "X-Offseason-Signature"
TIMESTAMP_HEADER = "X-Offseason-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
OUTBOX_FILE = "notifications.jsonl"


class DeliveryFailed(Exception):
    """A channel could not deliver; the outbox will retry."""


# --- Webhooks ------------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>": the timestamp is signed so a capture cannot be
    replayed later with a fresh one."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify_signature(
    secret: str,
    body: bytes,
    *,
    signature: str,
    timestamp: str,
    now: float,
    tolerance: float = 300.0,
) -> bool:
    """What a receiver checks: the signature matches and the timestamp is recent."""
    try:
        stamp = int(timestamp)
    except ValueError:
        return False
    if abs(now - stamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, stamp, body), signature)


def webhook_request(
    secret: str, key: str, payload: dict[str, Any], timestamp: int
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one webhook delivery."""
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        TIMESTAMP_HEADER: str(timestamp),
        IDEMPOTENCY_HEADER: key,
    }
    return body, headers


def send_webhook(
    client: httpx.Client,
    url: str,
    *,
    secret: str,
    key: str,
    payload: dict[str, Any],
    timestamp: int,
) -> None:
    body, headers = webhook_request(secret, key, payload, timestamp)
    try:
        response = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{url}: {exc}") from exc
    if not response.is_success:
        raise DeliveryFailed(f"{url}: HTTP {response.status_code}")


# --- Email ---------------------------------------------------------------------------------


def email_message(
    *, sender: str, to: str, subject: str, text: str, key: str
) -> email.message.EmailMessage:
    message = email.message.EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = email.utils.formatdate(usegmt=True)
    message["Message-ID"] = f"<{key}@offseason>"
    message[IDEMPOTENCY_HEADER] = key
    message.set_content(text)
    return message


def send_email(
    message: email.message.EmailMessage,
    *,
    host: str,
    port: int,
    timeout: float,
    username: str | None = None,
    password: str | None = None,
    starttls: bool = False,
) -> None:
    try:
        with smtplib.SMTP(host, port, timeout=timeout) as smtp:
            if starttls:
                smtp.starttls()
            if username:
                smtp.login(username, password or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryFailed(f"smtp {host}:{port}: {exc}") from exc


# --- Local file ----------------------------------------------------------------------------


def append_to_outbox_file(directory: Path, key: str, record: dict[str, Any]) -> bool:
    """Append one JSON line unless a line with this key is already there (False then).

    The check makes the file exactly-once even when a delivery is retried after a crash.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / OUTBOX_FILE
    if path.exists():
        with path.open(encoding="utf-8") as lines:
            if any(
                json.loads(line).get("idempotency_key") == key for line in lines if line.strip()
            ):
                return False
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps({"idempotency_key": key, **record}, sort_keys=True) + "\n")
        out.flush()
    return True


def read_outbox_file(directory: Path) -> list[dict[str, Any]]:
    """Every line of the local outbox (what a planner's tooling or a test reads)."""
    path = directory / OUTBOX_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
