"""Dashboard pages of the loyalty app: programmes, and one programme's figures.

Thin: every read goes through loyalty.selectors.
"""

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from loyalty import selectors
from loyalty.models import Program

WEEKS = 12


@login_required
@require_GET
def program_list(request: HttpRequest) -> HttpResponse:
    programs = list(Program.objects.order_by("-active", "name"))
    return render(request, "loyalty/list.html", {"programs": programs})


@login_required
@require_GET
def program_detail(request: HttpRequest, program_id: int) -> HttpResponse:
    program = Program.objects.filter(pk=program_id).prefetch_related("tiers").first()
    if program is None:
        raise Http404(_("No loyalty programme with this id."))
    now = timezone.now()
    since = (now - dt.timedelta(weeks=WEEKS - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    tiers = selectors.members_per_tier(program)
    weeks = selectors.points_per_week(program, since=since)
    chart = {
        "tiers": {"labels": [t["tier"] for t in tiers], "members": [t["members"] for t in tiers]},
        "weeks": {
            "labels": [w["week"].isoformat() for w in weeks],
            "issued": [w["issued"] for w in weeks],
            "redeemed": [w["redeemed"] for w in weeks],
            "expired": [w["expired"] for w in weeks],
        },
    }
    return render(
        request,
        "loyalty/program.html",
        {
            "program": program,
            "totals": selectors.program_totals(program),
            "tiers": tiers,
            "weeks": weeks,
            "top_rewards": selectors.top_rewards(program),
            "charities": selectors.charity_totals(program),
            "chart": chart,
            "weeks_count": WEEKS,
        },
    )
