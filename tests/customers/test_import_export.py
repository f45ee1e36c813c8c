import datetime as dt
import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from import_export.formats.base_formats import CSV, XLSX

from customers.models import Category, Customer, Order, OrderItem, Product
from customers.resources import CustomerResource, OrderResource, ProductResource
from customers.services import refresh_customer_stats
from tests.factories import (
    CategoryFactory,
    CustomerFactory,
    OrderFactory,
    OrderItemFactory,
    ProductFactory,
)

pytestmark = pytest.mark.django_db

FORMATS = [pytest.param(CSV, id="csv"), pytest.param(XLSX, id="xlsx")]

CUSTOMER_HEADERS = "source_id,first_name,email,country,timezone,birthdate,metadata"
ORDER_HEADERS = (
    "source_id,customer,status,currency,items_amount,discount_amount,shipping_amount,"
    "total_amount,items"
)


def _export(resource, file_format, queryset=None) -> bytes | str:
    dataset = resource.export(queryset)
    return file_format().export_data(dataset)


def _import(resource, file_format, data, dry_run=False):
    if isinstance(data, str) and file_format().is_binary():
        data = data.encode()
    dataset = file_format().create_dataset(data)
    return resource.import_data(dataset, dry_run=dry_run)


def _lines(*lines: tuple[str, int, int]) -> str:
    """Order lines as a quoted CSV cell."""
    data = [{"product_id": p, "quantity": q, "unit_price": u} for p, q, u in lines]
    return '"' + json.dumps(data).replace('"', '""') + '"'


def _csv(text: str):
    return CSV().create_dataset(text.strip() + "\n")


def _errors(result) -> dict[int, dict[str, list[str]]]:
    return {row.number: row.error_dict for row in result.invalid_rows}


def _customer_values(customer: Customer) -> tuple:
    return tuple(
        getattr(customer, name)
        for name in (
            "first_name",
            "last_name",
            "email",
            "phone",
            "birthdate",
            "birthday_mmdd",
            "timezone",
            "language",
            "country",
            "city",
            "latitude",
            "longitude",
            "metadata",
            "created_at",
        )
    )


def _all_customers() -> dict[str, tuple]:
    return {c.source_id: _customer_values(c) for c in Customer.objects.all()}


def _all_orders() -> dict[str, tuple]:
    return {
        o.source_id: (
            o.customer.source_id,
            o.status,
            o.currency,
            o.items_amount,
            o.discount_amount,
            o.shipping_amount,
            o.total_amount,
            o.metadata,
            o.created_at,
            o.paid_at,
            o.cancelled_at,
            o.refunded_at,
            sorted(
                (i.product.source_id, i.quantity, i.unit_price, i.amount) for i in o.items.all()
            ),
        )
        for o in Order.objects.select_related("customer").prefetch_related("items__product")
    }


# --- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("file_format", FORMATS)
def test_customers_round_trip_through_export_and_import(file_format):
    CustomerFactory(
        source_id="c-1",
        first_name="Zoë",
        phone="+353 1 234 5678",
        birthdate=dt.date(1988, 2, 29),
        language="pt-BR",
        latitude=53.349805,
        longitude=-6.26031,
        metadata={"tier": "gold", "tags": ["a", "b"], "nested": {"n": 1.5, "ok": True}},
        created_at=timezone.now().replace(microsecond=123456),
    )
    CustomerFactory(source_id="0042", birthdate=None, country="", city="", metadata={})
    before = _all_customers()

    data = _export(CustomerResource(), file_format)
    Customer.objects.all().delete()
    result = _import(CustomerResource(), file_format, data)

    assert not result.has_errors() and not result.has_validation_errors()
    assert _all_customers() == before
    assert Customer.objects.get(source_id="c-1").birthday_mmdd == 229


