"""The Celery app. Workers: `celery -A config worker -Q coding-agent` (settings are Django's CELERY_* names)."""

import os

from celery import Celery
from kombu.transport import redis as kombu_redis

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


class _QoS(kombu_redis.QoS):
    """kombu's Redis QoS, made to survive a Redis restart while a worker holds a task.

    With a lost connection, kombu's channel has no connection any more, and restoring
    unacknowledged messages at channel close, or acking/rejecting the finished task on
    that channel, raises AttributeError ("'NoneType' object has no attribute ...") from
    deep inside the event loop: Celery calls it unrecoverable and the worker exits.
    Nothing is lost by skipping those steps: runs are made safe by their own leases (a
    run held by a lost worker is re-queued by the sweeper, a queued run whose message
    vanished is handed out again), and a message left unacked in a Redis that kept its
    data comes back after the visibility timeout as a no-op (the run has finished).
    """

    restore_at_shutdown = False

    def _connected(self) -> bool:
        return self.channel.connection is not None

    def ack(self, delivery_tag):
        if self._connected():
            super().ack(delivery_tag)

    def reject(self, delivery_tag, requeue=False):
        if self._connected():
            super().reject(delivery_tag, requeue=requeue)


class _Channel(kombu_redis.Channel):
    QoS = _QoS


class RedisTransport(kombu_redis.Transport):
    Channel = _Channel


app = Celery("coding_agent_runtime")
app.config_from_object("django.conf:settings", namespace="CELERY")  # settings name RedisTransport
app.autodiscover_tasks()
