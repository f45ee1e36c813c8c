"""Gift cards: partial use down to zero, rollback, top-ups, restrictions, the ledger."""

import pytest

from promotions import services
from promotions.models import Campaign, Discount, GiftCardTransaction, Voucher
from tests.factories import CustomerFactory
from tests.promotions.factories import CampaignFactory, DiscountFactory

pytestmark = pytest.mark.django_db


def order(n: int, amount: int, *, category: str = "shoes") -> dict:
    return {
        "customer": {"source_id": "c-1"},
        "order": {
            "source_id": f"o-{n}",
            "currency": "USD",
            "items": [
                {"product_id": "p-1", "category": category, "quantity": 1, "unit_price": amount}
            ],
        },
        "codes": ["GIFT-100"],
    }


@pytest.fixture
def card(db) -> Voucher:
    CustomerFactory(source_id="c-1")
    campaign = CampaignFactory(name="Gift cards", kind=Campaign.Kind.GIFT_CARDS)
    DiscountFactory(campaign=campaign, type=Discount.Type.GIFT_CARD, percent=None)
    return services.create_voucher(
        campaign=campaign, code="GIFT-100", values={"gift_amount": 10_000}
    )


def ledger(voucher: Voucher) -> list[tuple[str, int, int]]:
    return list(
        GiftCardTransaction.objects.filter(voucher=voucher)
        .order_by("pk")
        .values_list("kind", "amount", "balance_after")
    )


def test_partial_use_down_to_zero_then_refused(api, card):
    for n, amount in enumerate([4000, 4000]):
        response = api.post("/api/v1/redemptions", order(n, amount))
        assert response.json()["order"]["gift_card_amount"] == amount
    last = api.post("/api/v1/redemptions", order(2, 5000)).json()
    # 2,000 left pays part of a 5,000 order; the customer pays the rest.
    assert (last["order"]["gift_card_amount"], last["order"]["total_amount"]) == (2000, 3000)
    empty = api.post("/api/v1/redemptions", order(3, 100))
    assert empty.status_code == 409
    assert empty.json()["error"]["code"] == "gift_balance_empty"
    card.refresh_from_db()
    assert card.gift_balance == 0
    assert ledger(card) == [
        ("issue", 10_000, 10_000),
        ("redeem", -4000, 6000),
        ("redeem", -4000, 2000),
        ("redeem", -2000, 0),
    ]


def test_rollback_restores_the_balance_and_writes_the_ledger(api, card):
    first = api.post("/api/v1/redemptions", order(0, 4000)).json()
    api.post("/api/v1/redemptions", order(1, 6000))
    api.post(f"/api/v1/redemptions/{first['id']}/rollback", {"reason": "returned"})
    card.refresh_from_db()
    assert card.gift_balance == 4000
    assert ledger(card)[-1] == ("rollback", 4000, 4000)


def test_top_up_adds_to_the_balance(api, card):
    response = api.post("/api/v1/vouchers/gift-100/balance", {"amount": 2500, "note": "credit"})
    assert response.status_code == 200
    assert response.json()["gift_balance"] == 12_500
    assert ledger(card)[-1] == ("top_up", 2500, 12_500)
    listing = api.get("/api/v1/vouchers/GIFT-100/transactions").json()
    assert [row["kind"] for row in listing["results"]] == ["issue", "top_up"]


@pytest.mark.parametrize("amount", [0, -5, 1.5, "10"])
def test_top_up_refuses_bad_amounts(api, card, amount):
    assert api.post("/api/v1/vouchers/GIFT-100/balance", {"amount": amount}).status_code == 400


def test_top_up_of_a_coupon_is_refused(api, card):
    coupon_campaign = CampaignFactory(name="Coupons")
    DiscountFactory(campaign=coupon_campaign)
    services.create_voucher(campaign=coupon_campaign, code="TEN")
    response = api.post("/api/v1/vouchers/TEN/balance", {"amount": 100})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_a_gift_card"


def test_a_restricted_card_does_not_pay_for_sale_items(api, card):
    Discount.objects.filter(campaign=card.campaign).update(excluded_categories=["sale"])
    body = order(0, 3000)
    body["order"]["items"].append(
        {"product_id": "p-2", "category": "sale", "quantity": 1, "unit_price": 2000}
    )
    body["order"]["shipping_amount"] = 500
    answer = api.post("/api/v1/validations", body).json()
    assert answer["order"]["gift_card_amount"] == 3500  # 3,000 of items + 500 shipping
    assert answer["order"]["total_amount"] == 2000


def test_an_expired_card_is_refused(api, card):
    import datetime as dt

    Voucher.objects.filter(pk=card.pk).update(expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    answer = api.post("/api/v1/validations", order(0, 100)).json()
    assert answer["redeemables"][0]["error"]["code"] == "expired"
