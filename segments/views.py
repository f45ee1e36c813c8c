"""Dashboard pages for segments: list, builder with live preview, detail with size over time.

Thin: every read goes through segments.selectors, every write through segments.services.
"""

import datetime as dt
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from segments import selectors, services
from segments.catalog import builder_catalog, describe_rules, rules_text
from segments.errors import InvalidRules, SegmentNotFound, UnknownCustomers
from segments.forms import MAX_RULES_CHARS, MembersCsvForm, SegmentForm
from segments.models import Segment
from segments.rules import validate_rules

LIST_PAGE_SIZE = 50
MEMBERS_PAGE_SIZE = 25
SAMPLE_SIZE = 10
HISTORY_DAYS = 90


def _segment_or_404(segment_id: int) -> Segment:
    try:
        return selectors.segment_by_id(segment_id)
    except SegmentNotFound:
        raise Http404(_("No segment with this id.")) from None


def _live_count(segment: Segment) -> int | None:
    """The live member count, or None when stored rules no longer compile (a field of an
    app that was removed, say): the page still shows, with the segment marked."""
    try:
        return selectors.segment_members(segment).count()
    except InvalidRules:
        return None


def _sample_row(customer) -> dict:
    return {
        "source_id": customer.source_id,
        "name": customer.name,
        "email": customer.email,
        "country": customer.country,
        "city": customer.city,
    }


@login_required
@require_GET
def segment_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.segments_with_last_size(), LIST_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    rows = [(segment, _live_count(segment)) for segment in page]
    return render(request, "segments/list.html", {"page": page, "rows": rows})


def _other_segments(exclude: int | None) -> list[tuple[int, str]]:
    segments = selectors.segments_with_last_size().values_list("pk", "name")
    return [(pk, name) for pk, name in segments if pk != exclude]


def _builder(
    request: HttpRequest, form: SegmentForm, segment: Segment | None, error: InvalidRules | None
) -> HttpResponse:
    return render(
        request,
        "segments/builder.html",
        {
            "form": form,
            "segment": segment,
            "catalog": builder_catalog(segments=_other_segments(segment.pk if segment else None)),
            "rules_error": {"message": error.message, "path": error.path} if error else None,
        },
        status=400 if form.is_bound and form.errors else 200,
    )


def _initial_rules(segment: Segment | None) -> str:
    rules = segment.rules if segment and segment.rules else {"all": []}
    return json.dumps(rules, indent=2, ensure_ascii=False)


