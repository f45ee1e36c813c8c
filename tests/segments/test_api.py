import pytest
from django.test import override_settings

from segments import services
from segments.models import Segment
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

IRELAND = {"all": [{"field": "country", "op": "eq", "value": "IE"}]}


@pytest.fixture
def ireland():
    segment = services.create_segment(name="Ireland", rules=IRELAND)
    CustomerFactory.create_batch(3, country="IE")
    CustomerFactory(country="DE")
    services.refresh_segment(segment_id=segment.pk)
    return segment


def test_list_shows_last_refreshed_size(api, ireland):
    CustomerFactory(country="IE")  # after the refresh: the list shows the recorded size
    body = api.get("/api/v1/segments").json()
    assert body["count"] == 1
    assert (body["results"][0]["name"], body["results"][0]["size"]) == ("Ireland", 3)


def test_detail_counts_members_right_now(api, ireland):
    CustomerFactory(country="IE")
    body = api.get(f"/api/v1/segments/{ireland.pk}").json()
    assert (body["member_count"], body["size"]) == (4, 3)
    assert body["rules"] == IRELAND


def test_members_are_paginated(api, ireland):
    page = api.get(f"/api/v1/segments/{ireland.pk}/members", {"page_size": 2}).json()
    assert page["count"] == 3
    assert len(page["results"]) == 2
    assert {m["country"] for m in page["results"]} == {"IE"}


def test_unknown_segment_is_404(api):
    response = api.get("/api/v1/segments/999")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "segment_not_found"


def test_customer_segments_are_current_on_the_next_request(api, ireland):
    buyers = services.create_segment(
        name="Buyers", rules={"all": [{"field": "orders_count", "op": "gte", "value": 1}]}
    )
    api.put("/api/v1/customers/c-1", {"country": "IE"})
    assert [s["name"] for s in api.get("/api/v1/customers/c-1/segments").json()] == ["Ireland"]
    item = [{"product_id": "p", "quantity": 1, "unit_price": 500}]
    api.put(
        "/api/v1/orders/o-1",
        {"customer": "c-1", "currency": "USD", "items": item, "status": "paid"},
    )
    names = {s["name"] for s in api.get("/api/v1/customers/c-1/segments").json()}
    assert names == {"Ireland", buyers.name}


# A slow machine must not see the verified API key expire mid-test.
@override_settings(OFFERWISE_API_KEY_CACHE_SECONDS=3600)
def test_customer_segments_take_one_query_for_all_segments(api, ireland, django_assert_num_queries):
    for n in range(5):
        services.create_segment(
            name=f"Orders {n}", rules={"all": [{"field": "orders_count", "op": "gte", "value": n}]}
        )
    api.put("/api/v1/customers/c-1", {"country": "IE"})
    # customer (+consents prefetch), segments, the one membership query (the API key was
    # verified by the request before and is kept for a while)
    with django_assert_num_queries(4):
        response = api.get("/api/v1/customers/c-1/segments")
    assert len(response.json()) == 2  # Ireland and "at least 0 orders"


def test_static_members_can_be_added_and_removed(api):
    vip = services.create_segment(name="VIP", kind=Segment.Kind.STATIC)
    a, b = CustomerFactory(), CustomerFactory()
    added = api.post(
        f"/api/v1/segments/{vip.pk}/members", {"customers": [a.source_id, b.source_id]}
    )
    assert added.status_code == 200, added.json()
    assert added.json()["member_count"] == 2
    assert api.delete(f"/api/v1/segments/{vip.pk}/members/{a.source_id}").status_code == 204
    assert api.get(f"/api/v1/segments/{vip.pk}").json()["member_count"] == 1


def test_adding_unknown_customers_changes_nothing(api):
    vip = services.create_segment(name="VIP", kind=Segment.Kind.STATIC)
    a = CustomerFactory()
    response = api.post(f"/api/v1/segments/{vip.pk}/members", {"customers": [a.source_id, "ghost"]})
    assert response.status_code == 422
    assert response.json()["error"]["details"]["unknown"] == ["ghost"]
    assert not vip.members.exists()


def test_dynamic_segment_has_no_list_to_add_to(api, ireland):
    response = api.post(f"/api/v1/segments/{ireland.pk}/members", {"customers": ["x"]})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "segment_not_static"


def test_bad_member_body_is_400(api):
    vip = services.create_segment(name="VIP", kind=Segment.Kind.STATIC)
    response = api.post(f"/api/v1/segments/{vip.pk}/members", {"customers": "abc"})
    assert response.status_code == 400


def test_customer_export_lists_their_segments(api, ireland):
    api.put("/api/v1/customers/c-1", {"country": "IE"})
    export = api.get("/api/v1/customers/c-1/export").json()
    assert [s["name"] for s in export["segments"]] == ["Ireland"]


def test_admin_pages_render_and_refresh(admin_client, ireland):
    assert admin_client.get("/admin/segments/segment/").status_code == 200
    assert admin_client.get(f"/admin/segments/segment/{ireland.pk}/change/").status_code == 200
    response = admin_client.post(
        "/admin/segments/segment/",
        {"action": "refresh_now", "_selected_action": [ireland.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert ireland.sizes.count() == 2


def test_admin_refuses_invalid_rules_with_the_pointed_message(admin_client):
    response = admin_client.post(
        "/admin/segments/segment/add/",
        {
            "name": "Bad",
            "kind": "dynamic",
            "description": "",
            "rules": '{"all": [{"field": "country", "op": "gt", "value": "IE"}]}',
        },
    )
    assert response.status_code == 200
    assert "all[0]: operator &#x27;gt&#x27; is not allowed" in response.content.decode()
    assert not Segment.objects.exists()