@pytest.mark.parametrize("file_format", FORMATS)
def test_products_round_trip_and_recreate_their_categories(file_format):
    ProductFactory(
        source_id="sku-1",
        category=CategoryFactory(source_id="shoes", name="Shoes & boots"),
        metadata={"colour": "red"},
    )
    ProductFactory(source_id="sku-2", category=None, price=None, currency="")

    def snapshot():
        return {
            p.source_id: (
                p.name,
                p.category and (p.category.source_id, p.category.name),
                p.price,
                p.currency,
                p.metadata,
                p.created_at,
            )
            for p in Product.objects.select_related("category")
        }

    before = snapshot()
    data = _export(ProductResource(), file_format)
    Product.objects.all().delete()
    Category.objects.all().delete()
    result = _import(ProductResource(), file_format, data)

    assert not result.has_errors() and not result.has_validation_errors()
    assert snapshot() == before


@pytest.mark.parametrize("file_format", FORMATS)
def test_orders_round_trip_with_their_lines_and_exact_stats(file_format):
    customer = CustomerFactory(source_id="c-1")
    paid = OrderFactory(
        source_id="o-1",
        customer=customer,
        status=Order.Status.PAID,
        items_amount=5000,
        discount_amount=500,
        shipping_amount=499,
        total_amount=4999,
        metadata={"channel": "web"},
        paid_at=timezone.now(),
    )
    OrderItemFactory(order=paid, product=ProductFactory(source_id="sku-1"))
    OrderFactory(source_id="o-2", customer=customer, status=Order.Status.CANCELLED)
    before = _all_orders()

    data = _export(OrderResource(), file_format)
    Order.objects.all().delete()
    result = _import(OrderResource(), file_format, data)

    assert not result.has_errors() and not result.has_validation_errors()
    assert _all_orders() == before
    customer.refresh_from_db()
    assert (customer.orders_count, customer.total_spent, customer.last_order_at) == (
        1,
        4999,
        paid.created_at,
    )


def test_order_import_recomputes_stats_of_the_customers_concerned_exactly():
    alice = CustomerFactory(source_id="alice")
    bob = CustomerFactory(source_id="bob")
    ProductFactory(source_id="sku-1", price=1000)
    OrderFactory(source_id="old", customer=alice, status=Order.Status.PAID, total_amount=5000)
    result = OrderResource().import_data(
        _csv(
            f"""
{ORDER_HEADERS},created_at
a-1,alice,paid,USD,2000,0,0,2000,{_lines(("sku-1", 2, 1000))},2024-01-02T10:00:00+00:00
a-2,alice,created,USD,1000,0,0,1000,,2024-03-01T10:00:00+00:00
b-1,bob,paid,USD,3000,1000,500,2500,,2024-02-01T10:00:00+00:00
"""
        )
    )

    assert not result.has_errors() and not result.has_validation_errors()
    alice.refresh_from_db()
    bob.refresh_from_db()
    assert (alice.orders_count, alice.total_spent) == (2, 7000)
    assert (bob.orders_count, bob.total_spent, bob.average_order_value) == (1, 2500, 2500)
    assert bob.last_order_at == dt.datetime(2024, 2, 1, 10, tzinfo=dt.UTC)
    # The same figures as the per-customer service gives.
    for customer in (alice, bob):
        exact = refresh_customer_stats(customer_id=customer.pk)
        assert (customer.orders_count, customer.total_spent, customer.first_order_at) == (
            exact.orders_count,
            exact.total_spent,
            exact.first_order_at,
        )
    assert list(Order.objects.get(source_id="a-1").items.values_list("amount", flat=True)) == [2000]


def test_customer_import_upserts_by_source_id_and_sets_birthday_lookup():
    existing = CustomerFactory(source_id="c-1", first_name="Old", last_name="Name")

    result = CustomerResource().import_data(
        _csv(
            f"""
{CUSTOMER_HEADERS}
c-1,New,new@example.com,fr,Europe/Paris,1990-12-24,"{{""vip"": true}}"
c-2,Ann,,,,,
"""
        )
    )

    assert not result.has_validation_errors()
    assert Customer.objects.count() == 2
    existing.refresh_from_db()
    assert (existing.first_name, existing.last_name, existing.country) == ("New", "Name", "FR")
    assert (existing.birthdate, existing.birthday_mmdd) == (dt.date(1990, 12, 24), 1224)
    assert existing.metadata == {"vip": True}
    new = Customer.objects.get(source_id="c-2")
    assert (new.timezone, new.metadata, new.birthday_mmdd) == ("UTC", {}, None)


