"""Shop-facing endpoints: parse, call one service or selector, render."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from customers import selectors, services
from customers.api.export import customer_export
from customers.api.filters import CustomerFilter, EventFilter, OrderFilter
from customers.api.serializers import (
    CartInSerializer,
    CartOutSerializer,
    CustomerInSerializer,
    CustomerOutSerializer,
    EventInSerializer,
    EventOutSerializer,
    OrderInSerializer,
    OrderOutSerializer,
)
from customers.services import LineInput


def _lines(items: list[dict]) -> list[LineInput]:
    return [LineInput(**item) for item in items]


class CustomerListView(generics.ListAPIView):
    serializer_class = CustomerOutSerializer
    filterset_class = CustomerFilter
    ordering_fields = ["created_at", "orders_count", "total_spent", "last_order_at"]

    def get_queryset(self):
        return selectors.live_customers().prefetch_related("consents")


class CustomerDetailView(APIView):
    @extend_schema(responses=CustomerOutSerializer)
    def get(self, request, source_id: str):
        customer = selectors.customer_by_source_id(source_id)
        return Response(CustomerOutSerializer(customer).data)

    @extend_schema(
        request=CustomerInSerializer,
        responses={200: CustomerOutSerializer, 201: CustomerOutSerializer},
        description="Create the customer or update the fields sent; omitted fields stay.",
    )
    def put(self, request, source_id: str):
        serializer = CustomerInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        consents = data.pop("consents", None)
        customer, created = services.upsert_customer(
            source_id=source_id, data=data, consents=consents
        )
        customer = selectors.customer_by_source_id(customer.source_id)
        return Response(
            CustomerOutSerializer(customer).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        responses={204: OpenApiResponse(description="Personal data erased.")},
        description="Erase personal data; anonymous aggregates (orders, stats) are kept.",
    )
    def delete(self, request, source_id: str):
        customer = selectors.customer_by_source_id(source_id)
        services.erase_customer(customer=customer)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CustomerExportView(APIView):
    @extend_schema(responses={200: OpenApiResponse(description="Everything held on the customer.")})
    def get(self, request, source_id: str):
        customer = selectors.customer_by_source_id(source_id)
        return Response(customer_export(customer))


class OrderListView(generics.ListAPIView):
    serializer_class = OrderOutSerializer
    filterset_class = OrderFilter
    ordering_fields = ["created_at", "total_amount"]

    def get_queryset(self):
        return selectors.orders_with_items()


class OrderDetailView(APIView):
    @extend_schema(responses=OrderOutSerializer)
    def get(self, request, source_id: str):
        return Response(OrderOutSerializer(selectors.order_by_source_id(source_id)).data)

    @extend_schema(
        request=OrderInSerializer,
        responses={200: OrderOutSerializer, 201: OrderOutSerializer},
        description=(
            "Create or update an order. Status moves created -> paid -> refunded, "
            "created -> cancelled, paid -> cancelled; items and amounts are fixed once it "
            "leaves 'created'. Unknown products are created from the item's name and category."
        ),
    )
    def put(self, request, source_id: str):
        serializer = OrderInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        order, created = services.upsert_order(
            source_id=source_id,
            customer_source_id=data["customer"],
            status=data["status"],
            currency=data["currency"],
            lines=_lines(data["items"]),
            shipping_amount=data["shipping_amount"],
            discount_amount=data["discount_amount"],
            created_at=data.get("created_at"),
            metadata=data.get("metadata"),
        )
        return Response(
            OrderOutSerializer(selectors.order_by_source_id(order.source_id)).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class CartDetailView(APIView):
    @extend_schema(responses=CartOutSerializer)
    def get(self, request, source_id: str):
        return Response(CartOutSerializer(selectors.cart_by_source_id(source_id)).data)

    @extend_schema(
        request=CartInSerializer,
        responses={200: CartOutSerializer, 201: CartOutSerializer},
        description="Replace the cart's content; each put counts as the cart's latest activity.",
    )
    def put(self, request, source_id: str):
        serializer = CartInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        cart, created = services.put_cart(
            source_id=source_id,
            customer_source_id=data.get("customer"),
            currency=data["currency"],
            lines=_lines(data["items"]),
            status=data["status"],
            order_source_id=data.get("order"),
        )
        return Response(
            CartOutSerializer(selectors.cart_by_source_id(cart.source_id)).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class EventListView(generics.ListCreateAPIView):
    serializer_class = EventOutSerializer
    filterset_class = EventFilter
    ordering_fields = ["occurred_at"]

    def get_queryset(self):
        return selectors.events()

    @extend_schema(request=EventInSerializer, responses={201: EventOutSerializer})
    def post(self, request):
        serializer = EventInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        event = services.record_event(
            customer_source_id=data["customer"],
            name=data["name"],
            kind=data["kind"],
            properties=data.get("properties"),
            occurred_at=data.get("occurred_at"),
        )
        return Response(EventOutSerializer(event).data, status=status.HTTP_201_CREATED)
