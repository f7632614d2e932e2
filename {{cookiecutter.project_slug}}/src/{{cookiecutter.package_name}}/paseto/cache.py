"""A bounded memory of tokens already verified, so that a token seen before costs a lookup, not a decryption.

Keyed by the token's exact text: the same text is the same token, already checked in full. What can
change with time is checked again on every hit (expiry here, revocation by the caller). It belongs
to one key ring: when the ring is replaced (a key rotated in), it starts empty.
"""

import itertools
import threading
import time
from typing import Any

__all__ = ["VerifiedTokens"]


class VerifiedTokens:
    def __init__(self, capacity: int = 4096) -> None:
        self._capacity = capacity
        self._entries: dict[str, tuple[dict[str, Any], float]] = {}
        self._ring: object = None
        self._lock = threading.Lock()  # for writers; a read is one dict lookup

    def get(self, ring: object, token: str) -> tuple[dict[str, Any], float] | None:
        """The claims of a verified token and the (wall-clock) time until which they are valid."""
        if ring is not self._ring:
            return None
        return self._entries.get(token)

    def put(self, ring: object, token: str, claims: dict[str, Any], valid_until: float) -> None:
        if self._capacity <= 0 or valid_until <= time.time():
            return
        with self._lock:
            if ring is not self._ring:
                self._entries, self._ring = {}, ring
            elif len(self._entries) >= self._capacity:
                # Full: keep the newer half (dicts keep insertion order). One copy every capacity/2
                # insertions, instead of a slow pop from the front of the dict each time.
                kept = itertools.islice(self._entries.items(), len(self._entries) // 2, None)
                self._entries = dict(kept)
            self._entries[token] = (claims, valid_until)

    def discard(self, token: str) -> None:
        with self._lock:
            self._entries.pop(token, None)

    @property
    def size(self) -> int:
        return len(self._entries)
