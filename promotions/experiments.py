"""A/B experiments: which variant a customer gets, how each variant does, and ending one.

A campaign runs an experiment while it has active variants and no ``experiment_ended_at``.
A customer's variant is decided by a hash of the campaign and customer ids (the same answer
on every machine and every call), stored in ``VariantAssignment`` the first time and kept
from then on. Results count live, succeeded, not rolled-back redemptions of the codes
published with each variant; significance is a two-proportion z-test (statsmodels).
"""

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count, F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customers.models import Customer

from . import services
from .errors import PromotionError
from .models import Campaign, Publication, Redemption, RedemptionLine, Variant, VariantAssignment

ALPHA = 0.05


class ExperimentEnded(PromotionError):
    code = "experiment_ended"
    http_status = 409
    default_message = gettext_lazy("The experiment has already ended.")


class InvalidWinner(PromotionError):
    code = "invalid_winner"
    http_status = 400
    default_message = gettext_lazy("This variant cannot be kept as the winner.")


# --- assignment ----------------------------------------------------------------------------


def experiment_running(campaign: Campaign) -> bool:
    """Whether publications of the campaign go through its variants."""
    return (
        campaign.experiment_ended_at is None
        and Variant.objects.filter(campaign=campaign, active=True).exists()
    )


def bucket(campaign_id: int, customer_id: int, total_weight: int) -> int:
    """A number from 0 to ``total_weight - 1``, fixed for this campaign and customer.

    The first 64 bits of a SHA-256 are uniform; reduced modulo a total weight far below
    2**64, the bias is below 2**-40, nothing a split of customers can show.
    """
    digest = hashlib.sha256(f"{campaign_id}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % total_weight


def variant_for(campaign_id: int, customer_id: int, variants: Sequence[Variant]) -> Variant:
    """The variant this customer falls in, among ``variants`` (in their order) by weight.

    Pure: the same ids and variants always give the same variant. Variants with weight 0
    get nobody; when every weight is 0 they share equally.
    """
    if not variants:
        raise ValueError("an experiment needs at least one variant")
    weights = [v.weight for v in variants]
    if not any(weights):
        weights = [1] * len(variants)
    point = bucket(campaign_id, customer_id, sum(weights))
    for variant, weight in zip(variants, weights, strict=True):
        if point < weight:
            return variant
        point -= weight
    raise AssertionError("unreachable: the bucket is below the sum of the weights")


def active_variants(campaign: Campaign) -> list[Variant]:
    return list(Variant.objects.filter(campaign=campaign, active=True).order_by("pk"))


@transaction.atomic
def assign_variant(*, campaign: Campaign, customer: Customer) -> Variant | None:
    """The customer's variant in the campaign's running experiment (None when none runs).

    Kept once given: a later change of weights moves nobody already assigned. A customer
    whose variant was switched off since is assigned again among the active ones.
    """
    if campaign.experiment_ended_at is not None:
        return None
    variants = active_variants(campaign)
    if not variants:
        return None
    kept = (
        VariantAssignment.objects.select_related("variant")
        .filter(campaign=campaign, customer=customer)
        .first()
    )
    if kept is not None and kept.variant.active:
        return kept.variant
    chosen = variant_for(campaign.pk, customer.pk, variants)
    if kept is not None:
        kept.variant = chosen
        kept.save(update_fields=["variant"])
        return chosen
    # Two first publications of one customer at once compute the same variant; whichever
    # insert loses is ignored, and the stored row is what both return.
    VariantAssignment.objects.bulk_create(
        [VariantAssignment(campaign=campaign, customer=customer, variant=chosen)],
        ignore_conflicts=True,
    )
    stored = VariantAssignment.objects.select_related("variant").get(
        campaign=campaign, customer=customer
    )
    return stored.variant


# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """A two-proportion z-test of conversion between two variants."""

    first: Variant
    second: Variant
    z: float | None
    p_value: float | None

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < ALPHA


@dataclass
class VariantResult:
    variant: Variant
    published: int = 0
    redeemed: int = 0
    converted: int = 0
    discount_cost: int = 0
    revenue: int = 0
    # Against the control (the first variant); None for the control itself.
    versus_control: Comparison | None = None

    @property
    def conversion_rate(self) -> float | None:
        return self.converted / self.published if self.published else None


@dataclass
class ExperimentResults:
    campaign: Campaign
    variants: list[VariantResult] = field(default_factory=list)
    # The two variants with the best conversion rates, the better first.
    leaders: Comparison | None = None

    @property
    def running(self) -> bool:
        return self.campaign.experiment_ended_at is None and any(
            r.variant.active for r in self.variants
        )

    @property
    def winner(self) -> Variant | None:
        return next((r.variant for r in self.variants if r.variant.winner), None)

    @property
    def control(self) -> VariantResult | None:
        return self.variants[0] if self.variants else None


def two_proportion_test(
    successes_a: int, trials_a: int, successes_b: int, trials_b: int
) -> tuple[float | None, float | None]:
    """(z, two-sided p-value) of "both convert at the same rate", with the pooled variance;
    (None, None) when it cannot be told: a variant with nobody, or no variance at all (both
    at 0% or both at 100%)."""
    if trials_a <= 0 or trials_b <= 0:
        return None, None
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    if pooled in (0, 1):
        return None, None
    # Imported here: statsmodels pulls in scipy and numpy, which no request path needs.
    from statsmodels.stats.proportion import proportions_ztest

    z, p_value = proportions_ztest([successes_a, successes_b], [trials_a, trials_b])
    z, p_value = float(z), float(p_value)
    if math.isnan(p_value):
        return None, None
    return z, p_value


def _compare(first: VariantResult, second: VariantResult) -> Comparison:
    z, p_value = two_proportion_test(
        first.converted, first.published, second.converted, second.published
    )
    return Comparison(first.variant, second.variant, z, p_value)


def experiment_results(campaign: Campaign) -> ExperimentResults:
    """Per variant (control first): codes published, redemptions, customers' codes redeemed at
    least once (conversions), conversion rate, discount cost and revenue; each variant tested
    against the control, and the two best against each other. Three queries.

    Redemptions count when they succeeded with a live key and were not rolled back. The
    discount cost is the discount plus the shipping discount; revenue is what the orders paid
    (gift cards included), as the campaign's day statistics count it.
    """
    variants = list(Variant.objects.filter(campaign=campaign).order_by("pk"))
    results = {v.pk: VariantResult(v) for v in variants}
    published = (
        Publication.objects.filter(campaign=campaign, variant__isnull=False)
        .values("variant")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in published:
        results[row["variant"]].published = row["n"]
    lines = (
        RedemptionLine.objects.filter(
            campaign=campaign,
            voucher__variant__isnull=False,
            succeeded=True,
            redemption__status=Redemption.Status.SUCCEEDED,
            redemption__test=False,
        )
        .values("voucher__variant")
        .annotate(
            redeemed=Count("redemption", distinct=True),
            converted=Count("voucher", distinct=True),
            discount_cost=Sum(F("discount_amount") + F("shipping_discount_amount")),
            revenue=Sum(F("redemption__total_amount") + F("redemption__gift_card_amount")),
        )
        .order_by()
    )
    for row in lines:
        result = results.get(row["voucher__variant"])
        if result is None:  # a voucher whose variant belongs to another campaign
            continue
        result.redeemed = row["redeemed"]
        # Conversions are codes, and a code is one publication: never above "published".
        result.converted = min(row["converted"], result.published)
        result.discount_cost = row["discount_cost"] or 0
        result.revenue = row["revenue"] or 0
    ordered = [results[v.pk] for v in variants]
    if ordered:
        control = ordered[0]
        for result in ordered[1:]:
            result.versus_control = _compare(result, control)
    ranked = sorted(
        (r for r in ordered if r.published),
        key=lambda r: (-(r.conversion_rate or 0), r.variant.pk),
    )
    leaders = _compare(ranked[0], ranked[1]) if len(ranked) >= 2 else None
    return ExperimentResults(campaign=campaign, variants=ordered, leaders=leaders)


# --- ending --------------------------------------------------------------------------------


@transaction.atomic
def end_experiment(*, campaign: Campaign, winner: Variant) -> Campaign:
    """Keep the winner: its discount becomes the campaign's, the other variants are switched
    off, and later publications give the campaign's discount without a variant. Codes already
    published keep their variant (and so the discount they were given).

    Raises ExperimentEnded, InvalidWinner, InvalidCampaign (the discount does not fit the
    campaign)."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.experiment_ended_at is not None:
        raise ExperimentEnded(
            _("The experiment of “%(name)s” ended on %(when)s.")
            % {"name": campaign.name, "when": campaign.experiment_ended_at.isoformat()}
        )
    winner = Variant.objects.filter(pk=winner.pk, campaign=campaign).first()
    if winner is None:
        raise InvalidWinner(_("The winner must be a variant of this campaign."))
    errors = services.discount_errors(winner.discount, kind=campaign.kind)
    if errors:
        raise InvalidWinner(
            _("The discount of “%(name)s” is not valid: %(errors)s")
            % {
                "name": winner.name,
                "errors": "; ".join(f"{k}: {v}" for k, v in sorted(errors.items())),
            },
            details=errors,
        )
    services.save_campaign(campaign=campaign, values={}, discount=dict(winner.discount))
    Variant.objects.filter(campaign=campaign).exclude(pk=winner.pk).update(
        active=False, winner=False
    )
    Variant.objects.filter(pk=winner.pk).update(active=True, winner=True)
    campaign.experiment_ended_at = timezone.now()
    campaign.save(update_fields=["experiment_ended_at", "updated_at"])
    return campaign
