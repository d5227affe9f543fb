"""Routes under /admin/apps/{app_id}/coding-agent/ (no trailing slashes, as the contract writes them)."""

from django.urls import path

from coding_agent import views

urlpatterns = [
    path("models", views.list_models, name="api_models"),
    path("runs", views.runs_collection, name="api_runs"),
    path("runs/<uuid:run_id>", views.get_run_view, name="api_run"),
    path("runs/<uuid:run_id>/cancel", views.cancel_run, name="api_run_cancel"),
    path("runs/<uuid:run_id>/events", views.list_events, name="api_run_events"),
    path("runs/<uuid:run_id>/stream", views.stream_run, name="api_run_stream"),
    path("checkpoints", views.list_checkpoints, name="api_checkpoints"),
    path("checkpoints/<uuid:checkpoint_id>/restore", views.restore_checkpoint, name="api_checkpoint_restore"),
]
