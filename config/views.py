"""The dashboard shell and the site-wide error pages (JSON under /api/)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import path
from django.views.defaults import page_not_found
from django.views.defaults import server_error as html_server_error

from config.api import api_not_found, api_server_error


@login_required
def home(request):
    return render(request, "dashboard/home.html", {})


dashboard_urls = [path("", home, name="home")]


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return api_not_found(request, exception)
    return page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        return api_server_error(request)
    return html_server_error(request)
