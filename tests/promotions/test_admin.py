import csv
import io
from html.parser import HTMLParser

import pytest
from django.contrib.messages import get_messages

from promotions import services
from promotions.models import Campaign, Discount, Redemption, RedemptionLine, Voucher
from segments.models import Segment
from tests.factories import CustomerFactory
from tests.promotions.factories import (
    CampaignFactory,
    DiscountFactory,
    RuleFactory,
    ScheduleWindowFactory,
    VoucherFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # admin_client's superuser gets a password; the default hasher takes most of a second.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


CAMPAIGNS = "/admin/promotions/campaign/"
VOUCHERS = "/admin/promotions/voucher/"
FROM_50 = {"all": [{"field": "order.amount", "op": "gte", "value": 5000}]}


class _FormFields(HTMLParser):
    """What a browser would submit from the page's main form: inputs, selects, textareas."""

    def __init__(self, form_id: str):
        super().__init__()
        self.form_id, self.inside = form_id, False
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside or "__prefix__" in (a.get("name") or ""):
            return
        if tag == "input" and a.get("name") and a.get("type") not in ("submit", "button"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.append((a["name"], a.get("value") or ("on" if "checked" in a else "")))
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self.fields.append((self._select, a.get("value", "")))
        elif tag == "textarea":
            self._textarea, self._text = a.get("name"), ""

    def handle_data(self, data):
        if self._textarea:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea:
            # The parser hands back the text without the newline browsers drop after the tag.
            self.fields.append((self._textarea, self._text.removeprefix("\n")))
            self._textarea = None


def submitted(response, form_id: str, **changes) -> dict:
    """The form as rendered, with ``changes`` (None removes a field, a list repeats it)."""
    parser = _FormFields(form_id)
    parser.feed(response.content.decode())
    data: dict = {}
    for name, value in parser.fields:
        data.setdefault(name, []).append(value)
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value if isinstance(value, list) else [value]
    return data


def draft(**fields) -> Campaign:
    return CampaignFactory(**{"status": Campaign.Status.DRAFT, **fields})


def ready(**fields) -> Campaign:
    campaign = draft(**fields)
    DiscountFactory(campaign=campaign)
    VoucherFactory(campaign=campaign)
    return campaign


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def run_action(admin_client, action: str, *campaigns, follow=True):
    return admin_client.post(
        CAMPAIGNS,
        {"action": action, "_selected_action": [c.pk for c in campaigns]},
        follow=follow,
    )


def redemption_with_line(campaign, **line) -> RedemptionLine:
    redemption = Redemption.objects.create(
        status=Redemption.Status.SUCCEEDED,
        currency="USD",
        order_source_id=line.pop("order", "o-1"),
        customer_source_id=line.pop("customer", "c-1"),
        order_amount=5000,
        discount_amount=500,
        total_amount=4500,
    )
    return RedemptionLine.objects.create(
        redemption=redemption,
        campaign=campaign,
        code=line.pop("code", ""),
        discount_amount=500,
        **line,
    )


# --- pages render --------------------------------------------------------------------------


def _rows():
    campaign = ready(status=Campaign.Status.ACTIVE)
    RuleFactory(campaign=campaign, rules=FROM_50)
    ScheduleWindowFactory(campaign=campaign)
    redemption_with_line(campaign, code=campaign.vouchers.get().code)
    return campaign


@pytest.mark.parametrize("model", ["campaign", "voucher", "redemption", "redemptionline"])
def test_changelist_renders_with_rows(admin_client, model):
    _rows()
    response = admin_client.get(f"/admin/promotions/{model}/")
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 1


@pytest.mark.parametrize("model", ["campaign", "voucher", "redemption", "redemptionline"])
def test_change_page_renders(admin_client, model):
    _rows()
    from django.apps import apps

    pk = apps.get_model("promotions", model).objects.values_list("pk", flat=True)[0]
    assert admin_client.get(f"/admin/promotions/{model}/{pk}/change/").status_code == 200


@pytest.mark.parametrize("model", ["campaign", "voucher"])
def test_add_page_renders(admin_client, model):
    assert admin_client.get(f"/admin/promotions/{model}/add/").status_code == 200


def test_changelist_filters_by_kind_and_status(admin_client):
    draft(name="Draft coupons")
    draft(name="Live promotion", kind=Campaign.Kind.PROMOTION, status=Campaign.Status.ACTIVE)

    response = admin_client.get(CAMPAIGNS, {"kind__exact": "promotion", "status__exact": "active"})

    assert [c.name for c in response.context["cl"].result_list] == ["Live promotion"]


def test_redemptions_cannot_be_added_or_deleted(admin_client):
    line = redemption_with_line(draft())
    assert admin_client.get("/admin/promotions/redemption/add/").status_code == 403
    url = f"/admin/promotions/redemption/{line.redemption_id}/delete/"
    assert admin_client.get(url).status_code == 403


# --- campaign form -------------------------------------------------------------------------


def test_add_campaign_saves_a_draft_with_discount_rules_and_schedule(admin_client):
    segment = Segment.objects.create(name="Ireland")
    page = admin_client.get(CAMPAIGNS + "add/")
    data = submitted(
        page,
        "campaign_form",
        name="Summer",
        segments=[str(segment.pk)],
        **{
            "discount-0-type": "percent",
            "discount-0-percent": "10",
            "discount-0-categories": "shoes, bags,, ",
            "rules-TOTAL_FORMS": "1",
            "rules-0-name": "From 50",
            "rules-0-rules": '{"all": [{"field": "order.amount", "op": "gte", "value": 5000}]}',
            "rules-0-position": "0",
            "schedule-TOTAL_FORMS": "1",
            "schedule-0-weekday": "6",
            "schedule-0-start_time": "09:00",
            "schedule-0-end_time": "00:00",
        },
    )

    response = admin_client.post(CAMPAIGNS + "add/", data)

    assert response.status_code == 302, response.context["errors"]
    campaign = Campaign.objects.get(name="Summer")
    assert campaign.status == Campaign.Status.DRAFT
    assert (campaign.discount.type, campaign.discount.percent) == ("percent", 10)
    assert campaign.discount.categories == ["shoes", "bags"]
    assert [r.rules for r in campaign.rules.all()] == [FROM_50]
    assert [str(w) for w in campaign.schedule.all()] == ["Saturday 09:00-24:00"]
    assert list(campaign.segments.all()) == [segment]


def test_scope_lists_show_as_comma_separated_text(admin_client):
    campaign = draft()
    DiscountFactory(campaign=campaign, products=["sku-1", "sku-2"])

    page = admin_client.get(f"{CAMPAIGNS}{campaign.pk}/change/")

    assert submitted(page, "campaign_form")["discount-0-products"] == ["sku-1, sku-2"]


def test_rule_trees_show_as_indented_json(admin_client):
    campaign = draft()
    RuleFactory(campaign=campaign, rules=FROM_50)

    page = admin_client.get(f"{CAMPAIGNS}{campaign.pk}/change/")

    text = submitted(page, "campaign_form")["rules-0-rules"][0]
    assert text.startswith('{\n  "all": [\n')


def _change(admin_client, campaign, **changes):
    page = admin_client.get(f"{CAMPAIGNS}{campaign.pk}/change/")
    return admin_client.post(
        f"{CAMPAIGNS}{campaign.pk}/change/", submitted(page, "campaign_form", **changes)
    )


def test_saving_the_form_unchanged_keeps_everything(admin_client):
    campaign = ready()
    RuleFactory(campaign=campaign, rules=FROM_50)
    ScheduleWindowFactory(campaign=campaign)

    response = _change(admin_client, campaign)

    assert response.status_code == 302
    assert campaign.rules.get().rules == FROM_50
    assert campaign.schedule.count() == 1


def test_form_refuses_the_discount_the_service_refuses(admin_client):
    campaign = draft()
    DiscountFactory(campaign=campaign)

    response = _change(admin_client, campaign, **{"discount-0-percent": "150"})

    assert response.status_code == 200
    expected = services.discount_errors({"type": "percent", "percent": 150})["percent"]
    errors = response.context["inline_admin_formsets"][0].formset.forms[0].errors
    assert errors["percent"] == [expected]


def test_form_points_at_the_bad_rule_node(admin_client):
    campaign = draft()
    RuleFactory(campaign=campaign)
    bad = '{"all": [{"field": "order.amount", "op": "gte", "value": "lots"}]}'

    response = _change(admin_client, campaign, **{"rules-0-rules": bad})

    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][1].formset.forms[0].errors
    assert errors["rules"][0].startswith("all[0].value: ")
    assert "all[0].value: " in response.content.decode()


def test_form_checks_the_discount_against_the_kind_being_saved(admin_client):
    campaign = draft()
    DiscountFactory(campaign=campaign)

    response = _change(admin_client, campaign, kind="gift_cards")

    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][0].formset.forms[0].errors
    assert "type" in errors
    campaign.refresh_from_db()
    assert campaign.kind == Campaign.Kind.COUPONS


