import re

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from customers.models import ApiKey, Cart, CartItem, Consent, Customer, Event, Order
from customers.services import refresh_customer_stats
from tests.factories import (
    ConsentFactory,
    CustomerFactory,
    EventFactory,
    OrderFactory,
    OrderItemFactory,
    ProductFactory,
)

pytestmark = pytest.mark.django_db

MODELS = ["apikey", "customer", "consent", "category", "product", "order", "cart", "event"]


def _shop_rows(n: int = 1) -> None:
    """n of everything, each row with its own related rows (the worst case for N+1)."""
    for _ in range(n):
        customer = CustomerFactory(metadata={"tier": "gold"})
        ConsentFactory(customer=customer)
        order = OrderFactory(customer=customer, status=Order.Status.PAID)
        item = OrderItemFactory(order=order)
        refresh_customer_stats(customer_id=customer.pk)
        cart = Cart.objects.create(
            source_id=f"cart-{customer.source_id}",
            customer=customer,
            currency="USD",
            items_amount=2500,
            items_count=1,
        )
        CartItem.objects.create(
            cart=cart, product=item.product, quantity=1, unit_price=2500, amount=2500
        )
        EventFactory(customer=customer)
        ApiKey.objects.create_key(name=f"key-{customer.source_id}")


def _first_pk(model: str):
    from django.apps import apps

    return apps.get_model("customers", model).objects.values_list("pk", flat=True)[0]


@pytest.mark.parametrize("model", MODELS)
def test_changelist_renders_with_rows(admin_client, model):
    _shop_rows(2)

    response = admin_client.get(f"/admin/customers/{model}/")

    assert response.status_code == 200
    assert response.context["cl"].result_count == 2


@pytest.mark.parametrize("model", MODELS)
def test_change_page_renders(admin_client, model):
    _shop_rows(1)

    response = admin_client.get(f"/admin/customers/{model}/{_first_pk(model)}/change/")

    assert response.status_code == 200


@pytest.mark.parametrize("model", MODELS)
def test_changelist_queries_do_not_grow_with_rows(
    admin_client, django_assert_max_num_queries, model
):
    _shop_rows(2)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(f"/admin/customers/{model}/").status_code == 200
    _shop_rows(12)

    with django_assert_max_num_queries(len(few)):
        response = admin_client.get(f"/admin/customers/{model}/")

    assert len(response.context["cl"].result_list) == 14


def test_customer_changelist_shows_money_and_stats(admin_client):
    customer = CustomerFactory(source_id="c-money")
    OrderFactory(
        customer=customer, status=Order.Status.PAID, items_amount=123456, total_amount=123456
    )
    refresh_customer_stats(customer_id=customer.pk)

    page = admin_client.get("/admin/customers/customer/").content.decode()

    assert "$1,234.56" in page


@pytest.mark.parametrize(
    ("model", "query"),
    [
        ("customer", "ann@example.com"),
        ("customer", "c-ann"),
        ("order", "c-ann"),
        ("order", "o-ann"),
        ("cart", "ann@example.com"),
        ("event", "c-ann"),
        ("consent", "ann@example.com"),
    ],
)
def test_search_finds_by_shop_ids_and_email(admin_client, model, query):
    for name in ("ann", "bob"):
        customer = CustomerFactory(source_id=f"c-{name}", email=f"{name}@example.com")
        ConsentFactory(customer=customer)
        OrderFactory(source_id=f"o-{name}", customer=customer)
        Cart.objects.create(source_id=f"cart-{name}", customer=customer, currency="USD")
        EventFactory(customer=customer)

    response = admin_client.get(f"/admin/customers/{model}/", {"q": query})

    rows = response.context["cl"].result_list
    customers = [row if model == "customer" else row.customer for row in rows]
    assert [c.source_id for c in customers] == ["c-ann"]


def test_customers_filter_by_consent_given(admin_client):
    ConsentFactory(customer=CustomerFactory(source_id="yes"), purpose="sms", granted=True)
    ConsentFactory(customer=CustomerFactory(source_id="no"), purpose="sms", granted=False)
    ConsentFactory(customer=CustomerFactory(source_id="other"), purpose="email", granted=True)

    response = admin_client.get("/admin/customers/customer/", {"consent": "sms"})

    assert [c.source_id for c in response.context["cl"].result_list] == ["yes"]


# --- API keys ------------------------------------------------------------------------------


