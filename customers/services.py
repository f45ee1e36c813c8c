"""Every write on shop data, one transaction each. Reads live in ``selectors``."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.db.models import (
    BigIntegerField,
    Count,
    Exists,
    Max,
    Min,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Floor
from django.utils import timezone

from customers import signals
from customers.errors import (
    CurrencyNotSupported,
    DiscountExceedsOrder,
    InvalidStatusTransition,
    OrderLocked,
    TrackingConsentRequired,
    UnknownCustomer,
)
from customers.models import (
    Cart,
    CartItem,
    Category,
    Consent,
    Customer,
    Event,
    Order,
    OrderItem,
    Product,
    Purchase,
)

CUSTOMER_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "birthdate",
    "timezone",
    "language",
    "country",
    "city",
    "latitude",
    "longitude",
    "metadata",
    "created_at",
)

# Allowed moves; staying in the same status is always allowed (a retried push).
ORDER_TRANSITIONS: dict[str, set[str]] = {
    Order.Status.CREATED: {Order.Status.PAID, Order.Status.CANCELLED},
    Order.Status.PAID: {Order.Status.REFUNDED, Order.Status.CANCELLED},
    Order.Status.CANCELLED: set(),
    Order.Status.REFUNDED: set(),
}


@dataclass(frozen=True)
class LineInput:
    """One order or cart line as the shop sends it; the product is upserted from it."""

    product_id: str
    quantity: int
    unit_price: int
    name: str = ""
    category: str = ""

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_price


def _on_commit_send(signal, **kwargs: Any) -> None:
    transaction.on_commit(lambda: signal.send(sender=Customer, **kwargs))


# --- customers -----------------------------------------------------------------------------


@transaction.atomic
def upsert_customer(
    *,
    source_id: str,
    data: dict[str, Any],
    consents: dict[str, bool] | None = None,
    consent_source: str = "api",
) -> tuple[Customer, bool]:
    """Create the customer or update the fields given (others stay as they are)."""
    values = {field: data[field] for field in CUSTOMER_FIELDS if field in data}
    # Most pushes update a known customer: lock it directly, no savepoint needed.
    customer = Customer.objects.select_for_update().filter(source_id=source_id).first()
    created = False
    if customer is None:
        try:
            with transaction.atomic():
                customer, created = Customer.objects.create(source_id=source_id, **values), True
        except IntegrityError:
            # A concurrent first push of the same source_id won the insert; update theirs.
            customer = Customer.objects.select_for_update().get(source_id=source_id)
    if not created and values:
        for field, value in values.items():
            setattr(customer, field, value)
        customer.save(update_fields=[*values, "updated_at"])
    if consents:
        set_consents(customer=customer, consents=consents, source=consent_source)
    _on_commit_send(signals.customer_updated, customer_id=customer.pk, created=created)
    return customer, created


@transaction.atomic(savepoint=False)
def set_consents(*, customer: Customer, consents: dict[str, bool], source: str = "api") -> None:
    """Record a yes or no per purpose; the time is kept only when the answer changes."""
    now = timezone.now()
    existing = {
        c.purpose: c
        for c in Consent.objects.select_for_update().filter(
            customer=customer, purpose__in=list(consents)
        )
    }
    for purpose, granted in consents.items():
        consent = existing.get(purpose) or Consent(customer=customer, purpose=purpose)
        if consent.pk and consent.granted == granted:
            continue
        consent.granted = granted
        consent.source = source
        if granted:
            consent.granted_at = now
        elif consent.pk:
            consent.withdrawn_at = now
        else:
            # A first answer of "no" is a refusal, recorded with its time as a withdrawal.
            consent.withdrawn_at = now
        consent.save()


@transaction.atomic(savepoint=False)
def refresh_customer_stats(*, customer_id: int) -> Customer:
    """Recompute the stats from the customer's paid orders, under a lock on the customer.

    The lock serialises concurrent payments and refunds of one customer's orders; each one
    then aggregates the committed orders, so the stats are exact whatever the interleaving.
    """
    customer = Customer.objects.select_for_update().get(pk=customer_id)
    agg = Order.objects.filter(customer_id=customer_id, status=Order.Status.PAID).aggregate(
        count=Count("id"),
        total=Sum("total_amount"),
        first=Min("created_at"),
        last=Max("created_at"),
    )
    customer.orders_count = agg["count"]
    customer.total_spent = agg["total"] or 0
    customer.average_order_value = customer.total_spent // agg["count"] if agg["count"] else 0
    customer.first_order_at = agg["first"]
    customer.last_order_at = agg["last"]
    customer.save(
        update_fields=[
            "orders_count",
            "total_spent",
            "average_order_value",
            "first_order_at",
            "last_order_at",
            "updated_at",
        ]
    )
    return customer


def recompute_customer_stats(*, customer_ids: Iterable[int] | None = None) -> int:
    """Recompute the stats of many customers in one set-based UPDATE (imports, demo data).

    Gives the same figures as ``refresh_customer_stats``; returns the rows updated.
    """
    paid = Order.objects.filter(customer=OuterRef("pk"), status=Order.Status.PAID)

    def paid_agg(expression):
        return Subquery(paid.values("customer").annotate(v=expression).values("v")[:1])

    count = Coalesce(paid_agg(Count("id")), Value(0))
    total = Coalesce(paid_agg(Sum("total_amount")), Value(0))
    customers = Customer.objects.all()
    if customer_ids is not None:
        customers = customers.filter(pk__in=list(customer_ids))
    return customers.update(
        orders_count=count,
        total_spent=total,
        # PostgreSQL's sum(bigint) is numeric: floor it like ``//`` in refresh_customer_stats.
        average_order_value=Coalesce(
            paid_agg(Cast(Floor(Sum("total_amount") / Count("id")), BigIntegerField())),
            Value(0),
        ),
        first_order_at=paid_agg(Min("created_at")),
        last_order_at=paid_agg(Max("created_at")),
    )


# --- purchase history ----------------------------------------------------------------------


def _insert_purchases(lines: QuerySet[OrderItem]) -> int:
    """Insert the purchase rows of these order lines, in one ``INSERT ... SELECT``.

    ``lines`` is a queryset of OrderItem; rows are one per order, product and the category the
    line recorded (lines of one product in an order share its category when the services
    wrote them, so that is one per order and product).
    """
    rows = (
        lines.order_by()
        .values_list(
            "order__customer_id", "order_id", "product_id", "category_id", "order__created_at"
        )
        .distinct()
    )
    select, params = rows.query.get_compiler(using=rows.db).as_sql()
    connection = connections[rows.db]
    table = connection.ops.quote_name(Purchase._meta.db_table)
    columns = ", ".join(
        connection.ops.quote_name(Purchase._meta.get_field(name).column)
        for name in ("customer", "order", "product", "category", "ordered_at")
    )
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({columns}) {select}", params)
        return cursor.rowcount


def _paid_lines():
    return OrderItem.objects.filter(
        order__status=Order.Status.PAID, order__customer__erased_at__isnull=True
    )


@transaction.atomic
def recompute_purchases(*, customer_ids: Iterable[int] | QuerySet | None = None) -> int:
    """Rebuild the purchase history of many customers (all when None) from their paid orders,
    set-based (imports, demo data, repairs). Erased customers keep none.

    Gives the rows ``upsert_order`` keeps; returns the rows inserted.
    """
    purchases = Purchase.objects.all()
    lines = _paid_lines()
    if customer_ids is not None:
        if not isinstance(customer_ids, QuerySet):
            customer_ids = list(customer_ids)
        purchases = purchases.filter(customer_id__in=customer_ids)
        lines = lines.filter(order__customer_id__in=customer_ids)
    purchases.delete()
    return _insert_purchases(lines)


def _record_purchases(*, order: Order, old_status: str | None) -> None:
    """Keep the order's purchase rows in step with its status change."""
    if order.status == Order.Status.PAID:
        _insert_purchases(_paid_lines().filter(order=order))
    elif old_status == Order.Status.PAID:
        Purchase.objects.filter(order=order).delete()


