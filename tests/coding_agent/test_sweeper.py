"""The sweeper finishes what workers could not: lost workers, unanswered cancels, lost messages."""

from datetime import timedelta

import pytest
from django.utils import timezone

from coding_agent import runs, sweeper
from coding_agent.executor import execute_run
from coding_agent.models import AgentRun
from tests.conftest import event_names, wait_for_run

pytestmark = pytest.mark.django_db(transaction=True)


def a_run_whose_worker_vanished(app, user, *, attempt: int) -> AgentRun:
    """A running run holding a lease that expired (its worker is gone)."""
    run = runs.start_run(app=app, user=user, input="hello")
    AgentRun.objects.filter(pk=run.pk).update(
        status="running",
        started_at=timezone.now(),
        lease_owner="dead-host:1:abc",
        lease_expires_at=timezone.now() - timedelta(seconds=1),
        attempt=attempt,
    )
    return run


def test_a_run_whose_lease_expired_is_handed_to_another_worker(no_dispatch, settings, app, user, agent_model):
    agent_model([{"text": "Finished by another worker."}])
    run = a_run_whose_worker_vanished(app, user, attempt=1)
    assert sweeper.sweep_once()["requeued"] == 1
    run.refresh_from_db()
    assert run.status == "running" and run.lease_owner == ""  # free for the next claim
    assert execute_run(run.pk) == "completed"
    run.refresh_from_db()
    assert run.attempt == 2 and run.final_text == "Finished by another worker."


def test_a_run_whose_workers_keep_dying_fails_with_worker_lost(no_dispatch, settings, app, user, agent_model):
    agent_model([{"text": "never"}])
    run = a_run_whose_worker_vanished(app, user, attempt=settings.RUN_MAX_ATTEMPTS)
    assert sweeper.sweep_once()["worker_lost"] == 1
    run.refresh_from_db()
    assert run.status == "failed" and run.error_code == "WORKER_LOST"
    assert event_names(run)[-1] == "run.failed"


def test_a_run_claimed_past_its_attempts_fails_with_worker_lost(
    no_dispatch, settings, app, user, agent_model
):
    agent_model([{"text": "never"}])
    run = a_run_whose_worker_vanished(app, user, attempt=settings.RUN_MAX_ATTEMPTS)
    assert execute_run(run.pk) == "worker-lost"
    run.refresh_from_db()
    assert run.status == "failed" and run.error_code == "WORKER_LOST"


def test_a_cancel_nobody_answered_is_finalised(no_dispatch, app, user, agent_model):
    agent_model([{"text": "never"}])
    run = a_run_whose_worker_vanished(app, user, attempt=1)
    AgentRun.objects.filter(pk=run.pk).update(
        lease_expires_at=timezone.now() + timedelta(minutes=5),  # a stuck worker still "holds" it
        cancel_requested_at=timezone.now() - timedelta(seconds=runs.CANCEL_GRACE_S + 1),
    )
    assert sweeper.sweep_once()["cancelled"] == 1
    run.refresh_from_db()
    assert run.status == "cancelled" and event_names(run)[-1] == "run.cancelled"
    # The stuck worker, waking up, can no longer write.
    from coding_agent.events import LeaseLost, append_event

    with pytest.raises(LeaseLost):
        append_event(run.pk, "assistant.delta", {"text": "late"}, owner="dead-host:1:abc")


def test_a_queued_run_nobody_claimed_is_handed_out_again(inprocess, settings, app, user, agent_model):
    agent_model([{"text": "Here at last."}])
    settings.RUN_EXECUTION = "celery"  # its first message goes nowhere (a lost task message)
    from config.celery import app as celery_app

    celery_app.conf.broker_url = "memory://"
    run = runs.start_run(app=app, user=user, input="hello")
    AgentRun.objects.filter(pk=run.pk).update(
        enqueued_at=timezone.now() - timedelta(seconds=settings.RUN_REQUEUE_SECONDS + 1)
    )
    settings.RUN_EXECUTION = "inprocess"  # the executor that is actually there
    assert sweeper.sweep_once()["redispatched"] == 1
    assert wait_for_run(run).status == "completed"
    assert sweeper.sweep_once()["redispatched"] == 0


def test_a_run_requeued_while_the_broker_is_down_is_handed_out_again_later(
    broker_down, settings, app, user, agent_model
):
    agent_model([{"text": "Finished once the broker was back."}])
    run = a_run_whose_worker_vanished(app, user, attempt=1)
    sweeper.sweep_once()  # frees the lease; sending the message fails (logged, not fatal)
    run.refresh_from_db()
    assert run.status == "running" and run.lease_owner == "" and run.enqueued_at is not None

    # Later, with executors back: the unheld run is handed out again, not left running forever.
    AgentRun.objects.filter(pk=run.pk).update(
        enqueued_at=timezone.now() - timedelta(seconds=settings.RUN_REQUEUE_SECONDS + 1)
    )
    settings.RUN_EXECUTION = "inprocess"
    assert sweeper.sweep_once()["redispatched"] == 1
    assert wait_for_run(run).status == "completed"


def test_a_run_that_cannot_be_finalised_does_not_stop_the_sweep_for_others(
    no_dispatch, app, user, other_user, agent_model
):
    from tests.factories import make_app

    agent_model([{"text": "never"}])
    broken = a_run_whose_worker_vanished(app, user, attempt=1)
    # Its counter behind its own events (an old copy of the row saved over it): every
    # event it writes now collides with one it already has.
    AgentRun.objects.filter(pk=broken.pk).update(
        last_seq=0, cancel_requested_at=timezone.now() - timedelta(seconds=runs.CANCEL_GRACE_S + 1)
    )
    other = a_run_whose_worker_vanished(make_app(other_user, name="Other"), other_user, attempt=1)

    done = sweeper.sweep_once()
    assert done["requeued"] == 1
    other.refresh_from_db()
    assert other.lease_owner == ""  # handed on despite the broken run before it
