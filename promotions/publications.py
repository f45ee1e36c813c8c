"""Publications: give a customer a code from a campaign.

Three ways a campaign gives codes, decided in this order:

- **on demand** (``codes_on_demand``): a new code is made from the campaign's pattern,
  personalised for the customer (``promotions.codes``), owned by them;
- **generic**: a campaign whose only code has no owner and was not made by a generation job
  gives everyone that shared code (it stays without owner);
- **pool**: one of the campaign's generated or imported codes that nobody has yet is taken
  (``SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1`` on ``voucher_pool_idx``), owned by the
  customer from then on. Gift card campaigns always publish from their pool of issued cards.

With ``one_code_per_customer`` a customer has at most one publication of the campaign (a
partial unique index): publishing again returns it, even when two publications of one
customer race. During an A/B experiment the customer's variant goes on the code and on the
publication.
"""

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customers.models import Customer
from customers.services import upsert_customer

from . import experiments
from .codes import code_maker
from .errors import CampaignNotFound, PromotionError
from .models import Campaign, Publication, Variant, Voucher

# How many fresh codes on-demand publication tries before it gives up: with a pattern whose
# space is even 10% used, ten collisions in a row happen once in 10**10 publications.
ON_DEMAND_TRIES = 10
POOL_TRIES = 5


class CampaignNotPublishable(PromotionError):
    """The campaign gives no codes now; the subclass's ``code`` says why."""

    code = "campaign_inactive"
    http_status = 409
    default_message = gettext_lazy("This campaign gives no codes now.")


class CampaignInactive(CampaignNotPublishable):
    code = "campaign_inactive"


class CampaignEnded(CampaignNotPublishable):
    code = "campaign_ended"
    default_message = gettext_lazy("This campaign has ended.")


class CampaignWithoutCodes(CampaignNotPublishable):
    code = "campaign_has_no_codes"
    default_message = gettext_lazy("An automatic promotion applies without a code.")


class ExperimentNeedsUniqueCodes(CampaignNotPublishable):
    code = "experiment_needs_unique_codes"
    default_message = gettext_lazy(
        "An A/B experiment needs a code per customer, not one shared code."
    )


class NoCodesLeft(PromotionError):
    code = "no_codes_left"
    http_status = 409
    default_message = gettext_lazy(
        "Every code of this campaign has been given out: generate or import more codes."
    )


class InvalidCodePattern(PromotionError):
    code = "invalid_code_pattern"
    http_status = 409
    default_message = gettext_lazy("The campaign's code pattern cannot make codes.")


class CodeSpaceExhausted(PromotionError):
    code = "code_space_exhausted"
    http_status = 409
    default_message = gettext_lazy(
        "No new unique code could be made from the campaign's pattern: make it longer."
    )


# --- the service ---------------------------------------------------------------------------


@transaction.atomic
def publish(
    *, campaign: Campaign, customer: Customer, source: str = "api", now: dt.datetime | None = None
) -> Publication:
    """Give the customer a code of the campaign. The publication's ``created`` is False when
    a one-code-per-customer campaign returned the customer's existing publication.

    Raises CampaignInactive, CampaignEnded, CampaignWithoutCodes (an automatic promotion),
    ExperimentNeedsUniqueCodes, NoCodesLeft, InvalidCodePattern, CodeSpaceExhausted."""
    now = now or timezone.now()
    campaign = Campaign.objects.get(pk=campaign.pk)
    _check_publishable(campaign, now)
    single = campaign.one_code_per_customer
    if single:
        existing = _existing(campaign, customer)
        if existing is not None:
            return existing
    shared = _shared_code(campaign)
    variant = experiments.assign_variant(campaign=campaign, customer=customer)
    if shared is not None and variant is not None:
        raise ExperimentNeedsUniqueCodes(
            _(
                "“%(name)s” runs an A/B experiment, which needs a code per customer; it has "
                "one shared code. Generate codes or turn on codes on demand."
            )
            % {"name": campaign.name},
            details={"campaign": campaign.pk},
        )
    try:
        # A savepoint: when a concurrent publication for the same customer wins the unique
        # index, the code taken here goes back to the pool (or is never made).
        with transaction.atomic():
            if shared is not None:
                voucher = shared
            elif campaign.codes_on_demand and campaign.kind != Campaign.Kind.GIFT_CARDS:
                voucher = _new_code(campaign, customer, variant, now)
            else:
                voucher = _code_from_pool(campaign, customer, variant, now)
            publication = Publication.objects.create(
                campaign=campaign,
                customer=customer,
                voucher=voucher,
                variant=variant,
                single=single,
                source=source,
                created_at=now,
            )
    except IntegrityError:
        existing = _existing(campaign, customer) if single else None
        if existing is None:
            raise
        return existing
    publication.created = True
    return publication


@transaction.atomic
def publish_to_source_id(
    *,
    campaign: Campaign,
    source_id: str,
    data: dict | None = None,
    source: str = "api",
) -> Publication:
    """``publish`` to the customer with this ``source_id``; one the shop has not pushed yet
    is stored with the fields given, as the customers API would store it (the fields are
    ignored for a known customer). Raises what ``publish`` raises."""
    customer = Customer.objects.filter(source_id=source_id, erased_at__isnull=True).first()
    if customer is None:
        fields = dict(data or {})
        consents = fields.pop("consents", None)
        customer, _created = upsert_customer(source_id=source_id, data=fields, consents=consents)
    return publish(campaign=campaign, customer=customer, source=source)


