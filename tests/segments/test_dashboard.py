import datetime as dt
import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from segments import services
from segments.models import Segment, SegmentMember, SegmentSize
from tests.factories import CustomerFactory

IRISH = {"all": [{"field": "country", "op": "eq", "value": "IE"}]}


@pytest.fixture
def marketer(django_user_model):
    return django_user_model.objects.create_user(username="marketer", password="x-secret-9")


@pytest.fixture
def signed_in(client, marketer):
    client.force_login(marketer)
    return client


@pytest.fixture
def people(db):
    """Three Irish customers (two with 10+ orders), two German ones."""
    return {
        "ie_loyal": CustomerFactory(source_id="ie-1", country="IE", orders_count=12),
        "ie_loyal_2": CustomerFactory(source_id="ie-2", country="IE", orders_count=10),
        "ie_new": CustomerFactory(source_id="ie-3", country="IE", orders_count=1),
        "de_loyal": CustomerFactory(source_id="de-1", country="DE", city="Berlin", orders_count=30),
        "de_new": CustomerFactory(source_id="de-2", country="DE", city="Berlin", orders_count=0),
    }


def json_script(response, element_id: str):
    html = response.content.decode()
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html)
    assert match, f"the page embeds {element_id} with json_script"
    return json.loads(match.group(1))


def preview(client, rules, **extra):
    return client.post(
        reverse("segments:preview"),
        data=json.dumps({"rules": rules, **extra}),
        content_type="application/json",
    )


def builder_post(client, url, **fields):
    data = {"name": "Irish", "description": "", "kind": "dynamic", **fields}
    if not isinstance(data.get("rules"), str):
        data["rules"] = json.dumps(data.get("rules", IRISH))
    return client.post(url, data)


