import pytest

from customers.models import Cart, Event

pytestmark = pytest.mark.django_db

ITEMS = [
    {
        "product_id": "sku-1",
        "name": "Pixel 9",
        "category": "phones",
        "quantity": 1,
        "unit_price": 79900,
    }
]


@pytest.fixture
def anna(api):
    api.put("/api/v1/customers/c-1", {"first_name": "Anna", "consents": {"tracking": True}})


@pytest.fixture
def ben(api):
    api.put("/api/v1/customers/c-2", {"first_name": "Ben", "consents": {"tracking": False}})


def test_put_cart_replaces_content_and_marks_activity(api, anna):
    first = api.put("/api/v1/carts/cart-1", {"customer": "c-1", "currency": "USD", "items": ITEMS})
    assert first.status_code == 201, first.json()
    before = Cart.objects.get().last_activity_at
    second = api.put(
        "/api/v1/carts/cart-1",
        {
            "customer": "c-1",
            "currency": "USD",
            "items": ITEMS * 1 + [{"product_id": "sku-2", "quantity": 3, "unit_price": 100}],
        },
    )
    assert second.status_code == 200
    cart = Cart.objects.get()
    assert (cart.items_amount, cart.items_count) == (80200, 4)
    assert cart.items.count() == 2
    assert cart.last_activity_at > before


def test_guest_cart_needs_no_customer(api):
    response = api.put("/api/v1/carts/cart-9", {"currency": "USD", "items": ITEMS})
    assert response.status_code == 201
    assert response.json()["customer"] is None


def test_cart_can_be_marked_converted_with_its_order(api, anna):
    api.put("/api/v1/orders/o-1", {"customer": "c-1", "currency": "USD", "items": ITEMS})
    response = api.put(
        "/api/v1/carts/cart-1",
        {
            "customer": "c-1",
            "currency": "USD",
            "items": ITEMS,
            "status": "converted",
            "order": "o-1",
        },
    )
    assert response.json()["status"] == "converted"
    assert response.json()["order"] == "o-1"


def test_behavioural_event_with_tracking_consent_is_stored(api, anna):
    response = api.post(
        "/api/v1/events",
        {"customer": "c-1", "name": "product_viewed", "properties": {"category": "kids"}},
    )
    assert response.status_code == 201, response.json()
    assert Event.objects.get().properties == {"category": "kids"}


def test_behavioural_event_without_tracking_consent_is_refused_and_not_stored(api, ben):
    response = api.post("/api/v1/events", {"customer": "c-2", "name": "product_viewed"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "tracking_consent_required"
    assert not Event.objects.exists()


def test_events_default_to_behavioural_so_consent_cannot_be_skipped_by_omission(api, ben):
    response = api.post("/api/v1/events", {"customer": "c-2", "name": "anything"})
    assert response.status_code == 422


def test_withdrawn_tracking_consent_stops_events(api, anna):
    api.put("/api/v1/customers/c-1", {"consents": {"tracking": False}})
    response = api.post("/api/v1/events", {"customer": "c-1", "name": "product_viewed"})
    assert response.status_code == 422


def test_custom_event_needs_no_tracking_consent(api, ben):
    response = api.post(
        "/api/v1/events", {"customer": "c-2", "name": "review_written", "kind": "custom"}
    )
    assert response.status_code == 201


def test_events_list_filters_by_customer_and_name(api, anna, ben):
    api.post("/api/v1/events", {"customer": "c-1", "name": "product_viewed"})
    api.post("/api/v1/events", {"customer": "c-1", "name": "search"})
    api.post("/api/v1/events", {"customer": "c-2", "name": "review_written", "kind": "custom"})
    page = api.get("/api/v1/events", {"customer": "c-1", "name": "search"}).json()
    assert [e["name"] for e in page["results"]] == ["search"]
