import pytest

from customers.models import Customer, Order, Product

pytestmark = pytest.mark.django_db


def order_body(status="created", customer="c-1", items=None, **extra):
    return {
        "customer": customer,
        "status": status,
        "currency": "USD",
        "items": items
        or [
            {
                "product_id": "sku-1",
                "name": "Scarf",
                "category": "accessories",
                "quantity": 2,
                "unit_price": 1500,
            }
        ],
        "shipping_amount": 500,
        **extra,
    }


@pytest.fixture
def customer(api):
    api.put("/api/v1/customers/c-1", {"first_name": "Anna"})
    return Customer.objects.get(source_id="c-1")


def test_create_order_computes_amounts_and_creates_unknown_products(api, customer):
    response = api.put("/api/v1/orders/o-1", order_body(discount_amount=1000))
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["items_amount"], body["discount_amount"], body["total_amount"]) == (
        3000,
        1000,
        2500,
    )
    product = Product.objects.get(source_id="sku-1")
    assert (product.name, product.category.source_id) == ("Scarf", "accessories")


def test_stats_after_paid_then_refunded_orders(api, customer):
    api.put("/api/v1/orders/o-1", order_body(status="paid", created_at="2026-01-10T09:00:00Z"))
    api.put(
        "/api/v1/orders/o-2",
        order_body(
            status="paid",
            created_at="2026-03-05T12:00:00Z",
            items=[{"product_id": "sku-2", "quantity": 1, "unit_price": 9000}],
        ),
    )
    customer.refresh_from_db()
    assert customer.orders_count == 2
    assert customer.total_spent == 3500 + 9500
    assert customer.average_order_value == (3500 + 9500) // 2
    assert customer.first_order_at.isoformat() == "2026-01-10T09:00:00+00:00"
    assert customer.last_order_at.isoformat() == "2026-03-05T12:00:00+00:00"

    refund = api.put(
        "/api/v1/orders/o-2",
        order_body(
            status="refunded", items=[{"product_id": "sku-2", "quantity": 1, "unit_price": 9000}]
        ),
    )
    assert refund.status_code == 200, refund.json()
    assert refund.json()["refunded_at"] is not None
    customer.refresh_from_db()
    assert customer.orders_count == 1
    assert customer.total_spent == 3500
    assert customer.average_order_value == 3500
    assert customer.last_order_at.isoformat() == "2026-01-10T09:00:00+00:00"


def test_cancelling_a_paid_order_removes_it_from_stats(api, customer):
    api.put("/api/v1/orders/o-1", order_body(status="paid"))
    api.put("/api/v1/orders/o-1", order_body(status="cancelled"))
    customer.refresh_from_db()
    assert (customer.orders_count, customer.total_spent, customer.last_order_at) == (0, 0, None)


def test_created_and_cancelled_orders_do_not_count(api, customer):
    api.put("/api/v1/orders/o-1", order_body(status="created"))
    api.put("/api/v1/orders/o-2", order_body(status="cancelled"))
    customer.refresh_from_db()
    assert customer.orders_count == 0


def test_repeating_paid_push_does_not_double_count(api, customer):
    api.put("/api/v1/orders/o-1", order_body(status="paid"))
    again = api.put("/api/v1/orders/o-1", order_body(status="paid"))
    assert again.status_code == 200
    customer.refresh_from_db()
    assert customer.orders_count == 1


def test_refunded_order_cannot_become_paid_again(api, customer):
    api.put("/api/v1/orders/o-1", order_body(status="paid"))
    api.put("/api/v1/orders/o-1", order_body(status="refunded"))
    response = api.put("/api/v1/orders/o-1", order_body(status="paid"))
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "invalid_status_transition"
    assert error["details"] == {"from": "refunded", "to": "paid", "allowed": []}
    assert Order.objects.get(source_id="o-1").status == "refunded"


def test_items_change_while_created_but_not_after_payment(api, customer):
    api.put("/api/v1/orders/o-1", order_body())
    bigger = [{"product_id": "sku-1", "quantity": 5, "unit_price": 1500}]
    assert api.put("/api/v1/orders/o-1", order_body(items=bigger)).json()["items_amount"] == 7500
    api.put("/api/v1/orders/o-1", order_body(status="paid", items=bigger))
    smaller = [{"product_id": "sku-1", "quantity": 1, "unit_price": 1500}]
    response = api.put("/api/v1/orders/o-1", order_body(status="paid", items=smaller))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "order_locked"
    assert Order.objects.get(source_id="o-1").items_amount == 7500


def test_order_for_unknown_customer_is_refused_and_nothing_is_written(api):
    response = api.put("/api/v1/orders/o-1", order_body(customer="ghost"))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "customer_not_found"
    assert not Order.objects.exists()
    assert not Product.objects.exists()


def test_order_in_another_currency_is_refused(api, customer):
    response = api.put("/api/v1/orders/o-1", order_body(currency="EUR"))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "currency_not_supported"


def test_discount_larger_than_order_is_refused(api, customer):
    response = api.put("/api/v1/orders/o-1", order_body(discount_amount=100_000))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "discount_exceeds_order"
    assert not Order.objects.exists()


def test_get_order_and_filter_orders(api, customer):
    api.put("/api/v1/orders/o-1", order_body(status="paid"))
    api.put("/api/v1/orders/o-2", order_body())
    assert api.get("/api/v1/orders/o-1").json()["items"][0]["product_id"] == "sku-1"
    paid = api.get("/api/v1/orders", {"status": "paid", "customer": "c-1"}).json()
    assert [o["source_id"] for o in paid["results"]] == ["o-1"]
    assert api.get("/api/v1/orders/nope").status_code == 404


def test_order_lines_record_the_category_their_product_had(api, customer):
    api.put("/api/v1/orders/o-1", order_body(status="paid"))
    line = Order.objects.get(source_id="o-1").items.get()
    assert line.category.source_id == "accessories"
