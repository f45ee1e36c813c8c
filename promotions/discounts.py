"""Discount arithmetic: pure functions on integers in minor units, no database.

A checkout is a ``Ledger``: what is left to pay on each item and on shipping, after the
discounts applied so far. ``apply_discount`` computes one discount's effect on the ledger and
returns it; ``Ledger.take`` writes it down, so the next discount works on what is left.

Rules (documented in docs/promotions.md and pinned by tests):

- percent: the rate times the in-scope amount left, rounded half up to the minor unit, then
  the cap; ``amount``: the amount off, at most the in-scope amount left;
- a discount on several items is spread in proportion to what is left on each (largest
  remainder), so the shares add up exactly to the discount and none goes below 0;
- ``fixed_price``: each in-scope unit costs ``amount``; items already cheaper get nothing;
- ``unit``: ``unit_quantity`` units of ``unit_product`` free (for every ``unit_every`` bought
  when set: 2 for buy one get one), never more units than the cart holds;
- ``free_shipping``: what is left of the shipping amount;
- ``gift_card``: pays what is left of the order, shipping included, up to the balance; a card
  with a scope pays only for the items in it (and shipping).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

PERCENT = "percent"
AMOUNT = "amount"
FIXED_PRICE = "fixed_price"
UNIT = "unit"
FREE_SHIPPING = "free_shipping"
GIFT_CARD = "gift_card"
TYPES = (PERCENT, AMOUNT, FIXED_PRICE, UNIT, FREE_SHIPPING, GIFT_CARD)


@dataclass(frozen=True)
class Item:
    product_id: str
    category: str
    quantity: int
    unit_price: int

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_price


@dataclass(frozen=True)
class DiscountSpec:
    type: str
    percent: Decimal | None = None
    amount: int | None = None
    cap: int | None = None
    unit_product: str = ""
    unit_quantity: int | None = None
    unit_every: int | None = None
    products: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    excluded_products: frozenset[str] = frozenset()
    excluded_categories: frozenset[str] = frozenset()

    def in_scope(self, item: Item) -> bool:
        if item.product_id in self.excluded_products or item.category in self.excluded_categories:
            return False
        if not self.products and not self.categories:
            return True
        return item.product_id in self.products or item.category in self.categories

    @property
    def scoped(self) -> bool:
        """Whether the discount applies to some items only (not to the whole order)."""
        return bool(
            self.products or self.categories or self.excluded_products or self.excluded_categories
        )


@dataclass(frozen=True)
class Effect:
    """What one discount takes off: per item (in the ledger's item order), off shipping, and
    as gift card payment. ``eligible`` is False when no item of the order is in its scope."""

    items: tuple[int, ...]
    shipping: int = 0
    gift_card: int = 0
    eligible: bool = True

    @property
    def discount(self) -> int:
        return sum(self.items)

    @property
    def total(self) -> int:
        return self.discount + self.shipping + self.gift_card


@dataclass
class Ledger:
    items: Sequence[Item]
    shipping_amount: int
    left: list[int] = field(init=False)
    shipping_left: int = field(init=False)
    gift_card: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.left = [item.amount for item in self.items]
        self.shipping_left = self.shipping_amount

    @property
    def amount(self) -> int:
        return sum(item.amount for item in self.items)

    @property
    def total_left(self) -> int:
        return sum(self.left) + self.shipping_left - self.gift_card

    def take(self, effect: Effect) -> None:
        for i, share in enumerate(effect.items):
            if share > self.left[i]:
                raise ValueError("a discount share is larger than what is left on the item")
            self.left[i] -= share
        if effect.shipping > self.shipping_left or effect.gift_card > self.total_left:
            raise ValueError("a discount is larger than what is left to pay")
        self.shipping_left -= effect.shipping
        self.gift_card += effect.gift_card

    def copy(self) -> "Ledger":
        other = Ledger(self.items, self.shipping_amount)
        other.left = list(self.left)
        other.shipping_left = self.shipping_left
        other.gift_card = self.gift_card
        return other


def percent_of(base: int, percent: Decimal) -> int:
    """``base`` times ``percent`` / 100, rounded half up to the minor unit (base >= 0)."""
    hundredths = int(percent * 100)
    if Decimal(hundredths) != percent * 100:
        raise ValueError("percent has at most two decimals")
    return (base * hundredths + 5_000) // 10_000


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` (at most ``sum(weights)``) in proportion to ``weights``: shares add up to
    ``total`` exactly and none exceeds its weight. Largest remainder; ties to the first."""
    whole = sum(weights)
    if total < 0 or total > whole:
        raise ValueError("cannot allocate more than the weights hold")
    if total == 0:
        return [0] * len(weights)
    shares = [total * w // whole for w in weights]
    remainders = [total * w % whole for w in weights]
    short = total - sum(shares)
    for i in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:short]:
        shares[i] += 1
    return shares


def apply_discount(
    spec: DiscountSpec, ledger: Ledger, *, gift_balance: int = 0, budget_left: int | None = None
) -> Effect:
    """The effect of one discount on what the ledger has left. ``budget_left`` caps the item
    and shipping discount (a campaign's budget); gift cards are capped by ``gift_balance``."""
    n = len(ledger.items)
    if spec.type == GIFT_CARD:
        payable = ledger.total_left
        if spec.scoped:
            # A restricted card ("not on sale items") pays the items in its scope and shipping.
            scoped = sum(
                ledger.left[i] for i, item in enumerate(ledger.items) if spec.in_scope(item)
            )
            payable = min(payable, scoped + ledger.shipping_left)
        return Effect((0,) * n, gift_card=max(min(gift_balance, payable), 0))
    if spec.type == FREE_SHIPPING:
        shipping = ledger.shipping_left
        if budget_left is not None:
            shipping = min(shipping, budget_left)
        return Effect((0,) * n, shipping=shipping)

    scope = [i for i, item in enumerate(ledger.items) if spec.in_scope(item)]
    if spec.type == UNIT:
        scope = [i for i in scope if ledger.items[i].product_id == spec.unit_product]
    if not scope:
        return Effect((0,) * n, eligible=False)

    shares = [0] * n
    if spec.type in (PERCENT, AMOUNT):
        base = sum(ledger.left[i] for i in scope)
        if spec.type == PERCENT:
            wanted = percent_of(base, spec.percent or Decimal(0))
            if spec.cap is not None:
                wanted = min(wanted, spec.cap)
        else:
            wanted = spec.amount or 0
        wanted = _within_budget(min(wanted, base), budget_left)
        for i, share in zip(scope, allocate(wanted, [ledger.left[i] for i in scope]), strict=True):
            shares[i] = share
    elif spec.type == FIXED_PRICE:
        price = spec.amount or 0
        for i in scope:
            shares[i] = max(ledger.left[i] - price * ledger.items[i].quantity, 0)
        shares = _cap_shares(shares, budget_left)
    elif spec.type == UNIT:
        held = sum(ledger.items[i].quantity for i in scope)
        free = spec.unit_quantity or 0
        if spec.unit_every:
            free *= held // spec.unit_every
        free = min(free, held)
        # The cheapest units go free first.
        for i in sorted(scope, key=lambda i: (ledger.items[i].unit_price, i)):
            units = min(free, ledger.items[i].quantity)
            shares[i] = min(units * ledger.items[i].unit_price, ledger.left[i])
            free -= units
        shares = _cap_shares(shares, budget_left)
    else:
        raise ValueError(f"unknown discount type {spec.type!r}")
    return Effect(tuple(shares))


def _within_budget(amount: int, budget_left: int | None) -> int:
    return amount if budget_left is None else max(min(amount, budget_left), 0)


def _cap_shares(shares: list[int], budget_left: int | None) -> list[int]:
    """Scale per-item shares down to the budget left, keeping them proportional."""
    total = sum(shares)
    capped = _within_budget(total, budget_left)
    return shares if capped == total else allocate(capped, shares)


def order_totals(ledger: Ledger, effects: Iterable[Effect]) -> dict[str, int]:
    """The order's figures after the effects (which the ledger has taken)."""
    effects = list(effects)
    discount = sum(e.discount for e in effects)
    shipping = sum(e.shipping for e in effects)
    gift = sum(e.gift_card for e in effects)
    total = ledger.amount + ledger.shipping_amount - discount - shipping - gift
    return {
        "amount": ledger.amount,
        "shipping_amount": ledger.shipping_amount,
        "discount_amount": discount,
        "shipping_discount_amount": shipping,
        "gift_card_amount": gift,
        "total_amount": max(total, 0),
    }
