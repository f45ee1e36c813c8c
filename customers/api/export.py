"""The right of access: everything held on one customer, in the API's own shapes."""

from collections.abc import Callable
from typing import Any

from customers import selectors
from customers.api.serializers import (
    CartOutSerializer,
    CustomerOutSerializer,
    EventOutSerializer,
    OrderOutSerializer,
)
from customers.models import Customer

# Later apps add what they hold on a customer: name -> function(customer) -> JSON-able data.
EXPORT_SECTIONS: dict[str, Callable[[Customer], Any]] = {}


def register_export_section(name: str, build: Callable[[Customer], Any]) -> None:
    EXPORT_SECTIONS[name] = build


def customer_export(customer: Customer) -> dict[str, Any]:
    data: dict[str, Any] = {
        "customer": CustomerOutSerializer(customer).data,
        "orders": OrderOutSerializer(
            selectors.orders_with_items().filter(customer=customer), many=True
        ).data,
        "carts": CartOutSerializer(
            selectors.carts_with_items().filter(customer=customer), many=True
        ).data,
        "events": EventOutSerializer(selectors.events().filter(customer=customer), many=True).data,
    }
    for name, build in EXPORT_SECTIONS.items():
        data[name] = build(customer)
    return data
