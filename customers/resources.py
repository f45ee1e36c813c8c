"""Import and export of customers, products and orders (CSV, XLSX), keyed by the shop's ids.

Rows name each other by ``source_id``, never by database id, so a file exported from one
installation imports into another. Values are checked with the same fields the API uses, and
a file with any bad row writes nothing.
"""

import datetime as dt
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from import_export import fields, resources, widgets
from rest_framework import serializers

from customers import signals
from customers.api.fields import AmountField, CurrencyField, JSONObjectField
from customers.api.serializers import CustomerInSerializer, LineInSerializer
from customers.models import Category, Customer, Order, OrderItem, Product
from customers.services import (
    CUSTOMER_FIELDS,
    ORDER_TRANSITIONS,
    recompute_customer_stats,
    recompute_purchases,
)


def check_with_api_field(field: serializers.Field, value: Any) -> Any:
    """The value as the API field would accept it; ValueError with the API's message if not."""
    try:
        return field.run_validation(value)
    except serializers.ValidationError as e:
        detail = e.detail if isinstance(e.detail, list) else [e.detail]
        raise ValueError(" ".join(str(message) for message in detail)) from None


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# --- widgets -------------------------------------------------------------------------------


class ApiCheckedWidget(widgets.Widget):
    """Parses with ``widget``, then validates with the API's field; blank becomes ``empty``."""

    def __init__(self, api_field: serializers.Field, widget=None, empty: Any = ""):
        super().__init__()
        self.api_field = api_field
        self.widget = widget or widgets.CharWidget()
        self.empty = empty

    def clean(self, value, row=None, **kwargs):
        if _is_empty(value):
            return self.empty
        return check_with_api_field(self.api_field, self.widget.clean(value, row=row, **kwargs))

    def render(self, value, obj=None, **kwargs):
        return self.widget.render(value, **kwargs)


class WholeNumberWidget(widgets.Widget):
    """An integer, refusing fractions instead of truncating them (12.5 is not 12 cents)."""

    def clean(self, value, row=None, **kwargs):
        if _is_empty(value):
            return None
        if isinstance(value, bool):
            raise ValueError(_("A whole number is required."))
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(_("A whole number is required.")) from None
        if not number.is_finite() or number != number.to_integral_value():
            raise ValueError(_("A whole number is required."))
        return int(number)

    def render(self, value, obj=None, **kwargs):
        if value is None:
            return ""
        return value if kwargs.get("force_native_type") else str(value)


class FloatNumberWidget(widgets.Widget):
    def clean(self, value, row=None, **kwargs):
        if _is_empty(value):
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(_("A number is required.")) from None

    def render(self, value, obj=None, **kwargs):
        if value is None:
            return ""
        return value if kwargs.get("force_native_type") else repr(value)


class IsoDateWidget(widgets.Widget):
    """ISO 8601 dates both ways, whatever the locale's date format."""

    def clean(self, value, row=None, **kwargs):
        if _is_empty(value):
            return None
        if isinstance(value, dt.datetime):  # a date cell from a spreadsheet
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            parsed = parse_date(value.strip()) if isinstance(value, str) else None
        except ValueError:  # well formed but impossible, like 1990-02-30
            parsed = None
        if parsed is None:
            raise ValueError(_("'%(value)s' is not a date like 1990-05-17.") % {"value": value})
        return parsed

    def render(self, value, obj=None, **kwargs):
        return value.isoformat() if value else ""


class IsoDateTimeWidget(widgets.Widget):
    """ISO 8601 with offset and microseconds, so an export re-imports to the same instant."""

    def clean(self, value, row=None, **kwargs):
        if _is_empty(value):
            return None
        parsed = value if isinstance(value, dt.datetime) else None
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
        if parsed is None:
            raise ValueError(
                _("'%(value)s' is not a date and time like 2024-05-17T09:30:00+00:00.")
                % {"value": value}
            )
        if timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed)
        return parsed

    def render(self, value, obj=None, **kwargs):
        return value.isoformat() if value else ""


