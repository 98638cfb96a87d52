"""One retry policy for every request: bounded backoff with jitter, Retry-After honoured."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 10.0
    total_budget: float = 60.0
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)
    rand: Callable[[], float] = field(default=random.random, compare=False)

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before attempt number `attempt + 1` (attempts count from 1)."""
        hinted = parse_retry_after(retry_after, self.clock) if retry_after else None
        if hinted is not None:
            # The server's word wins; `with_retries` gives up if it does not fit the budget.
            return min(hinted, self.total_budget)
        backoff = min(self.max_delay, self.base_delay * (2.0 ** (attempt - 1)))
        # "Full jitter" keeps concurrent clients from retrying in lockstep.
        jitter: float = 0.5 + self.rand() / 2
        return backoff * jitter


def parse_retry_after(value: str, clock: Callable[[], float] = time.monotonic) -> float | None:
    value = value.strip()
    if re.fullmatch(r"[0-9]{1,9}", value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError, OSError):
        return None


def _env_float(env: Mapping[str, str], name: str, default: float) -> float:
    try:
        value = float(env.get(name, ""))
    except ValueError:
        return default
    return value if 0 <= value < 3600 else default


def policy_from_env(env: Mapping[str, str]) -> RetryPolicy:
    """The default policy; tests shorten its waits through these undocumented variables."""
    default = RetryPolicy()
    return RetryPolicy(
        attempts=max(1, int(_env_float(env, "PYPI_PUBLISH_RETRY_ATTEMPTS", default.attempts))),
        base_delay=_env_float(env, "PYPI_PUBLISH_RETRY_BASE_DELAY", default.base_delay),
        max_delay=_env_float(env, "PYPI_PUBLISH_RETRY_MAX_DELAY", default.max_delay),
        read_timeout=_env_float(env, "PYPI_PUBLISH_READ_TIMEOUT", default.read_timeout),
        connect_timeout=_env_float(env, "PYPI_PUBLISH_CONNECT_TIMEOUT", default.connect_timeout),
    )
