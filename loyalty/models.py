"""Loyalty: programmes, tiers, earning rules, the points ledger, the reward catalog, referrals.

Balances live on ``Member`` and move only through ``loyalty.services`` with guarded updates;
every movement is an immutable ``PointsEntry``. ``PointsLot`` is the working state behind
first-in-first-out spending and expiry: one per earning, with what is left of it.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from customers.models import Customer, Order


def default_currency() -> str:
    return getattr(settings, "OFFERWISE_CURRENCY", "USD")


class Program(models.Model):
    class Rounding(models.TextChoices):
        DOWN = "down", _("Down (floor)")
        HALF_UP = "half_up", _("Half up")
        UP = "up", _("Up (ceiling)")

    class Expiry(models.TextChoices):
        NEVER = "never", _("Never")
        ROLLING = "rolling", _("Rolling: N months after earning")
        FIXED = "fixed", _("At the end of the fixed period they were earned in")

    class TierBasis(models.TextChoices):
        POINTS = "points", _("Points earned in the qualifying period")
        SPEND = "spend", _("Spend in the qualifying period")

    name = models.CharField(max_length=200, unique=True)
    points_name = models.CharField(
        max_length=40, default="Points", help_text=_("The currency's own name: Miles, Stamps")
    )
    active = models.BooleanField(default=True)
    currency = models.CharField(max_length=3, default=default_currency)
    rounding = models.CharField(max_length=10, choices=Rounding.choices, default=Rounding.DOWN)
    pending_days = models.PositiveIntegerField(
        default=14,
        help_text=_("Points from an order become active after this many days (0: at once)"),
    )
    expiry = models.CharField(max_length=10, choices=Expiry.choices, default=Expiry.NEVER)
    expiry_months = models.PositiveIntegerField(
        default=12,
        validators=[MinValueValidator(1)],
        help_text=_("Rolling: months after earning. Fixed: the period's length (1, 3, 6, 12)"),
    )
    max_points_per_order = models.PositiveIntegerField(null=True, blank=True)
    max_points_per_day = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Most points a member earns per UTC day (all rules)")
    )
    tier_basis = models.CharField(
        max_length=10, choices=TierBasis.choices, default=TierBasis.POINTS
    )
    qualifying_months = models.PositiveIntegerField(
        default=12,
        validators=[MinValueValidator(1)],
        help_text=_("The window tiers are measured on, and how long a tier is kept"),
    )
    expiring_soon_days = models.PositiveIntegerField(default=30)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expiry_months__gte=1) & Q(qualifying_months__gte=1),
                name="program_months_positive",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Tier(models.Model):
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="tiers")
    name = models.CharField(max_length=100)
    threshold = models.BigIntegerField(
        default=0,
        help_text=_("Points (or spend in minor units) in the qualifying period to enter"),
    )
    multiplier = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("1.00"), help_text=_("Earning multiplier")
    )

    class Meta:
        ordering = ["program", "threshold"]
        constraints = [
            models.UniqueConstraint(fields=["program", "name"], name="tier_name_unique"),
            models.UniqueConstraint(fields=["program", "threshold"], name="tier_threshold_unique"),
            models.CheckConstraint(
                condition=Q(threshold__gte=0) & Q(multiplier__gte=0), name="tier_values_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Member(models.Model):
    """A customer in a programme, and their balances (the rows spending is guarded on)."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="members")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="loyalty")
    tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    tier_since = models.DateTimeField(null=True, blank=True)
    tier_review_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When the tier is re-evaluated (and may go down)")
    )
    points_active = models.BigIntegerField(default=0)
    points_pending = models.BigIntegerField(default=0)
    referral_code = models.CharField(max_length=32, unique=True)
    joined_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-joined_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["program", "customer"], name="member_unique"),
            models.CheckConstraint(
                condition=Q(points_active__gte=0) & Q(points_pending__gte=0),
                name="member_balance_not_negative",
            ),
        ]
        indexes = [
            models.Index(fields=["customer"], name="member_customer_idx"),
            models.Index(fields=["tier_review_at"], name="member_review_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.customer} in {self.program}"


class TierChange(models.Model):
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="tier_changes")
    from_tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=40)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.from_tier_id} -> {self.to_tier_id}"


