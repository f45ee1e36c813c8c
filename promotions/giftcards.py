"""Gift card balances: top-ups, and the ledger every balance change is written to.

The balance itself lives on the voucher and only moves through guarded updates (redemptions,
rollbacks, top-ups); each change adds a ``GiftCardTransaction`` with the balance after it, in
the same transaction, so the ledger adds up to the balance.
"""

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from config.errors import DomainError

from .models import Campaign, GiftCardTransaction, Redemption, Voucher

MAX_TOP_UP = 10**11


class NotAGiftCard(DomainError):
    code = "not_a_gift_card"
    http_status = 409
    default_message = _("This code is not a gift card.")


class InvalidAmount(DomainError):
    code = "invalid_amount"
    http_status = 400
    default_message = _("Give a whole amount in minor units, above 0.")


def record(
    *,
    voucher_id: int,
    kind: str,
    amount: int,
    redemption: Redemption | None = None,
    note: str = "",
) -> GiftCardTransaction:
    """Write a balance change to the ledger (after it was applied, in the same transaction)."""
    balance = Voucher.objects.filter(pk=voucher_id).values_list("gift_balance", flat=True).get()
    return GiftCardTransaction.objects.create(
        voucher_id=voucher_id,
        kind=kind,
        amount=amount,
        balance_after=balance or 0,
        redemption=redemption,
        note=note[:255],
    )


@transaction.atomic
def top_up_gift_card(*, voucher: Voucher, amount: int, note: str = "") -> GiftCardTransaction:
    """Add to a gift card's balance. Raises NotAGiftCard, InvalidAmount."""
    if voucher.campaign.kind != Campaign.Kind.GIFT_CARDS or voucher.gift_balance is None:
        raise NotAGiftCard()
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= MAX_TOP_UP:
        raise InvalidAmount(details={"amount": amount, "max": MAX_TOP_UP})
    Voucher.objects.filter(pk=voucher.pk).update(gift_balance=F("gift_balance") + amount)
    return record(
        voucher_id=voucher.pk, kind=GiftCardTransaction.Kind.TOP_UP, amount=amount, note=note
    )


def issue_gift_card(*, voucher: Voucher) -> GiftCardTransaction | None:
    """The ledger's first line for a new gift card: its initial balance."""
    if voucher.gift_balance is None:
        return None
    return record(
        voucher_id=voucher.pk, kind=GiftCardTransaction.Kind.ISSUE, amount=voucher.gift_balance
    )
