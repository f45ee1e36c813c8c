from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey


class ApiKey(AbstractAPIKey):
    """A checkout/CRM system's key: stored hashed, shown once, revocable."""

    class Mode(models.TextChoices):
        LIVE = "live", _("Live")
        TEST = "test", _("Test (sandbox)")

    mode = models.CharField(max_length=4, choices=Mode.choices, default=Mode.LIVE)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")


class Customer(models.Model):
    """A shop's customer, known by the shop's own id (``source_id``)."""

    source_id = models.CharField(max_length=255, unique=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    email = models.EmailField(blank=True, db_index=True)
    phone = models.CharField(max_length=32, blank=True)
    birthdate = models.DateField(null=True, blank=True)
    # Month * 100 + day of ``birthdate``: "birthday today / in N days / in month M" become
    # indexed equality and range lookups instead of date extraction on every row.
    birthday_mmdd = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    timezone = models.CharField(max_length=64, default="UTC")
    language = models.CharField(max_length=16, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text=_("ISO 3166-1 alpha-2"))
    city = models.CharField(max_length=128, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(auto_now=True)
    erased_at = models.DateTimeField(null=True, blank=True, editable=False)

    # Stats over paid orders, in the installation currency; written only by
    # customers.services.refresh_customer_stats under a row lock.
    orders_count = models.PositiveIntegerField(default=0, editable=False)
    total_spent = models.BigIntegerField(default=0, editable=False)
    average_order_value = models.BigIntegerField(default=0, editable=False)
    first_order_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_order_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["birthday_mmdd"], name="customer_birthday_idx"),
            models.Index(fields=["last_order_at"], name="customer_last_order_idx"),
            # Segments compare text case-insensitively as LOWER(city): index that expression.
            models.Index(F("country"), Lower("city"), name="customer_country_city_idx"),
            models.Index(Lower("city"), name="customer_city_idx"),
            models.Index(fields=["created_at"], name="customer_created_idx"),
            models.Index(fields=["orders_count"], name="customer_orders_count_idx"),
            models.Index(fields=["total_spent"], name="customer_total_spent_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90),
                name="customer_latitude_range",
            ),
            models.CheckConstraint(
                condition=Q(longitude__isnull=True) | Q(longitude__gte=-180, longitude__lte=180),
                name="customer_longitude_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.source_id

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    def save(self, *args, **kwargs):
        self.birthday_mmdd = (
            self.birthdate.month * 100 + self.birthdate.day if self.birthdate else None
        )
        if kwargs.get("update_fields") is not None and "birthdate" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "birthday_mmdd"}
        super().save(*args, **kwargs)


class Consent(models.Model):
    """A customer's yes or no for one purpose, with when it was last granted and withdrawn."""

    class Purpose(models.TextChoices):
        EMAIL = "email", _("E-mail")
        SMS = "sms", _("SMS")
        PUSH = "push", _("Push notifications")
        TRACKING = "tracking", _("Behaviour tracking")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="consents")
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    granted = models.BooleanField(default=False)
    granted_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=32, default="api", help_text=_("Where it was given"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "purpose"], name="consent_one_per_purpose")
        ]

    def __str__(self) -> str:
        return f"{self.purpose}: {'granted' if self.granted else 'not granted'}"


