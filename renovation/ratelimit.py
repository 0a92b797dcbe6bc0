"""A sliding-window counter of events per key, kept in the process's memory.

Enough for one server process; a multi-process deployment would keep the
counts in the database or Redis instead.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque


class SlidingWindow:
    """At most `limit` events per key within `window_s` seconds."""

    def __init__(self, limit: int, window_s: float, clock=time.monotonic):
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self._events: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def _trim(self, key: str, now: float) -> deque:
        events = self._events[key]
        while events and now - events[0] > self.window_s:
            events.popleft()
        return events

    def is_exceeded(self, key: str) -> bool:
        with self._lock:
            return len(self._trim(key, self.clock())) >= self.limit

    def record(self, key: str) -> None:
        with self._lock:
            now = self.clock()
            self._trim(key, now).append(now)
