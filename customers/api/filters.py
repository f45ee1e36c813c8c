import django_filters

from customers.models import Customer, Event, Order


class CustomerFilter(django_filters.FilterSet):
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    min_orders = django_filters.NumberFilter(field_name="orders_count", lookup_expr="gte")

    class Meta:
        model = Customer
        fields = ["country", "city", "email", "language"]


class OrderFilter(django_filters.FilterSet):
    customer = django_filters.CharFilter(field_name="customer__source_id")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Order
        fields = ["status", "customer"]


class EventFilter(django_filters.FilterSet):
    customer = django_filters.CharFilter(field_name="customer__source_id")
    occurred_after = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = Event
        fields = ["customer", "name", "kind"]
