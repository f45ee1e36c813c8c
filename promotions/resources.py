"""Import of existing voucher codes and export of a campaign's codes (CSV, XLSX).

Import columns: ``code``, ``campaign`` (its name, or its id), and optionally ``customer`` (the
owner's ``source_id``), ``expires_at`` (ISO 8601) and ``gift_amount`` (minor units, gift card
campaigns only). An import only adds codes: a code already in the database (in any case) or
twice in the file, or with characters a code cannot have, is an error on its row, and a file
with any error imports nothing.

Export columns: the same, plus ``published_at``, ``redemptions`` and ``gift_balance``.
``campaign_codes_csv`` streams one campaign's codes, for campaigns with millions of them.
"""

import csv
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.db.models import QuerySet
from django.db.models.functions import Upper
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from import_export import fields, widgets

from customers.api.fields import AmountField
from customers.models import Customer
from customers.resources import (
    AllOrNothingResource,
    ApiCheckedWidget,
    IsoDateTimeWidget,
    SourceIdForeignKeyWidget,
    WholeNumberWidget,
)

from . import services
from .codes import code_problems, normalise_code
from .models import Campaign, Voucher

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _is_empty(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _cell_text(value) -> str:
    # A spreadsheet cell of digits comes as a number: 12345.0 is the text "12345".
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value).strip()


class CodeWidget(widgets.Widget):
    """A voucher code as written (trimmed); what a code cannot have is named."""

    def clean(self, value, row=None, **kwargs):
        code = _cell_text(value)
        if not code:
            raise ValueError(_("A code is required."))
        problems = code_problems(code)
        if problems:
            raise ValueError(" ".join(problems))
        return code

    def render(self, value, obj=None, **kwargs):
        return value or ""


class CampaignWidget(widgets.Widget):
    """A campaign by its name, or else by its id."""

    def __init__(self):
        super().__init__()
        self._found: dict[str, Campaign] = {}

    def clean(self, value, row=None, **kwargs):
        text = _cell_text(value)
        if not text:
            raise ValueError(_("Name the campaign (its name or its id)."))
        if text not in self._found:
            campaign = Campaign.objects.filter(name=text).first()
            if campaign is None and text.isdigit() and int(text) < 2**63:
                campaign = Campaign.objects.filter(pk=int(text)).first()
            if campaign is None:
                raise ValueError(_("No campaign named or numbered '%(value)s'.") % {"value": text})
            self._found[text] = campaign
        return self._found[text]

    def render(self, value, obj=None, **kwargs):
        return value.name if value else ""


class OwnerWidget(SourceIdForeignKeyWidget):
    def render(self, value, obj=None, **kwargs):
        return value.source_id if value else ""


def existing_codes_by_upper(codes: Iterable[str]) -> dict[str, str]:
    """Upper-cased code -> the code as stored, for the given codes that exist (any case)."""
    wanted = sorted({normalise_code(code) for code in codes if code})
    found: dict[str, str] = {}
    for start in range(0, len(wanted), 900):  # within SQLite's 999 query parameters
        rows = (
            Voucher.objects.annotate(upper_code=Upper("code"))
            .filter(upper_code__in=wanted[start : start + 900])
            .values_list("upper_code", "code")
        )
        found.update(rows)
    return found