# --- dry runs and refusals -----------------------------------------------------------------


def test_dry_run_reports_the_rows_and_writes_nothing():
    CustomerFactory(source_id="c-1", first_name="Old")

    result = CustomerResource().import_data(
        _csv(
            f"""
{CUSTOMER_HEADERS}
c-1,New,,,,,
c-2,Ann,,,,,
"""
        ),
        dry_run=True,
    )

    assert [row.import_type for row in result.rows] == ["update", "new"]
    assert list(Customer.objects.values_list("source_id", "first_name")) == [("c-1", "Old")]


def test_dry_run_of_orders_writes_no_order_line_or_stats():
    customer = CustomerFactory(source_id="c-1")
    ProductFactory(source_id="sku-1")

    result = OrderResource().import_data(
        _csv(
            f"""
{ORDER_HEADERS}
o-1,c-1,paid,USD,2500,0,0,2500,{_lines(("sku-1", 1, 2500))}
"""
        ),
        dry_run=True,
    )

    assert not result.has_validation_errors()
    assert not Order.objects.exists() and not OrderItem.objects.exists()
    customer.refresh_from_db()
    assert customer.orders_count == 0


def test_bad_customer_rows_are_reported_and_nothing_is_written():
    result = CustomerResource().import_data(
        _csv(
            f"""
{CUSTOMER_HEADERS}
ok-1,Fine,fine@example.com,IE,Europe/Dublin,,
bad-1,X,not-an-email,XX,Mars/Base,1990-02-30,"[1, 2]"
,Nobody,,,,,
"""
        )
    )

    errors = _errors(result)
    assert set(errors) == {2, 3}
    assert errors[2] == {
        "email": ["Enter a valid email address."],
        "country": ["'XX' is not an ISO 3166-1 alpha-2 country."],
        "timezone": ["'Mars/Base' is not an IANA time zone."],
        "birthdate": ["'1990-02-30' is not a date like 1990-05-17."],
        "metadata": ["A JSON object is required."],
    }
    assert errors[3] == {"source_id": ["This field cannot be blank."]}
    assert not Customer.objects.exists()


def test_bad_order_rows_are_reported_and_nothing_is_written():
    customer = CustomerFactory(source_id="c-1")

    result = OrderResource().import_data(
        _csv(
            f"""
{ORDER_HEADERS}
good,c-1,paid,USD,1000,0,0,1000,
negative,c-1,paid,USD,-100,0,0,-100,
unknown,nobody,paid,USD,1000,0,0,1000,
mismatch,c-1,paid,USD,1000,100,0,1000,
currency,c-1,paid,EUR,1000,0,0,1000,
fraction,c-1,dispatched,USD,10.5,0,0,10.5,
lines,c-1,paid,USD,1000,0,0,1000,{_lines(("ghost", 1, 1000))}
"""
        )
    )

    errors = _errors(result)
    greater = "Ensure this value is greater than or equal to 0."
    assert errors[2] == {"items_amount": [greater], "total_amount": [greater]}
    assert errors[3] == {
        "customer": ["No customer with source_id 'nobody'; import customers first."]
    }
    assert errors[4] == {
        "total_amount": [
            "total_amount must be items_amount - discount_amount + shipping_amount "
            "(1000 - 100 + 0 = 900), not 1000."
        ]
    }
    assert errors[5] == {"currency": ["This installation works in USD; got EUR."]}
    assert errors[6] == {
        "status": ['"dispatched" is not a valid choice.'],
        "items_amount": ["A whole number is required."],
        "total_amount": ["A whole number is required."],
    }
    assert errors[7] == {"items": ["Unknown products: ghost; import them first."]}
    assert 1 not in errors
    assert not Order.objects.exists()
    customer.refresh_from_db()
    assert customer.orders_count == 0


