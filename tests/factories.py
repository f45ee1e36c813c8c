import datetime as dt

import factory
from django.utils import timezone

from customers.models import Category, Consent, Customer, Event, Order, OrderItem, Product


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    source_id = factory.Sequence(lambda n: f"cust-{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda c: f"{c.source_id}@example.com")
    timezone = "Europe/Dublin"
    country = "IE"
    city = "Dublin"
    birthdate = dt.date(1990, 5, 17)


class ConsentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Consent

    customer = factory.SubFactory(CustomerFactory)
    purpose = Consent.Purpose.EMAIL
    granted = True
    granted_at = factory.LazyFunction(timezone.now)


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("source_id",)

    source_id = factory.Sequence(lambda n: f"cat-{n}")
    name = factory.LazyAttribute(lambda c: c.source_id.title())


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    source_id = factory.Sequence(lambda n: f"sku-{n}")
    name = factory.Sequence(lambda n: f"Product {n}")
    category = factory.SubFactory(CategoryFactory)
    price = 2500
    currency = "USD"


class OrderFactory(factory.django.DjangoModelFactory):
    """An order row without going through the service: stats and purchase history are NOT
    updated (call ``recompute_customer_stats`` / ``recompute_purchases`` as the importers do)."""

    class Meta:
        model = Order

    source_id = factory.Sequence(lambda n: f"order-{n}")
    customer = factory.SubFactory(CustomerFactory)
    currency = "USD"
    items_amount = 5000
    total_amount = 5000


class OrderItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderItem

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory)
    category = factory.LazyAttribute(lambda item: item.product.category)
    quantity = 2
    unit_price = 2500
    amount = 5000


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    customer = factory.SubFactory(CustomerFactory)
    name = "product_viewed"
    properties = factory.LazyFunction(dict)
