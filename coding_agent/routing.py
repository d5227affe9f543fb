"""Websocket routes (DESIGN.md §2).

Ids are matched as plain segments and checked by the consumer, so an id that is not a
UUID closes with 4404 like an unknown run; any other path is refused the same way,
rather than failing the handshake inside the router.
"""

from django.urls import path, re_path

from coding_agent.consumers import NoSuchStream, RunStreamConsumer

websocket_urlpatterns = [
    path("ws/admin/apps/<str:app_id>/coding-agent/runs/<str:run_id>/stream", RunStreamConsumer.as_asgi()),
    re_path(r"", NoSuchStream.as_asgi()),
]
