"""A run end to end in embedded mode: one daphne process, no Redis, no Celery, real clients."""

from tests.e2e.clients import EDIT_HEADLINE, edit_and_restore
from tests.factories import make_app


def test_one_embedded_server_runs_streams_edits_and_restores(embedded_server, user, api_token, agent_model):
    assert "REDIS_URL" not in embedded_server.env  # no broker, no channels-redis: the server does it all
    model = agent_model(EDIT_HEADLINE)
    app = make_app(user)
    edit_and_restore(embedded_server, api_token, str(app.id), model_id=model.id)