def _api_status(key: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client.get("/api/v1/customers").status_code


def test_api_key_added_in_admin_is_stored_hashed_and_shown_once(admin_client):
    response = admin_client.post(
        "/admin/customers/apikey/add/",
        {"name": "shop", "mode": "test", "expiry_date_0": "", "expiry_date_1": ""},
        follow=True,
    )

    assert response.status_code == 200
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    key = re.search(r"The API key for shop is: (\S+)\. ", " ".join(shown)).group(1)
    api_key = ApiKey.objects.get(name="shop")
    assert api_key.mode == ApiKey.Mode.TEST
    assert key.startswith(api_key.prefix + ".")
    stored = ApiKey.objects.filter(pk=api_key.pk).values().get()
    assert all(key not in str(value) for value in stored.values())
    assert _api_status(key) == 200
    again = admin_client.get(f"/admin/customers/apikey/{api_key.pk}/change/")
    assert key not in again.content.decode()


def test_api_key_mode_cannot_change_after_creation(admin_client):
    api_key, _key = ApiKey.objects.create_key(name="sandbox", mode=ApiKey.Mode.TEST)

    admin_client.post(
        f"/admin/customers/apikey/{api_key.pk}/change/",
        {"name": "sandbox", "mode": "live", "expiry_date_0": "", "expiry_date_1": ""},
    )

    api_key.refresh_from_db()
    assert api_key.mode == ApiKey.Mode.TEST


def test_api_keys_filter_by_mode(admin_client):
    ApiKey.objects.create_key(name="live-one", mode=ApiKey.Mode.LIVE)
    ApiKey.objects.create_key(name="test-one", mode=ApiKey.Mode.TEST)

    response = admin_client.get("/admin/customers/apikey/", {"mode__exact": "test"})

    assert [k.name for k in response.context["cl"].result_list] == ["test-one"]


def test_revoke_action_revokes_and_the_api_refuses_the_key(admin_client):
    revoked, revoked_key = ApiKey.objects.create_key(name="leaked")
    kept, kept_key = ApiKey.objects.create_key(name="kept")
    assert _api_status(revoked_key) == 200

    response = admin_client.post(
        "/admin/customers/apikey/",
        {"action": "revoke_keys", "_selected_action": [revoked.pk]},
        follow=True,
    )

    assert response.status_code == 200
    revoked.refresh_from_db()
    kept.refresh_from_db()
    assert (revoked.revoked, kept.revoked) == (True, False)
    assert _api_status(revoked_key) == 401
    assert _api_status(kept_key) == 200


# --- customers -----------------------------------------------------------------------------


def _customer_form(**overrides) -> dict:
    data = {
        "source_id": "c-new",
        "first_name": "Ann",
        "last_name": "Lee",
        "email": "ann@example.com",
        "phone": "",
        "birthdate": "1990-05-17",
        "timezone": "Europe/Dublin",
        "language": "en",
        "country": "ie",
        "city": "Dublin",
        "latitude": "",
        "longitude": "",
        "metadata": '{"tier": "gold"}',
        "created_at_0": "2024-01-02",
        "created_at_1": "10:00:00",
        "consents-TOTAL_FORMS": "1",
        "consents-INITIAL_FORMS": "0",
        "consents-MIN_NUM_FORMS": "0",
        "consents-MAX_NUM_FORMS": "1000",
        "consents-0-purpose": "email",
        "consents-0-granted": "on",
    }
    data.update(overrides)
    return data


def test_customer_added_in_admin_goes_through_the_service(admin_client):
    response = admin_client.post("/admin/customers/customer/add/", _customer_form())

    assert response.status_code == 302, response.context["adminform"].form.errors
    customer = Customer.objects.get(source_id="c-new")
    assert (customer.country, customer.birthday_mmdd) == ("IE", 517)
    assert customer.metadata == {"tier": "gold"}
    consent = customer.consents.get()
    assert (consent.purpose, consent.granted, consent.source) == ("email", True, "admin")
    assert consent.granted_at is not None


def test_customer_form_refuses_what_the_api_refuses(admin_client):
    response = admin_client.post(
        "/admin/customers/customer/add/",
        _customer_form(country="XX", timezone="Mars/Base", metadata="[1]", latitude="10"),
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["country"] == ["'XX' is not an ISO 3166-1 alpha-2 country."]
    assert errors["timezone"] == ["'Mars/Base' is not an IANA time zone."]
    assert errors["metadata"] == ["A JSON object is required."]
    assert errors["latitude"] == ["Give latitude and longitude together."]
    assert not Customer.objects.exists()


def test_withdrawing_consent_in_admin_records_when(admin_client):
    customer = CustomerFactory(source_id="c-1")
    consent = ConsentFactory(customer=customer, purpose="email", granted=True)
    data = _customer_form(
        source_id="c-1",
        **{
            "consents-INITIAL_FORMS": "1",
            "consents-0-id": str(consent.pk),
            "consents-0-customer": str(customer.pk),
        },
    )
    del data["consents-0-granted"]

    response = admin_client.post(f"/admin/customers/customer/{customer.pk}/change/", data)

    assert response.status_code == 302
    consent.refresh_from_db()
    assert consent.granted is False and consent.withdrawn_at is not None
    customer.refresh_from_db()
    assert customer.source_id == "c-1" and customer.birthday_mmdd == 517


def test_consent_purpose_of_an_answer_cannot_be_moved(admin_client):
    customer = CustomerFactory(source_id="c-1")
    consent = ConsentFactory(customer=customer, purpose="email", granted=True)
    data = _customer_form(
        source_id="c-1",
        **{
            "consents-INITIAL_FORMS": "1",
            "consents-0-id": str(consent.pk),
            "consents-0-customer": str(customer.pk),
            "consents-0-purpose": "sms",
        },
    )

    response = admin_client.post(f"/admin/customers/customer/{customer.pk}/change/", data)

    assert response.status_code == 200
    assert list(customer.consents.values_list("purpose", "granted")) == [("email", True)]


def test_erased_customer_cannot_be_edited(admin_client):
    customer = CustomerFactory(erased_at=timezone.now(), first_name="")

    admin_client.post(
        f"/admin/customers/customer/{customer.pk}/change/", _customer_form(first_name="Back")
    )

    customer.refresh_from_db()
    assert customer.first_name == ""


def test_recompute_stats_action(admin_client):
    customer = CustomerFactory()
    OrderFactory(customer=customer, status=Order.Status.PAID, total_amount=5000)

    admin_client.post(
        "/admin/customers/customer/",
        {"action": "recompute_stats", "_selected_action": [customer.pk]},
    )

    customer.refresh_from_db()
    assert (customer.orders_count, customer.total_spent) == (1, 5000)


# --- orders --------------------------------------------------------------------------------


def test_order_status_and_amounts_cannot_be_changed_in_admin(admin_client):
    order = OrderFactory(status=Order.Status.PAID)
    refresh_customer_stats(customer_id=order.customer_id)

    response = admin_client.post(
        f"/admin/customers/order/{order.pk}/change/",
        {
            "status": "refunded",
            "total_amount": "1",
            "metadata": '{"note": "checked"}',
            "items-TOTAL_FORMS": "0",
            "items-INITIAL_FORMS": "0",
            "items-MIN_NUM_FORMS": "0",
            "items-MAX_NUM_FORMS": "0",
        },
    )

    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.status, order.total_amount, order.metadata) == (
        Order.Status.PAID,
        5000,
        {"note": "checked"},
    )
    assert admin_client.get("/admin/customers/order/add/").status_code == 403


def test_deleting_an_order_in_admin_keeps_stats_exact(admin_client):
    order = OrderFactory(status=Order.Status.PAID)
    refresh_customer_stats(customer_id=order.customer_id)

    admin_client.post(f"/admin/customers/order/{order.pk}/delete/", {"post": "yes"})

    assert not Order.objects.exists()
    order.customer.refresh_from_db()
    assert (order.customer.orders_count, order.customer.total_spent) == (0, 0)


def test_carts_events_and_consents_are_read_only(admin_client):
    _shop_rows(1)

    for model in ("cart", "event", "consent"):
        assert admin_client.get(f"/admin/customers/{model}/add/").status_code == 403
    consent = Consent.objects.get()
    admin_client.post(f"/admin/customers/consent/{consent.pk}/change/", {"granted": ""})
    consent.refresh_from_db()
    assert consent.granted is True
    assert Event.objects.count() == 1


def test_product_change_page_uses_category_autocomplete(admin_client):
    product = ProductFactory()

    page = admin_client.get(f"/admin/customers/product/{product.pk}/change/").content.decode()

    assert "admin-autocomplete" in page