class JSONObjectWidget(widgets.Widget):
    """A JSON object checked like the API's ``metadata``; blank is ``{}``."""

    api_field = JSONObjectField()

    def clean(self, value, row=None, **kwargs):
        if _is_empty(value):
            return {}
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as e:
                raise ValueError(_("Not valid JSON: %(error)s.") % {"error": e.msg}) from None
        return check_with_api_field(self.api_field, value)

    def render(self, value, obj=None, **kwargs):
        return json.dumps(value, ensure_ascii=False) if value else ""


class SourceIdForeignKeyWidget(widgets.ForeignKeyWidget):
    """A related row named by its ``source_id``; an unknown one is a row error, not a crash."""

    def __init__(self, model, message: str):
        super().__init__(model, field="source_id")
        self.message = message

    def clean(self, value, row=None, **kwargs):
        if _is_empty(value):
            return None
        source_id = str(value).strip()
        try:
            return self.get_queryset(value, row).get(source_id=source_id)
        except self.model.DoesNotExist:
            raise ValueError(self.message % {"value": source_id}) from None


class CategoryWidget(widgets.Widget):
    """A category by ``source_id``, created on first sight with the row's ``category_name``.

    Like the API, which creates categories named in order lines, so a product file can be
    imported on its own.
    """

    def clean(self, value, row=None, **kwargs):
        if _is_empty(value):
            return None
        source_id = str(value).strip()
        if len(source_id) > 255:
            raise ValueError(_("Ensure this field has no more than 255 characters."))
        name = str((row or {}).get("category_name") or "").strip() or source_id
        category, _created = Category.objects.get_or_create(
            source_id=source_id, defaults={"name": name[:255]}
        )
        return category

    def render(self, value, obj=None, **kwargs):
        return value.source_id if value else ""


# --- resources -----------------------------------------------------------------------------


def _text(attribute: str, api_field: serializers.Field | None = None) -> fields.Field:
    widget = ApiCheckedWidget(api_field) if api_field else widgets.CharWidget(allow_blank=True)
    return fields.Field(attribute=attribute, column_name=attribute, widget=widget)


def _datetime(attribute: str, readonly: bool = False) -> fields.Field:
    # A blank cell never erases a time: a new row keeps the model's default (now).
    return fields.Field(
        attribute=attribute,
        column_name=attribute,
        widget=IsoDateTimeWidget(),
        readonly=readonly,
        saves_null_values=False,
    )


def _number(attribute: str, readonly: bool = False) -> fields.Field:
    return fields.Field(
        attribute=attribute, column_name=attribute, widget=WholeNumberWidget(), readonly=readonly
    )


def _amount(attribute: str, empty: Any = 0) -> fields.Field:
    return fields.Field(
        attribute=attribute,
        column_name=attribute,
        widget=ApiCheckedWidget(AmountField(), WholeNumberWidget(), empty=empty),
    )


class AllOrNothingResource(resources.ModelResource):
    """Rows are upserted by ``source_id``; one invalid row rolls the whole file back."""

    def import_data(self, dataset, *args, **kwargs):
        # import-export keeps the valid rows of a file with invalid ones unless told
        # otherwise; a half-imported file is harder to fix than a refused one.
        kwargs["rollback_on_validation_errors"] = True
        kwargs.setdefault("use_transactions", True)
        return super().import_data(dataset, *args, **kwargs)

    def import_instance(self, instance, row, **kwargs):
        errors: dict[str, list] = {}
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as e:
            errors = e.update_error_dict(errors)
        for field, messages in self.check_row(instance, row).items():
            if field not in errors:
                errors.setdefault(field, []).extend(messages)
        if errors:
            raise ValidationError(errors)

    def check_row(self, instance, row) -> dict[str, list[str]]:
        """Checks across fields; field name to messages."""
        return {}


_customer_in = CustomerInSerializer().fields


