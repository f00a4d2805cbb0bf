"""Top-level URL configuration."""

from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from agencies.accounts import views as account_views

api_v1: list[URLPattern | URLResolver] = [
    path("auth/token/", account_views.TokenView.as_view(), name="api-token"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include(("portal.api_urls", "api"))),
]

urlpatterns = [
    # One sign-in for everyone, with its rate limit, lockout and second factor.
    path("admin/login/", RedirectView.as_view(pattern_name="login", query_string=True)),
    path("admin/", admin.site.urls),
    path("accounts/login/", account_views.SignInView.as_view(), name="login"),
    path("accounts/mfa/setup/", account_views.mfa_setup, name="mfa-setup"),
    path("accounts/mfa/verify/", account_views.mfa_verify, name="mfa-verify"),
    path("accounts/logout/", account_views.SignOutView.as_view(), name="logout"),
    path("api/v1/", include(api_v1)),
    path("", include("agencies.urls")),
    path("", include("portal.platform.urls")),
    path("", include("search.urls")),
]

handler404 = "portal.api.page_not_found"