def test_order_import_follows_the_status_rules_of_the_api():
    customer = CustomerFactory(source_id="c-1")
    OrderFactory(
        source_id="o-1", customer=customer, status=Order.Status.PAID, paid_at=timezone.now()
    )

    result = OrderResource().import_data(
        _csv(
            f"""
{ORDER_HEADERS}
o-1,c-1,created,USD,5000,0,0,5000,
"""
        )
    )
    assert _errors(result) == {1: {"status": ["An order cannot go from 'paid' to 'created'."]}}

    result = OrderResource().import_data(
        _csv(
            f"""
{ORDER_HEADERS}
o-1,c-1,refunded,USD,6000,0,0,6000,
"""
        )
    )
    assert _errors(result) == {
        1: {
            "items_amount": ["Items and amounts of an order can change only while it is 'created'."]
        }
    }
    assert Order.objects.get(source_id="o-1").status == Order.Status.PAID


def test_refund_by_import_takes_the_order_out_of_the_stats():
    customer = CustomerFactory(source_id="c-1")
    OrderFactory(source_id="o-1", customer=customer, status=Order.Status.PAID)
    refresh_customer_stats(customer_id=customer.pk)

    result = OrderResource().import_data(
        _csv(
            f"""
{ORDER_HEADERS}
o-1,c-1,refunded,USD,5000,0,0,5000,
"""
        )
    )

    assert not result.has_validation_errors()
    customer.refresh_from_db()
    assert (customer.orders_count, customer.total_spent) == (0, 0)
    assert Order.objects.get(source_id="o-1").refunded_at is not None


# --- the admin's import page ---------------------------------------------------------------


def test_admin_import_previews_then_imports_on_confirm(admin_client):
    upload = SimpleUploadedFile(
        "customers.csv",
        f"{CUSTOMER_HEADERS}\nc-1,Ann,ann@example.com,ie,Europe/Dublin,1990-05-17,\n".encode(),
        content_type="text/csv",
    )

    preview = admin_client.post(
        "/admin/customers/customer/import/",
        {"import_file": upload, "format": "0", "resource": "0"},
    )

    assert preview.status_code == 200
    assert not Customer.objects.exists()
    confirm = preview.context["confirm_form"]
    assert confirm is not None
    response = admin_client.post(
        "/admin/customers/customer/process_import/", dict(confirm.initial), follow=True
    )
    assert response.status_code == 200
    customer = Customer.objects.get(source_id="c-1")
    assert (customer.country, customer.birthday_mmdd) == ("IE", 517)
    assert "Import finished: 1 new" in response.content.decode()


def test_admin_import_shows_row_errors_and_offers_no_confirmation(admin_client):
    upload = SimpleUploadedFile(
        "customers.csv",
        f"{CUSTOMER_HEADERS}\nc-1,Ann,nope,XX,,,\n".encode(),
        content_type="text/csv",
    )

    response = admin_client.post(
        "/admin/customers/customer/import/",
        {"import_file": upload, "format": "0", "resource": "0"},
    )

    assert response.status_code == 200
    assert "confirm_form" not in response.context
    page = response.content.decode()
    assert "Enter a valid email address." in page
    assert re.search(r"&#x27;XX&#x27; is not an ISO 3166-1 alpha-2 country", page)
    assert not Customer.objects.exists()


def test_admin_import_needs_add_and_change_permissions(client):
    from django.contrib.auth.models import Permission, User

    viewer = User.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_customer"))
    client.force_login(viewer)

    assert client.get("/admin/customers/customer/import/").status_code == 403
    assert client.get("/admin/customers/customer/export/").status_code == 200


@pytest.mark.parametrize("file_format_index", ["0", "1"])
def test_admin_export_downloads_the_orders(admin_client, file_format_index):
    OrderFactory(source_id="o-export")

    response = admin_client.post(
        "/admin/customers/order/export/",
        {
            "format": file_format_index,
            "resource": "0",
            **{f"orderresource_{name}": "on" for name in OrderResource().get_export_order()},
        },
    )

    assert response.status_code == 200
    file_format = [CSV, XLSX][int(file_format_index)]
    dataset = file_format().create_dataset(
        response.content if file_format().is_binary() else response.content.decode()
    )
    assert dataset["source_id"] == ["o-export"]
    assert dataset["customer"] == [Order.objects.get().customer.source_id]