class CustomerResource(AllOrNothingResource):
    source_id = _text("source_id")
    first_name = _text("first_name", _customer_in["first_name"])
    last_name = _text("last_name", _customer_in["last_name"])
    email = _text("email", _customer_in["email"])
    phone = _text("phone", _customer_in["phone"])
    birthdate = fields.Field(attribute="birthdate", column_name="birthdate", widget=IsoDateWidget())
    timezone = fields.Field(
        attribute="timezone",
        column_name="timezone",
        widget=ApiCheckedWidget(_customer_in["timezone"], empty="UTC"),
    )
    language = _text("language", _customer_in["language"])
    country = _text("country", _customer_in["country"])
    city = _text("city", _customer_in["city"])
    latitude = fields.Field(
        attribute="latitude",
        column_name="latitude",
        widget=ApiCheckedWidget(_customer_in["latitude"], FloatNumberWidget(), empty=None),
    )
    longitude = fields.Field(
        attribute="longitude",
        column_name="longitude",
        widget=ApiCheckedWidget(_customer_in["longitude"], FloatNumberWidget(), empty=None),
    )
    metadata = fields.Field(attribute="metadata", column_name="metadata", widget=JSONObjectWidget())
    created_at = _datetime("created_at")
    # Exported for reporting; never imported: they follow from the orders.
    orders_count = _number("orders_count", readonly=True)
    total_spent = _number("total_spent", readonly=True)
    average_order_value = _number("average_order_value", readonly=True)
    first_order_at = _datetime("first_order_at", readonly=True)
    last_order_at = _datetime("last_order_at", readonly=True)

    class Meta:
        model = Customer
        import_id_fields = ["source_id"]
        fields = [
            "source_id",
            *CUSTOMER_FIELDS,
            "orders_count",
            "total_spent",
            "average_order_value",
            "first_order_at",
            "last_order_at",
        ]
        clean_model_instances = True
        skip_unchanged = False

    def check_row(self, instance, row):
        if (instance.latitude is None) != (instance.longitude is None):
            return {"latitude": [_("Give latitude and longitude together.")]}
        return {}

    def after_save_instance(self, instance, row, **kwargs):
        # Segments re-evaluate a customer on this signal; sent only if the import commits.
        customer_id = instance.pk
        transaction.on_commit(
            lambda: signals.customer_updated.send(
                sender=Customer, customer_id=customer_id, created=False
            )
        )


class ProductResource(AllOrNothingResource):
    source_id = _text("source_id")
    name = _text("name")
    category = fields.Field(attribute="category", column_name="category", widget=CategoryWidget())
    # Export-only: names the category a later import creates when it does not exist yet.
    category_name = fields.Field(
        attribute="category__name", column_name="category_name", readonly=True
    )
    price = _amount("price", empty=None)
    currency = fields.Field(
        attribute="currency",
        column_name="currency",
        widget=ApiCheckedWidget(CurrencyField()),
    )
    metadata = fields.Field(attribute="metadata", column_name="metadata", widget=JSONObjectWidget())
    created_at = _datetime("created_at")

    class Meta:
        model = Product
        import_id_fields = ["source_id"]
        fields = [
            "source_id",
            "name",
            "category",
            "category_name",
            "price",
            "currency",
            "metadata",
            "created_at",
        ]
        clean_model_instances = True

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("category")