# --- products ------------------------------------------------------------------------------


def _upsert_products(lines: Iterable[LineInput]) -> dict[str, Product]:
    """Products referenced by lines, created on first sight with the name and category sent."""
    lines = list(lines)
    ids = {line.product_id for line in lines}
    products = {p.source_id: p for p in Product.objects.filter(source_id__in=ids)}
    for line in lines:
        if line.product_id in products:
            continue
        category = None
        if line.category:
            category, _ = Category.objects.get_or_create(
                source_id=line.category, defaults={"name": line.category}
            )
        try:
            with transaction.atomic():
                product = Product.objects.create(
                    source_id=line.product_id,
                    name=line.name or line.product_id,
                    category=category,
                    price=line.unit_price,
                    currency=settings.OFFERWISE_CURRENCY,
                )
        except IntegrityError:
            product = Product.objects.get(source_id=line.product_id)
        products[line.product_id] = product
    return products


def _replace_lines(
    *,
    owner: Order | Cart,
    owner_field: str,
    item_model: type[OrderItem | CartItem],
    lines: list[LineInput],
) -> None:
    """Swap the order's or cart's lines for these, creating unknown products first."""
    products = _upsert_products(lines)
    owner.items.all().delete()
    item_model.objects.bulk_create(
        item_model(
            **{owner_field: owner},
            product=products[line.product_id],
            quantity=line.quantity,
            unit_price=line.unit_price,
            amount=line.amount,
            **(
                {"category_id": products[line.product_id].category_id}
                if item_model is OrderItem
                else {}
            ),
        )
        for line in lines
    )