@pytest.mark.parametrize(
    "url",
    [
        "/segments/",
        "/segments/new",
        "/segments/1/",
        "/segments/1/edit",
    ],
)
def test_pages_require_sign_in(client, db, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response.url.startswith(f"{reverse('login')}?next=")


def test_list_shows_live_counts_and_last_refresh_size(signed_in, people):
    irish = services.create_segment(name="Irish", rules=IRISH)
    services.refresh_segment(segment_id=irish.pk)
    CustomerFactory(country="IE")  # joined after the refresh: live count only
    static = services.create_segment(name="VIP list", kind=Segment.Kind.STATIC)

    response = signed_in.get(reverse("segments:list"))

    html = response.content.decode()
    assert response.status_code == 200
    assert f'data-live-count="{irish.pk}">4<' in html
    assert f'data-live-count="{static.pk}">0<' in html
    rows = {segment.name: (segment.size, count) for segment, count in response.context["rows"]}
    assert rows == {"Irish": (3, 4), "VIP list": (None, 0)}
    assert f'href="{reverse("segments:detail", args=[irish.pk])}"' in html
    assert f'href="{reverse("segments:create")}"' in html


def test_list_marks_a_segment_whose_rules_no_longer_compile(signed_in, people):
    broken = Segment.objects.create(name="Gone", rules={"field": "loyalty.tier", "op": "eq"})

    response = signed_in.get(reverse("segments:list"))

    assert response.status_code == 200
    assert f'data-live-count="{broken.pk}"><span class="badge badge--error"' in (
        response.content.decode()
    )


def test_list_query_count_does_not_grow_with_customers(
    signed_in, people, django_assert_num_queries
):
    services.create_segment(name="Irish", rules=IRISH)
    services.create_segment(name="Loyal", rules={"field": "orders_count", "op": "gte", "value": 10})
    # Session, user, page count, page of segments, one count per segment.
    with django_assert_num_queries(6):
        signed_in.get(reverse("segments:list"))

    CustomerFactory.create_batch(30, country="IE", orders_count=11)

    with django_assert_num_queries(6):
        response = signed_in.get(reverse("segments:list"))
    assert [count for _, count in response.context["rows"]] == [33, 33]


def test_list_is_paginated_at_fifty(signed_in, db):
    Segment.objects.bulk_create(
        [Segment(name=f"S{n:02}", kind=Segment.Kind.STATIC) for n in range(51)]
    )

    first = signed_in.get(reverse("segments:list"))
    second = signed_in.get(reverse("segments:list"), {"page": 2})

    assert len(first.context["rows"]) == 50
    assert [s.name for s, _ in second.context["rows"]] == ["S50"]


def test_navigation_has_segments(signed_in, db):
    html = signed_in.get(reverse("segments:list")).content.decode()

    assert 'href="/segments/" aria-current="page">Segments</a>' in html


def test_builder_embeds_the_field_catalog(signed_in, db):
    response = signed_in.get(reverse("segments:create"))

    catalog = json_script(response, "segment-catalog")
    fields = {f["name"]: f for f in catalog["fields"]}
    assert response.status_code == 200
    category = fields["orders.category"]["operators"][0]
    assert category["op"] == "matches"
    assert [k["key"] for k in category["value"]["keys"]] == ["id", "min_count", "within_days"]
    shapes = {o["op"]: o["value"]["kind"] for o in fields["orders_count"]["operators"]}
    assert shapes["between"] == "between" and shapes["in"] == "list" and shapes["gte"] == "integer"
    assert {o["op"]: o["value"]["kind"] for o in fields["birthday"]["operators"]}["today"] == "none"
    assert catalog["families"][0]["prefix"] == "metadata"
    assert json_script(response, "segment-rules-error") is None
    html = response.content.decode()
    assert '<script src="/static/js/segment_builder.js" defer></script>' in html
    assert re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", html) == []


def test_builder_creates_a_dynamic_segment_and_refreshes_it(signed_in, people):
    response = builder_post(signed_in, reverse("segments:create"), description="From Ireland")

    segment = Segment.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("segments:detail", args=[segment.pk])
    assert (segment.name, segment.kind, segment.rules) == ("Irish", "dynamic", IRISH)
    assert segment.description == "From Ireland"
    assert list(SegmentSize.objects.filter(segment=segment).values_list("size", flat=True)) == [3]
    assert segment.memberships.count() == 3


def test_builder_refuses_invalid_rules_with_the_pointed_message(signed_in, people):
    rules = {"all": [IRISH["all"][0], {"field": "orders_cnt", "op": "gte", "value": 10}]}

    response = builder_post(signed_in, reverse("segments:create"), rules=rules)

    assert response.status_code == 400
    assert "all[1]: unknown field &#x27;orders_cnt&#x27;" in response.content.decode()
    assert json_script(response, "segment-rules-error") == {
        "message": "all[1]: unknown field 'orders_cnt'",
        "path": "all[1]",
    }
    assert not Segment.objects.exists()


def test_builder_refuses_text_that_is_not_json(signed_in, db):
    response = builder_post(signed_in, reverse("segments:create"), rules="{all: [")

    assert response.status_code == 400
    assert "The rules are not valid JSON" in response.content.decode()
    assert not Segment.objects.exists()


def test_builder_creates_a_static_segment_without_rules(signed_in, db):
    response = builder_post(
        signed_in, reverse("segments:create"), name="VIP", kind="static", rules="not json at all"
    )

    segment = Segment.objects.get()
    assert response.status_code == 302
    assert (segment.kind, segment.rules) == ("static", {"all": []})


def test_edit_updates_rules_and_refreshes(signed_in, people):
    segment = services.create_segment(name="Irish", rules=IRISH)
    url = reverse("segments:edit", args=[segment.pk])
    loyal = {"all": [*IRISH["all"], {"field": "orders_count", "op": "gte", "value": 10}]}

    page = signed_in.get(url)
    response = builder_post(signed_in, url, name="Loyal Irish", rules=loyal)

    assert json.loads(page.context["form"]["rules"].value()) == IRISH
    segment.refresh_from_db()
    assert response.status_code == 302
    assert (segment.name, segment.rules) == ("Loyal Irish", loyal)
    assert SegmentSize.objects.get(segment=segment).size == 2


def test_edit_refuses_a_segment_that_refers_to_itself(signed_in, people):
    segment = services.create_segment(name="Irish", rules=IRISH)
    rules = {"any": [{"field": "segment.member", "op": "eq", "value": segment.pk}]}

    response = builder_post(signed_in, reverse("segments:edit", args=[segment.pk]), rules=rules)

    segment.refresh_from_db()
    assert response.status_code == 400
    assert json_script(response, "segment-rules-error")["path"] == "any[0].value"
    assert segment.rules == IRISH


def test_unknown_segment_is_not_found(signed_in, db):
    assert signed_in.get(reverse("segments:detail", args=[999])).status_code == 404
    assert signed_in.get(reverse("segments:edit", args=[999])).status_code == 404


def test_preview_counts_and_samples_the_matching_customers(signed_in, people):
    rules = {"all": [*IRISH["all"], {"field": "orders_count", "op": "gte", "value": 10}]}

    response = preview(signed_in, rules)

    assert response.status_code == 200
    assert response.json() == {
        "count": 2,
        "label": "customers match",
        "sample": [
            {
                "source_id": "ie-1",
                "name": people["ie_loyal"].name,
                "email": "ie-1@example.com",
                "country": "IE",
                "city": "Dublin",
            },
            {
                "source_id": "ie-2",
                "name": people["ie_loyal_2"].name,
                "email": "ie-2@example.com",
                "country": "IE",
                "city": "Dublin",
            },
        ],
        "error": None,
    }


def test_preview_sample_is_the_first_ten(signed_in, db):
    CustomerFactory.create_batch(12, country="IE")

    body = preview(signed_in, IRISH).json()

    assert body["count"] == 12
    assert len(body["sample"]) == 10


def test_preview_points_at_the_bad_node(signed_in, db):
    rules = {"all": [{"any": [{"field": "orders.category", "op": "matches", "value": {}}]}]}

    response = preview(signed_in, rules)

    assert response.status_code == 200
    assert response.json()["error"] == {
        "message": "all[0].any[0].value.id: 'id' is required",
        "path": "all[0].any[0].value.id",
    }
    assert response.json()["count"] is None


def test_preview_refuses_a_body_that_is_not_a_rules_object(signed_in, db):
    response = signed_in.post(
        reverse("segments:preview"), data="[1, 2", content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["path"] == ""


def test_preview_is_post_only(signed_in, db):
    assert signed_in.get(reverse("segments:preview")).status_code == 405


def test_preview_requires_the_csrf_token(marketer, people):
    client = Client(enforce_csrf_checks=True)
    client.force_login(marketer)

    assert preview(client, IRISH).status_code == 403

    token = client.get(reverse("segments:create")).context["csrf_token"]
    response = client.post(
        reverse("segments:preview"),
        data=json.dumps({"rules": IRISH}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=str(token),
    )
    assert response.status_code == 200
    assert response.json()["count"] == 3


def test_preview_requires_sign_in(client, people):
    response = preview(client, IRISH)

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_detail_shows_definition_count_members_and_size_history(signed_in, people):
    rules = {
        "all": [
            {"field": "country", "op": "eq", "value": "ie"},
            {"field": "orders_count", "op": "gte", "value": 10},
        ]
    }
    segment = services.create_segment(name="Loyal Irish", rules=rules)
    now = timezone.now()
    SegmentSize.objects.create(segment=segment, size=1, measured_at=now - dt.timedelta(days=100))
    SegmentSize.objects.create(segment=segment, size=5, measured_at=now - dt.timedelta(days=20))
    SegmentSize.objects.create(segment=segment, size=2, measured_at=now - dt.timedelta(days=1))

    response = signed_in.get(reverse("segments:detail", args=[segment.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-figure="live_count">2<' in html
    assert response.context["described_text"] == "all of: Country is IE; Paid orders ≥ 10"
    chart = json_script(response, "segment-size-data")
    assert chart["sizes"] == [5, 2]
    assert chart["labels"] == [
        (now - dt.timedelta(days=20)).isoformat(),
        (now - dt.timedelta(days=1)).isoformat(),
    ]
    assert "ie-1" in html and "ie-2" in html and "ie-3" not in html
    assert '<script src="/static/vendor/chartjs/chart.umd.min.js" defer></script>' in html


def test_detail_pages_members_by_twenty_five(signed_in, db):
    CustomerFactory.create_batch(26, country="IE")
    segment = services.create_segment(name="Irish", rules=IRISH)

    first = signed_in.get(reverse("segments:detail", args=[segment.pk]))
    second = signed_in.get(reverse("segments:detail", args=[segment.pk]), {"page": 2})

    assert len(first.context["page"].object_list) == 25
    assert len(second.context["page"].object_list) == 1
    assert first.context["count"] == 26


def test_detail_of_an_empty_segment_shows_zero(signed_in, db):
    segment = services.create_segment(name="Irish", rules=IRISH)

    response = signed_in.get(reverse("segments:detail", args=[segment.pk]))

    assert 'data-figure="live_count">0<' in response.content.decode()


def test_refresh_now_records_a_size(signed_in, people):
    segment = services.create_segment(name="Irish", rules=IRISH)

    response = signed_in.post(reverse("segments:refresh", args=[segment.pk]))

    assert response.status_code == 302
    assert SegmentSize.objects.get(segment=segment).size == 3
    assert signed_in.get(reverse("segments:refresh", args=[segment.pk])).status_code == 405


def test_csv_upload_adds_members_by_source_id_column(signed_in, people):
    segment = services.create_segment(name="VIP", kind=Segment.Kind.STATIC)
    csv = SimpleUploadedFile("vip.csv", b"name,source_id\nA,ie-1\nB,de-2\n\n", "text/csv")

    response = signed_in.post(
        reverse("segments:members_upload", args=[segment.pk]), {"file": csv}, follow=True
    )

    members = set(
        SegmentMember.objects.filter(segment=segment).values_list("customer__source_id", flat=True)
    )
    assert members == {"ie-1", "de-2"}
    assert "2 customers in the file are on the list." in response.content.decode()
    assert response.context["count"] == 2


def test_csv_upload_takes_one_id_per_line(signed_in, people):
    segment = services.create_segment(name="VIP", kind=Segment.Kind.STATIC)
    csv = SimpleUploadedFile("vip.csv", "\ufeffie-1\r\nie-2\r\n".encode(), "text/csv")

    signed_in.post(reverse("segments:members_upload", args=[segment.pk]), {"file": csv})

    assert SegmentMember.objects.filter(segment=segment).count() == 2


def test_csv_upload_with_unknown_ids_changes_nothing_and_names_them(signed_in, people):
    segment = services.create_segment(name="VIP", kind=Segment.Kind.STATIC)
    csv = SimpleUploadedFile("vip.csv", b"ie-1\nnobody-1\nnobody-2\n", "text/csv")

    response = signed_in.post(
        reverse("segments:members_upload", args=[segment.pk]), {"file": csv}, follow=True
    )

    assert not SegmentMember.objects.filter(segment=segment).exists()
    html = response.content.decode()
    assert "2 customer ids are unknown, so nothing was changed: nobody-1, nobody-2" in html


def test_csv_upload_is_refused_for_a_dynamic_segment(signed_in, people):
    segment = services.create_segment(name="Irish", rules=IRISH)
    csv = SimpleUploadedFile("vip.csv", b"ie-1\n", "text/csv")

    response = signed_in.post(reverse("segments:members_upload", args=[segment.pk]), {"file": csv})

    assert response.status_code == 404


def test_remove_button_takes_a_customer_off_the_list(signed_in, people):
    segment = services.create_segment(name="VIP", kind=Segment.Kind.STATIC)
    services.add_static_members(segment=segment, source_ids=["ie-1", "ie-2"])
    detail = signed_in.get(reverse("segments:detail", args=[segment.pk])).content.decode()
    assert f'action="{reverse("segments:member_remove", args=[segment.pk])}"' in detail

    signed_in.post(reverse("segments:member_remove", args=[segment.pk]), {"source_id": "ie-1"})

    members = SegmentMember.objects.filter(segment=segment).values_list(
        "customer__source_id", flat=True
    )
    assert list(members) == ["ie-2"]