class OrderItemsWidget(widgets.Widget):
    """The order's lines as a JSON list in the API's shape:
    ``[{"product_id": "sku-1", "quantity": 2, "unit_price": 2500}]``.

    Products must exist (import them first): an order file cannot say what a product is.
    """

    def clean(self, value, row=None, **kwargs):
        if _is_empty(value):
            return []
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as e:
                raise ValueError(_("Not valid JSON: %(error)s.") % {"error": e.msg}) from None
        if not isinstance(value, list):
            raise ValueError(_("A JSON list of lines is required."))
        lines = LineInSerializer(data=value, many=True)
        if not lines.is_valid():
            problems = [
                f"{index + 1}: {json.dumps(error, ensure_ascii=False)}"
                for index, error in enumerate(lines.errors)
                if error
            ]
            raise ValueError(_("Invalid lines (line: errors): %s") % "; ".join(problems))
        data = lines.validated_data
        wanted = {line["product_id"] for line in data}
        products = {p.source_id: p for p in Product.objects.filter(source_id__in=wanted)}
        unknown = sorted(wanted - set(products))
        if unknown:
            raise ValueError(
                _("Unknown products: %(ids)s; import them first.") % {"ids": ", ".join(unknown)}
            )
        return [
            OrderItem(
                product=products[line["product_id"]],
                category_id=products[line["product_id"]].category_id,
                quantity=line["quantity"],
                unit_price=line["unit_price"],
                amount=line["quantity"] * line["unit_price"],
            )
            for line in data
        ]

    def render(self, value, obj=None, **kwargs):
        if value is None or value.instance.pk is None:  # a new order's preview
            return ""
        return json.dumps(
            [
                {
                    "product_id": item.product.source_id,
                    "quantity": item.quantity,
                    "unit_price": item.unit_price,
                }
                for item in value.all()
            ]
        )


class InstallationCurrencyWidget(ApiCheckedWidget):
    """Customer stats add order totals up, so every order is in the installation currency."""

    def __init__(self):
        super().__init__(CurrencyField())

    def clean(self, value, row=None, **kwargs):
        currency = super().clean(value, row=row, **kwargs)
        if currency != settings.OFFERWISE_CURRENCY:
            raise ValueError(
                _("This installation works in %(supported)s; got %(currency)s.")
                % {"supported": settings.OFFERWISE_CURRENCY, "currency": currency or "''"}
            )
        return currency


