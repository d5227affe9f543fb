"""ASGI entry point: HTTP (Django) and websockets (Channels), one process.

`daphne config.asgi:application` with no environment set is a complete embedded server:
it also runs the agent runs (a thread pool) and the sweeper. In production the server
only sweeps; Celery workers run the runs.
"""

import logging
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# A server process never forks, so it may keep a PostgreSQL connection pool (settings.py).
os.environ.setdefault("APPS_DB_POOL", "1")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import DatabaseError  # noqa: E402

from coding_agent import inprocess, sweeper  # noqa: E402
from coding_agent.broadcast import LoopCapture  # noqa: E402
from coding_agent.routing import websocket_urlpatterns  # noqa: E402
from coding_agent.wsauth import SessionOrTokenAuthMiddleware  # noqa: E402

application = LoopCapture(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": SessionOrTokenAuthMiddleware(URLRouter(websocket_urlpatterns)),
        }
    )
)

if os.environ.get("APPS_SERVER_BACKGROUND", "1") != "0":
    try:
        if settings.RUN_EXECUTION == "inprocess":
            inprocess.resume_left_over_runs()
        sweeper.start_sweeper()
    except DatabaseError:
        logging.getLogger(__name__).warning("database not ready (run `manage.py migrate`); runs not resumed")
