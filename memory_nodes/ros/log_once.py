"""One cause, one warning: the stack's log-once helper (every node logs repeated trouble through it).

    self.log_once = LogOnce(self.get_logger(), "bad input")
    self.log_once.warning(e.cause, str(e))

The first report of a cause is a warning (or an error) naming the cause; later reports of the same cause go
to debug level, numbered, so a stream of bad messages never floods the log. With ``repeat_s`` a cause is
warned again once that much (monotonic) time has passed since its last warning (a throttle). Thread-safe:
the planner reports from several executor threads.
"""
from __future__ import annotations

import threading
import time
from typing import Callable, Dict, Optional


class LogOnce:
    """Per-cause log throttle over an rclpy logger (see the module docstring)."""

    def __init__(self, logger, subject: str = "", repeat_s: Optional[float] = None,
                 clock: Callable[[], float] = time.monotonic):
        self._logger = logger
        self._subject = subject
        self._repeat_s = repeat_s
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: Dict[str, int] = {}
        self._last_loud: Dict[str, float] = {}

    def warning(self, cause: str, detail: str) -> bool:
        """Report ``cause``; True when it went out at warning level."""
        return self._report(cause, detail, self._logger.warning)

    def error(self, cause: str, detail: str) -> bool:
        """Report ``cause``; True when it went out at error level."""
        return self._report(cause, detail, self._logger.error)

    def count(self, cause: str) -> int:
        """How often ``cause`` was reported."""
        with self._lock:
            return self._counts.get(cause, 0)

    def counts(self) -> Dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def _report(self, cause: str, detail: str, loud: Callable[[str], None]) -> bool:
        now = self._clock()
        with self._lock:
            n = self._counts.get(cause, 0) + 1
            self._counts[cause] = n
            last = self._last_loud.get(cause)
            is_loud = last is None or (self._repeat_s is not None and now - last >= self._repeat_s)
            if is_loud:
                self._last_loud[cause] = now
        if is_loud:
            loud(self._loud_text(cause, detail))
        else:
            self._logger.debug(f"{self._subject} ({cause}) #{n}: {detail}" if self._subject else detail)
        return is_loud

    def _loud_text(self, cause: str, detail: str) -> str:
        if not self._subject:
            return detail
        if self._repeat_s is not None:
            return f"{self._subject} ({cause}): {detail}"
        return f"{self._subject} ({cause}): {detail} [further '{cause}' are logged at debug level]"
