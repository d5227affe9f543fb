"""One owner per run: a worker claims the run row with a conditional update and renews it.

A claim succeeds only if nobody holds a live lease, so two workers handed the same run
(a Celery redelivery while the first still runs, a sweeper re-queue) never both execute
it. The heartbeat also polls the cancel flag, so a running tool learns within ~0.5 s.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from coding_agent.models import ACTIVE_STATUSES, AgentRun

log = logging.getLogger(__name__)

CANCEL_POLL_S = 0.5


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def lease_until():
    return timezone.now() + timedelta(seconds=settings.RUN_LEASE_SECONDS)


def claim(run_id, owner: str) -> AgentRun | None:
    """Take the run if it is active and nobody holds a live lease; None if another worker got there first."""
    now = timezone.now()
    claimed = (
        AgentRun.objects.filter(pk=run_id, status__in=ACTIVE_STATUSES)
        .filter(Q(lease_owner="") | Q(lease_expires_at__lt=now))
        .update(
            status=AgentRun.Status.RUNNING,
            lease_owner=owner,
            lease_expires_at=lease_until(),
            attempt=F("attempt") + 1,
            started_at=Coalesce(F("started_at"), now),
        )
    )
    return AgentRun.objects.select_related("app").get(pk=run_id) if claimed else None


def renew(run_id, owner: str) -> bool:
    return bool(
        AgentRun.objects.filter(pk=run_id, lease_owner=owner, status=AgentRun.Status.RUNNING).update(
            lease_expires_at=lease_until()
        )
    )


def release(run_id, owner: str) -> None:
    AgentRun.objects.filter(pk=run_id, lease_owner=owner).update(lease_owner="", lease_expires_at=None)


class Heartbeat:
    """Background thread: renews the lease every lease/3 seconds and watches the cancel flag."""

    def __init__(self, run_id, owner: str):
        self.run_id = run_id
        self.owner = owner
        self.cancelled = threading.Event()
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"lease-{str(run_id)[:8]}", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def should_stop(self) -> bool:
        return self.cancelled.is_set() or self.lost.is_set()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        renew_every = max(settings.RUN_LEASE_SECONDS / 3, CANCEL_POLL_S)
        next_renew = time.monotonic() + renew_every  # the claim just set a fresh lease
        try:
            # The claim just read the cancel flag and set a fresh lease: the first look is
            # one poll later (a short run never needs a connection of its own here).
            while not self._stop.wait(CANCEL_POLL_S):
                try:
                    row = (
                        AgentRun.objects.filter(pk=self.run_id)
                        .values("cancel_requested_at", "lease_owner")
                        .first()
                    )
                    if row is None or row["lease_owner"] != self.owner:
                        self.lost.set()
                        return
                    if row["cancel_requested_at"] is not None:
                        self.cancelled.set()
                    if time.monotonic() >= next_renew:
                        if not renew(self.run_id, self.owner):
                            self.lost.set()
                            return
                        next_renew = time.monotonic() + renew_every
                except Exception:  # a database blip: keep trying until the lease runs out
                    log.warning("lease heartbeat for run %s failed", self.run_id, exc_info=True)
                    close_old_connections()
        finally:
            connection.close()