def test_form_refuses_a_new_kind_for_a_campaign_with_codes(admin_client):
    campaign = ready()
    response = _change(admin_client, campaign, kind="promotion", **{"discount-0-type": "percent"})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["kind"] == [
        "A campaign with codes keeps its kind."
    ]


def test_form_refuses_an_end_before_the_start(admin_client):
    campaign = draft()
    response = _change(
        admin_client,
        campaign,
        starts_at_0="2026-06-02",
        starts_at_1="00:00:00",
        ends_at_0="2026-06-01",
        ends_at_1="00:00:00",
    )
    assert response.status_code == 200
    assert "ends_at" in response.context["adminform"].form.errors


def test_form_refuses_a_window_ending_before_it_starts(admin_client):
    campaign = draft()
    ScheduleWindowFactory(campaign=campaign)
    response = _change(
        admin_client,
        campaign,
        **{"schedule-0-start_time": "18:00", "schedule-0-end_time": "09:00"},
    )
    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][2].formset.forms[0].errors
    assert "end_time" in errors


def test_saving_the_form_keeps_counters_moved_meanwhile(admin_client):
    campaign = draft()
    page = admin_client.get(f"{CAMPAIGNS}{campaign.pk}/change/")
    Campaign.objects.filter(pk=campaign.pk).update(redemptions_count=3, discount_given=700)

    admin_client.post(
        f"{CAMPAIGNS}{campaign.pk}/change/", submitted(page, "campaign_form", priority="5")
    )

    campaign.refresh_from_db()
    assert (campaign.priority, campaign.redemptions_count, campaign.discount_given) == (5, 3, 700)