@login_required
@require_http_methods(["GET", "POST"])
def segment_create(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        form = SegmentForm(initial={"rules": _initial_rules(None)})
        return _builder(request, form, None, None)
    form = SegmentForm(request.POST)
    if not form.is_valid():
        return _builder(request, form, None, None)
    data = form.cleaned_data
    try:
        segment = services.create_segment(
            name=data["name"],
            kind=data["kind"],
            rules=data["rules"] if data["kind"] == Segment.Kind.DYNAMIC else {"all": []},
            description=data["description"],
        )
    except InvalidRules as e:
        form.add_error("rules", e.message)
        return _builder(request, form, None, e)
    if segment.kind == Segment.Kind.DYNAMIC:
        # Starts the membership snapshot and the size history.
        services.refresh_segment(segment_id=segment.pk)
    messages.success(request, _("Segment “%(name)s” created.") % {"name": segment.name})
    return redirect("segments:detail", segment_id=segment.pk)


@login_required
@require_http_methods(["GET", "POST"])
def segment_edit(request: HttpRequest, segment_id: int) -> HttpResponse:
    segment = _segment_or_404(segment_id)
    if request.method != "POST":
        form = SegmentForm(
            editing=True,
            initial={
                "name": segment.name,
                "description": segment.description,
                "rules": _initial_rules(segment),
            },
        )
        return _builder(request, form, segment, None)
    form = SegmentForm(request.POST, editing=True)
    if not form.is_valid():
        return _builder(request, form, segment, None)
    data = form.cleaned_data
    dynamic = segment.kind == Segment.Kind.DYNAMIC
    try:
        services.update_segment(
            segment=segment,
            name=data["name"],
            description=data["description"],
            rules=data["rules"] if dynamic else None,
        )
    except InvalidRules as e:
        form.add_error("rules", e.message)
        return _builder(request, form, segment, e)
    if dynamic:
        services.refresh_segment(segment_id=segment.pk)
    messages.success(request, _("Segment “%(name)s” saved.") % {"name": segment.name})
    return redirect("segments:detail", segment_id=segment.pk)


@login_required
@require_POST
def segment_preview(request: HttpRequest) -> JsonResponse:
    """Count and first members of an unsaved tree. A tree the language refuses is an answer
    (200 with ``error``), not a failed request: the builder shows it next to the bad node."""
    if len(request.body) > MAX_RULES_CHARS * 4:
        return JsonResponse({"error": {"message": _("The rules are too large."), "path": ""}}, 400)
    try:
        body = json.loads(request.body)
    except ValueError:
        body = None
    if not isinstance(body, dict) or "rules" not in body:
        message = _("Expected a JSON object with the rules.")
        return JsonResponse({"error": {"message": message, "path": ""}}, status=400)
    segment_id = body.get("segment")
    segment_id = segment_id if isinstance(segment_id, int) and segment_id > 0 else None
    draft = Segment(kind=Segment.Kind.DYNAMIC, rules=body["rules"])
    try:
        # Strict: a missing referenced segment, or one referring back to this one, is refused.
        validate_rules(draft.rules, segment_id=segment_id)
        members = selectors.segment_members(draft)
        count = members.count()
        sample = [_sample_row(c) for c in members.order_by("pk")[:SAMPLE_SIZE]]
    except InvalidRules as e:
        return JsonResponse({"count": None, "sample": [], "error": _error(e)})
    label = ngettext("customer matches", "customers match", count)
    return JsonResponse({"count": count, "label": label, "sample": sample, "error": None})


def _error(e: InvalidRules) -> dict:
    return {"message": e.message, "path": e.path}


@login_required
@require_GET
def segment_detail(request: HttpRequest, segment_id: int) -> HttpResponse:
    segment = _segment_or_404(segment_id)
    rules_error = None
    try:
        members = selectors.segment_members(segment).order_by("pk")
        page = Paginator(members, MEMBERS_PAGE_SIZE).get_page(request.GET.get("page"))
    except InvalidRules as e:
        rules_error, page = e.message, None
    since = timezone.now() - dt.timedelta(days=HISTORY_DAYS)
    sizes = list(selectors.segment_sizes(segment, since=since))
    chart = {
        "labels": [s.measured_at.isoformat() for s in sizes],
        "sizes": [s.size for s in sizes],
    }
    described = describe_rules(segment.rules) if segment.kind == Segment.Kind.DYNAMIC else None
    return render(
        request,
        "segments/detail.html",
        {
            "segment": segment,
            "page": page,
            "count": page.paginator.count if page is not None else None,
            "rules_error": rules_error,
            "described": described,
            "described_text": rules_text(described) if described else "",
            "rules_json": json.dumps(segment.rules, indent=2, ensure_ascii=False),
            "chart": chart,
            "sizes": sizes,
            "history_days": HISTORY_DAYS,
            "csv_form": MembersCsvForm() if segment.kind == Segment.Kind.STATIC else None,
        },
    )


@login_required
@require_POST
def segment_refresh(request: HttpRequest, segment_id: int) -> HttpResponse:
    segment = _segment_or_404(segment_id)
    try:
        change = services.refresh_segment(segment_id=segment.pk)
    except InvalidRules as e:
        messages.error(request, _("The rules no longer compile: %(error)s") % {"error": e.message})
    else:
        messages.success(
            request,
            _("Refreshed: %(size)s members, %(entered)s entered, %(left)s left.")
            % {"size": change.size, "entered": len(change.entered), "left": len(change.left)},
        )
    return redirect("segments:detail", segment_id=segment.pk)


def _static_or_404(segment_id: int) -> Segment:
    segment = _segment_or_404(segment_id)
    if segment.kind != Segment.Kind.STATIC:
        raise Http404(_("Only a static segment has a list of members."))
    return segment


@login_required
@require_POST
def members_upload(request: HttpRequest, segment_id: int) -> HttpResponse:
    segment = _static_or_404(segment_id)
    form = MembersCsvForm(request.POST, request.FILES)
    if not form.is_valid():
        for error in form.errors.get("file", []):
            messages.error(request, error)
        return redirect("segments:detail", segment_id=segment.pk)
    source_ids = form.cleaned_data["file"]
    try:
        services.add_static_members(segment=segment, source_ids=source_ids)
    except UnknownCustomers as e:
        unknown = e.details.get("unknown", [])
        total = e.details.get("unknown_count", len(unknown))
        messages.error(
            request,
            ngettext(
                "%(count)s customer id is unknown, so nothing was changed: %(ids)s",
                "%(count)s customer ids are unknown, so nothing was changed: %(ids)s",
                total,
            )
            % {"count": total, "ids": ", ".join(unknown) + (" …" if total > len(unknown) else "")},
        )
    else:
        messages.success(
            request,
            ngettext(
                "%(count)s customer in the file is on the list.",
                "%(count)s customers in the file are on the list.",
                len(source_ids),
            )
            % {"count": len(source_ids)},
        )
    return redirect("segments:detail", segment_id=segment.pk)


@login_required
@require_POST
def member_remove(request: HttpRequest, segment_id: int) -> HttpResponse:
    segment = _static_or_404(segment_id)
    source_id = request.POST.get("source_id", "")
    try:
        services.remove_static_members(segment=segment, source_ids=[source_id])
    except UnknownCustomers:
        messages.error(request, _("No customer with this id."))
    else:
        messages.success(
            request, _("%(customer)s was taken off the list.") % {"customer": source_id}
        )
    return redirect("segments:detail", segment_id=segment.pk)
