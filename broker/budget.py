"""A per-account budget for Alice Blue's non-order calls (order books, positions, limits, profile...).

Alice Blue allows about 1,800 such calls per account per 15 minutes and does not limit order calls. The
budget is a moving window kept by the `limits` library in a storage every process shares (Redis in
production; this process's memory otherwise), so web, workers and beat together stay inside it. A call over
budget is never sent: the transport raises BrokerRateLimitedError (retry later) instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from limits import RateLimitItem, parse, storage, strategies

NAMESPACE = "alice-blue-non-order"


@dataclass(frozen=True)
class BudgetUse:
    """How much of one account's budget is used in the current window."""

    account: str
    used: int
    remaining: int
    resets_in: float


class CallBudget:
    """`rate` ("1700 per 15 minutes") of non-order calls per account, counted in `storage_uri`."""

    def __init__(self, *, rate: str, storage_uri: str) -> None:
        self.rate: RateLimitItem = parse(rate)
        self.storage_uri = storage_uri
        self._storage = storage.storage_from_string(storage_uri)
        self._limiter = strategies.MovingWindowRateLimiter(self._storage)

    @property
    def storage_kind(self) -> str:
        return self.storage_uri.split(":", 1)[0]

    def spend(self, account: str) -> bool:
        """Count one call for `account`; False (and nothing counted) when its budget is used up."""
        return self._limiter.hit(self.rate, NAMESPACE, account)

    def use(self, account: str) -> BudgetUse:
        stats = self._limiter.get_window_stats(self.rate, NAMESPACE, account)
        return BudgetUse(
            account=account,
            used=self.rate.amount - stats.remaining,
            remaining=stats.remaining,
            resets_in=max(stats.reset_time - time.time(), 0.0),
        )

    def reset(self, account: str) -> None:
        """Forget the account's calls (tests, and an operator who knows the broker's window restarted)."""
        self._limiter.clear(self.rate, NAMESPACE, account)

    def reset_all(self) -> None:
        """Forget every account's calls (tests)."""
        self._storage.reset()
