"""Publications that race, with real threads and connections (PostgreSQL; CI's second pass)."""

import pytest

from promotions.experiments import variant_for
from promotions.models import CodeGenerationJob, Publication, Variant, VariantAssignment, Voucher
from promotions.publications import NoCodesLeft, publish
from tests.customers.test_concurrency import run_concurrently
from tests.factories import CustomerFactory
from tests.promotions.factories import CampaignFactory, DiscountFactory, VoucherFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CALLS = 20


def pool(size: int, **fields):
    campaign = CampaignFactory(**fields)
    DiscountFactory(campaign=campaign)
    job = CodeGenerationJob.objects.create(campaign=campaign, requested=size, generated=size)
    for n in range(size):
        VoucherFactory(campaign=campaign, code=f"RACE{campaign.pk}X{n:04d}", job=job)
    return campaign


def test_one_code_per_customer_holds_under_concurrent_publication():
    campaign = pool(CALLS, one_code_per_customer=True)
    customer = CustomerFactory()
    codes: list[str] = []

    errors = run_concurrently(
        [
            lambda: codes.append(publish(campaign=campaign, customer=customer).voucher.code)
            for _ in range(CALLS)
        ]
    )

    assert errors == []
    assert Publication.objects.filter(campaign=campaign).count() == 1
    # One code consumed; the losers' codes went back to the pool.
    assert Voucher.objects.filter(campaign=campaign, customer=customer).count() == 1
    assert Voucher.objects.filter(campaign=campaign, published_at__isnull=False).count() == 1
    assert len(codes) == CALLS and set(codes) == {Publication.objects.get().voucher.code}


def test_one_code_per_customer_on_demand_makes_one_code_under_concurrency():
    campaign = CampaignFactory(
        one_code_per_customer=True, codes_on_demand=True, code_pattern="{first_name}-######"
    )
    DiscountFactory(campaign=campaign)
    customer = CustomerFactory(first_name="Anna")

    errors = run_concurrently(
        [lambda: publish(campaign=campaign, customer=customer) for _ in range(CALLS)]
    )

    assert errors == []
    assert Publication.objects.filter(campaign=campaign).count() == 1
    assert Voucher.objects.filter(campaign=campaign).count() == 1


def test_concurrent_publications_never_give_one_code_twice():
    # 20 customers, 10 codes: SKIP LOCKED hands each code to one of them, the rest are told
    # the pool is empty.
    campaign = pool(CALLS // 2)
    customers = [CustomerFactory() for _ in range(CALLS)]
    refused: list[BaseException] = []

    def attempt(customer):
        try:
            publish(campaign=campaign, customer=customer)
        except NoCodesLeft as e:
            refused.append(e)

    errors = run_concurrently([lambda c=c: attempt(c) for c in customers])

    assert errors == []
    given = Publication.objects.filter(campaign=campaign)
    assert given.count() == CALLS // 2 and len(refused) == CALLS // 2
    assert given.values("voucher").distinct().count() == CALLS // 2
    assert not Voucher.objects.filter(campaign=campaign, customer__isnull=True).exists()


def test_concurrent_first_publications_share_one_variant_assignment():
    campaign = pool(CALLS)
    variants = [
        Variant.objects.create(campaign=campaign, name=name, discount={"type": "free_shipping"})
        for name in ("A", "B", "C")
    ]
    customer = CustomerFactory()

    errors = run_concurrently(
        [lambda: publish(campaign=campaign, customer=customer) for _ in range(CALLS)]
    )

    assert errors == []
    assert VariantAssignment.objects.filter(campaign=campaign).count() == 1
    expected = variant_for(campaign.pk, customer.pk, variants)
    assert set(Publication.objects.values_list("variant", flat=True)) == {expected.pk}
