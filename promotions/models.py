"""Campaigns, their discount, rules, schedule and limits; vouchers; usage counters.

Money is in minor units of the campaign's currency. Counters (``redemptions_count``,
``discount_given``, ``CustomerUsage``) are only ever changed by guarded ``UPDATE`` statements
in the redemption service; everything here is read by the checkout engine.
"""

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from customers.models import Customer
from segments.models import Segment


class Campaign(models.Model):
    class Kind(models.TextChoices):
        COUPONS = "coupons", _("Coupons")
        PROMOTION = "promotion", _("Automatic promotion")
        GIFT_CARDS = "gift_cards", _("Gift cards")
        REFERRAL = "referral", _("Referral")
        REWARD = "reward", _("Reward")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")
        ARCHIVED = "archived", _("Archived")

    class ScheduleTimezone(models.TextChoices):
        CAMPAIGN = "campaign", _("Campaign's time zone")
        CUSTOMER = "customer", _("Customer's time zone")

    class Charset(models.TextChoices):
        ALPHANUMERIC = "alphanumeric", _("Letters and digits")
        LETTERS = "letters", _("Letters")
        DIGITS = "digits", _("Digits")
        CUSTOM = "custom", _("Custom")

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.COUPONS)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    timezone = models.CharField(
        max_length=64, default="UTC", help_text=_("IANA time zone, e.g. Europe/Dublin")
    )
    schedule_timezone = models.CharField(
        max_length=20,
        choices=ScheduleTimezone.choices,
        default=ScheduleTimezone.CAMPAIGN,
        help_text=_("Which clock the weekly schedule and daily limits are read on"),
    )
    currency = models.CharField(max_length=3, default=settings.OFFERWISE_CURRENCY)
    segments = models.ManyToManyField(
        Segment,
        blank=True,
        related_name="campaigns",
        help_text=_("Only members of at least one of these segments qualify (none: everyone)"),
    )
    # Limits (empty: no limit).
    max_redemptions = models.PositiveIntegerField(null=True, blank=True)
    max_per_customer = models.PositiveIntegerField(null=True, blank=True)
    max_per_customer_per_day = models.PositiveIntegerField(null=True, blank=True)
    budget = models.BigIntegerField(
        null=True, blank=True, help_text=_("Most discount given in all, minor units")
    )
    # Stacking.
    exclusive = models.BooleanField(
        default=False, help_text=_("Never combined with other discounts")
    )
    priority = models.IntegerField(
        default=0, help_text=_("Automatic promotions apply highest priority first")
    )
    # Unique codes: how generated and published codes look.
    code_prefix = models.CharField(max_length=20, blank=True)
    code_suffix = models.CharField(max_length=20, blank=True)
    code_pattern = models.CharField(
        max_length=64,
        default="########",
        help_text=_("# is a random character; {first_name} and {last_name} personalise"),
    )
    code_charset = models.CharField(
        max_length=20, choices=Charset.choices, default=Charset.ALPHANUMERIC
    )
    code_custom_charset = models.CharField(max_length=100, blank=True)
    code_exclude_ambiguous = models.BooleanField(
        default=True, help_text=_("Leave out characters that are easy to misread: 0 O 1 I L")
    )
    # Publications.
    one_code_per_customer = models.BooleanField(
        default=False, help_text=_("Publishing again gives the customer the same code")
    )
    codes_on_demand = models.BooleanField(
        default=False,
        help_text=_("Publishing makes a new code from the pattern (else: from generated codes)"),
    )
    experiment_ended_at = models.DateTimeField(null=True, blank=True)
    rollback_on_order_cancel = models.BooleanField(
        default=True,
        help_text=_("Roll back its redemptions when their order is cancelled or refunded"),
    )
    metadata = models.JSONField(default=dict, blank=True)
    # Counters, kept by the redemption service.
    redemptions_count = models.PositiveIntegerField(default=0)
    discount_given = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-priority", "name"]
        indexes = [models.Index(fields=["kind", "status"], name="campaign_kind_status_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True)
                | Q(starts_at__isnull=True)
                | Q(ends_at__gt=F("starts_at")),
                name="campaign_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(budget__isnull=True) | Q(budget__gte=0), name="campaign_budget_valid"
            ),
            models.CheckConstraint(
                condition=Q(discount_given__gte=0), name="campaign_discount_given_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_automatic(self) -> bool:
        return self.kind == self.Kind.PROMOTION


class Discount(models.Model):
    """What a campaign gives, and to which part of the order."""

    class Type(models.TextChoices):
        PERCENT = "percent", _("Percent off")
        AMOUNT = "amount", _("Amount off")
        FIXED_PRICE = "fixed_price", _("Fixed price per unit")
        UNIT = "unit", _("Free units of a product")
        FREE_SHIPPING = "free_shipping", _("Free shipping")
        GIFT_CARD = "gift_card", _("Gift card balance")

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="discount")
    type = models.CharField(max_length=20, choices=Type.choices)
    percent = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True, help_text=_("0.01 to 100")
    )
    amount = models.BigIntegerField(
        null=True,
        blank=True,
        help_text=_("Amount off, or the fixed price of one unit (minor units)"),
    )
    cap = models.BigIntegerField(
        null=True, blank=True, help_text=_("Most a percent discount gives (minor units)")
    )
    unit_product = models.CharField(
        max_length=255, blank=True, help_text=_("Product id of the free units")
    )
    unit_quantity = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Free units (for every N bought, when set)")
    )
    unit_every = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Buy N, get the free units: 2 for buy one get one")
    )
    # Scope, by the ids the shop sends in carts. Empty products and categories: whole order.
    products = models.JSONField(default=list, blank=True)
    categories = models.JSONField(default=list, blank=True)
    excluded_products = models.JSONField(default=list, blank=True)
    excluded_categories = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(percent__isnull=True) | Q(percent__gt=0, percent__lte=100),
                name="discount_percent_valid",
            ),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gte=0), name="discount_amount_valid"
            ),
            models.CheckConstraint(
                condition=Q(cap__isnull=True) | Q(cap__gte=0), name="discount_cap_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.get_type_display()


class ValidationRule(models.Model):
    """A rule tree every redemption of the campaign must satisfy (all of a campaign's rules
    must hold). Customer conditions are the segment language; ``order.*``, ``time.*`` and
    ``history.*`` conditions read the checkout."""

    class Failure(models.TextChoices):
        CUSTOMER = "customer_not_eligible", _("Customer not eligible")
        ORDER = "order_not_eligible", _("Order not eligible")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="rules")
    name = models.CharField(max_length=200)
    rules = models.JSONField(default=dict)
    failure = models.CharField(
        max_length=30,
        choices=Failure.choices,
        blank=True,
        help_text=_("Reason code when the rule fails (empty: from the fields it reads)"),
    )
    message = models.CharField(
        max_length=255, blank=True, help_text=_("Shown to the customer when the rule fails")
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["campaign", "position", "id"]

    def __str__(self) -> str:
        return self.name


class ScheduleWindow(models.Model):
    """A weekly window in which the campaign applies; a campaign without one always applies.
    ``end_time`` is exclusive; 00:00 as the end means midnight."""

    class Weekday(models.IntegerChoices):
        MONDAY = 1, _("Monday")
        TUESDAY = 2, _("Tuesday")
        WEDNESDAY = 3, _("Wednesday")
        THURSDAY = 4, _("Thursday")
        FRIDAY = 5, _("Friday")
        SATURDAY = 6, _("Saturday")
        SUNDAY = 7, _("Sunday")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="schedule")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start_time = models.TimeField(default=dt.time(0, 0))
    end_time = models.TimeField(default=dt.time(0, 0))

    class Meta:
        ordering = ["campaign", "weekday", "start_time"]
        constraints = [
            models.CheckConstraint(
                condition=Q(weekday__gte=1, weekday__lte=7), name="schedule_weekday_valid"
            ),
            models.CheckConstraint(
                condition=Q(end_time__gt=F("start_time")) | Q(end_time=dt.time(0, 0)),
                name="schedule_window_valid",
            ),
        ]

    def __str__(self) -> str:
        end = "24:00" if self.end_time == dt.time(0, 0) else self.end_time.strftime("%H:%M")
        return f"{self.get_weekday_display()} {self.start_time:%H:%M}-{end}"

    def contains(self, local: dt.datetime) -> bool:
        if local.isoweekday() != self.weekday:
            return False
        moment = local.time()
        return moment >= self.start_time and (
            self.end_time == dt.time(0, 0) or moment < self.end_time
        )


