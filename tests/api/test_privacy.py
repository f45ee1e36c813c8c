import pytest

from customers.models import Consent, Customer, Event, Order

pytestmark = pytest.mark.django_db


@pytest.fixture
def anna(api):
    api.put(
        "/api/v1/customers/c-1",
        {
            "first_name": "Anna",
            "last_name": "Byrne",
            "email": "anna@example.com",
            "phone": "+3531234",
            "birthdate": "1990-03-17",
            "city": "Dublin",
            "country": "IE",
            "latitude": 53.3,
            "longitude": -6.2,
            "metadata": {"shoe": 38},
            "consents": {"tracking": True, "email": True},
        },
    )
    items = [{"product_id": "sku-1", "quantity": 1, "unit_price": 2000}]
    api.put(
        "/api/v1/orders/o-1",
        {"customer": "c-1", "currency": "USD", "items": items, "status": "paid"},
    )
    api.put("/api/v1/carts/cart-1", {"customer": "c-1", "currency": "USD", "items": items})
    api.post("/api/v1/events", {"customer": "c-1", "name": "product_viewed"})
    return Customer.objects.get(source_id="c-1")


def test_export_returns_everything_held_on_the_customer(api, anna):
    response = api.get("/api/v1/customers/c-1/export")
    assert response.status_code == 200
    data = response.json()
    assert data["customer"]["email"] == "anna@example.com"
    assert data["customer"]["metadata"] == {"shoe": 38}
    assert {c["purpose"] for c in data["customer"]["consents"]} == {"tracking", "email"}
    assert [o["source_id"] for o in data["orders"]] == ["o-1"]
    assert [c["source_id"] for c in data["carts"]] == ["cart-1"]
    assert [e["name"] for e in data["events"]] == ["product_viewed"]


def test_erasure_removes_personal_data_and_keeps_anonymous_aggregates(api, anna):
    response = api.delete("/api/v1/customers/c-1")
    assert response.status_code == 204
    erased = Customer.objects.get(pk=anna.pk)
    assert erased.erased_at is not None
    personal = (
        erased.first_name,
        erased.last_name,
        erased.email,
        erased.phone,
        erased.city,
        erased.birthdate,
        erased.latitude,
        erased.metadata,
    )
    assert personal == ("", "", "", "", "", None, None, {})
    assert erased.source_id != "c-1"
    assert not Consent.objects.filter(customer=erased).exists()
    assert not Event.objects.filter(customer=erased).exists()
    assert not erased.carts.exists()
    # Aggregates survive: revenue and order counts stay right.
    assert Order.objects.get(source_id="o-1").total_amount == 2000
    assert (erased.orders_count, erased.total_spent, erased.country) == (1, 2000, "IE")


def test_erased_customer_can_no_longer_be_found_or_exported(api, anna):
    api.delete("/api/v1/customers/c-1")
    assert api.get("/api/v1/customers/c-1").status_code == 404
    assert api.get("/api/v1/customers/c-1/export").status_code == 404
    assert api.delete("/api/v1/customers/c-1").status_code == 404
    assert api.get("/api/v1/customers").json()["count"] == 0


def test_erased_customer_cannot_receive_new_orders_under_old_id(api, anna):
    api.delete("/api/v1/customers/c-1")
    response = api.put(
        "/api/v1/orders/o-2",
        {
            "customer": "c-1",
            "currency": "USD",
            "items": [{"product_id": "sku-1", "quantity": 1, "unit_price": 1}],
        },
    )
    assert response.status_code == 422


def test_same_source_id_after_erasure_starts_a_new_customer(api, anna):
    api.delete("/api/v1/customers/c-1")
    response = api.put("/api/v1/customers/c-1", {"first_name": "New"})
    assert response.status_code == 201
    assert response.json()["stats"]["orders_count"] == 0
