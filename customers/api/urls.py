from django.urls import path, register_converter

from customers.api import views
from customers.api.converters import SourceIdConverter

register_converter(SourceIdConverter, "source_id")

urlpatterns = [
    path("customers", views.CustomerListView.as_view(), name="customer-list"),
    path(
        "customers/<source_id:source_id>",
        views.CustomerDetailView.as_view(),
        name="customer-detail",
    ),
    path(
        "customers/<source_id:source_id>/export",
        views.CustomerExportView.as_view(),
        name="customer-export",
    ),
    path("orders", views.OrderListView.as_view(), name="order-list"),
    path("orders/<source_id:source_id>", views.OrderDetailView.as_view(), name="order-detail"),
    path("carts/<source_id:source_id>", views.CartDetailView.as_view(), name="cart-detail"),
    path("events", views.EventListView.as_view(), name="event-list"),
]
