"""A/B experiments: assignment, the split, results with significance, ending, admin pages."""

import json
import math
from collections import Counter
from html.parser import HTMLParser

import pytest
from django.contrib.admin.sites import AdminSite, site
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.test import RequestFactory
from django.urls import path
from django.utils import timezone

from customers.models import Customer
from promotions.admin_publications import (
    VariantForm,
    VariantInline,
    end_experiment_keep_winner,
    experiment_results_url,
    publish_to_customers,
)
from promotions.checkout import Checkout, CustomerInput, quote_checkout
from promotions.discounts import Item
from promotions.experiments import (
    ExperimentEnded,
    InvalidWinner,
    assign_variant,
    bucket,
    end_experiment,
    experiment_results,
    two_proportion_test,
    variant_for,
)
from promotions.models import (
    Campaign,
    CodeGenerationJob,
    Discount,
    Publication,
    Redemption,
    RedemptionLine,
    Variant,
    VariantAssignment,
    Voucher,
)
from promotions.publications import ExperimentNeedsUniqueCodes, publish
from tests.factories import CustomerFactory
from tests.promotions.factories import CampaignFactory, DiscountFactory, VoucherFactory

pytestmark = pytest.mark.django_db

TEN_PERCENT = {"type": "percent", "percent": "10"}
FIFTEEN_PERCENT = {"type": "percent", "percent": "15"}
FIVE_OFF = {"type": "amount", "amount": 500}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def experiment(*weights: int, codes: int = 10, **fields) -> tuple[Campaign, list[Variant]]:
    """A campaign with a pool of codes and one variant per weight (A, B, C...)."""
    campaign = CampaignFactory(**fields)
    DiscountFactory(campaign=campaign, type="percent", percent=10)
    job = CodeGenerationJob.objects.create(campaign=campaign, requested=codes, generated=codes)
    for n in range(codes):
        VoucherFactory(campaign=campaign, code=f"EXP{campaign.pk}X{n:05d}", job=job)
    discounts = [TEN_PERCENT, FIFTEEN_PERCENT, FIVE_OFF]
    variants = [
        Variant.objects.create(
            campaign=campaign,
            name="ABCDEFGH"[i],
            weight=weight,
            discount=discounts[i % 3],
            message=f"Message {'ABCDEFGH'[i]}",
        )
        for i, weight in enumerate(weights)
    ]
    return campaign, variants


# --- deterministic assignment --------------------------------------------------------------


def test_bucket_is_a_fixed_function_of_campaign_and_customer():
    # Fixed values: a change here would move customers between variants on upgrade.
    assert [bucket(7, n, 100) for n in range(1, 6)] == [7, 60, 59, 67, 7]


def test_assignment_is_the_same_on_every_call():
    variants = [Variant(name="A", weight=1), Variant(name="B", weight=1)]
    first = [variant_for(3, n, variants).name for n in range(200)]
    again = [variant_for(3, n, variants).name for n in range(200)]
    assert first == again
    assert set(first) == {"A", "B"}


def test_split_over_10000_customers_matches_the_weights():
    # Each variant's count is binomial(n, w / total). A fair hash keeps it within 3 standard
    # deviations, sqrt(n p (1 - p)), 99.7% of the time; the hash is fixed, so this test gives
    # the same answer on every run and machine.
    n = 10_000
    variants = [
        Variant(name="A", weight=50),
        Variant(name="B", weight=30),
        Variant(name="C", weight=20),
    ]
    counts = Counter(variant_for(17, customer_id, variants).name for customer_id in range(1, n + 1))
    for variant in variants:
        p = variant.weight / 100
        expected, sd = n * p, math.sqrt(n * p * (1 - p))
        assert abs(counts[variant.name] - expected) <= 3 * sd, (variant.name, counts)
    assert sum(counts.values()) == n


def test_variant_with_weight_zero_gets_nobody():
    variants = [Variant(name="A", weight=1), Variant(name="off", weight=0)]
    assert {variant_for(5, n, variants).name for n in range(1000)} == {"A"}


