import datetime as dt

import pytest

from customers.models import Consent, Customer
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_upsert_creates_customer_with_all_attributes(api):
    body = {
        "first_name": "Anna",
        "last_name": "Byrne",
        "email": "anna@example.com",
        "phone": "+353 1 234 5678",
        "birthdate": "1990-03-17",
        "timezone": "Europe/Dublin",
        "language": "en",
        "country": "ie",
        "city": "Dublin",
        "latitude": 53.35,
        "longitude": -6.26,
        "metadata": {"vip": True, "shoe_size": 38},
    }
    response = api.put("/api/v1/customers/c-1", body)
    assert response.status_code == 201, response.json()
    customer = Customer.objects.get(source_id="c-1")
    assert customer.name == "Anna Byrne"
    assert customer.country == "IE"
    assert customer.birthday_mmdd == 317
    assert customer.metadata == {"vip": True, "shoe_size": 38}
    assert response.json()["stats"] == {
        "orders_count": 0,
        "total_spent": 0,
        "average_order_value": 0,
        "first_order_at": None,
        "last_order_at": None,
        "currency": "USD",
    }


def test_upsert_is_idempotent(api):
    body = {"first_name": "Anna", "email": "anna@example.com", "consents": {"email": True}}
    first = api.put("/api/v1/customers/c-1", body)
    second = api.put("/api/v1/customers/c-1", body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert Customer.objects.filter(source_id="c-1").count() == 1
    assert Consent.objects.filter(customer__source_id="c-1").count() == 1
    first_body, second_body = first.json(), second.json()
    for changing in ("updated_at",):
        first_body.pop(changing), second_body.pop(changing)
    assert first_body == second_body


def test_upsert_keeps_fields_that_are_not_sent(api):
    api.put("/api/v1/customers/c-1", {"first_name": "Anna", "city": "Cork"})
    response = api.put("/api/v1/customers/c-1", {"city": "Dublin"})
    assert response.json()["first_name"] == "Anna"
    assert response.json()["city"] == "Dublin"


def test_changing_birthdate_updates_birthday_index_column(api):
    api.put("/api/v1/customers/c-1", {"birthdate": "1990-03-17"})
    api.put("/api/v1/customers/c-1", {"birthdate": "1991-12-01"})
    assert Customer.objects.get(source_id="c-1").birthday_mmdd == 1201


def test_consent_times_are_kept_per_purpose(api):
    api.put("/api/v1/customers/c-1", {"consents": {"email": True, "sms": False}})
    api.put("/api/v1/customers/c-1", {"consents": {"email": False}})
    consents = {c["purpose"]: c for c in api.get("/api/v1/customers/c-1").json()["consents"]}
    assert consents["email"]["granted"] is False
    assert consents["email"]["granted_at"] is not None
    assert consents["email"]["withdrawn_at"] is not None
    assert consents["sms"]["granted"] is False
    assert consents["sms"]["granted_at"] is None


def test_repeating_the_same_consent_keeps_its_original_time(api):
    api.put("/api/v1/customers/c-1", {"consents": {"email": True}})
    first = Consent.objects.get(purpose="email").granted_at
    api.put("/api/v1/customers/c-1", {"consents": {"email": True}})
    assert Consent.objects.get(purpose="email").granted_at == first


def test_get_unknown_customer_is_404_in_error_format(api):
    response = api.get("/api/v1/customers/nobody")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "customer_not_found"


def test_list_is_paginated_and_filterable(api):
    CustomerFactory.create_batch(3, country="IE")
    CustomerFactory.create_batch(2, country="DE", city="Berlin")
    page = api.get("/api/v1/customers", {"page_size": 2}).json()
    assert page["count"] == 5
    assert len(page["results"]) == 2
    assert page["next"] is not None
    germans = api.get("/api/v1/customers", {"country": "DE"}).json()
    assert germans["count"] == 2
    assert {c["city"] for c in germans["results"]} == {"Berlin"}


def test_list_filters_by_creation_time(api):
    old = CustomerFactory(created_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    CustomerFactory(created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    page = api.get("/api/v1/customers", {"created_before": "2025-01-01T00:00:00Z"}).json()
    assert [c["source_id"] for c in page["results"]] == [old.source_id]


def test_list_query_count_does_not_grow_with_rows(api, django_assert_max_num_queries):
    CustomerFactory.create_batch(30)
    with django_assert_max_num_queries(4):
        response = api.get("/api/v1/customers")
    assert len(response.json()["results"]) == 30
