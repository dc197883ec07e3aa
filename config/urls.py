"""URL routes: health, readiness, metrics, admin, accounts (allauth), staff pages, Wagtail admin and pages."""
from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

from cms import views as cms_views
from config import metrics
from core import views as core_views

urlpatterns = [
    path("healthz/", core_views.healthz, name="healthz"),
    path("readyz/", core_views.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("i18n/", include("django.conf.urls.i18n")),
    # Staff sign in only through allauth, where TOTP is enforced: the admins' own password forms would skip it.
    path("django-admin/login/", RedirectView.as_view(url="/accounts/login/", query_string=True)),
    path("admin/login/", RedirectView.as_view(url="/accounts/login/", query_string=True)),
    path("django-admin/", admin.site.urls),
    path("admin/", include(wagtailadmin_urls)),
    # The Wagtail admin's address before it moved to /admin/: old bookmarks still work.
    path("cms-admin/", RedirectView.as_view(url="/admin/", permanent=True)),
    path("documents/", include(wagtaildocs_urls)),
    path("accounts/", include("portal.identity.urls")),
    path("accounts/", include("allauth.urls")),
    path("", include("portal.urls")),
    path("notifications/", include("notifications.urls")),
    path("callcenter/", include("callcenter.urls")),
    path("api/", include("integrations.urls")),
    path("staff/notifications/", include("notifications.staff_urls")),
    path("staff/knowledge/", include("cms.staff_urls")),
    path("staff/counter/", include("core.staff.counter_urls")),
    path("staff/reports/quality/", include("core.staff.quality_urls")),
    path("staff/reports/reconciliation/", include("core.staff.reconciliation_urls")),
    path("staff/reports/", include("core.staff.dashboard_urls")),
    path("staff/audit/personal-data/", include("core.staff.personal_data_audit_urls")),
    path("staff/", include("core.staff.urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

# The public site: Chinese at /, English under /en/ (Wagtail locales); site search at /search/.
urlpatterns += i18n_patterns(
    path("search/", cms_views.search, name="cms_search"),
    path("", include(wagtail_urls)),
    prefix_default_language=False,
)
