"""The demo shop's segments, from everyday marketing practice."""

import datetime as dt

from segments import services
from segments.models import Segment

DEMO_SEGMENTS: list[tuple[str, str, dict]] = [
    (
        "Inactive for 3+ months",
        "Bought before, but nothing in the last 90 days: win-back offers.",
        {
            "all": [
                {"field": "orders_count", "op": "gte", "value": 1},
                {"field": "last_order_at", "op": "more_than_days_ago", "value": 90},
            ]
        },
    ),
    (
        "Premium customers",
        "Spent at least $1,000 in paid orders.",
        {"all": [{"field": "total_spent", "op": "gte", "value": 100_000}]},
    ),
    (
        "Customers in Ireland",
        "For St Patrick's Day and Irish shipping offers.",
        {"all": [{"field": "country", "op": "eq", "value": "IE"}]},
    ),
    (
        "Customers in New York",
        "Local events and store openings.",
        {
            "all": [
                {"field": "country", "op": "eq", "value": "US"},
                {"field": "city", "op": "eq", "value": "New York"},
            ]
        },
    ),
    (
        "At least 10 orders",
        "Regulars: invite them to the VIP tier.",
        {"all": [{"field": "orders_count", "op": "gte", "value": 10}]},
    ),
    (
        "New customers",
        "First order in the last 30 days: welcome series.",
        {"all": [{"field": "first_order_at", "op": "less_than_days_ago", "value": 30}]},
    ),
    (
        "Abandoned cart",
        "A cart left idle for more than an hour.",
        {"all": [{"field": "cart.abandoned", "op": "matches", "value": {"idle_hours": 1}}]},
    ),
    (
        "Birthday this month",
        "Birthday in the current month, in the customer's own time zone.",
        {"all": [{"field": "birthday", "op": "this_month"}]},
    ),
    (
        "Kids' clothes browsers",
        "Viewed the kids category at least 3 times in the last 30 days.",
        {
            "all": [
                {
                    "field": "events.count",
                    "op": "matches",
                    "value": {
                        "name": "category_viewed",
                        "properties": {"category": "kids"},
                        "min_count": 3,
                        "within_days": 30,
                    },
                }
            ]
        },
    ),
    (
        "New Berliners with a Pixel 9 in their cart",
        "Signed up in Berlin in the last 30 days and left a Pixel 9 in their cart.",
        {
            "all": [
                {"field": "city", "op": "eq", "value": "Berlin"},
                {"field": "created_at", "op": "less_than_days_ago", "value": 30},
                {"field": "cart.contains_product", "op": "eq", "value": "pixel-9"},
            ]
        },
    ),
]


def create_demo_segments(*, now: dt.datetime | None = None) -> str:
    """Create the demo segments that are missing and refresh all of them."""
    created = 0
    for name, description, rules in DEMO_SEGMENTS:
        segment = Segment.objects.filter(name=name).first()
        if segment is None:
            segment = services.create_segment(name=name, rules=rules, description=description)
            created += 1
        services.refresh_segment(segment_id=segment.pk, now=now)
    return f"segments     {len(DEMO_SEGMENTS)} demo segments ({created} new), refreshed"
