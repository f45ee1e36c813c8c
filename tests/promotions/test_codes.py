"""Code patterns: charsets, space sizes, personalisation, validation (no database)."""

import string
from collections import Counter
from types import SimpleNamespace

import pytest

from promotions import codes
from promotions.codes import (
    CodeMaker,
    charset_for,
    code_maker,
    code_settings_errors,
    fold_name,
    normalise_code,
    space_size,
)
from promotions.services import voucher_code_error

ALNUM = charset_for("alphanumeric")


def settings_of(**values) -> SimpleNamespace:
    defaults = {
        "code_prefix": "",
        "code_suffix": "",
        "code_pattern": "########",
        "code_charset": "alphanumeric",
        "code_custom_charset": "",
        "code_exclude_ambiguous": True,
    }
    return SimpleNamespace(**{**defaults, **values})


def errors_of(**values) -> dict[str, str]:
    return code_settings_errors(vars(settings_of(**values)))


# --- charsets ------------------------------------------------------------------------------


def test_builtin_charsets_leave_out_ambiguous_characters():
    assert ALNUM == "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
    assert charset_for("letters") == "ABCDEFGHJKMNPQRSTUVWXYZ"
    assert charset_for("digits") == "23456789"


def test_ambiguous_characters_stay_when_asked():
    assert charset_for("alphanumeric", exclude_ambiguous=False) == (
        string.digits + string.ascii_uppercase
    )


def test_custom_charset_is_used_as_given_in_upper_case():
    assert charset_for("custom", "abc01", exclude_ambiguous=True) == "ABC01"


@pytest.mark.parametrize(
    ("custom", "fragment"),
    [
        ("AB-", "not '-'"),
        ("ABé", "not 'é'"),
        ("aAb", "repeated: 'A'"),
        ("A", "At least 2"),
        ("", "At least 2"),
    ],
)
def test_bad_custom_charset_is_refused_with_the_reason(custom, fragment):
    errors = errors_of(code_charset="custom", code_custom_charset=custom)
    assert fragment in errors["code_custom_charset"]


# --- space ---------------------------------------------------------------------------------


def test_space_size_is_charset_length_to_the_number_of_hashes():
    assert space_size("SUMMER-####", ALNUM) == 31**4
    assert space_size("{first_name}-10OFF-####", "23456789") == 8**4


def test_maker_knows_its_space():
    maker = code_maker(settings_of(code_pattern="##-##", code_charset="digits"))
    assert maker.space == 8**4


# --- normalisation and names ---------------------------------------------------------------


def test_normalise_code_upper_cases_ascii_and_trims():
    assert normalise_code("  summer-10_x ") == "SUMMER-10_X"


