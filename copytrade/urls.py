"""URL configuration: admin, the REST API, and its OpenAPI schema and docs."""

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from copytrade.core.apis import HealthApi
from copytrade.core.middleware import api_not_found

api_patterns = [
    path("health", HealthApi.as_view(), name="health"),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's init script as a file: the CSP allows no inline script.
    path("docs", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
]

urlpatterns = [
    # The admin's "Documentation" link (shown when a URL has this name, admindocs' own): the API docs.
    path("admin/doc/", RedirectView.as_view(pattern_name="api:docs"), name="django-admindocs-docroot"),
    path("admin/", admin.site.urls),
    path("api/", include((api_patterns, "api"))),
    path("api/", include("accounts.urls")),
    path("api/", include("replication.urls")),
    # The follower's consent page, reached through a signed link (public: no operator auth).
    path("consent/", include("accounts.public_urls")),
    # Last: anything else under /api/ is a JSON 404, never an HTML page.
    re_path(r"^api/", api_not_found),
]