def test_assignment_is_stored_and_kept_when_weights_change():
    campaign, (a, b) = experiment(1, 1)
    customer = CustomerFactory()
    first = assign_variant(campaign=campaign, customer=customer)

    # Whatever the weights say now, the customer keeps their variant.
    other = b if first == a else a
    Variant.objects.filter(pk=first.pk).update(weight=1)
    Variant.objects.filter(pk=other.pk).update(weight=1_000_000)

    assert assign_variant(campaign=campaign, customer=customer) == first
    stored = VariantAssignment.objects.get(campaign=campaign, customer=customer)
    assert stored.variant == first


def test_customer_of_a_switched_off_variant_is_assigned_again():
    campaign, _ = experiment(1, 1)
    customer = CustomerFactory()
    first = assign_variant(campaign=campaign, customer=customer)
    Variant.objects.filter(pk=first.pk).update(active=False)

    again = assign_variant(campaign=campaign, customer=customer)

    assert again != first and again.active
    assert VariantAssignment.objects.get(campaign=campaign, customer=customer).variant == again


def test_no_assignment_without_an_experiment():
    campaign, _ = experiment()
    assert assign_variant(campaign=campaign, customer=CustomerFactory()) is None
    assert not VariantAssignment.objects.exists()


# --- publications in an experiment ---------------------------------------------------------


def test_publication_carries_the_customers_variant_on_code_and_record():
    campaign, variants = experiment(1, 1)
    customer = CustomerFactory()

    publication = publish(campaign=campaign, customer=customer)

    expected = variant_for(campaign.pk, customer.pk, variants)
    assert publication.variant == expected
    assert Voucher.objects.get(pk=publication.voucher_id).variant == expected


def test_customer_keeps_their_variant_across_publications():
    campaign, _ = experiment(1, 1, 1)
    customer = CustomerFactory()
    seen = {publish(campaign=campaign, customer=customer).variant for _ in range(4)}
    assert len(seen) == 1


def test_on_demand_code_carries_the_variant():
    campaign, (only,) = experiment(1, codes=0, codes_on_demand=True, code_pattern="WELCOME-####")
    publication = publish(campaign=campaign, customer=CustomerFactory())
    assert publication.voucher.variant == only


def test_experiment_on_a_shared_code_is_refused():
    campaign = CampaignFactory()
    DiscountFactory(campaign=campaign)
    VoucherFactory(campaign=campaign, code="SHARED")
    Variant.objects.create(campaign=campaign, name="A", discount=TEN_PERCENT)

    with pytest.raises(ExperimentNeedsUniqueCodes) as raised:
        publish(campaign=campaign, customer=CustomerFactory())
    assert raised.value.code == "experiment_needs_unique_codes"


def test_api_answer_names_the_variant_and_its_message(api):
    campaign, _ = experiment(1)
    CustomerFactory(source_id="c-1")

    response = api.post(
        "/api/v1/publications", {"customer": {"source_id": "c-1"}, "campaign": campaign.pk}
    )

    assert response.status_code == 201
    assert response.json()["variant"] == "A"
    assert response.json()["message"] == "Message A"


# --- the checkout gives the variant's discount (the engine: promotions/checkout.py) --------

CART = (Item("p-1", "shoes", 1, 5000),)


def test_engine_quote_of_a_variant_code_gives_the_variants_discount():
    campaign, (only,) = experiment(1)  # campaign: 10% (500 here); variant A ...
    Variant.objects.filter(pk=only.pk).update(discount={"type": "amount", "amount": 1500})
    customer = CustomerFactory(source_id="c-1")
    code = publish(campaign=campaign, customer=customer).voucher.code

    checkout = Checkout(items=CART, currency="USD", customer=CustomerInput("c-1"), codes=(code,))
    outcome = quote_checkout(checkout).redeemables[0]

    assert outcome.applicable
    assert outcome.discount_amount == 1500