class EarningRule(models.Model):
    class Kind(models.TextChoices):
        ORDER = "order", _("Paid order")
        EVENT = "event", _("Custom event")
        SEGMENT = "segment_entered", _("Segment entered")
        REFERRAL = "referral", _("Successful referral (to the referrer)")

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="rules")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    active = models.BooleanField(default=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    points = models.PositiveIntegerField(
        default=0, help_text=_("Events, segments, referrals: points each time")
    )
    points_per_unit = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        default=Decimal("1"),
        help_text=_("Orders: points per whole currency unit paid for items"),
    )
    category_multipliers = models.JSONField(
        default=dict, blank=True, help_text=_('{"shoes": "2"}: category id to multiplier')
    )
    product_multipliers = models.JSONField(
        default=dict, blank=True, help_text=_('{"sku-1": "3"}: product id to multiplier')
    )
    excluded_categories = models.JSONField(default=list, blank=True)
    excluded_products = models.JSONField(default=list, blank=True)
    event_name = models.CharField(max_length=100, blank=True)
    daily_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Events: most awards per member per UTC day")
    )
    segment = models.ForeignKey(
        "segments.Segment", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["program", "kind", "pk"]
        indexes = [models.Index(fields=["program", "kind", "active"], name="rule_kind_idx")]

    def __str__(self) -> str:
        return self.name


class RuleTierValue(models.Model):
    """A tier's own value for a rule: points (events, segments, referrals) or points per
    unit (orders), instead of the rule's."""

    rule = models.ForeignKey(EarningRule, on_delete=models.CASCADE, related_name="tier_values")
    tier = models.ForeignKey(Tier, on_delete=models.CASCADE, related_name="+")
    points = models.PositiveIntegerField(null=True, blank=True)
    points_per_unit = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "tier"], name="rule_tier_value_unique")
        ]

    def __str__(self) -> str:
        return f"{self.rule} / {self.tier}"


