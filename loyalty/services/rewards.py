"""The reward catalog: who may take what, and redeeming a reward for points.

A redemption is one transaction: the points (one guarded UPDATE on the member's balance), the
stock (one guarded UPDATE on the reward), the ledger entry and what the reward gives (a
published voucher, a gift card credit, a fulfilment, a donation, a sweepstakes entry). If any
part fails, nothing is taken.
"""

import datetime as dt
import secrets

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from loyalty.errors import OutOfStock, RewardUnavailable
from loyalty.models import (
    Fulfilment,
    Member,
    Reward,
    RewardRedemption,
    Sweepstake,
    SweepstakeEntry,
)
from loyalty.services import ledger
from promotions.errors import VoucherCodeTaken
from promotions.models import Voucher

GIFT_CODE_ALPHABET = ledger.CODE_ALPHABET


def unavailable_reason(
    reward: Reward,
    member: Member,
    *,
    now: dt.datetime,
    segment_ids: set[int] | None = None,
) -> str | None:
    """Why the member cannot take this reward now (a stable code), or None.

    ``segment_ids``: the member's current segments, when the caller has read them already."""
    if not reward.active or reward.program_id != member.program_id:
        return "inactive"
    if reward.starts_at and reward.starts_at > now:
        return "not_started"
    if reward.ends_at and reward.ends_at <= now:
        return "ended"
    tiers = [t.pk for t in reward.tiers.all()]
    if tiers and member.tier_id not in tiers:
        return "tier_not_eligible"
    segments = list(reward.segments.all())
    if segments:
        if segment_ids is None:
            from segments.selectors import segments_of_customer

            segment_ids = {s.pk for s in segments_of_customer(member.customer, segments=segments)}
        if not segment_ids & {s.pk for s in segments}:
            return "segment_not_eligible"
    if reward.kind == Reward.Kind.SWEEPSTAKES and (
        reward.sweepstake is None
        or reward.sweepstake.status != Sweepstake.Status.OPEN
        or reward.sweepstake.draw_at <= now
    ):
        return "sweepstake_closed"
    if reward.stock is not None and reward.stock <= 0:
        return "out_of_stock"
    return None


@transaction.atomic
def redeem_reward(
    *,
    member: Member,
    reward: Reward,
    address: str = "",
    now: dt.datetime | None = None,
) -> RewardRedemption:
    """Spend the reward's points on it, atomically with its stock and what it gives.

    Raises RewardUnavailable (``details.reason``), InsufficientPoints, OutOfStock, and the
    publication's refusals for voucher rewards (NoCodesLeft, CampaignInactive, ...)."""
    now = now or timezone.now()
    member = Member.objects.select_related("program", "tier", "customer").get(pk=member.pk)
    reward = Reward.objects.select_related("sweepstake", "campaign", "charity").get(pk=reward.pk)
    reason = unavailable_reason(reward, member, now=now)
    if reason is not None and reason != "out_of_stock":
        raise RewardUnavailable(details={"reason": reason, "reward": reward.pk})
    redemption = RewardRedemption.objects.create(
        member=member,
        reward=reward,
        kind=reward.kind,
        points=reward.points_cost,
        created_at=now,
    )
    # Points first, then stock: every redemption locks in this order, so none deadlock.
    ledger.spend(
        member=member,
        points=reward.points_cost,
        reason=reward.name,
        reward_redemption=redemption,
        now=now,
    )
    if reward.stock is not None:
        taken = Reward.objects.filter(pk=reward.pk, stock__gt=0).update(stock=F("stock") - 1)
        if taken != 1:
            raise OutOfStock(details={"reward": reward.pk})
    _give(reward, member, redemption, address=address, now=now)
    member.refresh_from_db(fields=["points_active", "points_pending"])
    return redemption


def _give(
    reward: Reward, member: Member, redemption: RewardRedemption, *, address: str, now
) -> None:
    kind = reward.kind
    if kind == Reward.Kind.VOUCHER:
        from promotions.publications import publish

        publication = publish(
            campaign=reward.campaign, customer=member.customer, source="loyalty", now=now
        )
        redemption.voucher = publication.voucher
    elif kind == Reward.Kind.GIFT_CARD:
        redemption.voucher = _credit_gift_card(reward, member)
        redemption.amount = reward.amount
    elif kind == Reward.Kind.PRODUCT:
        Fulfilment.objects.create(redemption=redemption, address=address[:2000])
    elif kind == Reward.Kind.CHARITY:
        redemption.charity = reward.charity
        redemption.amount = reward.amount
    elif kind == Reward.Kind.SWEEPSTAKES:
        SweepstakeEntry.objects.create(
            sweepstake=reward.sweepstake, member=member, redemption=redemption, created_at=now
        )
    redemption.save(update_fields=["voucher", "amount", "charity"])


def _credit_gift_card(reward: Reward, member: Member) -> Voucher:
    """Top up the member's card of the reward's gift card campaign, or give them a new card
    with the credit as its balance."""
    from promotions.giftcards import top_up_gift_card
    from promotions.services import create_voucher

    card = (
        Voucher.objects.select_related("campaign")
        .filter(
            campaign=reward.campaign,
            customer=member.customer,
            enabled=True,
            gift_balance__isnull=False,
        )
        .order_by("pk")
        .first()
    )
    if card is not None:
        top_up_gift_card(voucher=card, amount=reward.amount, note=f"loyalty: {reward.name}")
        return card
    for _attempt in range(10):
        code = "GIFT-" + "".join(secrets.choice(GIFT_CODE_ALPHABET) for _ in range(10))
        try:
            return create_voucher(
                campaign=reward.campaign,
                code=code,
                values={"customer": member.customer, "gift_amount": reward.amount},
            )
        except VoucherCodeTaken:
            continue
    raise VoucherCodeTaken(details={"code": code})