def _check_currency(currency: str) -> None:
    if currency != settings.OFFERWISE_CURRENCY:
        raise CurrencyNotSupported(
            f"This installation works in {settings.OFFERWISE_CURRENCY}; got {currency}.",
            details={"currency": currency, "supported": [settings.OFFERWISE_CURRENCY]},
        )


def _customer_by_source_id(source_id: str) -> Customer:
    try:
        return Customer.objects.get(source_id=source_id, erased_at__isnull=True)
    except Customer.DoesNotExist:
        raise UnknownCustomer(details={"customer": source_id}) from None


# --- orders --------------------------------------------------------------------------------


def _lock_or_create_order(
    *, source_id: str, customer: Customer, currency: str, created_at: datetime | None
) -> tuple[Order, bool]:
    """The order row, locked; inserted first if new. Concurrent first pushes of one order
    meet on the unique source_id: the losers wait for the winner and update its row."""
    order = Order.objects.select_for_update().filter(source_id=source_id).first()
    if order is not None:
        return order, False
    fields = {"created_at": created_at} if created_at else {}
    try:
        with transaction.atomic():
            return Order.objects.create(
                source_id=source_id, customer=customer, currency=currency, **fields
            ), True
    except IntegrityError:
        return Order.objects.select_for_update().get(source_id=source_id), False


@transaction.atomic
def upsert_order(
    *,
    source_id: str,
    customer_source_id: str,
    status: str,
    currency: str,
    lines: list[LineInput],
    shipping_amount: int = 0,
    discount_amount: int = 0,
    created_at: datetime | None = None,
    metadata: dict[str, Any] | None = None,
) -> tuple[Order, bool]:
    """Create or update an order by the shop's id and move it through its statuses.

    Raises UnknownCustomer, CurrencyNotSupported, InvalidStatusTransition, OrderLocked.
    Stats of the customer are recomputed in the same transaction when 'paid' is entered
    or left.
    """
    _check_currency(currency)
    customer = _customer_by_source_id(customer_source_id)
    items_amount = sum(line.amount for line in lines)
    total = items_amount - discount_amount + shipping_amount
    if total < 0:
        raise DiscountExceedsOrder(
            details={
                "discount_amount": discount_amount,
                "items_amount": items_amount,
                "shipping_amount": shipping_amount,
            }
        )

    order, created = _lock_or_create_order(
        source_id=source_id, customer=customer, currency=currency, created_at=created_at
    )
    # A new order may arrive in any status (history pushed after the fact).
    old_status = None if created else order.status
    if not created:
        if order.customer_id != customer.pk:
            raise OrderLocked(
                "The order belongs to another customer.",
                details={"customer": order.customer.source_id},
            )
        if status != old_status and status not in ORDER_TRANSITIONS[old_status]:
            raise InvalidStatusTransition(
                f"An order cannot go from '{old_status}' to '{status}'.",
                details={
                    "from": old_status,
                    "to": status,
                    "allowed": sorted(ORDER_TRANSITIONS[old_status]),
                },
            )
        amounts_changed = (order.items_amount, order.discount_amount, order.shipping_amount) != (
            items_amount,
            discount_amount,
            shipping_amount,
        )
        if amounts_changed and old_status != Order.Status.CREATED:
            raise OrderLocked(details={"status": old_status})

    if created or old_status == Order.Status.CREATED:
        order.items_amount = items_amount
        order.discount_amount = discount_amount
        order.shipping_amount = shipping_amount
        order.total_amount = total
    if metadata is not None:
        order.metadata = metadata
    now = timezone.now()
    if status != old_status:
        order.status = status
        stamp = {
            Order.Status.PAID: "paid_at",
            Order.Status.CANCELLED: "cancelled_at",
            Order.Status.REFUNDED: "refunded_at",
        }.get(status)
        if stamp:
            setattr(order, stamp, now)
    order.save()

    if created or old_status == Order.Status.CREATED:
        _replace_lines(owner=order, owner_field="order", item_model=OrderItem, lines=lines)

    if Order.Status.PAID in {old_status, status} and old_status != status:
        _record_purchases(order=order, old_status=old_status)
        refresh_customer_stats(customer_id=customer.pk)
    if old_status != status:
        _on_commit_send(
            signals.order_status_changed,
            order_id=order.pk,
            customer_id=customer.pk,
            old_status=old_status,
            new_status=status,
        )
    return order, created