# --- status: actions, buttons, readiness ---------------------------------------------------


def test_activate_action_refuses_a_campaign_without_discount_or_codes(admin_client):
    campaign = draft(name="Empty")

    response = run_action(admin_client, "activate_selected", campaign)

    [message] = messages_of(response)
    assert "“Empty” cannot go live" in message
    assert "It has no discount" in message and "It has no codes yet" in message
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_activate_action_puts_ready_campaigns_live(admin_client):
    campaign = ready()
    response = run_action(admin_client, "activate_selected", campaign)
    assert messages_of(response) == ["1 campaign is live."]
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.ACTIVE


def test_pause_action_pauses_live_campaigns(admin_client):
    campaign = ready(status=Campaign.Status.ACTIVE)
    run_action(admin_client, "pause_selected", campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED


def test_change_page_offers_activate_for_a_draft_and_pause_when_live(admin_client):
    campaign = ready()
    page = admin_client.get(f"{CAMPAIGNS}{campaign.pk}/change/").content.decode()
    assert f"{CAMPAIGNS}{campaign.pk}/activate/" in page
    assert f"{CAMPAIGNS}{campaign.pk}/pause/" not in page
    assert f"{CAMPAIGNS}{campaign.pk}/readiness/" in page

    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.ACTIVE)
    page = admin_client.get(f"{CAMPAIGNS}{campaign.pk}/change/").content.decode()
    assert f"{CAMPAIGNS}{campaign.pk}/pause/" in page


def test_activate_button_puts_a_ready_campaign_live(admin_client):
    campaign = ready()
    response = admin_client.post(f"{CAMPAIGNS}{campaign.pk}/activate/")
    assert response.url == f"{CAMPAIGNS}{campaign.pk}/change/"
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.ACTIVE


def test_activate_button_sends_a_not_ready_campaign_to_its_readiness_page(admin_client):
    campaign = draft()

    response = admin_client.post(f"{CAMPAIGNS}{campaign.pk}/activate/", follow=True)

    assert response.redirect_chain[-1][0] == f"{CAMPAIGNS}{campaign.pk}/readiness/"
    assert "It has no discount" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_activate_button_needs_a_post(admin_client):
    campaign = ready()
    assert admin_client.get(f"{CAMPAIGNS}{campaign.pk}/activate/").status_code == 405
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_pause_button_pauses_a_live_campaign(admin_client):
    campaign = ready(status=Campaign.Status.ACTIVE)
    admin_client.post(f"{CAMPAIGNS}{campaign.pk}/pause/")
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED


