"""What a campaign's codes look like: charset, pattern, personalisation, random draws.

Pure functions, no database: the admin and the API check a campaign's code settings with
``code_settings_errors``, bulk generation draws codes with ``CodeMaker.draw`` and publication
makes one personalised code with ``CodeMaker.make``.

A code is ``prefix + pattern + suffix``. In the pattern ``#`` is a random character of the
charset, ``{first_name}`` and ``{last_name}`` are the customer's name folded to ASCII, and
anything else (letters, digits, ``-``, ``_``) is kept as it is. Codes are upper case: every
code this module makes is valid for ``promotions.services.CODE_PATTERN`` (1 to 64 letters,
digits, ``-`` or ``_``, starting with a letter or digit).
"""

import re
import secrets
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

MAX_CODE_LENGTH = 64
# The voucher code rule of promotions.services, repeated here so that this module stays free
# of the database; tests check that both agree.
CODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")

LETTERS = string.ascii_uppercase
DIGITS = string.digits
ALPHANUMERIC = DIGITS + LETTERS
# Easy to misread for one another on paper and screens: 0/O, 1/I/L.
AMBIGUOUS = "0O1IL"
CHARSETS = {"alphanumeric": ALPHANUMERIC, "letters": LETTERS, "digits": DIGITS}
CUSTOM = "custom"
MIN_CHARSET = 2

PLACEHOLDERS = ("first_name", "last_name")
# A personalised part keeps at most this many characters of the name ("MAXIMILIAN").
NAME_PART_MAX = 10
# A name with nothing to keep in ASCII (翔太, محمد, or no name at all) becomes this many
# random characters of the charset instead, so the code keeps its shape.
NAME_FALLBACK_LENGTH = 4
# Customers with the same name share the rest of the pattern: keep enough random ones.
MIN_RANDOM_PERSONALISED = 4

LITERAL_CHARS = frozenset(string.ascii_letters + string.digits + "-_")
_ASCII_ALNUM = frozenset(string.ascii_letters + string.digits)
_ASCII_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)
_TOKEN = re.compile(r"\{([^{}]*)\}|(#+)|([^#{}]+)|([{}])")

# Letters NFKD does not take apart into a base letter and marks.
_SPECIAL_LETTERS = str.maketrans(
    {
        "Ł": "L",
        "ł": "l",
        "ß": "ss",
        "ẞ": "SS",
        "Ø": "O",
        "ø": "o",
        "Æ": "AE",
        "æ": "ae",
        "Œ": "OE",
        "œ": "oe",
        "Đ": "D",
        "đ": "d",
        "Ð": "D",
        "ð": "d",
        "Þ": "TH",
        "þ": "th",
        "Ħ": "H",
        "ħ": "h",
        "\u0131": "i",  # dotless i
        "Ŀ": "L",
        "ŀ": "l",
        "Ŧ": "T",
        "ŧ": "t",
        "Ŋ": "NG",
        "ŋ": "ng",
    }
)


# --- text ----------------------------------------------------------------------------------


def normalise_code(text: str) -> str:
    """A code as stored and compared: trimmed, ASCII letters in upper case."""
    return (text or "").strip().translate(_ASCII_UPPER)


def code_problems(code: str) -> list[str]:
    """What stops a text from being a voucher code, in words; empty when it is one."""
    problems = []
    bad = sorted({c for c in code if c not in LITERAL_CHARS}, key=code.index)
    if bad:
        problems.append(
            _("Bad characters %(chars)s: only letters A-Z, digits, '-' and '_'.")
            % {"chars": _quoted(bad)}
        )
    if len(code) > MAX_CODE_LENGTH:
        problems.append(
            _("At most %(most)d characters; this one has %(n)d.")
            % {"most": MAX_CODE_LENGTH, "n": len(code)}
        )
    if not code:
        problems.append(_("A code is required."))
    elif code[0] in "-_":
        problems.append(_("A code starts with a letter or a digit."))
    return problems


def fold_name(name: str | None, *, limit: int = NAME_PART_MAX) -> str:
    """A name as a code part: ASCII letters and digits in upper case, at most ``limit`` of
    them. ``Zoë`` -> ``ZOE``, ``Łukasz`` -> ``LUKASZ``, ``Anne-Marie`` -> ``ANNEMARIE``; a name
    with no ASCII form (``翔太``) gives ``""``."""
    text = unicodedata.normalize("NFKD", (name or "").translate(_SPECIAL_LETTERS))
    kept = "".join(c for c in text if c in _ASCII_ALNUM and not unicodedata.combining(c))
    return kept.translate(_ASCII_UPPER)[:limit]


def _quoted(characters) -> str:
    return ", ".join(repr(c) for c in characters)


# --- charset -------------------------------------------------------------------------------


