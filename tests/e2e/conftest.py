"""Fixtures that start real servers on the test database (see servers.py)."""

from __future__ import annotations

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token

from tests.e2e.servers import CeleryWorker, Daphne, RedisServer, server_env


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture
def e2e_dir(tmp_path):
    path = tmp_path / "e2e"
    path.mkdir()
    return path


@pytest.fixture
def server_extra_env() -> dict:
    """Extra environment for the servers a test starts; override in a module to change settings."""
    return {}


@pytest.fixture
def embedded_server(transactional_db, e2e_dir, server_extra_env):
    """One daphne process, no Redis, no Celery: the embedded mode runs the runs itself."""
    server = Daphne(server_env(e2e_dir / "data", redis_url=None, **server_extra_env), e2e_dir).start()
    yield server
    server.stop()


@pytest.fixture
def redis_server(e2e_dir):
    server = RedisServer(e2e_dir).start()
    yield server
    server.stop()


@pytest.fixture
def services_stack(request, transactional_db, e2e_dir, server_extra_env):
    """Production mode: daphne and a Celery worker on PostgreSQL and a private Redis."""
    if not is_postgres():
        pytest.skip("production mode runs on PostgreSQL (the CI's PostgreSQL + Redis pass runs it)")
    redis_server = request.getfixturevalue("redis_server")  # only once we know it is needed
    env = server_env(e2e_dir / "data", redis_url=redis_server.url, **server_extra_env)
    web = Daphne(env, e2e_dir).start()
    worker = CeleryWorker(env, e2e_dir).start()
    stack = type(
        "Stack",
        (),
        {
            "mode": "production",
            "web": web,
            "worker": worker,
            "redis": redis_server,
            "env": env,
            "dir": e2e_dir,
        },
    )
    yield stack
    worker.stop()
    web.stop()


@pytest.fixture(params=["embedded", "production"])
def stack(request, transactional_db):
    """The server in either mode, for scenarios that hold in both: `.mode`, `.web` (daphne),
    `.worker` and `.redis` (None in embedded mode). The production variant skips off PostgreSQL."""
    if request.param == "production":
        return request.getfixturevalue("services_stack")
    web = request.getfixturevalue("embedded_server")
    e2e_dir = request.getfixturevalue("e2e_dir")
    return type("Stack", (), {"mode": "embedded", "web": web, "worker": None, "redis": None, "dir": e2e_dir})


@pytest.fixture
def api_token(user) -> str:
    return Token.objects.get_or_create(user=user)[0].key


@pytest.fixture
def other_token(other_user) -> str:
    return Token.objects.get_or_create(user=other_user)[0].key
