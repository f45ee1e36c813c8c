"""loyalty.tier, loyalty.points and loyalty.points_expiring in segment and validation rules."""

import datetime as dt

import pytest

from customers.models import Customer
from loyalty.models import Member, Program
from segments.errors import InvalidRules
from segments.rules import compile_rules, validate_rules
from tests.factories import CustomerFactory

from .factories import T0, ProgramFactory, give, member, three_tiers

pytestmark = pytest.mark.django_db


def selected(tree, now=None) -> set[int]:
    return set(Customer.objects.filter(compile_rules(tree, now=now)).values_list("pk", flat=True))


@pytest.fixture
def people():
    program = ProgramFactory()
    _basic, _advanced, vip = three_tiers(program)
    rich = member(program)
    give(rich, 700)
    Member.objects.filter(pk=rich.pk).update(tier=vip)
    poor = member(program)
    outsider = CustomerFactory()
    return rich.customer.pk, poor.customer.pk, outsider.pk


def test_tier_equals_ignores_case(people):
    rich, _poor, _outsider = people
    assert selected({"field": "loyalty.tier", "op": "eq", "value": "vip"}) == {rich}


def test_tier_ne_includes_non_members(people):
    _rich, poor, outsider = people
    assert selected({"field": "loyalty.tier", "op": "ne", "value": "VIP"}) == {poor, outsider}


def test_tier_in(people):
    rich, poor, _outsider = people
    tree = {"field": "loyalty.tier", "op": "in", "value": ["Basic", "VIP"]}
    assert selected(tree) == {rich, poor}


def test_points_comparison(people):
    rich, poor, _outsider = people
    assert selected({"field": "loyalty.points", "op": "gte", "value": 500}) == {rich}
    assert selected({"field": "loyalty.points", "op": "lt", "value": 500}) == {poor}


def test_points_not_set_for_non_members(people):
    _rich, _poor, outsider = people
    assert selected({"field": "loyalty.points", "op": "is_not_set"}) == {outsider}


def test_points_expiring_soon():
    program = ProgramFactory(expiry=Program.Expiry.ROLLING, expiry_months=1)
    soon = member(program)
    give(soon, 50, now=T0)
    later = member(program)
    give(later, 50, now=T0 + dt.timedelta(days=25))
    now = T0 + dt.timedelta(days=20)
    tree = {"field": "loyalty.points_expiring", "op": "matches", "value": {"within_days": 14}}
    assert selected(tree, now=now) == {soon.customer.pk}
    tree["value"]["min_points"] = 51
    assert selected(tree, now=now) == set()


def test_bad_values_are_refused_with_their_path():
    with pytest.raises(InvalidRules, match="value"):
        validate_rules({"field": "loyalty.points", "op": "gt", "value": "ten"})


def test_campaign_validation_rule_can_use_the_tier(people, api):
    from tests.promotions.factories import RuleFactory, coupon

    voucher = coupon("VIPONLY")
    RuleFactory(
        campaign=voucher.campaign, rules={"field": "loyalty.tier", "op": "eq", "value": "VIP"}
    )
    rich, poor, _outsider = people
    body = {
        "order": {
            "currency": "USD",
            "items": [{"product_id": "p", "quantity": 1, "unit_price": 1000}],
        },
        "codes": ["VIPONLY"],
    }
    for pk, valid in ((rich, True), (poor, False)):
        body["customer"] = {"source_id": Customer.objects.get(pk=pk).source_id}
        assert api.post("/api/v1/validations", body).json()["valid"] is valid
