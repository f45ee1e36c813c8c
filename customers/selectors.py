"""Read queries shared by the API, dashboard and tasks."""

from django.db.models import Prefetch, QuerySet

from customers.errors import CartNotFound, CustomerNotFound, OrderNotFound
from customers.models import Cart, CartItem, Customer, Event, Order, OrderItem


def live_customers() -> QuerySet[Customer]:
    return Customer.objects.filter(erased_at__isnull=True)


def customer_by_source_id(source_id: str) -> Customer:
    try:
        return live_customers().prefetch_related("consents").get(source_id=source_id)
    except Customer.DoesNotExist:
        raise CustomerNotFound(details={"source_id": source_id}) from None


def orders_with_items() -> QuerySet[Order]:
    return Order.objects.select_related("customer").prefetch_related(
        Prefetch("items", queryset=OrderItem.objects.select_related("product__category"))
    )


def order_by_source_id(source_id: str) -> Order:
    try:
        return orders_with_items().get(source_id=source_id)
    except Order.DoesNotExist:
        raise OrderNotFound(details={"source_id": source_id}) from None


def carts_with_items() -> QuerySet[Cart]:
    return Cart.objects.select_related("customer", "order").prefetch_related(
        Prefetch("items", queryset=CartItem.objects.select_related("product__category"))
    )


def cart_by_source_id(source_id: str) -> Cart:
    try:
        return carts_with_items().get(source_id=source_id)
    except Cart.DoesNotExist:
        raise CartNotFound(details={"source_id": source_id}) from None


def events() -> QuerySet[Event]:
    return Event.objects.select_related("customer")
