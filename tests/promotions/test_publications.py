"""Publications: giving a customer a code (service, checkout effect, API, admin action)."""

import datetime as dt

import pytest
from django.contrib.admin.sites import site
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import Customer
from promotions import publications
from promotions.admin_publications import PublishForm, publish_to_customers
from promotions.checkout import Checkout, CustomerInput, quote_checkout
from promotions.discounts import Item
from promotions.models import Campaign, CodeGenerationJob, Publication, Voucher
from promotions.publications import (
    CampaignEnded,
    CampaignInactive,
    CampaignWithoutCodes,
    CodeSpaceExhausted,
    InvalidCodePattern,
    NoCodesLeft,
    publish,
)
from segments.models import Segment, SegmentMember
from tests.factories import CustomerFactory
from tests.promotions.factories import CampaignFactory, DiscountFactory, VoucherFactory, promotion

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    # The API throttles count in the cache.
    cache.clear()
    yield
    cache.clear()


def campaign(**fields) -> Campaign:
    made = CampaignFactory(**fields)
    DiscountFactory(campaign=made, type="percent", percent=10)
    return made


def pool(size: int = 3, **fields) -> Campaign:
    """A campaign with ``size`` generated codes nobody has yet."""
    made = campaign(**fields)
    job = CodeGenerationJob.objects.create(campaign=made, requested=size, generated=size)
    for n in range(size):
        VoucherFactory(campaign=made, code=f"POOL{made.pk}X{n:04d}", job=job)
    return made


def in_pool(c: Campaign) -> int:
    return Voucher.objects.filter(
        campaign=c, customer__isnull=True, published_at__isnull=True
    ).count()


@pytest.fixture
def anna():
    return CustomerFactory(source_id="c-1", first_name="Anna", last_name="Kowalska")


@pytest.fixture
def bob():
    return CustomerFactory(source_id="c-2", first_name="Bob", last_name="Stone")


# --- the three ways a campaign gives codes -------------------------------------------------


def test_generic_campaign_gives_everyone_its_shared_code(anna, bob):
    c = campaign()
    shared = VoucherFactory(campaign=c, code="SUMMER10")

    first = publish(campaign=c, customer=anna)
    second = publish(campaign=c, customer=bob)

    assert first.voucher == second.voucher == shared
    assert first.created and second.created
    shared.refresh_from_db()
    assert shared.customer is None and shared.published_at is None
    assert Publication.objects.filter(campaign=c).count() == 2


def test_pool_code_goes_to_the_customer(anna):
    c = pool(3)

    publication = publish(campaign=c, customer=anna, source="trigger")

    voucher = Voucher.objects.get(pk=publication.voucher_id)
    assert voucher.customer == anna
    assert voucher.published_at is not None
    assert publication.customer == anna and publication.source == "trigger"
    assert in_pool(c) == 2


def test_pool_gives_each_customer_another_code(anna, bob):
    c = pool(3)
    codes = {publish(campaign=c, customer=who).voucher.code for who in (anna, bob, anna)}
    assert len(codes) == 3
    assert in_pool(c) == 0


def test_pool_campaign_with_one_code_made_by_a_job_is_not_generic(anna, bob):
    c = pool(1)
    publish(campaign=c, customer=anna)
    with pytest.raises(NoCodesLeft):
        publish(campaign=c, customer=bob)


def test_gift_cards_are_published_from_their_pool_even_with_one_card(anna, bob):
    c = CampaignFactory(kind=Campaign.Kind.GIFT_CARDS)
    DiscountFactory(campaign=c, type="gift_card", percent=None)
    card = VoucherFactory(campaign=c, code="GIFT-1", gift_amount=5000, gift_balance=5000)

    assert publish(campaign=c, customer=anna).voucher == card
    with pytest.raises(NoCodesLeft):
        publish(campaign=c, customer=bob)


def test_codes_on_demand_make_a_personal_code_from_the_pattern(anna):
    c = campaign(codes_on_demand=True, code_pattern="{first_name}-10OFF-####")

    publication = publish(campaign=c, customer=anna)

    code = publication.voucher.code
    assert code.startswith("ANNA-10OFF-") and len(code) == len("ANNA-10OFF-") + 4
    voucher = Voucher.objects.get(code=code)
    assert voucher.customer == anna and voucher.published_at is not None


def test_codes_on_demand_fold_non_ascii_names():
    zoe = CustomerFactory(first_name="Zoë")
    c = campaign(codes_on_demand=True, code_pattern="{first_name}-####")
    assert publish(campaign=c, customer=zoe).voucher.code.startswith("ZOE-")


class Draws:
    """A code maker that draws the codes given, in order."""

    def __init__(self, *codes: str):
        self.codes = iter(codes)

    def make(self, **names) -> str:
        return next(self.codes)