def custom_charset_error(text: str) -> str | None:
    """Why a custom charset cannot be used, or None. A custom charset is ASCII letters and
    digits (letters count once whatever their case), at least two different ones."""
    bad = sorted({c for c in text if c not in _ASCII_ALNUM})
    if bad:
        return _("Only letters A-Z and digits 0-9; not %(chars)s.") % {"chars": _quoted(bad)}
    upper = text.translate(_ASCII_UPPER)
    repeated = sorted({c for c in upper if upper.count(c) > 1})
    if repeated:
        return _("Each character once (case does not count); repeated: %(chars)s.") % {
            "chars": _quoted(repeated)
        }
    if len(upper) < MIN_CHARSET:
        return _("At least %(n)d different characters.") % {"n": MIN_CHARSET}
    return None


def charset_for(kind: str, custom: str = "", *, exclude_ambiguous: bool = True) -> str:
    """The characters a ``#`` draws from. Built-in sets leave out 0 O 1 I L unless
    ``exclude_ambiguous`` is off; a custom set is used exactly as given (upper-cased).
    ValueError for an unknown kind or a bad custom set."""
    if kind == CUSTOM:
        message = custom_charset_error(custom)
        if message:
            raise ValueError(message)
        return custom.translate(_ASCII_UPPER)
    if kind not in CHARSETS:
        raise ValueError(_("Unknown charset %(kind)r.") % {"kind": kind})
    chars = CHARSETS[kind]
    if exclude_ambiguous:
        chars = "".join(c for c in chars if c not in AMBIGUOUS)
    return chars


# --- pattern -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One piece of a pattern: ``literal`` text, a run of ``random`` characters, or a
    ``name`` placeholder (``first_name`` or ``last_name``)."""

    literal: str = ""
    random: int = 0
    name: str = ""


def parse_pattern(pattern: str) -> list[Part]:
    """The pattern's parts; ValueError saying what is wrong with it."""
    parts: list[Part] = []
    for match in _TOKEN.finditer(pattern or ""):
        placeholder, hashes, literal, brace = match.groups()
        if brace is not None:
            raise ValueError(_("A '{' without its '}' (or the other way round)."))
        if placeholder is not None:
            if placeholder not in PLACEHOLDERS:
                raise ValueError(
                    _("Unknown placeholder {%(name)s}; use {first_name} or {last_name}.")
                    % {"name": placeholder}
                )
            parts.append(Part(name=placeholder))
        elif hashes is not None:
            parts.append(Part(random=len(hashes)))
        else:
            bad = sorted({c for c in literal if c not in LITERAL_CHARS})
            if bad:
                raise ValueError(
                    _("Only letters, digits, '-', '_', '#' and {first_name} / {last_name}; not %s.")
                    % _quoted(bad)
                )
            parts.append(Part(literal=literal.translate(_ASCII_UPPER)))
    return parts


def random_count(pattern: str) -> int:
    return (pattern or "").count("#")


def space_size(pattern: str, charset: str) -> int:
    """How many different codes the pattern can make (per name, for a personalised one)."""
    return len(charset) ** random_count(pattern)


def is_personalised(pattern: str) -> bool:
    return any(f"{{{name}}}" in (pattern or "") for name in PLACEHOLDERS)


def _affix_error(text: str) -> str | None:
    bad = sorted({c for c in text if c not in LITERAL_CHARS})
    if bad:
        return _("Only letters, digits, '-' and '_'; not %(chars)s.") % {"chars": _quoted(bad)}
    return None


def code_settings_errors(values: Mapping[str, Any]) -> dict[str, str]:
    """What is wrong with a campaign's code settings (field -> message); empty when the
    pattern can make valid codes. ``values`` holds the campaign's ``code_*`` fields."""
    errors: dict[str, str] = {}
    prefix = values.get("code_prefix") or ""
    suffix = values.get("code_suffix") or ""
    pattern = values.get("code_pattern") or ""
    for field, text in (("code_prefix", prefix), ("code_suffix", suffix)):
        message = _affix_error(text)
        if message:
            errors[field] = message
    try:
        charset = charset_for(
            values.get("code_charset") or "alphanumeric",
            values.get("code_custom_charset") or "",
            exclude_ambiguous=values.get("code_exclude_ambiguous", True),
        )
    except ValueError as e:
        field = "code_custom_charset" if values.get("code_charset") == CUSTOM else "code_charset"
        errors[field] = str(e)
        charset = ""
    try:
        parts = parse_pattern(pattern)
    except ValueError as e:
        errors["code_pattern"] = str(e)
        return errors
    randoms = sum(part.random for part in parts)
    if randoms == 0:
        errors["code_pattern"] = _("Put at least one '#' (a random character) in the pattern.")
        return errors
    names = [part for part in parts if part.name]
    if names and randoms < MIN_RANDOM_PERSONALISED:
        errors["code_pattern"] = _(
            "A personalised pattern needs at least %(n)d '#': customers with the same name "
            "share the rest of the code."
        ) % {"n": MIN_RANDOM_PERSONALISED}
        return errors
    longest = (
        len(prefix)
        + len(suffix)
        + sum(len(part.literal) + part.random for part in parts)
        + len(names) * max(NAME_PART_MAX, NAME_FALLBACK_LENGTH)
    )
    if longest > MAX_CODE_LENGTH:
        errors["code_pattern"] = _(
            "Codes would be up to %(length)d characters long (a name counts %(name)d); "
            "the most is %(most)d."
        ) % {"length": longest, "name": NAME_PART_MAX, "most": MAX_CODE_LENGTH}
        return errors
    first = (prefix or "")[:1] or (parts[0].literal[:1] if parts[0].literal else "")
    if first and first not in _ASCII_ALNUM:
        field = "code_prefix" if prefix else "code_pattern"
        errors.setdefault(field, _("A code must start with a letter or a digit."))
    if charset and not errors:
        # Belt and braces: the longest and shortest codes it can make are valid codes.
        maker = CodeMaker(prefix=prefix, pattern=pattern, suffix=suffix, charset=charset)
        for sample in (maker.make(first_name="", last_name=""), maker.make(first_name="W" * 99)):
            if not CODE_RE.fullmatch(sample):
                errors["code_pattern"] = _("This pattern makes codes like %(code)r, not valid.")
    return errors