def test_engine_redemption_of_a_variant_code_records_the_variants_discount(api):
    campaign, (only,) = experiment(1)
    Variant.objects.filter(pk=only.pk).update(discount={"type": "amount", "amount": 1500})
    CustomerFactory(source_id="c-1")
    code = publish(campaign=campaign, customer=Customer.objects.get()).voucher.code
    order = {
        "source_id": "o-1",
        "currency": "USD",
        "items": [{"product_id": "p-1", "category": "shoes", "quantity": 1, "unit_price": 5000}],
    }

    response = api.post(
        "/api/v1/redemptions",
        {"customer": {"source_id": "c-1"}, "order": order, "codes": [code]},
    )

    assert response.status_code == 201
    assert response.json()["order"]["discount_amount"] == 1500
    assert experiment_results(campaign).variants[0].discount_cost == 1500


def test_code_of_a_campaign_without_experiment_keeps_the_campaigns_discount():
    campaign, _ = experiment()
    CustomerFactory(source_id="c-1")
    code = publish(campaign=campaign, customer=Customer.objects.get()).voucher.code
    checkout = Checkout(items=CART, currency="USD", customer=CustomerInput("c-1"), codes=(code,))
    assert quote_checkout(checkout).redeemables[0].discount_amount == 500


# --- results -------------------------------------------------------------------------------


def populate(
    campaign: Campaign, variant: Variant, *, published: int, converted: int, discount: int = 500
) -> list[Voucher]:
    """``published`` customers got a code of ``variant``; the first ``converted`` redeemed it
    once (order total 4500 after ``discount``)."""
    now = timezone.now()
    customers = Customer.objects.bulk_create(
        Customer(source_id=f"{campaign.pk}-{variant.name}-{n}") for n in range(published)
    )
    vouchers = Voucher.objects.bulk_create(
        Voucher(
            campaign=campaign,
            code=f"R{campaign.pk}{variant.name}{n:05d}",
            customer=customer,
            variant=variant,
            published_at=now,
        )
        for n, customer in enumerate(customers)
    )
    Publication.objects.bulk_create(
        Publication(campaign=campaign, customer=v.customer, voucher=v, variant=variant)
        for v in vouchers
    )
    for voucher in vouchers[:converted]:
        redeem(voucher, discount=discount)
    return vouchers


def redeem(voucher: Voucher, *, discount: int = 500, status="succeeded", test=False) -> None:
    redemption = Redemption.objects.create(
        customer=voucher.customer,
        status=status,
        currency="USD",
        order_amount=5000,
        discount_amount=discount,
        total_amount=5000 - discount,
        test=test,
    )
    RedemptionLine.objects.create(
        redemption=redemption,
        campaign=voucher.campaign,
        voucher=voucher,
        code=voucher.code,
        succeeded=status != "failed",
        discount_amount=discount,
    )


def test_two_proportion_test_matches_the_hand_calculation():
    # 40 of 200 against 20 of 200. Pooled rate 60/400 = 0.15; standard error
    # sqrt(0.15 * 0.85 * (1/200 + 1/200)) = sqrt(0.001275) = 0.0357071; z = (0.20 - 0.10) /
    # 0.0357071 = 2.80056; two-sided p = erfc(2.80056 / sqrt(2)) = 0.0051014.
    z, p_value = two_proportion_test(40, 200, 20, 200)
    assert z == pytest.approx(2.80056, abs=1e-5)
    assert p_value == pytest.approx(0.0051014, abs=1e-7)


def test_two_proportion_test_cannot_tell_without_data():
    assert two_proportion_test(0, 0, 5, 10) == (None, None)
    assert two_proportion_test(0, 50, 0, 50) == (None, None)
    assert two_proportion_test(50, 50, 50, 50) == (None, None)


def test_results_per_variant_with_a_significant_difference():
    campaign, (a, b) = experiment(1, 1, codes=0)
    populate(campaign, a, published=200, converted=20)
    populate(campaign, b, published=200, converted=40, discount=750)

    results = experiment_results(campaign)

    control, challenger = results.variants
    assert (control.variant, control.published, control.redeemed) == (a, 200, 20)
    assert control.conversion_rate == pytest.approx(0.10)
    assert control.discount_cost == 20 * 500 and control.revenue == 20 * 4500
    assert control.versus_control is None
    assert (challenger.published, challenger.converted) == (200, 40)
    assert challenger.discount_cost == 40 * 750 and challenger.revenue == 40 * 4250
    # The hand calculation above: p = 0.0051014 < 0.05.
    assert challenger.versus_control.p_value == pytest.approx(0.0051014, abs=1e-7)
    assert challenger.versus_control.significant
    assert results.leaders.first == b and results.leaders.second == a
    assert results.leaders.p_value == pytest.approx(0.0051014, abs=1e-7)
    assert results.running


