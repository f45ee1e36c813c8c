"""ISO 4217 currencies in use today (legal tender somewhere), from the CLDR data Babel ships."""

import datetime
from functools import cache

from babel.core import get_global
from babel.numbers import get_currency_precision, get_territory_currencies


@cache
def active_currencies() -> frozenset[str]:
    today = datetime.date.today()
    codes: set[str] = set()
    for territory in get_global("territory_currencies"):
        codes.update(get_territory_currencies(territory, start_date=today, tender=True))
    return frozenset(codes)


def is_active_currency(code: str) -> bool:
    return code in active_currencies()


def minor_unit_digits(code: str) -> int:
    """Digits after the decimal point: 2 for USD, 0 for JPY, 3 for KWD."""
    return get_currency_precision(code)