class OrderResource(AllOrNothingResource):
    """Orders with their lines. Statuses move as the API allows, and amounts are locked
    once an order has left 'created'; the customers' stats and purchase history are
    recomputed after the import.

    ``order_status_changed`` is not sent: an import loads history, and reacting to it
    (points, messages) would replay the past. ``customer_updated`` is, for the new stats.
    """

    source_id = _text("source_id")
    customer = fields.Field(
        attribute="customer",
        column_name="customer",
        widget=SourceIdForeignKeyWidget(
            Customer, _("No customer with source_id '%(value)s'; import customers first.")
        ),
    )
    status = fields.Field(
        attribute="status",
        column_name="status",
        widget=ApiCheckedWidget(serializers.ChoiceField(choices=Order.Status.choices)),
    )
    currency = fields.Field(
        attribute="currency", column_name="currency", widget=InstallationCurrencyWidget()
    )
    items_amount = _amount("items_amount")
    discount_amount = _amount("discount_amount")
    shipping_amount = _amount("shipping_amount")
    total_amount = _amount("total_amount")
    items = fields.Field(attribute="items", column_name="items", widget=OrderItemsWidget())
    metadata = fields.Field(attribute="metadata", column_name="metadata", widget=JSONObjectWidget())
    created_at = _datetime("created_at")
    paid_at = _datetime("paid_at")
    cancelled_at = _datetime("cancelled_at")
    refunded_at = _datetime("refunded_at")

    AMOUNTS = ("items_amount", "discount_amount", "shipping_amount", "total_amount")

    class Meta:
        model = Order
        import_id_fields = ["source_id"]
        fields = [
            "source_id",
            "customer",
            "status",
            "currency",
            "items_amount",
            "discount_amount",
            "shipping_amount",
            "total_amount",
            "items",
            "metadata",
            "created_at",
            "paid_at",
            "cancelled_at",
            "refunded_at",
        ]
        clean_model_instances = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._before: dict[str, Any] | None = None
        self._lines: list[OrderItem] | None = None
        self._customer_ids: set[int] = set()

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("customer").prefetch_related("items__product")

    def import_field(self, field, instance, row, is_m2m=False, **kwargs):
        # Lines are a reverse relation: keep them aside and write them after the order.
        if field.attribute == "items":
            if field.column_name in row:
                self._lines = field.clean(row, **kwargs)
            return
        super().import_field(field, instance, row, is_m2m, **kwargs)

    def import_instance(self, instance, row, **kwargs):
        self._before = (
            None
            if instance.pk is None
            else {
                "customer_id": instance.customer_id,
                "status": instance.status,
                **{name: getattr(instance, name) for name in self.AMOUNTS},
                "lines": sorted(instance.items.values_list("product_id", "quantity", "unit_price")),
            }
        )
        self._lines = None
        super().import_instance(instance, row, **kwargs)

    def check_row(self, instance, row):
        errors: dict[str, list[str]] = {}
        lines = self._lines
        amounts = [getattr(instance, name) for name in self.AMOUNTS]
        if None in amounts:
            return errors  # reported by the amount fields
        items, discount, shipping, total = amounts
        if lines and items != sum(line.amount for line in lines):
            errors["items_amount"] = [
                _("items_amount %(items)s is not the sum of the lines, %(sum)s.")
                % {"items": items, "sum": sum(line.amount for line in lines)}
            ]
        if total != items - discount + shipping:
            errors["total_amount"] = [
                _(
                    "total_amount must be items_amount - discount_amount + shipping_amount "
                    "(%(items)s - %(discount)s + %(shipping)s = %(expected)s), not %(total)s."
                )
                % {
                    "items": items,
                    "discount": discount,
                    "shipping": shipping,
                    "expected": items - discount + shipping,
                    "total": total,
                }
            ]
        before = self._before
        if before is None:
            return errors
        if instance.customer_id != before["customer_id"]:
            errors["customer"] = [_("The order belongs to another customer.")]
        old, new = before["status"], instance.status
        if new != old and new not in ORDER_TRANSITIONS[old]:
            errors["status"] = [
                _("An order cannot go from '%(old)s' to '%(new)s'.") % {"old": old, "new": new}
            ]
        if old != Order.Status.CREATED:
            new_lines = (
                None
                if lines is None
                else sorted((line.product.pk, line.quantity, line.unit_price) for line in lines)
            )
            amounts_changed = amounts != [before[name] for name in self.AMOUNTS]
            if amounts_changed or (new_lines is not None and new_lines != before["lines"]):
                errors.setdefault("items_amount", []).append(
                    _("Items and amounts of an order can change only while it is 'created'.")
                )
        return errors

    def before_save_instance(self, instance, row, **kwargs):
        # A status change of a known order happens now, as through the API; a new row is
        # history, and a time it does not give stays unknown rather than invented.
        if self._before is None:
            return
        old_status = self._before["status"]
        stamp = {
            Order.Status.PAID: "paid_at",
            Order.Status.CANCELLED: "cancelled_at",
            Order.Status.REFUNDED: "refunded_at",
        }.get(instance.status)
        if stamp and instance.status != old_status and getattr(instance, stamp) is None:
            setattr(instance, stamp, timezone.now())

    def after_save_instance(self, instance, row, **kwargs):
        lines, self._lines = self._lines, None
        if lines is not None:
            instance.items.all().delete()
            for line in lines:
                line.order = instance
            OrderItem.objects.bulk_create(lines)
        self._customer_ids.add(instance.customer_id)

    def after_import(self, dataset, result, **kwargs):
        super().after_import(dataset, result, **kwargs)
        if kwargs.get("dry_run") or result.has_errors() or result.has_validation_errors():
            return
        customer_ids = sorted(self._customer_ids)
        recompute_customer_stats(customer_ids=customer_ids)
        recompute_purchases(customer_ids=customer_ids)

        def notify():
            for customer_id in customer_ids:
                signals.customer_updated.send(
                    sender=Customer, customer_id=customer_id, created=False
                )

        transaction.on_commit(notify)
