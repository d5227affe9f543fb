"""Websocket routes (DESIGN.md §2)."""

from django.urls import path

from coding_agent.consumers import RunStreamConsumer

websocket_urlpatterns = [
    path(
        "ws/admin/apps/<uuid:app_id>/coding-agent/runs/<uuid:run_id>/stream",
        RunStreamConsumer.as_asgi(),
    ),
]