@pytest.mark.parametrize(
    ("name", "folded"),
    [
        ("Anna", "ANNA"),
        ("Zoë", "ZOE"),
        ("Łukasz", "LUKASZ"),
        ("Søren", "SOREN"),
        ("Ægir", "AEGIR"),
        ("Straße", "STRASSE"),
        ("José María", "JOSEMARIA"),
        ("O'Neil-Ray", "ONEILRAY"),
        ("\uff2d\uff49\uff4b\uff49", "MIKI"),  # full-width letters
        ("Maximilianus", "MAXIMILIAN"),  # capped at 10
        ("翔太", ""),
        ("محمد", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_names_fold_to_ascii_upper_case(name, folded):
    assert fold_name(name) == folded


def test_personalised_code_has_the_folded_name():
    maker = code_maker(settings_of(code_pattern="{first_name}-10OFF-####"))
    code = maker.make(first_name="Anna")
    assert code.startswith("ANNA-10OFF-")
    assert len(code) == len("ANNA-10OFF-") + 4
    assert all(c in ALNUM for c in code[-4:])


@pytest.mark.parametrize("name", ["Zoë", "Łukasz"])
def test_personalised_code_with_accented_names(name):
    maker = code_maker(settings_of(code_pattern="{first_name}-####"))
    assert maker.make(first_name=name).split("-")[0] == fold_name(name)


@pytest.mark.parametrize("name", ["翔太", "محمد", "", None])
def test_name_with_no_ascii_form_becomes_random_characters_of_the_charset(name):
    maker = code_maker(settings_of(code_pattern="{first_name}-10OFF-####"))
    code = maker.make(first_name=name)
    part, rest = code.split("-", 1)
    assert len(part) == codes.NAME_FALLBACK_LENGTH
    assert all(c in ALNUM for c in part)
    assert rest.startswith("10OFF-")
    assert voucher_code_error(code) is None


def test_last_name_and_prefix_suffix():
    maker = code_maker(
        settings_of(code_prefix="xmas-", code_suffix="-eu", code_pattern="{last_name}####")
    )
    code = maker.make(first_name="Anna", last_name="Nowak")
    assert code.startswith("XMAS-NOWAK") and code.endswith("-EU")


# --- random codes --------------------------------------------------------------------------


def test_drawn_codes_follow_the_pattern():
    maker = code_maker(settings_of(code_prefix="s-", code_pattern="###-##", code_suffix="_x"))
    for code in maker.draw(200):
        assert code[:2] == "S-" and code[5] == "-" and code.endswith("_X")
        assert all(c in ALNUM for c in code[2:5] + code[6:8])
        assert voucher_code_error(code) is None


def test_every_charset_character_is_about_equally_likely():
    maker = code_maker(settings_of(code_pattern="#" * 10, code_charset="digits"))
    counts = Counter("".join(maker.draw(20_000)))
    assert set(counts) == set("23456789")
    expected = 200_000 / 8
    assert all(abs(n - expected) < expected * 0.05 for n in counts.values())


def test_a_large_space_gives_distinct_codes():
    maker = code_maker(settings_of())
    drawn = maker.draw(50_000)
    assert len(set(drawn)) == len(drawn)


def test_personalised_pattern_is_not_drawn_in_bulk():
    maker = code_maker(settings_of(code_pattern="{first_name}####"))
    with pytest.raises(ValueError):
        maker.draw(1)


# --- validation of patterns ----------------------------------------------------------------


def test_default_settings_are_valid():
    assert errors_of() == {}


@pytest.mark.parametrize(
    ("values", "field", "fragment"),
    [
        ({"code_pattern": "SUMMER"}, "code_pattern", "at least one '#'"),
        ({"code_pattern": ""}, "code_pattern", "at least one '#'"),
        ({"code_pattern": "##%#"}, "code_pattern", "not '%'"),
        ({"code_pattern": "##{email}"}, "code_pattern", "Unknown placeholder {email}"),
        ({"code_pattern": "##{first_name"}, "code_pattern", "without its"),
        ({"code_pattern": "{first_name}-##"}, "code_pattern", "at least 4 '#'"),
        ({"code_pattern": "-####"}, "code_pattern", "start with a letter or a digit"),
        ({"code_prefix": "_a", "code_pattern": "####"}, "code_prefix", "start with a letter"),
        ({"code_prefix": "a b"}, "code_prefix", "not ' '"),
        ({"code_suffix": "€"}, "code_suffix", "not '€'"),
        ({"code_pattern": "#" * 60, "code_prefix": "ABCDE"}, "code_pattern", "65 characters"),
        (
            {"code_pattern": "{first_name}{last_name}" + "#" * 44, "code_prefix": "X"},
            "code_pattern",
            "65 characters",
        ),
        ({"code_charset": "emoji"}, "code_charset", "Unknown charset"),
    ],
)
def test_pattern_that_cannot_make_valid_codes_is_refused(values, field, fragment):
    errors = errors_of(**values)
    assert fragment in errors.get(field, ""), errors


def test_longest_allowed_pattern_makes_valid_codes():
    values = {"code_prefix": "AB", "code_pattern": "{first_name}-" + "#" * 50, "code_suffix": "Z"}
    assert errors_of(**values) == {}
    code = code_maker(settings_of(**values)).make(first_name="Maximilianus")
    assert len(code) == 64
    assert voucher_code_error(code) is None


def test_this_modules_code_rule_is_the_services_rule():
    from promotions.services import CODE_PATTERN

    assert codes.CODE_RE.pattern == CODE_PATTERN.pattern


def test_maker_refuses_bad_settings():
    with pytest.raises(ValueError, match="code_pattern"):
        code_maker(settings_of(code_pattern="nohash"))


def test_maker_on_a_custom_charset():
    maker = CodeMaker(prefix="", pattern="######", suffix="", charset="AB")
    assert set("".join(maker.draw(100))) == {"A", "B"}
    assert maker.space == 64
