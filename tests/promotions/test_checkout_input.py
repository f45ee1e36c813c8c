"""The plain reading of a checkout body gives what the serializers give, or steps aside."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promotions.api.checkout_input import plain_checkout
from promotions.api.checkout_serializers import CheckoutInSerializer
from promotions.api.redemption_views import RedemptionInSerializer

bad_texts = st.one_of(
    st.sampled_from(["", " x", "x ", "\tx", "é", "a\x00b", "ß", "x" * 256]),
    st.text(max_size=6),
    st.integers(-1, 3),
    st.none(),
    st.booleans(),
)
bad_numbers = st.one_of(
    st.integers(-2, 0),
    st.sampled_from([100_001, 10**13 + 1, 2.0, 2.5, "3", True, None]),
)


def mostly(good, bad):
    """Usually a good value, sometimes a bad one, sometimes the key left out."""
    return st.one_of(good, good, good, good, good, good, bad, st.just(ABSENT))


ABSENT = "<absent>"


def body_from(parts: dict) -> dict:
    return {k: v for k, v in parts.items() if not (isinstance(v, str) and v == ABSENT)}


ids = st.text(alphabet="abcXYZ-19", min_size=1, max_size=8)
items = st.lists(
    st.builds(
        body_from,
        st.fixed_dictionaries(
            {
                "product_id": mostly(ids, bad_texts),
                "category": mostly(st.sampled_from(["", "shoes", "kids"]), bad_texts),
                "quantity": mostly(st.integers(1, 100_000), bad_numbers),
                "unit_price": mostly(st.integers(0, 10**13), bad_numbers),
            },
            optional={"name": ids},
        ),
    ),
    max_size=3,
)
orders = st.builds(
    body_from,
    st.fixed_dictionaries(
        {
            "source_id": mostly(ids, st.one_of(st.just(""), bad_texts)),
            "currency": mostly(
                st.sampled_from(["USD", "EUR", "JPY"]),
                st.sampled_from(["usd", "XXX", "US", " USD", "UsD", 1]),
            ),
            "shipping_amount": mostly(st.integers(0, 10**13), bad_numbers),
            "items": mostly(items, st.sampled_from([None, {}, "x"])),
        }
    ),
)
customers = st.one_of(
    st.builds(lambda s: {"source_id": s}, ids),
    st.builds(lambda s: {"source_id": s}, ids),
    st.builds(lambda s: {"source_id": s}, bad_texts),
    st.builds(lambda s: {"source_id": s, "timezone": "UTC"}, ids),
    st.none(),
    bad_texts,
)
codes = st.lists(st.one_of(ids, ids, ids, bad_texts), max_size=3)
bodies = st.one_of(
    st.builds(
        body_from,
        st.fixed_dictionaries(
            {
                "customer": st.one_of(customers, st.just(ABSENT)),
                "order": st.one_of(orders, orders, orders, bad_texts),
                "codes": mostly(codes, bad_texts),
                "apply_promotions": mostly(st.booleans(), st.sampled_from(["true", 1, None])),
            }
        ),
    ),
    bad_texts,
)


def plain(data):
    return json.loads(json.dumps(data))


def check(body) -> bool:
    """Whether the plain reading had an answer; fails when it differs from the serializers'."""
    answered = False
    for serializer_class, required in (
        (CheckoutInSerializer, False),
        (RedemptionInSerializer, True),
    ):
        fast = plain_checkout(body, order_source_required=required)
        if fast is None:
            continue
        answered = True
        serializer = serializer_class(data=body)
        assert serializer.is_valid(), (body, serializer.errors)
        assert fast == plain(serializer.validated_data)
    return answered


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies)
def test_a_plain_reading_equals_the_serializers_or_steps_aside(body):
    check(body)


def leaves(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from leaves(value, (*path, i))
    yield path


def replaced(node, path, value):
    if not path:
        return value
    copy = dict(node) if isinstance(node, dict) else list(node)
    copy[path[0]] = replaced(node[path[0]], path[1:], value)
    return copy


everything_bad = st.one_of(bad_texts, bad_numbers, st.just({}), st.just([]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies, st.data())
def test_one_bad_value_anywhere_in_a_good_body_is_never_read_differently(body, data):
    if not check(body):
        return
    path = data.draw(st.sampled_from(list(leaves(body))))
    check(replaced(body, path, data.draw(everything_bad)))


def test_the_common_body_is_read_plainly():
    body = {
        "customer": {"source_id": "c-1"},
        "order": {
            "source_id": "o-1",
            "currency": "USD",
            "shipping_amount": 495,
            "items": [{"product_id": "p-1", "category": "shoes", "quantity": 2, "unit_price": 10}],
        },
        "codes": ["SAVE10", "GIFT-1"],
    }
    assert plain_checkout(body, order_source_required=True) is not None
    assert plain_checkout({**body, "codes": ["SAVE10", "save10"]}) is None
    assert plain_checkout({**body, "order": {**body["order"], "currency": "usd"}}) is None