def test_readiness_page_lists_why_a_campaign_cannot_go_live(admin_client):
    campaign = draft(name="Empty")
    RuleFactory(campaign=campaign, name="Broken", rules={"all": [{"field": "nope"}]})

    response = admin_client.get(f"{CAMPAIGNS}{campaign.pk}/readiness/")

    page = response.content.decode()
    assert "“Empty” cannot go live yet:" in page
    assert "<li>It has no discount: say what it gives.</li>" in page
    assert "<li>It has no codes yet: add a voucher or generate codes.</li>" in page
    assert "<li>Rule “Broken”: " in page
    assert f"{CAMPAIGNS}{campaign.pk}/activate/" not in page


def test_readiness_page_says_a_ready_campaign_is_ready(admin_client):
    campaign = ready(name="Summer")
    response = admin_client.get(f"{CAMPAIGNS}{campaign.pk}/readiness/")
    page = response.content.decode()
    assert "is ready to go live" in page
    assert f"{CAMPAIGNS}{campaign.pk}/activate/" in page


def test_readiness_page_of_an_unknown_campaign_is_404(admin_client):
    assert admin_client.get(f"{CAMPAIGNS}999/readiness/").status_code == 404


def test_change_page_links_to_the_readiness_page_with_the_problem_count(admin_client):
    campaign = draft()
    page = admin_client.get(f"{CAMPAIGNS}{campaign.pk}/change/").content.decode()
    assert "2 problems" in page


# --- duplicate -----------------------------------------------------------------------------


def test_duplicate_action_copies_the_settings_but_not_codes_or_counters(admin_client):
    original = ready(name="Summer", status=Campaign.Status.ACTIVE, redemptions_count=5)
    RuleFactory(campaign=original, rules=FROM_50)
    ScheduleWindowFactory(campaign=original, weekday=5)
    original.segments.add(Segment.objects.create(name="Ireland"))

    response = run_action(admin_client, "duplicate_selected", original, follow=False)

    copy = Campaign.objects.get(name="Summer (copy)")
    assert response.url == f"{CAMPAIGNS}{copy.pk}/change/"
    assert (copy.status, copy.redemptions_count, copy.discount_given) == ("draft", 0, 0)
    assert copy.discount.percent == original.discount.percent
    assert [r.rules for r in copy.rules.all()] == [FROM_50]
    assert [w.weekday for w in copy.schedule.all()] == [5]
    assert [s.name for s in copy.segments.all()] == ["Ireland"]
    assert not copy.vouchers.exists()


def test_duplicate_button_opens_the_copy(admin_client):
    original = ready(name="Summer")
    response = admin_client.post(f"{CAMPAIGNS}{original.pk}/duplicate/")
    copy = Campaign.objects.get(name="Summer (copy)")
    assert response.url == f"{CAMPAIGNS}{copy.pk}/change/"


# --- export --------------------------------------------------------------------------------


def _export(admin_client, *campaigns) -> list[dict]:
    response = run_action(admin_client, "export_redemptions", *campaigns, follow=False)
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_export_has_one_row_per_line_of_the_selected_campaigns(admin_client):
    summer, winter, other = draft(name="Summer"), draft(name="Winter"), draft(name="Other")
    redemption_with_line(summer, code="SUMMER10", order="o-1", customer="c-1")
    redemption_with_line(winter, code="WINTER", order="o-2")
    redemption_with_line(other, code="OTHER", order="o-3")

    rows = _export(admin_client, summer, winter)

    assert [(r["campaign"], r["code"], r["order"]) for r in rows] == [
        ("Summer", "SUMMER10", "o-1"),
        ("Winter", "WINTER", "o-2"),
    ]
    first = rows[0]
    assert (first["customer"], first["redemption_status"], first["discount_amount"]) == (
        "c-1",
        "succeeded",
        "500",
    )
    assert (first["order_amount"], first["order_total_amount"]) == ("5000", "4500")