class Voucher(models.Model):
    """A code of a campaign (one shared code, or one of many unique codes), or a gift card."""

    code = models.CharField(max_length=64)
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="vouchers")
    # A personal code goes with its owner: it must never become a code anyone can use.
    customer = models.ForeignKey(
        Customer,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="vouchers",
        help_text=_("Owner: only this customer may use the code"),
    )
    enabled = models.BooleanField(default=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    max_redemptions = models.PositiveIntegerField(null=True, blank=True)
    redemptions_count = models.PositiveIntegerField(default=0)
    gift_amount = models.BigIntegerField(
        null=True, blank=True, help_text=_("Initial gift card balance (minor units)")
    )
    gift_balance = models.BigIntegerField(null=True, blank=True)
    job = models.ForeignKey(
        "CodeGenerationJob",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="vouchers",
        help_text=_("The generation job that made it"),
    )
    variant = models.ForeignKey(
        "Variant", null=True, blank=True, on_delete=models.SET_NULL, related_name="vouchers"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["campaign", "code"]
        indexes = [
            models.Index(fields=["customer", "campaign"], name="voucher_owner_idx"),
            # The pool of generated codes not given to anyone yet, for publications.
            models.Index(
                fields=["campaign", "id"],
                condition=Q(customer__isnull=True, published_at__isnull=True),
                name="voucher_pool_idx",
            ),
        ]
        constraints = [
            # Codes are matched case-insensitively: unique in upper case, and looked up by
            # UPPER(code) so this index serves the lookup.
            models.UniqueConstraint(Upper("code"), name="voucher_code_unique"),
            models.CheckConstraint(
                condition=Q(gift_balance__isnull=True) | Q(gift_balance__gte=0),
                name="voucher_gift_balance_valid",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__isnull=True)
                | Q(starts_at__isnull=True)
                | Q(expires_at__gt=F("starts_at")),
                name="voucher_expires_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def remaining_redemptions(self) -> int | None:
        if self.max_redemptions is None:
            return None
        return max(self.max_redemptions - self.redemptions_count, 0)


class CustomerUsage(models.Model):
    """How often one customer redeemed one campaign: in all, and on ``day`` (the last day
    they redeemed it, on the campaign's clock)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="usage")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    redemptions = models.PositiveIntegerField(default=0)
    day = models.DateField(null=True, blank=True)
    day_redemptions = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "campaign"], name="customer_usage_unique")
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} / {self.campaign_id}: {self.redemptions}"

    def redemptions_on(self, day: dt.date) -> int:
        return self.day_redemptions if self.day == day else 0


class Redemption(models.Model):
    """One redemption request of a checkout: the order and what it got, or why it failed.

    Failed attempts are kept too (``status`` failed, with ``reason``), for statistics and
    fraud detection. The redeemables it applied are its ``lines``.
    """

    class Status(models.TextChoices):
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        ROLLED_BACK = "rolled_back", _("Rolled back")

    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="redemptions"
    )
    customer_source_id = models.CharField(max_length=255, blank=True)
    order_source_id = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices)
    reason = models.CharField(max_length=40, blank=True, help_text=_("Why it failed"))
    currency = models.CharField(max_length=3)
    order_amount = models.BigIntegerField(default=0)
    discount_amount = models.BigIntegerField(default=0)
    shipping_discount_amount = models.BigIntegerField(default=0)
    gift_card_amount = models.BigIntegerField(default=0)
    total_amount = models.BigIntegerField(default=0)
    test = models.BooleanField(default=False, help_text=_("Made with a sandbox key"))
    client = models.CharField(max_length=100, blank=True, help_text=_("API key name"))
    idempotency_key = models.CharField(max_length=255, blank=True)
    client_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=now, db_index=True)
    rolled_back_at = models.DateTimeField(null=True, blank=True)
    rollback_reason = models.CharField(max_length=255, blank=True)
    rolled_back_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["customer", "created_at"], name="redemption_customer_idx"),
            models.Index(fields=["order_source_id"], name="redemption_order_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_status_display()} {self.order_source_id or self.pk}"


class RedemptionLine(models.Model):
    """One redeemable of a redemption: a code or an automatic promotion, and what it gave."""

    redemption = models.ForeignKey(Redemption, on_delete=models.CASCADE, related_name="lines")
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="redemption_lines"
    )
    voucher = models.ForeignKey(
        Voucher, null=True, blank=True, on_delete=models.SET_NULL, related_name="redemption_lines"
    )
    code = models.CharField(max_length=64, blank=True)
    succeeded = models.BooleanField(default=True)
    reason = models.CharField(max_length=40, blank=True)
    discount_amount = models.BigIntegerField(default=0)
    shipping_discount_amount = models.BigIntegerField(default=0)
    gift_card_amount = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["redemption", "pk"]
        indexes = [
            models.Index(fields=["campaign", "redemption"], name="redemptionline_campaign_idx")
        ]

    def __str__(self) -> str:
        return self.code or str(self.campaign)


class IdempotencyKey(models.Model):
    """The first answer to a request sent with an ``Idempotency-Key`` header, replayed to
    every retry with the same key and body. Kept at least 24 hours, then purged."""

    client = models.CharField(max_length=100, help_text=_("API key prefix"))
    key = models.CharField(max_length=255)
    endpoint = models.CharField(max_length=100)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(default=now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "key"], name="idempotency_key_unique")
        ]

    def __str__(self) -> str:
        return self.key


class CampaignDayStats(models.Model):
    """Per campaign and day (UTC): redemptions that succeeded, failed and were rolled back,
    the discount given and the revenue of the orders. Live redemptions only.

    A day is kept in up to ``SLICES`` rows, one per web process (by process id), so that
    concurrent redemptions of a campaign do not wait for each other on one row; a day's
    figures are the sums over its slices (``selectors.campaign_day_stats``).
    """

    SLICES = 16

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="day_stats")
    day = models.DateField()
    slice = models.PositiveSmallIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    rolled_back = models.PositiveIntegerField(default=0)
    discount_given = models.BigIntegerField(default=0)
    revenue = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["campaign", "-day"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "day", "slice"], name="campaign_day_slice_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.day}"


class FailureStats(models.Model):
    """Failed redemption attempts per campaign, day (UTC) and reason."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    reason = models.CharField(max_length=40)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "day", "reason"], name="failure_stats_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.day} {self.reason}: {self.count}"


class SecurityAlert(models.Model):
    """Something the dashboard shows operators: e.g. a client guessing codes."""

    class Kind(models.TextChoices):
        CODE_GUESSING = "code_guessing", _("Repeated unknown codes")

    kind = models.CharField(max_length=40, choices=Kind.choices)
    subject = models.CharField(max_length=255, help_text=_("Customer or client address"))
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=now, db_index=True)
    acknowledged = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject}"


