"""The Celery application: one task, ``grade_candidate(batch_id, candidate)``, and the settings that make a
worker's death lose nothing.

- ``task_acks_late`` + ``task_reject_on_worker_lost``: a message is acknowledged only after its grading ended,
  so a worker killed mid-grading leaves it unacknowledged and the broker delivers it again;
- ``worker_prefetch_multiplier = 1``: a worker holds at most the message it grades (a dead worker strands
  nothing else);
- the Redis transport's ``visibility_timeout``: how long an unacknowledged message waits before Redis hands it
  to another worker. A live worker whose grading outlasts it gets a duplicate delivery; the store's attempt
  claim (``SqlJobQueue.claim_attempt``) makes that harmless, so it can be short. Every worker scans for overdue
  messages every few seconds (kombu's default scan is every 100 s).

Tasks carry only names (batch, candidate); what to grade and where reports go is read from the store.
"""

from __future__ import annotations

from celery import Celery

TASK_NAME = "capstone_grader.grade_candidate"
QUEUE_NAME = "capstone-grader"
VISIBILITY_TIMEOUT_S = 300


def make_app(broker_url: str, visibility_timeout_s: float = VISIBILITY_TIMEOUT_S) -> Celery:
    """A Celery app on ``broker_url`` (``redis://host:port/db``), configured for late acknowledgement."""
    app = Celery("capstone_grader", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=QUEUE_NAME,
        broker_transport_options={
            "visibility_timeout": visibility_timeout_s,
            # kombu scans for overdue messages every interval x throttle seconds (100 s by default): every few
            # seconds instead, so a dead worker's job is delivered again soon after its visibility timeout
            "unacked_restore_interval": max(1.0, min(10.0, visibility_timeout_s / 4)),
            "unacked_restore_throttle": 1,
        },
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    return app


def send_job(app: Celery, batch_id: str, candidate: str) -> None:
    """Queue one candidate's grading on the broker."""
    app.send_task(TASK_NAME, args=[batch_id, candidate], queue=QUEUE_NAME)
