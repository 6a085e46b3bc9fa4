"""Signed URLs for downloads and uploads: an HMAC over path and expiry, which is read on the
emulator's clock (wall time), so a test can let a URL expire by advancing it."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timezone

from .clock import Clock
from .jobs import iso


class Signer:
    """Signs ``path`` until ``now + ttl`` and checks signatures, with a per-emulator secret."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._secret = secrets.token_bytes(16)

    def _sign(self, path: str, expires: int) -> str:
        return hmac.new(self._secret, f"{path}|{expires}".encode(), hashlib.sha256).hexdigest()[:32]

    def url(self, base: str, path: str, ttl: float) -> tuple[str, str]:
        """The signed URL of ``path`` under ``base``, and its expiry as an ISO timestamp."""
        expires = int(self.clock.time() + ttl)
        when = datetime.fromtimestamp(expires, timezone.utc)
        return f"{base}{path}?expires={expires}&sig={self._sign(path, expires)}", iso(when)

    def ok(self, path: str, expires: str, sig: str) -> bool:
        """Whether ``sig`` signs ``path`` until ``expires`` and that moment is still ahead."""
        try:
            until = int(expires)
        except ValueError:
            return False
        good = hmac.compare_digest(sig.encode(), self._sign(path, until).encode())
        return good and until > self.clock.time()
