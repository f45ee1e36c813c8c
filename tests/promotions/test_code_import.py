"""Import of existing codes from CSV (with its report) and export of a campaign's codes."""

import csv
import datetime as dt
import io

import pytest
import tablib

from customers.models import Customer
from promotions.models import Campaign, Voucher
from promotions.resources import (
    VoucherResource,
    campaign_codes_csv,
    import_problems,
)
from tests.promotions.factories import CampaignFactory, VoucherFactory

pytestmark = pytest.mark.django_db


def load(text: str) -> tablib.Dataset:
    return tablib.Dataset().load(text.strip() + "\n", format="csv")


def import_csv(text: str, *, dry_run: bool = False):
    return VoucherResource().import_data(load(text), dry_run=dry_run)


def problems_by_row(result) -> dict[int, str]:
    return {
        problem.row: " ".join(m for ms in problem.messages.values() for m in ms)
        for problem in import_problems(result)
    }


def test_import_creates_codes_by_campaign_name_or_id():
    summer = CampaignFactory(name="Summer")
    winter = CampaignFactory(name="Winter")
    Customer.objects.create(source_id="cust-1")
    result = import_csv(
        f"""
code,campaign,customer,expires_at
SUMMER-1,Summer,cust-1,2030-01-01T00:00:00+00:00
winter-1,{winter.pk},,
"""
    )
    assert not result.has_errors() and not result.has_validation_errors()
    first = Voucher.objects.get(code="SUMMER-1")
    assert first.campaign == summer and first.customer.source_id == "cust-1"
    assert first.expires_at == dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    assert Voucher.objects.get(code="winter-1").campaign == winter


def test_import_gives_gift_cards_their_balance():
    CampaignFactory(name="Gifts", kind=Campaign.Kind.GIFT_CARDS)
    import_csv("code,campaign,gift_amount\nGIFT-1,Gifts,5000")
    card = Voucher.objects.get(code="GIFT-1")
    assert (card.gift_amount, card.gift_balance) == (5000, 5000)


def test_import_reports_duplicates_and_bad_characters_and_imports_nothing():
    CampaignFactory(name="Summer")
    VoucherFactory(code="TAKEN-1", campaign=CampaignFactory(name="Other"))
    result = import_csv(
        """
code,campaign
GOOD-1,Summer
taken-1,Summer
AGAIN-1,Summer
again-1,Summer
BAD CODE,Summer
CAFÉ,Summer
-DASH,Summer
GOOD-2,Summer
"""
    )
    assert result.has_validation_errors()
    problems = problems_by_row(result)
    assert sorted(problems) == [2, 4, 5, 6, 7]
    assert "Already exists as 'TAKEN-1' (codes ignore case)" in problems[2]
    assert "Duplicate of row 3 in this file (codes ignore case)" in problems[4]
    assert "Bad characters ' '" in problems[5]
    assert "Bad characters 'É'" in problems[6]
    assert "starts with a letter or a digit" in problems[7]
    assert [p.code for p in import_problems(result)] == [
        "taken-1",
        "again-1",
        "BAD CODE",
        "CAFÉ",
        "-DASH",
    ]
    assert list(Voucher.objects.values_list("code", flat=True)) == ["TAKEN-1"]


def test_import_reports_a_too_long_code():
    CampaignFactory(name="Summer")
    problems = problems_by_row(import_csv(f"code,campaign\n{'A' * 65},Summer"))
    assert "At most 64 characters; this one has 65" in problems[1]


def test_import_reports_unknown_campaign_and_customer():
    CampaignFactory(name="Summer")
    problems = problems_by_row(
        import_csv("code,campaign,customer\nX-1,Nope,\nX-2,Summer,ghost\nX-3,,")
    )
    assert "No campaign named or numbered 'Nope'" in problems[1]
    assert "No customer with source_id 'ghost'" in problems[2]
    assert "Name the campaign" in problems[3]
    assert not Voucher.objects.exists()


def test_import_refuses_a_balance_outside_gift_cards_and_codes_for_promotions():
    CampaignFactory(name="Summer")
    CampaignFactory(name="Auto", kind=Campaign.Kind.PROMOTION)
    CampaignFactory(name="Gifts", kind=Campaign.Kind.GIFT_CARDS)
    problems = problems_by_row(
        import_csv(
            "code,campaign,gift_amount\nA-1,Summer,100\nA-2,Auto,\nA-3,Gifts,\nA-4,Gifts,1.5"
        )
    )
    assert "Only gift card campaigns have a balance" in problems[1]
    assert "An automatic promotion has no codes" in problems[2]
    assert "A gift card needs a balance" in problems[3]
    assert "A whole number is required" in problems[4]


def test_import_without_a_code_column_is_refused():
    CampaignFactory(name="Summer")
    result = import_csv("campaign\nSummer")
    assert result.has_errors() or result.has_validation_errors()
    assert not Voucher.objects.exists()


def test_dry_run_writes_nothing():
    CampaignFactory(name="Summer")
    result = import_csv("code,campaign\nNEW-1,Summer", dry_run=True)
    assert not result.has_errors() and not result.has_validation_errors()
    assert not Voucher.objects.exists()


# --- export --------------------------------------------------------------------------------


def exported_rows(campaign) -> list[dict]:
    response = campaign_codes_csv(campaign)
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_export_lists_a_campaigns_codes_with_owner_publication_use_and_balance():
    gifts = CampaignFactory(name="Gifts", kind=Campaign.Kind.GIFT_CARDS)
    owner = Customer.objects.create(source_id="cust-7")
    published = dt.datetime(2030, 5, 1, 12, tzinfo=dt.UTC)
    VoucherFactory(
        campaign=gifts,
        code="GIFT-A",
        customer=owner,
        published_at=published,
        redemptions_count=2,
        gift_amount=5000,
        gift_balance=1200,
    )
    VoucherFactory(campaign=gifts, code="GIFT-B", gift_amount=1000, gift_balance=1000)
    VoucherFactory(code="ELSEWHERE")
    rows = exported_rows(gifts)
    assert [row["code"] for row in rows] == ["GIFT-A", "GIFT-B"]
    assert rows[0] == {
        "code": "GIFT-A",
        "campaign": "Gifts",
        "customer": "cust-7",
        "expires_at": "",
        "gift_amount": "5000",
        "published_at": published.isoformat(),
        "redemptions": "2",
        "gift_balance": "1200",
    }
    assert (rows[1]["customer"], rows[1]["published_at"], rows[1]["redemptions"]) == ("", "", "0")


def test_export_keeps_formulas_as_text():
    campaign = CampaignFactory(name="Summer")
    VoucherFactory(campaign=campaign, code="A1", customer=Customer.objects.create(source_id="=1+1"))
    assert exported_rows(campaign)[0]["customer"] == "'=1+1"


def test_an_export_reimports_elsewhere():
    campaign = CampaignFactory(name="Summer")
    VoucherFactory(campaign=campaign, code="MOVE-1")
    text = b"".join(campaign_codes_csv(campaign).streaming_content).decode()
    Voucher.objects.all().delete()
    result = import_csv(text)
    assert not result.has_errors() and not result.has_validation_errors()
    assert Voucher.objects.get().code == "MOVE-1"


def test_resource_export_of_a_queryset():
    campaign = CampaignFactory(name="Summer")
    VoucherFactory(campaign=campaign, code="Q-1")
    dataset = VoucherResource().export(Voucher.objects.filter(campaign=campaign))
    assert dataset.headers[:2] == ["code", "campaign"]
    assert dataset[0][:2] == ("Q-1", "Summer")