@pytest.mark.parametrize("formula", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_export_neutralises_spreadsheet_formulas(admin_client, formula):
    campaign = draft(name=f"{formula} campaign")
    redemption_with_line(campaign, order=formula, customer=formula)

    [row] = _export(admin_client, campaign)

    assert row["order"] == "'" + formula
    assert row["customer"] == "'" + formula
    assert row["campaign"] == f"'{formula} campaign"


def test_export_keeps_ordinary_text_as_it_is(admin_client):
    campaign = draft(name="Summer")
    redemption_with_line(campaign, order="o=1", customer="a-b")
    [row] = _export(admin_client, campaign)
    assert (row["order"], row["customer"]) == ("o=1", "a-b")


# --- vouchers ------------------------------------------------------------------------------


def _add_voucher(admin_client, **fields):
    page = admin_client.get(VOUCHERS + "add/")
    return admin_client.post(VOUCHERS + "add/", submitted(page, "voucher_form", **fields))


def test_add_voucher_creates_the_code(admin_client):
    campaign = draft()
    customer = CustomerFactory()

    response = _add_voucher(
        admin_client, code="ANNA-1", campaign=str(campaign.pk), customer=str(customer.pk)
    )

    assert response.status_code == 302
    voucher = Voucher.objects.get(code="ANNA-1")
    assert (voucher.campaign, voucher.customer) == (campaign, customer)


def test_add_voucher_with_a_taken_code_in_another_case_is_a_form_error(admin_client):
    VoucherFactory(code="SUMMER10")

    response = _add_voucher(admin_client, code="summer10", campaign=str(draft().pk))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["code"] == [
        "Another voucher already has this code (codes ignore case)."
    ]
    assert Voucher.objects.count() == 1


def test_add_voucher_refuses_a_code_with_other_characters(admin_client):
    response = _add_voucher(admin_client, code="SUMMER 10", campaign=str(draft().pk))
    assert response.status_code == 200
    assert "code" in response.context["adminform"].form.errors


def test_add_voucher_refuses_a_code_for_an_automatic_promotion(admin_client):
    promotion = draft(kind=Campaign.Kind.PROMOTION)
    response = _add_voucher(admin_client, code="PROMO", campaign=str(promotion.pk))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["campaign"] == [
        "An automatic promotion has no codes."
    ]


def test_add_gift_card_starts_with_its_balance(admin_client):
    campaign = draft(kind=Campaign.Kind.GIFT_CARDS)
    response = _add_voucher(
        admin_client, code="GIFT-1", campaign=str(campaign.pk), gift_amount="5000"
    )
    assert response.status_code == 302
    assert Voucher.objects.get(code="GIFT-1").gift_balance == 5000


def test_voucher_change_keeps_the_code_and_the_counters(admin_client):
    voucher = VoucherFactory(code="KEEP", max_redemptions=5)
    page = admin_client.get(f"{VOUCHERS}{voucher.pk}/change/")
    Voucher.objects.filter(pk=voucher.pk).update(redemptions_count=2)

    response = admin_client.post(
        f"{VOUCHERS}{voucher.pk}/change/",
        submitted(page, "voucher_form", code="OTHER", enabled=None),
    )

    assert response.status_code == 302
    voucher.refresh_from_db()
    assert (voucher.code, voucher.enabled, voucher.redemptions_count) == ("KEEP", False, 2)


def test_voucher_list_shows_remaining_redemptions_and_gift_balance(admin_client):
    gift = draft(kind=Campaign.Kind.GIFT_CARDS, status=Campaign.Status.ACTIVE)
    VoucherFactory(
        campaign=gift, code="GIFT-1", gift_amount=5000, gift_balance=1250, max_redemptions=3
    )

    page = admin_client.get(VOUCHERS).content.decode()

    assert "$12.50" in page
    assert '<td class="field-display_remaining">3</td>' in page


def test_voucher_search_ignores_case(admin_client):
    VoucherFactory(code="SUMMER10")
    VoucherFactory(code="WINTER")
    response = admin_client.get(VOUCHERS, {"q": "summer"})
    assert [v.code for v in response.context["cl"].result_list] == ["SUMMER10"]


def test_discount_inline_deletes_the_discount(admin_client):
    campaign = draft()
    DiscountFactory(campaign=campaign)
    response = _change(admin_client, campaign, **{"discount-0-DELETE": "on"})
    assert response.status_code == 302
    assert not Discount.objects.filter(campaign=campaign).exists()
