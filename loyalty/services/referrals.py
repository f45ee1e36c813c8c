"""Referrals: a member's code, used on a new customer's first paid order.

The code is found on the order's redemptions (the code of the referral campaign, which gave
the friend the discount at checkout) or in the order's ``metadata.referral_code`` (shops that
apply the discount themselves). The referral is refused, and recorded with the reason, when
it is the member's own code (``self_referral``), when the friend was referred before
(``already_referred``), when the order is not the friend's first paid one
(``not_first_order``), or when the member has used up their tier's referrals
(``limit_reached``). Otherwise it waits for the order's pending period; then the referrer
earns the programme's referral rules (``complete_due_referrals``).
"""

import datetime as dt

from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, transaction
from django.utils import timezone

from customers.models import Order
from loyalty.models import Member, Referral, ReferralProgram, ReferralTierLimit
from promotions.models import Campaign, Redemption, RedemptionLine


def referral_program(program) -> ReferralProgram | None:
    return ReferralProgram.objects.filter(program=program, active=True).first()


def issue_referral_voucher(*, member: Member) -> None:
    """Make the member's code a code of the referral campaign, so that the friend's checkout
    gives the friend's discount. No referral campaign: the code is only the loyalty's."""
    terms = referral_program(member.program)
    if terms is None or terms.campaign_id is None:
        return
    if terms.campaign.kind == Campaign.Kind.PROMOTION:
        return
    from promotions.services import create_voucher

    create_voucher(
        campaign=terms.campaign, code=member.referral_code, values={"metadata": {"referrer": True}}
    )


def referral_limit(member: Member) -> int | None:
    """How many friends the member may bring (None: no limit)."""
    terms = referral_program(member.program)
    if terms is None:
        return 0
    if member.tier_id is not None:
        limit = ReferralTierLimit.objects.filter(
            referral_program=terms, tier_id=member.tier_id
        ).first()
        if limit is not None:
            return limit.max_referrals
    return terms.max_referrals


def referrals_counted(member: Member) -> int:
    if member.pk is None:  # not a member yet (a wallet read)
        return 0
    return member.referrals.filter(
        status__in=[Referral.Status.PENDING, Referral.Status.COMPLETED]
    ).count()


def _codes_on_order(order: Order) -> list[str]:
    codes = list(
        RedemptionLine.objects.filter(
            redemption__order_source_id=order.source_id,
            redemption__status=Redemption.Status.SUCCEEDED,
            redemption__rolled_back_at__isnull=True,
            succeeded=True,
        )
        .exclude(code="")
        .values_list("code", flat=True)
    )
    given = (order.metadata or {}).get("referral_code")
    if isinstance(given, str) and given.strip():
        codes.append(given.strip())
    return [code.upper() for code in codes]


def _refuse(referrer: Member, order: Order, code: str, reason: str, now) -> Referral:
    return Referral.objects.create(
        referrer=referrer,
        referee=order.customer,
        order=order,
        code=code,
        status=Referral.Status.REFUSED,
        reason=reason,
        created_at=now,
    )


@transaction.atomic
def record_referral(*, member: Member, order: Order, now: dt.datetime | None = None):
    """Record the referral made with this paid order, if it carries a member's code.

    ``member`` is the friend's membership (its programme decides). Returns the Referral, or
    None when the order carries no code of the programme (or it was recorded before)."""
    now = now or timezone.now()
    terms = referral_program(member.program)
    if terms is None:
        return None
    codes = _codes_on_order(order)
    if not codes:
        return None
    referrer = (
        Member.objects.filter(program=member.program, referral_code__in=codes)
        .order_by("pk")
        .first()
    )
    if referrer is None:
        return None
    if Referral.objects.filter(order=order, referrer=referrer).exists():
        return None  # this order's referral was recorded already (a signal delivered twice)
    # Lock the referrer: their limit is counted and consumed under it.
    referrer = (
        Member.objects.select_for_update(of=("self",)).select_related("program").get(pk=referrer.pk)
    )
    code = referrer.referral_code
    if referrer.customer_id == order.customer_id:
        return _refuse(referrer, order, code, "self_referral", now)
    if (
        Referral.objects.filter(referee=order.customer)
        .exclude(status=Referral.Status.REFUSED)
        .exists()
    ):
        return _refuse(referrer, order, code, "already_referred", now)
    earlier = (
        Order.objects.filter(customer=order.customer, paid_at__isnull=False)
        .exclude(pk=order.pk)
        .filter(paid_at__lte=order.paid_at or now)
    )
    if earlier.exists():
        return _refuse(referrer, order, code, "not_first_order", now)
    limit = referral_limit(referrer)
    if limit is not None and referrals_counted(referrer) >= limit:
        return _refuse(referrer, order, code, "limit_reached", now)
    try:
        with transaction.atomic():
            return Referral.objects.create(
                referrer=referrer,
                referee=order.customer,
                order=order,
                code=code,
                status=Referral.Status.PENDING,
                completes_at=(order.paid_at or now)
                + relativedelta(days=referrer.program.pending_days),
                created_at=now,
            )
    except IntegrityError:
        # Two first orders of the same friend at once: one referral wins the unique index.
        return _refuse(referrer, order, code, "already_referred", now)


def cancel_order_referrals(*, order: Order) -> int:
    """A refunded or cancelled order's pending referral is cancelled (no reward)."""
    return Referral.objects.filter(order=order, status=Referral.Status.PENDING).update(
        status=Referral.Status.CANCELLED
    )


def complete_due_referrals(*, now: dt.datetime | None = None, limit: int = 5000) -> int:
    """Reward the referrers whose friend's order has passed its pending period still paid.
    Returns how many referrals were completed."""
    now = now or timezone.now()
    due = list(
        Referral.objects.filter(status=Referral.Status.PENDING, completes_at__lte=now)
        .order_by("completes_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(_complete(referral_id, now) for referral_id in due)


@transaction.atomic
def _complete(referral_id: int, now: dt.datetime) -> int:
    from loyalty.services.earning import earn_for_referral

    referral = (
        Referral.objects.select_for_update(of=("self",)).select_related("order").get(pk=referral_id)
    )
    if referral.status != Referral.Status.PENDING:
        return 0
    if referral.order is None or referral.order.status != Order.Status.PAID:
        referral.status = Referral.Status.CANCELLED
        referral.save(update_fields=["status"])
        return 0
    referral.status = Referral.Status.COMPLETED
    referral.completed_at = now
    referral.save(update_fields=["status", "completed_at"])
    referrer = Member.objects.select_related("program", "tier").get(pk=referral.referrer_id)
    earn_for_referral(member=referrer, referral_id=referral.pk, now=now)
    return 1