def test_results_with_a_difference_that_is_not_significant():
    campaign, (a, b) = experiment(1, 1, codes=0)
    populate(campaign, a, published=200, converted=20)
    populate(campaign, b, published=200, converted=28)

    challenger = experiment_results(campaign).variants[1]

    # Pooled 48/400 = 0.12; se = sqrt(0.12 * 0.88 * 0.01) = 0.0324962; z = 0.04 / 0.0324962
    # = 1.23091; p = erfc(1.23091 / sqrt(2)) = 0.218355.
    assert challenger.versus_control.p_value == pytest.approx(0.218355, abs=1e-6)
    assert not challenger.versus_control.significant


def test_results_count_only_live_succeeded_redemptions_and_codes_once():
    campaign, (a,) = experiment(1, codes=0)
    first, second, third, fourth = populate(campaign, a, published=4, converted=0)
    redeem(first)
    redeem(first)  # the same code twice: two redemptions, one conversion
    redeem(second, test=True)
    redeem(third, status="failed")
    redeem(fourth, status="rolled_back")

    (result,) = experiment_results(campaign).variants

    assert (result.published, result.redeemed, result.converted) == (4, 2, 1)
    assert result.conversion_rate == pytest.approx(0.25)
    assert result.discount_cost == 1000


def test_results_without_publications():
    campaign, _ = experiment(1, 1)
    results = experiment_results(campaign)
    assert [r.published for r in results.variants] == [0, 0]
    assert results.variants[1].versus_control.p_value is None
    assert results.leaders is None


# --- ending the experiment -----------------------------------------------------------------


def test_end_experiment_keeps_the_winner():
    campaign, (a, b, c) = experiment(1, 1, 1)

    end_experiment(campaign=campaign, winner=b)

    campaign.refresh_from_db()
    assert campaign.experiment_ended_at is not None
    b.refresh_from_db()
    assert b.winner and b.active
    assert not Variant.objects.filter(pk__in=[a.pk, c.pk], active=True).exists()
    assert not Variant.objects.filter(pk__in=[a.pk, c.pk], winner=True).exists()
    discount = Discount.objects.get(campaign=campaign)
    assert discount.type == "percent" and str(discount.percent) == "15.00"


def test_after_the_end_publications_have_no_variant():
    campaign, (_a, b) = experiment(1, 1)
    customer = CustomerFactory()
    before = publish(campaign=campaign, customer=customer)
    end_experiment(campaign=campaign, winner=b)

    after = publish(campaign=campaign, customer=customer)

    assert before.variant is not None
    assert after.variant is None and after.voucher.variant is None
    # Codes already given keep their variant, and so the discount they were promised.
    assert Voucher.objects.get(pk=before.voucher_id).variant == before.variant


def test_end_experiment_copies_an_amount_discount():
    campaign, (*_, c) = experiment(1, 1, 1)
    end_experiment(campaign=campaign, winner=c)
    discount = Discount.objects.get(campaign=campaign)
    assert (discount.type, discount.amount, discount.percent) == ("amount", 500, None)


def test_end_experiment_twice_is_refused():
    campaign, (a, b) = experiment(1, 1)
    end_experiment(campaign=campaign, winner=a)
    with pytest.raises(ExperimentEnded) as raised:
        end_experiment(campaign=campaign, winner=b)
    assert raised.value.code == "experiment_ended"


def test_winner_of_another_campaign_is_refused():
    campaign, _ = experiment(1)
    _other, (stranger,) = experiment(1)
    with pytest.raises(InvalidWinner):
        end_experiment(campaign=campaign, winner=stranger)
    campaign.refresh_from_db()
    assert campaign.experiment_ended_at is None


