from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from coding_agent import pages as builder_pages
from published_apps import pages, serving
from published_apps import views as published_views

urlpatterns = [
    path("", pages.app_list, name="app_list"),
    path("apps/new", pages.create_app, name="create_app"),
    path("apps/<uuid:app_id>/builder", builder_pages.builder, name="builder"),
    path("apps/<uuid:app_id>/publish", pages.publish_app, name="publish_app_page"),
    path("apps/<uuid:app_id>/preview/", serving.preview, name="preview_root"),
    path("apps/<uuid:app_id>/preview/<path:path>", serving.preview, name="preview"),
    path("p/<slug:slug>/", serving.published, name="published_root"),
    path("p/<slug:slug>/<path:path>", serving.published, name="published"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/apps", published_views.apps, name="api_apps"),
    path("admin/apps/", include("published_apps.urls")),
    path("admin/apps/<uuid:app_id>/coding-agent/", include("coding_agent.urls")),
    path("django-admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
]

handler400 = "config.errors.bad_request"
handler404 = "config.errors.not_found"
handler500 = "config.errors.server_error"
