"""REST routes under /admin/apps/ (DESIGN.md §2). Paths have no trailing slash, as the contract writes them."""

from django.urls import path

from published_apps import views

urlpatterns = [
    path("<uuid:app_id>", views.get_app, name="api_app"),
    path("<uuid:app_id>/revisions", views.list_revisions, name="api_revisions"),
    path("<uuid:app_id>/revisions/<uuid:revision_id>/diff", views.diff_revision, name="api_revision_diff"),
    path("<uuid:app_id>/files", views.list_files, name="api_files"),
    path("<uuid:app_id>/files/<path:path>", views.get_file, name="api_file"),
    path("<uuid:app_id>/publish", views.publish_app, name="api_publish"),
]