class VoucherResource(AllOrNothingResource):
    code = fields.Field(attribute="code", column_name="code", widget=CodeWidget())
    campaign = fields.Field(attribute="campaign", column_name="campaign", widget=CampaignWidget())
    customer = fields.Field(
        attribute="customer",
        column_name="customer",
        widget=OwnerWidget(
            Customer, _("No customer with source_id '%(value)s'; import customers first.")
        ),
    )
    expires_at = fields.Field(
        attribute="expires_at", column_name="expires_at", widget=IsoDateTimeWidget()
    )
    gift_amount = fields.Field(
        attribute="gift_amount",
        column_name="gift_amount",
        widget=ApiCheckedWidget(AmountField(), WholeNumberWidget(), empty=None),
    )
    # Exported only: they follow from publications and redemptions.
    published_at = fields.Field(
        attribute="published_at",
        column_name="published_at",
        widget=IsoDateTimeWidget(),
        readonly=True,
    )
    redemptions = fields.Field(
        attribute="redemptions_count",
        column_name="redemptions",
        widget=WholeNumberWidget(),
        readonly=True,
    )
    gift_balance = fields.Field(
        attribute="gift_balance",
        column_name="gift_balance",
        widget=WholeNumberWidget(),
        readonly=True,
    )

    class Meta:
        model = Voucher
        import_id_fields = ["code"]
        # Only new codes: a code already in the database is reported, never updated.
        force_init_instance = True
        fields = [
            "code",
            "campaign",
            "customer",
            "expires_at",
            "gift_amount",
            "published_at",
            "redemptions",
            "gift_balance",
        ]
        # Our own checks below say what is wrong in words; the model's unique check would
        # only repeat "already exists".
        clean_model_instances = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._rows_of: dict[str, list[int]] = {}
        self._existing: dict[str, str] = {}
        self._row_number = 0

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("campaign", "customer").order_by("campaign_id", "pk")

    def before_import(self, dataset, **kwargs):
        super().before_import(dataset, **kwargs)
        rows_of: dict[str, list[int]] = defaultdict(list)
        if "code" in (dataset.headers or []):
            for number, value in enumerate(dataset["code"], 1):
                code = _cell_text(value)
                if code:
                    rows_of[normalise_code(code)].append(number)
        self._rows_of = dict(rows_of)
        self._existing = existing_codes_by_upper(self._rows_of)

    def before_import_row(self, row, **kwargs):
        super().before_import_row(row, **kwargs)
        self._row_number = kwargs.get("row_number", 0)

    def check_row(self, instance, row):
        errors: dict[str, list[str]] = defaultdict(list)
        if instance.code:
            upper = normalise_code(instance.code)
            if upper in self._existing:
                errors["code"].append(
                    _("Already exists as '%(code)s' (codes ignore case).")
                    % {"code": self._existing[upper]}
                )
            rows = self._rows_of.get(upper, [])
            if rows and rows[0] != self._row_number:
                errors["code"].append(
                    _("Duplicate of row %(row)d in this file (codes ignore case).")
                    % {"row": rows[0]}
                )
        campaign = getattr(instance, "campaign", None) if instance.campaign_id else None
        if campaign is not None:
            values = {
                "expires_at": instance.expires_at,
                "gift_amount": instance.gift_amount,
            }
            for field, message in services.voucher_errors(values, campaign).items():
                errors["gift_amount" if field == "gift_amount" else field].append(message)
        return dict(errors)

    def do_instance_save(self, instance, is_create):
        # Through the service, as the admin and the API create codes (gift balance set).
        voucher = services.create_voucher(
            campaign=instance.campaign,
            code=instance.code,
            values={
                "customer": instance.customer,
                "expires_at": instance.expires_at,
                "gift_amount": instance.gift_amount,
            },
        )
        instance.pk = voucher.pk


# --- the import report ---------------------------------------------------------------------


@dataclass(frozen=True)
class RowProblem:
    row: int
    code: str
    messages: dict[str, list[str]]


def import_problems(result) -> list[RowProblem]:
    """What is wrong with each bad row of an import's result (row numbers count data rows
    from 1, as the admin shows them); empty when the file can be imported."""
    problems = []
    for invalid in result.invalid_rows:
        messages = {field: [str(m) for m in values] for field, values in invalid.error_dict.items()}
        code = dict(zip(result.diff_headers, invalid.values, strict=False)).get("code")
        problems.append(RowProblem(row=invalid.number, code=str(code or ""), messages=messages))
    for number, row_result in result.row_errors():
        for error in row_result:
            problems.append(
                RowProblem(
                    row=number,
                    code=str((error.row or {}).get("code") or ""),
                    messages={"": [str(error.error)]},
                )
            )
    for error in result.base_errors:
        problems.append(RowProblem(row=0, code="", messages={"": [str(error.error)]}))
    return sorted(problems, key=lambda problem: problem.row)


# --- streamed export -----------------------------------------------------------------------


def spreadsheet_safe(value) -> str:
    """The cell as text; text a spreadsheet would run as a formula gets a leading quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Echo:
    def write(self, value):
        return value


def codes_csv_lines(vouchers: QuerySet[Voucher]) -> Iterator[str]:
    """The header and one CSV line per voucher, read in chunks: memory stays flat."""
    resource = VoucherResource()
    writer = csv.writer(_Echo())
    yield writer.writerow(resource.get_export_headers())
    rows = resource.filter_export(vouchers).iterator(chunk_size=2000)
    for voucher in rows:
        yield writer.writerow([spreadsheet_safe(v) for v in resource.export_resource(voucher)])


def campaign_codes_csv(campaign: Campaign) -> StreamingHttpResponse:
    """A campaign's codes as a streamed CSV download."""
    response = StreamingHttpResponse(
        codes_csv_lines(Voucher.objects.filter(campaign=campaign)), content_type="text/csv"
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    name = slugify(campaign.name) or f"campaign-{campaign.pk}"
    response["Content-Disposition"] = f'attachment; filename="codes-{name}-{stamp}.csv"'
    return response
