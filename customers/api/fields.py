"""Strict input fields: money is an integer, codes are real codes."""

import re
import zoneinfo
from functools import cache

from babel import Locale
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from customers.currencies import is_active_currency

# Well inside a signed 64-bit column, so no arithmetic on amounts can overflow it.
MAX_AMOUNT = 10**13


class StrictIntegerField(serializers.IntegerField):
    """An integer that is a JSON number without a fraction: no "12", no 12.5, no true."""

    default_error_messages = {"invalid": _("A whole number is required.")}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        if isinstance(data, float) and not data.is_integer():
            self.fail("invalid")
        return super().to_internal_value(int(data))


class AmountField(StrictIntegerField):
    """Money in minor units (cents)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_AMOUNT)
        super().__init__(**kwargs)


@extend_schema_field({"type": "string", "pattern": "^[A-Z]{3}$", "example": "USD"})
class CurrencyField(serializers.CharField):
    default_error_messages = {"unknown": _("'{value}' is not an ISO 4217 currency in use.")}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 3)
        kwargs.setdefault("min_length", 3)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data).upper()
        if not is_active_currency(value):
            self.fail("unknown", value=value)
        return value


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@extend_schema_field({"type": "string", "example": "Europe/Dublin"})
class TimezoneField(serializers.CharField):
    default_error_messages = {"unknown": _("'{value}' is not an IANA time zone.")}

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value not in _timezones():
            self.fail("unknown", value=value)
        return value


# CLDR territory codes that are regions or placeholders, not countries.
_NOT_COUNTRIES = frozenset({"EU", "EZ", "QO", "UN", "ZZ"})


@cache
def _countries() -> frozenset[str]:
    return frozenset(
        code
        for code in Locale("en").territories
        if re.fullmatch("[A-Z]{2}", code) and code not in _NOT_COUNTRIES
    )


@extend_schema_field({"type": "string", "pattern": "^[A-Z]{2}$", "example": "IE"})
class CountryField(serializers.CharField):
    default_error_messages = {"unknown": _("'{value}' is not an ISO 3166-1 alpha-2 country.")}

    def to_internal_value(self, data):
        value = super().to_internal_value(data).upper()
        if value and value not in _countries():
            self.fail("unknown", value=value)
        return value


@extend_schema_field({"type": "string", "example": "de"})
class LanguageField(serializers.CharField):
    """A BCP 47 tag such as ``de``, ``pt-BR`` or ``zh-Hant``."""

    default_error_messages = {"invalid_tag": _("'{value}' is not a language tag like 'de'.")}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 16)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value and not re.fullmatch(r"[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*", value):
            self.fail("invalid_tag", value=value)
        return value


@extend_schema_field(OpenApiTypes.OBJECT)
class JSONObjectField(serializers.JSONField):
    """A JSON object (not a list or scalar), bounded in nesting, without NUL characters."""

    MAX_DEPTH = 8
    default_error_messages = {
        "not_object": _("A JSON object is required."),
        "too_deep": _("Nested deeper than {max_depth} levels."),
        "nul": _("Text may not contain NUL (\\u0000) characters."),
    }

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("not_object")
        self._check(data, depth=1)
        return super().to_internal_value(data)

    def _check(self, value, *, depth: int) -> None:
        # PostgreSQL's jsonb refuses \u0000; catching it here keeps it a 400, not a 500.
        if depth > self.MAX_DEPTH:
            self.fail("too_deep", max_depth=self.MAX_DEPTH)
        if isinstance(value, str):
            if "\x00" in value:
                self.fail("nul")
        elif isinstance(value, dict):
            for key, item in value.items():
                self._check(key, depth=depth)
                self._check(item, depth=depth + 1)
        elif isinstance(value, list):
            for item in value:
                self._check(item, depth=depth + 1)


class StrictInputSerializer(serializers.Serializer):
    """Refuses a number or boolean where text is expected, instead of silently coercing it."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            errors = {
                name: [_("A string is required.")]
                for name, field in self.fields.items()
                if isinstance(field, serializers.CharField)
                and data.get(name) is not None
                and not isinstance(data[name], str)
            }
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)