# --- making codes --------------------------------------------------------------------------


class CodeMaker:
    """Makes codes of one pattern: random ones in bulk (``draw``) or one personalised one
    (``make``). Randomness from ``secrets``: codes cannot be guessed from earlier ones."""

    def __init__(self, *, prefix: str, pattern: str, suffix: str, charset: str):
        self.prefix = normalise_code(prefix)
        self.suffix = normalise_code(suffix)
        self.pattern = pattern
        self.parts = parse_pattern(pattern)
        self.charset = charset
        self.randoms = sum(part.random for part in self.parts)
        self.personalised = any(part.name for part in self.parts)
        self.space = len(charset) ** self.randoms
        # Bytes map onto the charset by a translation table; bytes at or above the largest
        # multiple of its length are dropped, so every character is equally likely.
        size = len(charset)
        self._limit = 256 - 256 % size
        self._table = bytes(ord(charset[b % size]) if b < self._limit else 0 for b in range(256))
        self._drop = bytes(range(self._limit, 256))

    def random_chars(self, count: int) -> str:
        """``count`` characters of the charset, each drawn uniformly at random."""
        out = bytearray()
        while len(out) < count:
            missing = count - len(out)
            chunk = secrets.token_bytes(missing * 256 // self._limit + 16)
            out += chunk.translate(self._table, self._drop)
        return out[:count].decode("ascii")

    def draw(self, count: int) -> list[str]:
        """``count`` random codes (duplicates possible; the database decides what is new).
        Not for personalised patterns."""
        if self.personalised:
            raise ValueError(_("A personalised pattern makes codes one customer at a time."))
        k = self.randoms
        chars = self.random_chars(count * k)
        prefix, suffix = self.prefix, self.suffix
        parts = self.parts
        if k == 0:
            return [prefix + "".join(part.literal for part in parts) + suffix] * count
        if len(parts) == 1:  # the common case: one run of '#'
            return [prefix + chars[i : i + k] + suffix for i in range(0, count * k, k)]
        codes = []
        for start in range(0, count * k, k):
            position = start
            pieces = [prefix]
            for part in parts:
                if part.random:
                    pieces.append(chars[position : position + part.random])
                    position += part.random
                else:
                    pieces.append(part.literal)
            pieces.append(suffix)
            codes.append("".join(pieces))
        return codes

    def make(self, *, first_name: str | None = None, last_name: str | None = None) -> str:
        """One code, with the customer's names where the pattern has placeholders. A name
        with no ASCII form becomes ``NAME_FALLBACK_LENGTH`` random characters."""
        names = {"first_name": first_name, "last_name": last_name}
        pieces = [self.prefix]
        for part in self.parts:
            if part.random:
                pieces.append(self.random_chars(part.random))
            elif part.name:
                pieces.append(
                    fold_name(names[part.name]) or self.random_chars(NAME_FALLBACK_LENGTH)
                )
            else:
                pieces.append(part.literal)
        pieces.append(self.suffix)
        return "".join(pieces)


CODE_FIELDS = (
    "code_prefix",
    "code_pattern",
    "code_suffix",
    "code_charset",
    "code_custom_charset",
    "code_exclude_ambiguous",
)


def code_values(campaign: Any) -> dict[str, Any]:
    """The ``code_*`` fields of a campaign (or any object that has them)."""
    return {name: getattr(campaign, name) for name in CODE_FIELDS}


def code_maker(campaign: Any) -> CodeMaker:
    """The maker of a campaign's codes (any object with the ``code_*`` fields). ValueError
    when its settings cannot make codes."""
    values = code_values(campaign)
    errors = code_settings_errors(values)
    if errors:
        raise ValueError("; ".join(f"{field}: {message}" for field, message in errors.items()))
    return CodeMaker(
        prefix=values["code_prefix"],
        pattern=values["code_pattern"],
        suffix=values["code_suffix"],
        charset=charset_for(
            values["code_charset"],
            values["code_custom_charset"],
            exclude_ambiguous=values["code_exclude_ambiguous"],
        ),
    )