def test_code_on_demand_that_exists_is_drawn_again(anna, monkeypatch):
    c = campaign(codes_on_demand=True, code_pattern="{first_name}-####")
    VoucherFactory(campaign=c, code="anna-aaaa")  # taken, in another case
    monkeypatch.setattr(publications, "code_maker", lambda c: Draws("ANNA-AAAA", "ANNA-BBBB"))

    assert publish(campaign=c, customer=anna).voucher.code == "ANNA-BBBB"


def test_code_on_demand_gives_up_when_every_draw_is_taken(anna, monkeypatch):
    c = campaign(codes_on_demand=True, code_pattern="{first_name}-####")
    VoucherFactory(campaign=c, code="ANNA-AAAA")
    monkeypatch.setattr(publications, "code_maker", lambda c: Draws(*["ANNA-AAAA"] * 20))

    with pytest.raises(CodeSpaceExhausted) as raised:
        publish(campaign=c, customer=anna)
    assert "pattern" in raised.value.message
    assert Publication.objects.count() == 0


def test_code_on_demand_with_a_broken_pattern_is_refused(anna):
    c = campaign(codes_on_demand=True, code_pattern="NO-RANDOM")
    with pytest.raises(InvalidCodePattern) as raised:
        publish(campaign=c, customer=anna)
    assert raised.value.code == "invalid_code_pattern"
    assert "#" in raised.value.message


# --- refusals ------------------------------------------------------------------------------


def test_empty_pool_is_a_clear_error(anna, bob):
    c = pool(1, name="Welcome pack")
    publish(campaign=c, customer=anna)

    with pytest.raises(NoCodesLeft) as raised:
        publish(campaign=c, customer=bob)

    error = raised.value
    assert error.code == "no_codes_left" and error.http_status == 409
    assert "Welcome pack" in error.message and "generate" in error.message
    assert Publication.objects.filter(customer=bob).count() == 0


def test_campaign_without_any_code_has_no_codes_left(anna):
    with pytest.raises(NoCodesLeft):
        publish(campaign=campaign(), customer=anna)


@pytest.mark.parametrize("status", ["draft", "paused", "archived"])
def test_campaign_that_is_not_active_gives_no_codes(anna, status):
    c = pool(1, status=status)
    with pytest.raises(CampaignInactive) as raised:
        publish(campaign=c, customer=anna)
    assert raised.value.code == "campaign_inactive"
    assert status in raised.value.message
    assert in_pool(c) == 1


def test_campaign_that_ended_gives_no_codes(anna):
    c = pool(1, ends_at=timezone.now() - dt.timedelta(days=1))
    with pytest.raises(CampaignEnded) as raised:
        publish(campaign=c, customer=anna)
    assert raised.value.code == "campaign_ended"


def test_automatic_promotion_gives_no_codes(anna):
    with pytest.raises(CampaignWithoutCodes) as raised:
        publish(campaign=promotion(), customer=anna)
    assert raised.value.code == "campaign_has_no_codes"
    assert "automatic" in raised.value.message


# --- one code per customer -----------------------------------------------------------------


def test_one_code_per_customer_publishing_again_returns_the_same_code(anna):
    c = pool(3, one_code_per_customer=True)

    first = publish(campaign=c, customer=anna)
    again = publish(campaign=c, customer=anna)

    assert again.pk == first.pk and again.voucher.code == first.voucher.code
    assert first.created and not again.created
    assert in_pool(c) == 2


def test_one_code_per_customer_on_demand_makes_one_code(anna):
    c = campaign(codes_on_demand=True, one_code_per_customer=True, code_pattern="####-####")
    first = publish(campaign=c, customer=anna)
    again = publish(campaign=c, customer=anna)
    assert again.voucher == first.voucher
    assert Voucher.objects.filter(campaign=c).count() == 1


def test_without_one_code_per_customer_each_publication_gives_a_new_code(anna):
    c = pool(3)
    assert publish(campaign=c, customer=anna).voucher != publish(campaign=c, customer=anna).voucher


def test_losing_a_publication_race_returns_the_winners_code_and_keeps_the_pool(anna, monkeypatch):
    # Deterministic race: this call checks for an existing publication before the winner
    # commits (the first lookup sees nothing), then loses on the unique index.
    c = pool(3, one_code_per_customer=True)
    winner = publish(campaign=c, customer=anna)
    real_existing = publications._existing
    lookups = []

    def not_yet(campaign, customer):
        lookups.append(1)
        return None if len(lookups) == 1 else real_existing(campaign, customer)

    monkeypatch.setattr(publications, "_existing", not_yet)

    loser = publish(campaign=c, customer=anna)

    assert loser.pk == winner.pk and not loser.created
    assert in_pool(c) == 2  # the code the loser took went back
    assert Voucher.objects.filter(campaign=c, customer=anna).count() == 1


