"""Every kind of bad input gets a 4xx in the error format and writes nothing."""

import json

import pytest
from django.test import override_settings

from customers.models import Cart, Customer, Event, Order, OrderItem, Product

pytestmark = pytest.mark.django_db

ITEM = {"product_id": "sku-1", "quantity": 1, "unit_price": 1000}


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["message"]
    if code:
        assert error["code"] == code
    return error


def nothing_written() -> bool:
    return not any(m.objects.exists() for m in (Order, OrderItem, Product, Cart, Event))


@pytest.fixture
def anna(api):
    api.put("/api/v1/customers/c-1", {"first_name": "Anna", "consents": {"tracking": True}})


def test_malformed_json(api):
    response = api.generic(
        "PUT", "/api/v1/customers/c-1", "{not json", content_type="application/json"
    )
    assert_error(response, 400, "malformed_request")
    assert not Customer.objects.exists()


def test_json_that_is_not_an_object(api):
    response = api.generic(
        "PUT", "/api/v1/customers/c-1", "[1, 2]", content_type="application/json"
    )
    assert_error(response, 400, "invalid")


def test_wrong_content_type(api):
    response = api.generic(
        "PUT",
        "/api/v1/customers/c-1",
        "first_name=Anna",
        content_type="application/x-www-form-urlencoded",
    )
    assert_error(response, 415, "unsupported_media_type")


def test_nan_is_not_json(api):
    response = api.generic(
        "PUT",
        "/api/v1/customers/c-1",
        '{"latitude": NaN, "longitude": 1}',
        content_type="application/json",
    )
    assert_error(response, 400, "malformed_request")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "not-an-email"),
        ("birthdate", "17/03/1990"),
        ("birthdate", "2999-01-01"),
        ("timezone", "Mars/Olympus"),
        ("country", "XX"),
        ("country", "ZZ"),
        ("country", "EU"),
        ("language", "english please"),
        ("latitude", 123.0),
        ("metadata", [1, 2]),
        ("metadata", {"note": "nul\u0000byte"}),
        ("consents", {"telepathy": True}),
        ("consents", {"email": "maybe"}),
        ("phone", "call me"),
        ("first_name", "x" * 151),
        ("first_name", 12),
    ],
)
def test_bad_customer_fields_name_the_field(api, field, value):
    body = {field: value}
    if field == "latitude":
        body["longitude"] = 0
    error = assert_error(api.put("/api/v1/customers/c-1", body), 400, "invalid")
    assert field in error["details"]
    assert error["message"].startswith(field)
    assert not Customer.objects.exists()


def test_latitude_without_longitude(api):
    assert_error(api.put("/api/v1/customers/c-1", {"latitude": 10}), 400, "invalid")


def test_source_id_too_long_in_path(api):
    assert_error(api.put("/api/v1/customers/" + "x" * 256, {}), 404, "not_found")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"customer": None}, "customer"),
        ({"items": None}, "items"),
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "DEM"}, "currency"),
        ({"currency": 840}, "currency"),
        ({"status": "shipped"}, "status"),
        ({"shipping_amount": -1}, "shipping_amount"),
        ({"shipping_amount": "500"}, "shipping_amount"),
        ({"shipping_amount": 5.5}, "shipping_amount"),
        ({"shipping_amount": True}, "shipping_amount"),
        ({"shipping_amount": 10**20}, "shipping_amount"),
        ({"items": [{**ITEM, "quantity": -1}]}, "items"),
        ({"items": [{**ITEM, "quantity": 0}]}, "items"),
        ({"items": [{**ITEM, "unit_price": -100}]}, "items"),
        ({"items": [{**ITEM, "quantity": "2"}]}, "items"),
        ({"items": [{"quantity": 1, "unit_price": 1}]}, "items"),
        ({"items": "sku-1"}, "items"),
        ({"metadata": "x"}, "metadata"),
        ({"created_at": "yesterday"}, "created_at"),
    ],
)
def test_bad_order_bodies_are_refused_and_write_nothing(api, anna, change, field):
    body = {"customer": "c-1", "currency": "USD", "items": [ITEM], **change}
    body = {k: v for k, v in body.items() if v is not None}
    error = assert_error(api.put("/api/v1/orders/o-1", body), 400, "invalid")
    assert field in error["details"]
    assert nothing_written()


def test_one_bad_item_among_good_ones_writes_nothing(api, anna):
    items = [ITEM, {**ITEM, "product_id": "sku-2"}, {**ITEM, "quantity": -5}]
    error = assert_error(
        api.put("/api/v1/orders/o-1", {"customer": "c-1", "currency": "USD", "items": items}),
        400,
    )
    assert error["message"].startswith("items.2.quantity")
    assert nothing_written()


def test_unknown_customer_in_cart(api):
    response = api.put(
        "/api/v1/carts/k-1", {"customer": "ghost", "currency": "USD", "items": [ITEM]}
    )
    assert_error(response, 422, "customer_not_found")
    assert nothing_written()


def test_unknown_customer_in_event(api):
    assert_error(
        api.post("/api/v1/events", {"customer": "ghost", "name": "x"}), 422, "customer_not_found"
    )


@pytest.mark.parametrize(
    "body",
    [
        {"name": "product_viewed"},
        {"customer": "c-1"},
        {"customer": "c-1", "name": "has spaces"},
        {"customer": "c-1", "name": "x", "kind": "secret"},
        {"customer": "c-1", "name": "x", "properties": ["a"]},
        {
            "customer": "c-1",
            "name": "x",
            "properties": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}},
        },
    ],
)
def test_bad_events(api, anna, body):
    assert_error(api.post("/api/v1/events", body), 400, "invalid")
    assert not Event.objects.exists()


@override_settings(OFFERWISE_API_MAX_BODY_BYTES=2048)
def test_oversized_body_is_refused_before_parsing(api):
    body = json.dumps({"metadata": {"blob": "x" * 5000}})
    response = api.generic("PUT", "/api/v1/customers/c-1", body, content_type="application/json")
    error = assert_error(response, 413, "payload_too_large")
    assert error["details"] == {"limit_bytes": 2048}
    assert not Customer.objects.exists()


def test_unknown_endpoint_is_json_404(api):
    assert_error(api.get("/api/v1/nothing-here"), 404, "not_found")


def test_wrong_method_is_405(api):
    assert_error(api.post("/api/v1/customers/c-1", {}), 405, "method_not_allowed")


def test_bad_page_number_is_404_in_error_format(api):
    assert_error(api.get("/api/v1/customers", {"page": 99}), 404, "not_found")


def test_bad_filter_value_is_400(api):
    assert_error(api.get("/api/v1/customers", {"created_after": "soon"}), 400)


def test_number_where_text_is_expected_in_order_items(api, anna):
    body = {"customer": "c-1", "currency": "USD", "items": [{**ITEM, "product_id": 42}]}
    error = assert_error(api.put("/api/v1/orders/o-1", body), 400, "invalid")
    assert error["message"] == "items.0.product_id: A string is required."
