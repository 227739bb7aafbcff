"""Position-aware exits, pure (no database, no broker): what a master order does to the master's position in
its instrument, and the share of a master close each follower closes (DESIGN 5.5).

A position is counted from orders, the master's and each follower's alike: the filled quantity of every order
(BUY +, SELL -), less what open orders on the reducing side may still take off (an unfilled close is already
spoken for). So a second close placed while the first is still open closes what the first will leave.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class Holding:
    """A position from orders: `filled` signed (long > 0), and the unfilled quantity of open BUY / SELL
    orders."""

    filled: int = 0
    open_buy: int = 0
    open_sell: int = 0

    @property
    def available(self) -> int:
        """The signed position that is not yet spoken for by an open order on the reducing side."""
        if self.filled > 0:
            return max(self.filled - self.open_sell, 0)
        if self.filled < 0:
            return -max(-self.filled - self.open_buy, 0)
        return 0

    @property
    def closed(self) -> bool:
        """Nothing held that is not already being closed, and no open order that would add to it."""
        if self.filled > 0:
            return self.available == 0 and self.open_buy == 0
        if self.filled < 0:
            return self.available == 0 and self.open_sell == 0
        return self.open_buy == 0 and self.open_sell == 0


def signed(side: str, quantity: int) -> int:
    return quantity if side.upper() == "BUY" else -quantity


@dataclass(frozen=True)
class Split:
    """A master order split against the master's position before it: the part that closes, the part that
    opens."""

    position_before: int
    close_quantity: int
    entry_quantity: int

    @property
    def kind(self) -> str:
        if self.close_quantity and self.entry_quantity:
            return "REVERSAL"
        return "CLOSE" if self.close_quantity else "ENTRY"


def split_order(*, position_before: int, side: str, quantity: int) -> Split:
    """Sell 200 while long 100 closes 100 and opens 100 short; buy while long (or flat) only opens."""
    if position_before == 0 or (position_before > 0) == (side.upper() == "BUY"):
        return Split(position_before, 0, quantity)
    close = min(quantity, abs(position_before))
    return Split(position_before, close, quantity - close)


def close_share(*, held: int, master_close: int, master_position: int, lot_size: int = 1) -> int:
    """How much of `held` (the follower's available position, unsigned) closes when the master closes
    `master_close` of `master_position` (unsigned, its available position before this close).

    The same fraction, rounded to the nearest whole lot (a half rounds up); never more than `held` (a close
    never reverses a follower); everything when the master ends flat, so the last close leaves no residue.
    """
    if held <= 0 or master_close <= 0 or master_position <= 0:
        return 0
    if master_close >= master_position:
        return held
    lot = max(int(lot_size), 1)
    lots = Fraction(held * master_close, master_position * lot)
    rounded = int(lots + Fraction(1, 2))  # half up; lots >= 0
    return min(rounded * lot, held)