# --- what the code is good for: the checkout (owner only) ----------------------------------

CART = (Item("p-1", "shoes", 1, 5000),)


def quote(code: str, customer: str | None):
    who = CustomerInput(customer) if customer else None
    checkout = Checkout(items=CART, currency="USD", customer=who, codes=(code,))
    return quote_checkout(checkout).redeemables[0]


def test_published_code_is_redeemable_by_its_owner(anna):
    c = pool(1)
    code = publish(campaign=c, customer=anna).voucher.code

    outcome = quote(code, "c-1")

    assert outcome.applicable
    assert outcome.discount_amount == 500


def test_published_code_is_not_for_another_customer(anna, bob):
    c = pool(1)
    code = publish(campaign=c, customer=anna).voucher.code

    assert quote(code, "c-2").error == "not_assigned_to_customer"
    assert quote(code, None).error == "not_assigned_to_customer"


def test_shared_code_stays_usable_by_everyone(anna, bob):
    c = campaign()
    VoucherFactory(campaign=c, code="SUMMER10")
    publish(campaign=c, customer=anna)
    assert quote("SUMMER10", "c-2").applicable


# --- API -----------------------------------------------------------------------------------

URL = "/api/v1/publications"


def error_of(response) -> dict:
    return response.json()["error"]


def test_api_publishes_a_code_with_201(api, anna):
    c = pool(2, name="Welcome")

    response = api.post(URL, {"customer": {"source_id": "c-1"}, "campaign": c.pk})

    assert response.status_code == 201
    body = response.json()
    voucher = Voucher.objects.get(code=body["code"])
    assert voucher.customer == anna
    assert body["campaign"] == "Welcome" and body["campaign_id"] == c.pk
    assert body["customer"] == "c-1"
    assert body["variant"] is None and body["message"] == ""
    assert body["source"] == "api"
    assert dt.datetime.fromisoformat(body["created_at"])


def test_api_finds_the_campaign_by_name(api, anna):
    pool(1, name="Welcome 10%")
    response = api.post(URL, {"customer": {"source_id": "c-1"}, "campaign": "Welcome 10%"})
    assert response.status_code == 201


def test_api_returns_the_existing_code_with_200(api, anna):
    c = pool(2, one_code_per_customer=True)
    body = {"customer": {"source_id": "c-1"}, "campaign": c.pk}

    first = api.post(URL, body)
    again = api.post(URL, body)

    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["code"] == first.json()["code"]
    assert again.json()["id"] == first.json()["id"]


def test_api_stores_a_customer_the_shop_has_not_pushed_yet(api):
    c = campaign(codes_on_demand=True, code_pattern="{first_name}-10OFF-####")

    response = api.post(
        URL,
        {
            "customer": {"source_id": "c-new", "first_name": "Łukasz", "email": "l@example.com"},
            "campaign": c.pk,
        },
    )

    assert response.status_code == 201
    assert response.json()["code"].startswith("LUKASZ-10OFF-")
    customer = Customer.objects.get(source_id="c-new")
    assert customer.first_name == "Łukasz" and customer.email == "l@example.com"


def test_api_ignores_fields_sent_for_a_known_customer(api, anna):
    c = pool(1)
    api.post(URL, {"customer": {"source_id": "c-1", "first_name": "Other"}, "campaign": c.pk})
    anna.refresh_from_db()
    assert anna.first_name == "Anna"


def test_api_empty_pool_is_409_no_codes_left(api, anna):
    c = pool(0)
    response = api.post(URL, {"customer": {"source_id": "c-1"}, "campaign": c.pk})
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "no_codes_left"
    assert "generate" in error["message"]
    assert error["details"] == {"campaign": c.pk}


def test_api_refusal_stores_no_new_customer(api):
    c = pool(0)
    api.post(URL, {"customer": {"source_id": "c-new"}, "campaign": c.pk})
    assert not Customer.objects.filter(source_id="c-new").exists()


def test_api_unknown_campaign_is_404(api, anna):
    response = api.post(URL, {"customer": {"source_id": "c-1"}, "campaign": "Nope"})
    assert response.status_code == 404
    assert error_of(response)["code"] == "campaign_not_found"


def test_api_paused_campaign_is_409(api, anna):
    c = pool(1, status="paused")
    response = api.post(URL, {"customer": {"source_id": "c-1"}, "campaign": c.pk})
    assert response.status_code == 409
    assert error_of(response)["code"] == "campaign_inactive"


