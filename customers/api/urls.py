from django.urls import path

from customers.api import views

urlpatterns = [
    path("customers", views.CustomerListView.as_view(), name="customer-list"),
    path("customers/<str:source_id>", views.CustomerDetailView.as_view(), name="customer-detail"),
    path(
        "customers/<str:source_id>/export",
        views.CustomerExportView.as_view(),
        name="customer-export",
    ),
    path("orders", views.OrderListView.as_view(), name="order-list"),
    path("orders/<str:source_id>", views.OrderDetailView.as_view(), name="order-detail"),
    path("carts/<str:source_id>", views.CartDetailView.as_view(), name="cart-detail"),
    path("events", views.EventListView.as_view(), name="event-list"),
]
