import datetime as dt

import pytest
from django.utils import timezone

from promotions import services
from promotions.errors import (
    CampaignArchived,
    CampaignNotReady,
    InvalidCampaign,
    InvalidVoucher,
    VoucherCodeTaken,
)
from promotions.models import Campaign, Voucher
from segments.models import Segment
from tests.promotions.factories import (
    CampaignFactory,
    DiscountFactory,
    RuleFactory,
    ScheduleWindowFactory,
    VoucherFactory,
)

pytestmark = pytest.mark.django_db

TEN_PERCENT = {"type": "percent", "percent": 10}
FROM_50 = {"all": [{"field": "order.amount", "op": "gte", "value": 5000}]}


def draft(**fields) -> Campaign:
    return CampaignFactory(**{"status": Campaign.Status.DRAFT, **fields})


def ready(**fields) -> Campaign:
    """A draft coupon campaign with a discount and a code: everything it needs to go live."""
    campaign = draft(**fields)
    DiscountFactory(campaign=campaign)
    VoucherFactory(campaign=campaign)
    return campaign


# --- save_campaign -------------------------------------------------------------------------


def test_save_campaign_creates_a_draft_with_its_parts():
    segment = Segment.objects.create(name="Ireland")

    campaign = services.save_campaign(
        values={"name": "Summer", "kind": "coupons"},
        discount=TEN_PERCENT,
        rules=[{"name": "From 50", "rules": FROM_50}],
        schedule=[{"weekday": 6, "start_time": dt.time(9), "end_time": dt.time(0)}],
        segment_ids=[segment.pk],
    )

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT
    assert campaign.discount.percent == 10
    assert [(r.name, r.rules) for r in campaign.rules.all()] == [("From 50", FROM_50)]
    assert [str(w) for w in campaign.schedule.all()] == ["Saturday 09:00-24:00"]
    assert list(campaign.segments.all()) == [segment]


def test_save_campaign_names_the_bad_discount_field():
    with pytest.raises(InvalidCampaign) as e:
        services.save_campaign(values={"name": "X"}, discount={"type": "percent", "percent": 150})
    assert set(e.value.details) == {"discount.percent"}
    assert not Campaign.objects.exists()


def test_save_campaign_points_at_the_bad_rule_node():
    tree = {"all": [{"field": "order.amount", "op": "gte", "value": "lots"}]}
    with pytest.raises(InvalidCampaign) as e:
        services.save_campaign(values={"name": "X"}, rules=[{"rules": FROM_50}, {"rules": tree}])
    assert e.value.details["rules[1].rules"].startswith("all[0].value: ")


def test_save_campaign_refuses_a_window_ending_before_it_starts():
    window = {"weekday": 1, "start_time": dt.time(18), "end_time": dt.time(9)}
    with pytest.raises(InvalidCampaign) as e:
        services.save_campaign(values={"name": "X"}, schedule=[window])
    assert set(e.value.details) == {"schedule[0].end_time"}


def test_save_campaign_refuses_a_window_without_weekday():
    with pytest.raises(InvalidCampaign) as e:
        services.save_campaign(values={"name": "X"}, schedule=[{"start_time": dt.time(9)}])
    assert set(e.value.details) == {"schedule[0].weekday"}


def test_save_campaign_refuses_unknown_segments_and_writes_nothing():
    with pytest.raises(InvalidCampaign) as e:
        services.save_campaign(values={"name": "X"}, segment_ids=[999])
    assert set(e.value.details) == {"segments"}
    assert not Campaign.objects.exists()


def test_a_campaign_with_codes_keeps_its_kind():
    campaign = ready()
    with pytest.raises(InvalidCampaign) as e:
        services.save_campaign(campaign=campaign, values={"kind": "promotion"})
    assert set(e.value.details) == {"kind"}


def test_a_new_kind_must_fit_the_discount_the_campaign_keeps():
    campaign = draft(kind=Campaign.Kind.PROMOTION)
    DiscountFactory(campaign=campaign)

    with pytest.raises(InvalidCampaign) as e:
        services.save_campaign(campaign=campaign, values={"kind": "gift_cards"})

    assert set(e.value.details) == {"discount.type"}


def test_saving_a_campaign_keeps_counters_moved_meanwhile():
    campaign = draft()
    Campaign.objects.filter(pk=campaign.pk).update(redemptions_count=7, discount_given=900)

    services.save_campaign(campaign=campaign, values={"description": "New words"})

    campaign.refresh_from_db()
    assert (campaign.description, campaign.redemptions_count, campaign.discount_given) == (
        "New words",
        7,
        900,
    )


def test_rules_sent_replace_the_old_ones():
    campaign = draft()
    RuleFactory(campaign=campaign, name="Old")

    services.save_campaign(campaign=campaign, values={}, rules=[{"name": "New", "rules": FROM_50}])

    assert [r.name for r in campaign.rules.all()] == ["New"]