@pytest.mark.parametrize("reference", [True, 0, -3, 1.5, "", [], {"id": 1}, None])
def test_api_refuses_a_campaign_that_is_neither_id_nor_name(api, reference):
    response = api.post(URL, {"customer": {"source_id": "c-1"}, "campaign": reference})
    assert response.status_code == 400
    assert "campaign" in error_of(response)["details"]


def test_api_needs_the_customer(api):
    response = api.post(URL, {"campaign": 1})
    assert response.status_code == 400
    assert "customer" in error_of(response)["details"]


def test_api_idempotency_key_replays_the_first_answer(api, anna):
    c = pool(3)
    body = {"customer": {"source_id": "c-1"}, "campaign": c.pk}

    first = api.post(URL, body, HTTP_IDEMPOTENCY_KEY="k-1")
    retry = api.post(URL, body, HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert Publication.objects.count() == 1


def test_api_needs_a_key(client):
    assert client.post(URL, {}, content_type="application/json").status_code == 401


def test_api_lists_publications_filtered_by_campaign_and_customer(api, anna, bob):
    first, second = pool(3), pool(3)
    publish(campaign=first, customer=anna)
    publish(campaign=first, customer=bob)
    publish(campaign=second, customer=anna)

    by_campaign = api.get(URL, {"campaign": first.pk}).json()
    by_customer = api.get(URL, {"customer": "c-1"}).json()
    both = api.get(URL, {"campaign": first.pk, "customer": "c-2"}).json()

    assert by_campaign["count"] == 2
    assert by_customer["count"] == 2
    assert [p["customer"] for p in both["results"]] == ["c-2"]


def test_api_list_is_paginated_newest_first_in_fixed_queries(api, anna):
    c = pool(5)
    made = [publish(campaign=c, customer=anna).voucher.code for _ in range(5)]

    with CaptureQueriesContext(connection) as queries:
        page = api.get(URL, {"page_size": 2}).json()

    assert page["count"] == 5 and page["next"]
    assert [p["code"] for p in page["results"]] == made[::-1][:2]
    assert len(queries) <= 4  # API key, count, page (and the key's last use)


def test_schema_documents_publications_with_examples(tmp_path):
    call_command("spectacular", "--validate", "--file", tmp_path / "s.yml")
    schema = (tmp_path / "s.yml").read_text()
    assert "  /api/v1/publications:" in schema
    assert "Give a customer a code" in schema
    assert "no_codes_left" in schema


# --- admin action: publish to customers or a segment ---------------------------------------


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def admin_request(admin_user):
    def make(data: dict):
        request = RequestFactory().post("/admin/promotions/campaign/", data)
        request.user = admin_user
        request.session = SessionStore()
        request._messages = FallbackStorage(request)
        return request

    return make


def campaign_admin():
    return site._registry[Campaign]


def test_publish_action_shows_its_form_first(admin_request, anna):
    c = pool(1)
    request = admin_request({"action": "publish_to_customers", "_selected_action": [c.pk]})

    response = publish_to_customers(campaign_admin(), request, Campaign.objects.filter(pk=c.pk))

    page = response.render().content.decode()
    assert 'name="customers"' in page and 'name="segment"' in page
    assert f'name="_selected_action" value="{c.pk}"' in page
    assert 'value="publish_to_customers"' in page
    assert in_pool(c) == 1


def test_publish_action_gives_listed_customers_codes(admin_request, anna, bob):
    c = pool(3, one_code_per_customer=True)
    publish(campaign=c, customer=bob)
    request = admin_request({"apply": "1", "customers": "c-1, c-2\nc-unknown"})

    response = publish_to_customers(campaign_admin(), request, Campaign.objects.filter(pk=c.pk))

    assert response is None
    assert Publication.objects.get(campaign=c, customer=anna).source == "admin"
    assert Publication.objects.filter(campaign=c).count() == 2
    texts = [str(m) for m in get_messages(request)]
    assert any("1 code published" in t and "1 customer already had theirs" in t for t in texts)
    assert any("c-unknown" in t for t in texts)


def test_publish_action_to_a_segment_reports_the_empty_pool(admin_request, anna, bob):
    c = pool(1)
    segment = Segment.objects.create(name="VIP", kind=Segment.Kind.STATIC)
    for who in (anna, bob):
        SegmentMember.objects.create(segment=segment, customer=who)
    request = admin_request({"apply": "1", "segment": segment.pk})

    publish_to_customers(campaign_admin(), request, Campaign.objects.filter(pk=c.pk))

    texts = [str(m) for m in get_messages(request)]
    assert any("1 code published" in t for t in texts)
    assert any("1 customer got no code" in t and "generate" in t for t in texts)


def test_publish_form_needs_customers_or_a_segment():
    form = PublishForm({"customers": "", "segment": ""})
    assert not form.is_valid()
    assert "either customers or a segment" in str(form.errors)
