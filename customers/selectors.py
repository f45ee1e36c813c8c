"""Read queries shared by the API, dashboard and tasks."""

import datetime
from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

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


@dataclass(frozen=True)
class DailySales:
    day: datetime.date
    orders: int
    revenue: int  # minor units of the installation currency


def _start_of_day(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def paid_orders_per_day(*, start: datetime.date, end: datetime.date) -> list[DailySales]:
    """Paid orders and their revenue per local day, ``start`` to ``end`` inclusive.

    Days without a paid order are present with zeros, so charts and period sums need no
    gap handling. One query, whatever the length of the range.
    """
    rows = (
        Order.objects.filter(
            status=Order.Status.PAID,
            created_at__gte=_start_of_day(start),
            created_at__lt=_start_of_day(end + datetime.timedelta(days=1)),
        )
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(orders=Count("id"), revenue=Sum("total_amount"))
        .order_by("day")
    )
    by_day = {row["day"]: row for row in rows}
    days = (start + datetime.timedelta(days=n) for n in range((end - start).days + 1))
    return [
        DailySales(
            day=day,
            orders=by_day[day]["orders"] if day in by_day else 0,
            revenue=by_day[day]["revenue"] if day in by_day else 0,
        )
        for day in days
    ]


@dataclass(frozen=True)
class CustomerCounts:
    total: int  # live customers created before the end of the period
    total_before: int  # ... and before its start
    new: int  # created during the period
    new_in_previous: int  # created during the previous period of the same length


def customer_counts(*, start: datetime.date, end: datetime.date) -> CustomerCounts:
    """Customer totals for the period ``start`` to ``end`` (inclusive) and the one before it."""
    period_start = _start_of_day(start)
    period_end = _start_of_day(end + datetime.timedelta(days=1))
    previous_start = _start_of_day(start - datetime.timedelta(days=(end - start).days + 1))
    # One pass over the table instead of four COUNT queries.
    counts = live_customers().aggregate(
        total=Count("id", filter=Q(created_at__lt=period_end)),
        total_before=Count("id", filter=Q(created_at__lt=period_start)),
        new=Count("id", filter=Q(created_at__gte=period_start, created_at__lt=period_end)),
        new_in_previous=Count(
            "id", filter=Q(created_at__gte=previous_start, created_at__lt=period_start)
        ),
    )
    return CustomerCounts(**counts)