# --- status --------------------------------------------------------------------------------


def test_activate_refuses_a_campaign_without_discount_or_codes():
    campaign = draft()

    with pytest.raises(CampaignNotReady) as e:
        services.activate_campaign(campaign=campaign)

    problems = e.value.details["problems"]
    assert any("no discount" in p for p in problems)
    assert any("no codes" in p for p in problems)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_activate_puts_a_ready_campaign_live():
    campaign = ready()
    services.activate_campaign(campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.ACTIVE


def test_pause_stops_a_live_campaign():
    campaign = ready(status=Campaign.Status.ACTIVE)
    services.pause_campaign(campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED


def test_an_archived_campaign_cannot_be_paused():
    campaign = draft(status=Campaign.Status.ARCHIVED)
    with pytest.raises(CampaignArchived):
        services.pause_campaign(campaign=campaign)


# --- duplicate -----------------------------------------------------------------------------


def test_duplicate_copies_discount_rules_schedule_and_segments_as_a_draft():
    original = ready(status=Campaign.Status.ACTIVE, redemptions_count=4, discount_given=800)
    RuleFactory(campaign=original, rules=FROM_50)
    ScheduleWindowFactory(campaign=original, weekday=3)
    original.segments.add(Segment.objects.create(name="Ireland"))

    copy = services.duplicate_campaign(campaign=original)

    copy.refresh_from_db()
    assert copy.name == f"{original.name} (copy)"
    assert (copy.status, copy.redemptions_count, copy.discount_given) == ("draft", 0, 0)
    assert copy.discount.percent == original.discount.percent
    assert [r.rules for r in copy.rules.all()] == [FROM_50]
    assert [w.weekday for w in copy.schedule.all()] == [3]
    assert [s.name for s in copy.segments.all()] == ["Ireland"]
    assert not copy.vouchers.exists()
    original.refresh_from_db()
    assert original.discount.campaign_id == original.pk


def test_duplicate_names_stay_within_the_name_length():
    original = draft(name="N" * 200)
    first = services.duplicate_campaign(campaign=original)
    second = services.duplicate_campaign(campaign=original)
    assert len(first.name) <= 200 and len(second.name) <= 200
    assert first.name != second.name


# --- vouchers ------------------------------------------------------------------------------


def test_create_voucher_refuses_a_code_taken_in_another_case():
    VoucherFactory(code="SUMMER10")
    with pytest.raises(VoucherCodeTaken):
        services.create_voucher(campaign=draft(), code="summer10")


def test_create_voucher_refuses_a_code_with_other_characters():
    with pytest.raises(InvalidVoucher) as e:
        services.create_voucher(campaign=draft(), code="SUMMER 10")
    assert set(e.value.details) == {"code"}


def test_a_gift_card_starts_with_its_whole_balance():
    campaign = draft(kind=Campaign.Kind.GIFT_CARDS)
    voucher = services.create_voucher(
        campaign=campaign, code="GIFT-1", values={"gift_amount": 5000}
    )
    assert (voucher.gift_amount, voucher.gift_balance) == (5000, 5000)
    ledger = voucher.gift_ledger.values_list("kind", "amount", "balance_after")
    assert list(ledger) == [("issue", 5000, 5000)]


def test_update_voucher_keeps_counters_and_balance_moved_meanwhile():
    voucher = VoucherFactory(campaign=draft(kind=Campaign.Kind.GIFT_CARDS), gift_amount=5000)
    Voucher.objects.filter(pk=voucher.pk).update(redemptions_count=2, gift_balance=1200)

    services.update_voucher(voucher=voucher, values={"enabled": False})

    voucher.refresh_from_db()
    assert (voucher.enabled, voucher.redemptions_count, voucher.gift_balance) == (False, 2, 1200)


def test_update_voucher_refuses_a_new_code():
    voucher = VoucherFactory()
    with pytest.raises(InvalidVoucher) as e:
        services.update_voucher(voucher=voucher, values={"code": "OTHER"})
    assert set(e.value.details) == {"code"}


@pytest.mark.parametrize(
    ("campaign_dates", "voucher_dates", "expected"),
    [
        ({}, {}, "active"),
        ({"starts_at": 1}, {}, "not_started"),
        ({}, {"starts_at": 1}, "not_started"),
        ({"ends_at": -1}, {}, "expired"),
        ({}, {"expires_at": -1}, "expired"),
        ({"starts_at": -2, "ends_at": 2}, {"starts_at": -1, "expires_at": 1}, "active"),
    ],
)
def test_voucher_dates_status_reads_both_the_voucher_and_its_campaign(
    campaign_dates, voucher_dates, expected
):
    now = timezone.now()

    def days(offsets):
        return {k: now + dt.timedelta(days=v) for k, v in offsets.items()}

    voucher = VoucherFactory(campaign=draft(**days(campaign_dates)), **days(voucher_dates))
    assert services.voucher_dates_status(voucher, now=now) == expected