def campaign_by_reference(reference: int | str) -> Campaign:
    """A campaign by id (a number) or by name (a text). Raises CampaignNotFound."""
    if isinstance(reference, int) and not isinstance(reference, bool):
        campaign = Campaign.objects.filter(pk=reference).first() if reference < 2**63 else None
    else:
        campaign = Campaign.objects.filter(name=str(reference)).first()
    if campaign is None:
        raise CampaignNotFound(
            _("No campaign has this id or name."), details={"campaign": reference}
        )
    return campaign


# --- steps ---------------------------------------------------------------------------------


def _check_publishable(campaign: Campaign, now: dt.datetime) -> None:
    name = {"name": campaign.name}
    if campaign.kind == Campaign.Kind.PROMOTION:
        raise CampaignWithoutCodes(
            _("“%(name)s” is an automatic promotion: it applies without a code.") % name,
            details={"campaign": campaign.pk, "kind": campaign.kind},
        )
    if campaign.status != Campaign.Status.ACTIVE:
        raise CampaignInactive(
            _("“%(name)s” is %(status)s: only an active campaign gives codes.")
            % {**name, "status": campaign.get_status_display().lower()},
            details={"campaign": campaign.pk, "status": campaign.status},
        )
    if campaign.ends_at is not None and campaign.ends_at <= now:
        raise CampaignEnded(
            _("“%(name)s” ended on %(when)s.") % {**name, "when": campaign.ends_at.isoformat()},
            details={"campaign": campaign.pk, "ends_at": campaign.ends_at.isoformat()},
        )


def _existing(campaign: Campaign, customer: Customer) -> Publication | None:
    publication = (
        Publication.objects.select_related("voucher", "variant", "campaign", "customer")
        .filter(campaign=campaign, customer=customer, single=True)
        .first()
    )
    if publication is not None:
        publication.created = False
    return publication


def _in_campaign(campaign: Campaign) -> QuerySet[Voucher]:
    """The campaign's vouchers, to be read in ``campaign_id`` order (index order).

    A range, not an equality: with ``campaign_id = x`` PostgreSQL drops ``ORDER BY campaign_id``
    as redundant and, when one campaign holds most of the codes, may walk the primary key or
    the table from the start past every other campaign's rows (100 ms at 400,000 codes). The
    range keeps the ordering, which only the indexes led by ``campaign_id`` give.
    """
    return Voucher.objects.filter(campaign__gte=campaign.pk, campaign__lte=campaign.pk)


def _shared_code(campaign: Campaign) -> Voucher | None:
    """The campaign's one shared code, when it is a generic campaign."""
    if campaign.codes_on_demand or campaign.kind == Campaign.Kind.GIFT_CARDS:
        return None
    first_two = list(_in_campaign(campaign).order_by("campaign_id")[:2])
    if len(first_two) != 1:
        return None
    voucher = first_two[0]
    if voucher.customer_id is not None or voucher.job_id is not None:
        return None
    return voucher


def _code_from_pool(
    campaign: Campaign, customer: Customer, variant: Variant | None, now: dt.datetime
) -> Voucher:
    """Take one code nobody has yet. Concurrent publications skip each other's locked rows
    instead of queueing on the same one."""
    for _attempt in range(POOL_TRIES):
        voucher = (
            _in_campaign(campaign)
            .filter(customer__isnull=True, published_at__isnull=True)
            .order_by("campaign_id", "id")  # voucher_pool_idx
            .select_for_update(skip_locked=True)
            .first()
        )
        if voucher is None:
            break
        # Guarded: where rows cannot be locked (SQLite), the row must still be in the pool.
        taken = Voucher.objects.filter(
            pk=voucher.pk, customer__isnull=True, published_at__isnull=True
        ).update(customer=customer, published_at=now, variant=variant, updated_at=now)
        if taken == 1:
            voucher.customer, voucher.published_at, voucher.variant = customer, now, variant
            return voucher
    raise NoCodesLeft(
        _(
            "Every code of “%(name)s” has been given out: generate or import more codes, or "
            "turn on codes on demand."
        )
        % {"name": campaign.name},
        details={"campaign": campaign.pk},
    )


def _new_code(
    campaign: Campaign, customer: Customer, variant: Variant | None, now: dt.datetime
) -> Voucher:
    """A new code from the campaign's pattern, for this customer; a code that exists already
    (in any case) is drawn again."""
    try:
        maker = code_maker(campaign)
    except ValueError as e:
        raise InvalidCodePattern(
            _("The code pattern of “%(name)s” cannot make codes: %(why)s")
            % {"name": campaign.name, "why": e},
            details={"campaign": campaign.pk, "pattern": campaign.code_pattern},
        ) from None
    for _attempt in range(ON_DEMAND_TRIES):
        code = maker.make(first_name=customer.first_name, last_name=customer.last_name)
        try:
            with transaction.atomic():
                return Voucher.objects.create(
                    campaign=campaign,
                    code=code,
                    customer=customer,
                    published_at=now,
                    variant=variant,
                    created_at=now,
                )
        except IntegrityError:
            continue
    raise CodeSpaceExhausted(
        _(
            "No new unique code could be made from the pattern of “%(name)s” in %(n)d tries: "
            "make the pattern longer or its character set larger."
        )
        % {"name": campaign.name, "n": ON_DEMAND_TRIES},
        details={"campaign": campaign.pk, "pattern": campaign.code_pattern},
    )