class CodeGenerationJob(models.Model):
    """Bulk generation of a campaign's unique codes, run by a Celery worker in batches.

    Progress is the number of codes the job has made (``generated``), counted from the
    database, so a job resumed after a worker restart continues where it stopped.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")
        FAILED = "failed", _("Failed")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="jobs")
    requested = models.PositiveIntegerField()
    generated = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    cancel_requested = models.BooleanField(default=False)
    message = models.TextField(blank=True)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.campaign}: {self.generated}/{self.requested} ({self.status})"

    @property
    def progress(self) -> float:
        return self.generated / self.requested if self.requested else 1.0


class Variant(models.Model):
    """One arm of a campaign's A/B experiment: its own discount and message, and a weight."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="variants")
    name = models.CharField(max_length=100)
    weight = models.PositiveIntegerField(default=1)
    message = models.TextField(blank=True)
    discount = models.JSONField(
        default=dict, help_text=_("The discount's fields, as the campaign's discount has them")
    )
    winner = models.BooleanField(default=False)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["campaign", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "name"], name="variant_name_unique")
        ]

    def __str__(self) -> str:
        return f"{self.campaign}: {self.name}"


class VariantAssignment(models.Model):
    """The variant a customer got, kept for the rest of the experiment."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="assignments")
    created_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "customer"], name="variant_assignment_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} -> {self.variant}"


class Publication(models.Model):
    """A code given to a customer (by the API, the admin, a trigger or a reward)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="publications")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="publications")
    voucher = models.ForeignKey(Voucher, on_delete=models.CASCADE, related_name="publications")
    variant = models.ForeignKey(
        Variant, null=True, blank=True, on_delete=models.SET_NULL, related_name="publications"
    )
    # Copied from the campaign when published: one code per customer is then unique here.
    single = models.BooleanField(default=False)
    source = models.CharField(max_length=40, default="api")
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "customer"],
                condition=Q(single=True),
                name="publication_one_per_customer",
            )
        ]

    def __str__(self) -> str:
        return f"{self.voucher} -> {self.customer_id}"


class GiftCardTransaction(models.Model):
    """The balance ledger of a gift card: every change, signed, with the balance after it."""

    class Kind(models.TextChoices):
        ISSUE = "issue", _("Issued")
        REDEEM = "redeem", _("Redeemed")
        ROLLBACK = "rollback", _("Rolled back")
        TOP_UP = "top_up", _("Topped up")

    voucher = models.ForeignKey(Voucher, on_delete=models.CASCADE, related_name="gift_ledger")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    amount = models.BigIntegerField(help_text=_("Signed, minor units"))
    balance_after = models.BigIntegerField()
    redemption = models.ForeignKey(
        "Redemption", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["voucher", "pk"]

    def __str__(self) -> str:
        return f"{self.voucher}: {self.amount:+d} -> {self.balance_after}"