# --- carts ---------------------------------------------------------------------------------


@transaction.atomic
def put_cart(
    *,
    source_id: str,
    customer_source_id: str | None,
    currency: str,
    lines: list[LineInput],
    status: str = Cart.Status.ACTIVE,
    order_source_id: str | None = None,
) -> tuple[Cart, bool]:
    """Replace the cart's content as the shop sees it now; this is its latest activity."""
    _check_currency(currency)
    customer = _customer_by_source_id(customer_source_id) if customer_source_id else None
    order = None
    if order_source_id:
        order = Order.objects.filter(source_id=order_source_id).first()
    cart = Cart.objects.select_for_update().filter(source_id=source_id).first()
    created = cart is None
    if created:
        cart = Cart(source_id=source_id)
    cart.customer = customer
    cart.currency = currency
    cart.status = status
    cart.order = order
    cart.items_amount = sum(line.amount for line in lines)
    cart.items_count = sum(line.quantity for line in lines)
    cart.last_activity_at = timezone.now()
    try:
        with transaction.atomic():
            cart.save()
    except IntegrityError:
        # Concurrent first put of the same cart: the later one wins, like a second put.
        cart.pk = Cart.objects.select_for_update().get(source_id=source_id).pk
        cart.save(force_update=True)
        created = False
    _replace_lines(owner=cart, owner_field="cart", item_model=CartItem, lines=lines)
    return cart, created


# --- events --------------------------------------------------------------------------------


@transaction.atomic
def record_event(
    *,
    customer_source_id: str,
    name: str,
    kind: str = Event.Kind.BEHAVIOURAL,
    properties: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> Event:
    """Store what the customer did. Raises TrackingConsentRequired for behavioural events
    of a customer who has not granted tracking consent; nothing is stored then."""
    try:
        customer = (
            Customer.objects.filter(source_id=customer_source_id, erased_at__isnull=True)
            .annotate(
                tracking=Exists(
                    Consent.objects.filter(
                        customer=OuterRef("pk"), purpose=Consent.Purpose.TRACKING, granted=True
                    )
                )
            )
            .get()
        )
    except Customer.DoesNotExist:
        raise UnknownCustomer(details={"customer": customer_source_id}) from None
    if kind == Event.Kind.BEHAVIOURAL and not customer.tracking:
        raise TrackingConsentRequired(details={"customer": customer_source_id, "event": name})
    event = Event.objects.create(
        customer=customer,
        name=name,
        kind=kind,
        properties=properties or {},
        occurred_at=occurred_at or timezone.now(),
    )
    transaction.on_commit(
        lambda: signals.event_recorded.send(
            sender=Event, event_id=event.pk, customer_id=customer.pk, name=name
        )
    )
    return event


# --- privacy -------------------------------------------------------------------------------


@transaction.atomic
def erase_customer(*, customer: Customer) -> Customer:
    """Erase personal data, keep anonymous aggregates (orders and their amounts, stats).

    Contact details, birthdate, location finer than the country, metadata, consents,
    events, carts and the purchase history segments read are deleted; the shop's id is
    replaced so the customer can no longer be looked up. Apps holding more personal data
    erase it in their ``customer_erased`` receivers, inside this transaction.
    """
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    customer.source_id = f"erased-{uuid.uuid4().hex}"
    for field in ("first_name", "last_name", "email", "phone", "language", "city"):
        setattr(customer, field, "")
    customer.birthdate = None
    customer.latitude = customer.longitude = None
    customer.metadata = {}
    customer.timezone = "UTC"
    customer.erased_at = timezone.now()
    customer.save()
    customer.consents.all().delete()
    customer.events.all().delete()
    customer.carts.all().delete()
    customer.purchases.all().delete()
    signals.customer_erased.send(sender=Customer, customer_id=customer.pk)
    return customer