class PointsEntry(models.Model):
    """One movement of points; never changed or deleted. ``points`` is signed."""

    class Kind(models.TextChoices):
        EARN = "earn", _("Earned")
        ACTIVATE = "activate", _("Became active")
        REDEEM = "redeem", _("Redeemed")
        EXPIRE = "expire", _("Expired")
        ADJUST = "adjust", _("Manual adjustment")
        REVERSAL = "reversal", _("Reversed (order refunded or cancelled)")

    class Balance(models.TextChoices):
        ACTIVE = "active", _("Active")
        PENDING = "pending", _("Pending")

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    balance = models.CharField(
        max_length=10, choices=Balance.choices, help_text=_("The balance it moves")
    )
    points = models.BigIntegerField()
    rule = models.ForeignKey(
        EarningRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reward_redemption = models.ForeignKey(
        "RewardRedemption", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=255, blank=True)
    created_by = models.CharField(max_length=150, blank=True)
    # Makes an earning happen once however often its cause is delivered (signals, retries).
    dedupe_key = models.CharField(max_length=120, null=True, blank=True, unique=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = _("points entries")
        indexes = [
            models.Index(fields=["member", "created_at"], name="entry_member_idx"),
            models.Index(fields=["kind", "created_at"], name="entry_kind_idx"),
            models.Index(fields=["order"], name="entry_order_idx"),
            models.Index(fields=["rule", "member", "created_at"], name="entry_rule_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.points:+d}"

    def save(self, *args, **kwargs):
        # The ledger is append-only: a correction is a new entry, never an edit.
        if not self._state.adding:
            raise ValueError("points entries are immutable")
        super().save(*args, **kwargs)


class PointsLot(models.Model):
    """What is left of one earning: spent and expired first in, first out."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        ACTIVE = "active", _("Active")
        REVERSED = "reversed", _("Reversed")
        USED = "used", _("Used up or expired")

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="lots")
    entry = models.OneToOneField(PointsEntry, on_delete=models.CASCADE, related_name="lot")
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices)
    points = models.BigIntegerField()
    remaining = models.BigIntegerField()
    earned_at = models.DateTimeField()
    activates_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["earned_at", "pk"]
        indexes = [
            models.Index(fields=["member", "status", "earned_at"], name="lot_fifo_idx"),
            models.Index(fields=["status", "activates_at"], name="lot_activation_idx"),
            models.Index(fields=["status", "expires_at"], name="lot_expiry_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=models.F("points")),
                name="lot_remaining_valid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.remaining}/{self.points} ({self.status})"


# --- rewards --------------------------------------------------------------------------------


class Charity(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = _("charities")

    def __str__(self) -> str:
        return self.name


class Sweepstake(models.Model):
    """A prize draw: members buy entries with points; a task draws the winners."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DRAWN = "drawn", _("Drawn")

    name = models.CharField(max_length=200, unique=True)
    prize = models.CharField(max_length=255)
    winners_count = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    draw_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-draw_at"]

    def __str__(self) -> str:
        return self.name


class Reward(models.Model):
    """A catalog entry: what a member gets for points, to whom and while it lasts."""

    class Kind(models.TextChoices):
        VOUCHER = "voucher", _("Discount voucher")
        GIFT_CARD = "gift_card", _("Gift card credit")
        PRODUCT = "product", _("Physical product")
        CHARITY = "charity", _("Charity donation")
        SWEEPSTAKES = "sweepstakes", _("Sweepstakes entry")

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="rewards")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    points_cost = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    active = models.BooleanField(default=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    stock = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Left to give; empty for no limit")
    )
    tiers = models.ManyToManyField(
        Tier, blank=True, related_name="+", help_text=_("Only these tiers (none: every member)")
    )
    segments = models.ManyToManyField(
        "segments.Segment",
        blank=True,
        related_name="+",
        help_text=_("Only members in one of these segments (none: every member)"),
    )
    campaign = models.ForeignKey(
        "promotions.Campaign",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Voucher: the campaign whose code is published. Gift card: the card's"),
    )
    amount = models.BigIntegerField(
        null=True, blank=True, help_text=_("Gift card credit or donation, minor units")
    )
    charity = models.ForeignKey(
        Charity, null=True, blank=True, on_delete=models.PROTECT, related_name="rewards"
    )
    sweepstake = models.ForeignKey(
        Sweepstake, null=True, blank=True, on_delete=models.PROTECT, related_name="rewards"
    )
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["program", "points_cost", "name"]
        constraints = [
            models.UniqueConstraint(fields=["program", "name"], name="reward_name_unique"),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gt=0), name="reward_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RewardRedemption(models.Model):
    """Points spent on a catalog reward, with what it gave."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="redemptions")
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, related_name="redemptions")
    kind = models.CharField(max_length=20, choices=Reward.Kind.choices)
    points = models.PositiveIntegerField()
    voucher = models.ForeignKey(
        "promotions.Voucher", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    amount = models.BigIntegerField(null=True, blank=True)
    charity = models.ForeignKey(
        Charity, null=True, blank=True, on_delete=models.PROTECT, related_name="donations"
    )
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["reward", "created_at"], name="reward_redemption_idx")]

    def __str__(self) -> str:
        return f"{self.reward} for {self.member_id}"


class Fulfilment(models.Model):
    """Shipping a physical reward."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        SHIPPED = "shipped", _("Shipped")
        DELIVERED = "delivered", _("Delivered")
        CANCELLED = "cancelled", _("Cancelled")

    redemption = models.OneToOneField(
        RewardRedemption, on_delete=models.CASCADE, related_name="fulfilment"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    address = models.TextField(blank=True)
    tracking = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.redemption}: {self.get_status_display()}"


class SweepstakeEntry(models.Model):
    sweepstake = models.ForeignKey(Sweepstake, on_delete=models.CASCADE, related_name="entries")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    redemption = models.OneToOneField(
        RewardRedemption, on_delete=models.CASCADE, related_name="sweepstake_entry"
    )
    won = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["sweepstake", "pk"]
        verbose_name_plural = _("sweepstake entries")

    def __str__(self) -> str:
        return f"{self.sweepstake}: #{self.pk}"


class SweepstakeDraw(models.Model):
    """The audit trail of a draw: anyone can re-run it from the seed and the entry ids."""

    sweepstake = models.OneToOneField(Sweepstake, on_delete=models.CASCADE, related_name="draw")
    seed = models.CharField(max_length=64)
    algorithm = models.CharField(max_length=200)
    entry_ids = models.JSONField(help_text=_("Every entry id, ascending: the draw's input"))
    entries_digest = models.CharField(max_length=64, help_text=_("SHA-256 of the entry ids"))
    winner_entry_ids = models.JSONField()
    drawn_at = models.DateTimeField(default=now)
    drawn_by = models.CharField(max_length=150, blank=True)

    def __str__(self) -> str:
        return f"{self.sweepstake} drawn {self.drawn_at:%Y-%m-%d}"


# --- referrals ------------------------------------------------------------------------------


class ReferralProgram(models.Model):
    """Members bring friends: the friend's first paid order with the member's code gives the
    friend the campaign's discount and, after the pending period, the referrer their reward
    (the programme's referral earning rules)."""

    program = models.OneToOneField(Program, on_delete=models.CASCADE, related_name="referrals")
    campaign = models.ForeignKey(
        "promotions.Campaign",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("A referral campaign: members' codes are its codes (the friend's discount)"),
    )
    active = models.BooleanField(default=True)
    max_referrals = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("For members whose tier has no limit of its own")
    )

    def __str__(self) -> str:
        return f"Referrals of {self.program}"


class ReferralTierLimit(models.Model):
    referral_program = models.ForeignKey(
        ReferralProgram, on_delete=models.CASCADE, related_name="tier_limits"
    )
    tier = models.ForeignKey(Tier, on_delete=models.CASCADE, related_name="+")
    max_referrals = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Empty: unlimited")
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["referral_program", "tier"], name="referral_tier_limit_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.tier}: {self.max_referrals or '∞'}"


class Referral(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending (order in its pending period)")
        COMPLETED = "completed", _("Completed (referrer rewarded)")
        CANCELLED = "cancelled", _("Cancelled (order refunded or cancelled)")
        REFUSED = "refused", _("Refused")

    referrer = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="referrals")
    referee = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    code = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices)
    reason = models.CharField(max_length=40, blank=True, help_text=_("Why it was refused"))
    completes_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # A friend is referred once: a second code is refused, never counted twice.
            models.UniqueConstraint(
                fields=["referee"],
                condition=~Q(status="refused"),
                name="referral_one_per_referee",
            )
        ]
        indexes = [models.Index(fields=["status", "completes_at"], name="referral_due_idx")]

    def __str__(self) -> str:
        return f"{self.referrer_id} -> {self.referee_id} ({self.status})"
