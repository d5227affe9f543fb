"""A run end to end in production mode: daphne, a Celery worker, PostgreSQL and Redis, real clients."""

from tests.e2e.clients import EDIT_HEADLINE, edit_and_restore
from tests.factories import make_app


def test_a_run_on_a_celery_worker_streams_edits_and_restores(services_stack, user, api_token, agent_model):
    model = agent_model(EDIT_HEADLINE)
    app = make_app(user)
    edit_and_restore(services_stack.web, api_token, str(app.id), model_id=model.id)
    # The worker, not the web process, executed it.
    assert "coding_agent.execute_run[" in services_stack.worker.log()
    assert "succeeded in" in services_stack.worker.log() and "'completed'" in services_stack.worker.log()
