"""Factories of the promotions app (campaign with its discount, vouchers, rules)."""

import factory

from promotions.models import (
    Campaign,
    CustomerUsage,
    Discount,
    ScheduleWindow,
    ValidationRule,
    Voucher,
)


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"Campaign {n}")
    kind = Campaign.Kind.COUPONS
    status = Campaign.Status.ACTIVE
    currency = "USD"


class DiscountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Discount

    campaign = factory.SubFactory(CampaignFactory)
    type = Discount.Type.PERCENT
    percent = 10


class VoucherFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Voucher

    campaign = factory.SubFactory(CampaignFactory)
    code = factory.Sequence(lambda n: f"CODE{n:05d}")


class RuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ValidationRule

    campaign = factory.SubFactory(CampaignFactory)
    name = factory.Sequence(lambda n: f"Rule {n}")
    rules = factory.LazyFunction(lambda: {"all": []})


class ScheduleWindowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScheduleWindow

    campaign = factory.SubFactory(CampaignFactory)
    weekday = 1


class CustomerUsageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerUsage


def coupon(code: str = "SAVE10", *, discount: dict | None = None, **campaign) -> Voucher:
    """An active coupon campaign with one code and a discount (10% off by default)."""
    made = CampaignFactory(**campaign)
    DiscountFactory(campaign=made, **(discount or {"type": "percent", "percent": 10}))
    return VoucherFactory(campaign=made, code=code)


def promotion(*, discount: dict | None = None, **campaign) -> Campaign:
    """An active automatic promotion (10% off by default)."""
    made = CampaignFactory(kind=Campaign.Kind.PROMOTION, **campaign)
    DiscountFactory(campaign=made, **(discount or {"type": "percent", "percent": 10}))
    return made