def test_winner_with_a_broken_discount_is_refused():
    campaign, (a,) = experiment(1)
    Variant.objects.filter(pk=a.pk).update(discount={"type": "percent", "percent": "250"})
    with pytest.raises(InvalidWinner) as raised:
        end_experiment(campaign=campaign, winner=a)
    assert "percent" in raised.value.details
    assert Discount.objects.get(campaign=campaign).percent == 10


# --- admin ---------------------------------------------------------------------------------


def test_results_page_shows_each_variant_with_its_p_value(admin_client):
    campaign, (a, b) = experiment(1, 1, codes=0)
    populate(campaign, a, published=200, converted=20)
    populate(campaign, b, published=200, converted=40)

    response = admin_client.get(experiment_results_url(campaign))

    assert response.status_code == 200
    page = response.content.decode()
    assert "10.00%" in page and "20.00%" in page
    assert "0.0051" in page
    assert 'name="winner"' in page


def test_results_page_ends_the_experiment(admin_client):
    campaign, (_a, b) = experiment(1, 1)

    response = admin_client.post(experiment_results_url(campaign), {"winner": b.pk})

    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.experiment_ended_at is not None
    page = admin_client.get(experiment_results_url(campaign)).content.decode()
    assert "The experiment ended" in page and 'name="winner"' not in page


def test_results_page_of_an_unknown_campaign_is_404(admin_client):
    assert admin_client.get("/admin/promotions/variant/experiment/999999/").status_code == 404


def test_variant_changelist_and_records_render(admin_client):
    campaign, _ = experiment(1)
    publish(campaign=campaign, customer=CustomerFactory())
    for model in ("variant", "publication", "variantassignment"):
        assert admin_client.get(f"/admin/promotions/{model}/").status_code == 200


def action_request(admin_user, data: dict):
    request = RequestFactory().post("/admin/promotions/campaign/", data)
    request.user = admin_user
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    return request


def test_end_experiment_action_shows_the_results_then_keeps_the_winner(admin_user):
    campaign, (a, _b) = experiment(1, 1)
    model_admin = site._registry[Campaign]
    queryset = Campaign.objects.filter(pk=campaign.pk)

    shown = end_experiment_keep_winner(model_admin, action_request(admin_user, {}), queryset)
    page = shown.render().content.decode()
    assert 'value="end_experiment_keep_winner"' in page and "p-value" in page

    done = end_experiment_keep_winner(
        model_admin, action_request(admin_user, {"apply": "1", "winner": a.pk}), queryset
    )
    assert done is None
    a.refresh_from_db()
    assert a.winner


def test_end_experiment_action_needs_exactly_one_campaign(admin_user):
    first, _ = experiment(1)
    second, _ = experiment(1)
    request = action_request(admin_user, {})
    queryset = Campaign.objects.filter(pk__in=[first.pk, second.pk])
    assert end_experiment_keep_winner(site._registry[Campaign], request, queryset) is None
    assert "one campaign" in str(next(iter(request._messages)))


def test_variant_form_checks_the_discount_like_the_campaigns():
    campaign, _ = experiment()
    form = VariantForm(
        {"name": "B", "weight": 1, "discount": '{"type": "percent", "percent": 0}'},
        campaign=campaign,
    )
    assert not form.is_valid()
    assert "percent" in str(form.errors["discount"])


def test_variant_form_accepts_a_valid_discount():
    campaign, _ = experiment()
    form = VariantForm(
        {"name": "B", "weight": 2, "discount": '{"type": "amount", "amount": 500}'},
        campaign=campaign,
    )
    assert form.is_valid(), form.errors


def test_variant_form_refuses_an_automatic_promotion():
    campaign = CampaignFactory(kind=Campaign.Kind.PROMOTION)
    form = VariantForm(
        {"name": "B", "weight": 1, "discount": '{"type": "amount", "amount": 500}'},
        campaign=campaign,
    )
    assert not form.is_valid()
    assert "automatic promotion" in str(form.errors)


# --- wired into the campaign admin, as promotions/admin.py hooks them ----------------------


