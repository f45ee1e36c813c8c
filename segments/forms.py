"""Dashboard forms for segments: the definition, and a CSV of customers for a static list."""

import csv
import io
import json

from django import forms
from django.utils.translation import gettext_lazy as _

from segments.models import Segment

MAX_CSV_BYTES = 5 * 1024 * 1024
MAX_CSV_IDS = 100_000
MAX_RULES_CHARS = 200_000


class SegmentForm(forms.Form):
    """Name, description, kind (chosen once, at creation) and the rule tree as JSON text.

    The rules textarea is the builder's JSON view: the script keeps it in step with the
    visual tree, and without the script it is the editor itself.
    """

    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=Segment.Kind.choices,
        initial=Segment.Kind.DYNAMIC,
        widget=forms.RadioSelect,
    )
    rules = forms.CharField(
        label=_("Rules (JSON)"),
        required=False,
        max_length=MAX_RULES_CHARS,
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false", "class": "code"}),
    )

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            # A segment keeps its kind: a static list has no rules to turn into, and back.
            del self.fields["kind"]

    def clean_rules(self):
        text = self.cleaned_data["rules"].strip()
        # A static list has no rules: whatever the hidden builder held is not its concern.
        if not text or self.cleaned_data.get("kind") == Segment.Kind.STATIC:
            return {"all": []}
        try:
            return json.loads(text)
        except ValueError as e:
            raise forms.ValidationError(
                _("The rules are not valid JSON: %(error)s"), params={"error": e}
            ) from None


class MembersCsvForm(forms.Form):
    """A CSV of customers' source ids: one per line, or a column headed ``source_id``."""

    file = forms.FileField(label=_("CSV file"))

    def clean_file(self) -> list[str]:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_CSV_BYTES:
            raise forms.ValidationError(_("The file is larger than 5 MB."))
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError(_("The file is not UTF-8 text.")) from None
        rows = [row for row in csv.reader(io.StringIO(text)) if any(c.strip() for c in row)]
        if not rows:
            raise forms.ValidationError(_("The file holds no customer ids."))
        header = [cell.strip().lower() for cell in rows[0]]
        column = 0
        if "source_id" in header:
            column = header.index("source_id")
            rows = rows[1:]
        ids: dict[str, None] = {}
        for row in rows:
            value = row[column].strip() if column < len(row) else ""
            if value:
                ids[value] = None
        if not ids:
            raise forms.ValidationError(_("The file holds no customer ids."))
        if len(ids) > MAX_CSV_IDS:
            raise forms.ValidationError(
                _("At most %(n)s customers per file."), params={"n": MAX_CSV_IDS}
            )
        return list(ids)