class Category(models.Model):
    source_id = models.CharField(max_length=255, unique=True)
    name = models.CharField(max_length=255)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )

    class Meta:
        verbose_name_plural = _("categories")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    source_id = models.CharField(max_length=255, unique=True)
    name = models.CharField(max_length=255)
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="products"
    )
    price = models.BigIntegerField(null=True, blank=True, help_text=_("Minor units"))
    currency = models.CharField(max_length=3, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(price__isnull=True) | Q(price__gte=0), name="product_price_not_negative"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Order(models.Model):
    class Status(models.TextChoices):
        CREATED = "created", _("Created")
        PAID = "paid", _("Paid")
        CANCELLED = "cancelled", _("Cancelled")
        REFUNDED = "refunded", _("Refunded")

    source_id = models.CharField(max_length=255, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CREATED)
    currency = models.CharField(max_length=3)
    items_amount = models.BigIntegerField(default=0)
    discount_amount = models.BigIntegerField(default=0)
    shipping_amount = models.BigIntegerField(default=0)
    total_amount = models.BigIntegerField(default=0)
    metadata = models.JSONField(default=dict, blank=True)
    # When the customer placed it (the shop's clock); first/last order times come from here.
    created_at = models.DateTimeField(default=now)
    paid_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # With the id as last key column, "this customer's paid orders since D" is an
            # index-only scan for segment conditions on order history.
            models.Index(
                fields=["customer", "status", "created_at", "id"], name="order_customer_idx"
            ),
            models.Index(fields=["status", "created_at"], name="order_status_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(items_amount__gte=0)
                & Q(discount_amount__gte=0)
                & Q(shipping_amount__gte=0)
                & Q(total_amount__gte=0),
                name="order_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(
                    total_amount=F("items_amount") - F("discount_amount") + F("shipping_amount")
                ),
                name="order_total_adds_up",
            ),
        ]

    def __str__(self) -> str:
        return self.source_id


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="order_items")
    # The product's category when the line was written: "bought in category X" then reads
    # the lines alone (purchase history keeps the category it was bought in).
    category = models.ForeignKey(
        Category,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    quantity = models.PositiveIntegerField()
    unit_price = models.BigIntegerField()
    amount = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["product", "order"], name="orderitem_product_idx"),
            # "Does this order contain this product / something in this category":
            # index-only probes for segment conditions on order history.
            models.Index(fields=["order", "product"], name="orderitem_order_product_idx"),
            models.Index(fields=["order", "category"], name="orderitem_order_category_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=1) & Q(unit_price__gte=0) & Q(amount__gte=0),
                name="orderitem_values_valid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_id}"


class Purchase(models.Model):
    """What segments read for "bought X at least N times in D days": one row per paid order
    and product it contains (and the category the line recorded), at the order's time.

    Derived from the orders, never edited: written by ``customers.services`` when an order
    enters 'paid' and deleted when it leaves it (``recompute_purchases`` rebuilds it).
    """

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="purchases", db_index=False
    )
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="+", db_index=False)
    # A product with paid orders cannot be deleted (its order lines protect it), so Django
    # need not look for purchases of a product being deleted.
    product = models.ForeignKey(
        Product, on_delete=models.DO_NOTHING, related_name="+", db_index=False
    )
    category = models.ForeignKey(
        Category,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    # The order's created_at: "within D days" windows of order history compare it.
    ordered_at = models.DateTimeField()

    class Meta:
        indexes = [
            # With the order as last key column, "this customer's orders in category C since
            # D" is one index-only scan (counted as distinct orders).
            models.Index(
                fields=["customer", "category", "ordered_at", "order"],
                name="purchase_category_idx",
            ),
            models.Index(
                fields=["customer", "product", "ordered_at", "order"],
                name="purchase_product_idx",
            ),
            # Leaving 'paid' deletes the order's rows; deleting an order cascades here.
            models.Index(fields=["order"], name="purchase_order_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.product_id}"


class Cart(models.Model):
    """A live cart as the shop last reported it; abandonment is idle time, not a status."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        CONVERTED = "converted", _("Converted to an order")

    source_id = models.CharField(max_length=255, unique=True)
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="carts"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    currency = models.CharField(max_length=3)
    items_amount = models.BigIntegerField(default=0)
    items_count = models.PositiveIntegerField(default=0)
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="carts"
    )
    created_at = models.DateTimeField(default=now)
    last_activity_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-last_activity_at"]
        indexes = [
            models.Index(fields=["status", "last_activity_at"], name="cart_activity_idx"),
            models.Index(fields=["customer", "status"], name="cart_customer_idx"),
        ]

    def __str__(self) -> str:
        return self.source_id


class CartItem(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="cart_items")
    quantity = models.PositiveIntegerField()
    unit_price = models.BigIntegerField()
    amount = models.BigIntegerField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=1) & Q(unit_price__gte=0) & Q(amount__gte=0),
                name="cartitem_values_valid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_id}"


class Event(models.Model):
    """Something a customer did: behavioural (needs tracking consent) or a custom event."""

    class Kind(models.TextChoices):
        BEHAVIOURAL = "behavioural", _("Behavioural")
        CUSTOM = "custom", _("Custom")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="events")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.BEHAVIOURAL)
    properties = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField(default=now)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "name", "occurred_at"], name="event_customer_idx"),
            models.Index(fields=["name", "occurred_at"], name="event_name_idx"),
        ]

    def __str__(self) -> str:
        return self.name