_base = site._registry[Campaign]


class WiredCampaignAdmin(type(_base)):
    # Once promotions/admin.py has them, this adds nothing (an inline twice would break).
    inlines = tuple(dict.fromkeys((*_base.inlines, VariantInline)))
    actions = (
        *_base.actions,
        *(
            action
            for action in (publish_to_customers, end_experiment_keep_winner)
            if action.__name__ not in {getattr(a, "__name__", a) for a in _base.actions}
        ),
    )


wired = AdminSite(name="admin")
for _model, _model_admin in site._registry.items():
    wired.register(_model, WiredCampaignAdmin if _model is Campaign else type(_model_admin))
urlpatterns = [path("admin/", wired.urls)]
WIRED = pytest.mark.urls(__name__)
CAMPAIGNS = "/admin/promotions/campaign/"


class _Form(HTMLParser):
    """The fields a browser submits from the page's campaign form."""

    def __init__(self):
        super().__init__()
        self.inside, self.fields, self._select, self._textarea = False, [], None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == "campaign_form"
        name = a.get("name") or ""
        if not self.inside or "__prefix__" in name:
            return
        if tag == "input" and name and a.get("type") not in ("submit", "button"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.append((name, a.get("value") or ("on" if "checked" in a else "")))
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select and "selected" in a:
            self.fields.append((self._select, a.get("value", "")))
        elif tag == "textarea":
            self._textarea, self._text = name, ""

    def handle_data(self, data):
        if self._textarea:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea:
            self.fields.append((self._textarea, self._text.removeprefix("\n")))
            self._textarea = None


def campaign_form(response, **changes) -> dict:
    parser = _Form()
    parser.feed(response.content.decode())
    data: dict = {}
    for name, value in parser.fields:
        data.setdefault(name, []).append(value)
    data.update({name: [value] for name, value in changes.items()})
    return data


@WIRED
def test_wired_publish_action_asks_then_publishes(admin_client):
    campaign, _ = experiment(1)
    CustomerFactory(source_id="c-1")
    chosen = {"action": "publish_to_customers", "_selected_action": [campaign.pk]}

    form = admin_client.post(CAMPAIGNS, chosen)
    assert form.status_code == 200 and 'name="customers"' in form.content.decode()

    done = admin_client.post(CAMPAIGNS, {**chosen, "apply": "1", "customers": "c-1"})

    assert done.status_code == 302
    assert Publication.objects.get(campaign=campaign).source == "admin"


@WIRED
def test_wired_end_experiment_action_asks_then_keeps_the_winner(admin_client):
    campaign, (_a, b) = experiment(1, 1)
    chosen = {"action": "end_experiment_keep_winner", "_selected_action": [campaign.pk]}

    page = admin_client.post(CAMPAIGNS, chosen)
    assert page.status_code == 200 and 'name="winner"' in page.content.decode()

    done = admin_client.post(CAMPAIGNS, {**chosen, "apply": "1", "winner": b.pk})

    assert done.status_code == 302
    b.refresh_from_db()
    assert b.winner


@WIRED
def test_wired_variant_inline_adds_a_variant_and_checks_its_discount(admin_client):
    campaign, _ = experiment()
    url = f"{CAMPAIGNS}{campaign.pk}/change/"
    page = admin_client.get(url)
    assert "A/B variants" in page.content.decode()
    row = {
        "variants-TOTAL_FORMS": "1",
        "variants-0-name": "B",
        "variants-0-weight": "3",
        "variants-0-message": "15% off",
        "variants-0-active": "on",
    }

    bad = admin_client.post(
        url, campaign_form(page, **row, **{"variants-0-discount": '{"type": "percent"}'})
    )
    assert bad.status_code == 200 and not Variant.objects.exists()

    good = admin_client.post(
        url, campaign_form(page, **row, **{"variants-0-discount": json.dumps(FIFTEEN_PERCENT)})
    )

    assert good.status_code == 302
    variant = Variant.objects.get(campaign=campaign)
    assert (variant.name, variant.weight, variant.discount) == ("B", 3, FIFTEEN_PERCENT)
