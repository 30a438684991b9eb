"""Is the RQ job behind a running batch still alive? Answered in seconds, not by the batch lease.

A batch job's heartbeat thread sets a Redis key that lives ALIVE_TTL seconds every ALIVE_EVERY
seconds. A job is dead when RQ says it ended (its work horse killed: the parent worker marks the
job failed at once) or when it is still "started" but its key expired (the whole worker died).
A job Redis does not know (Redis restarted, results expired) is not judged here: the lease decides.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import django_rq
from django.conf import settings
from django.utils import timezone
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

ALIVE_TTL = 4  # seconds a job's key outlives its last beat
ALIVE_EVERY = 1.0  # seconds between beats
ENDED = {JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}


def _key(job_id: str) -> str:
    return f"veloweb:job-alive:{job_id}"


def _connection():
    return django_rq.get_connection("blocks")


def beat(job_id: str) -> None:
    """This job is alive for ALIVE_TTL more seconds."""
    if job_id:
        _connection().set(_key(job_id), 1, ex=ALIVE_TTL)


def job_dead(job_id: str) -> bool | None:
    """True when the job surely stopped, False when it is alive (or queued), None when Redis does
    not know it. A job started less than ALIVE_TTL seconds ago may not have beaten yet: alive."""
    if not job_id:
        return None
    connection = _connection()
    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return None
    status = job.get_status(refresh=False)
    if status in ENDED:
        return True
    if status != JobStatus.STARTED or connection.exists(_key(job_id)):
        return False
    started = job.started_at
    if started is not None and started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    return started is None or datetime.now(UTC) - started > timedelta(seconds=ALIVE_TTL)


QUEUED_OR_STARTED = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}


def job_alive(job_id: str) -> bool:
    """Queued, or started by a worker that still beats."""
    if not job_id:
        return False
    try:
        job = Job.fetch(job_id, connection=django_rq.get_connection("default"))
    except NoSuchJobError:
        return False
    status = job.get_status(refresh=False)
    if status not in QUEUED_OR_STARTED:
        return False
    if status == JobStatus.STARTED and job.last_heartbeat:
        stale = timezone.now() - timedelta(seconds=max(90.0, 2 * settings.VELOWEB_BATCH_LEASE_SECONDS))
        heartbeat = job.last_heartbeat
        if timezone.is_naive(heartbeat):
            heartbeat = heartbeat.replace(tzinfo=UTC)
        return heartbeat > stale
    return True


def last_error(job_id: str) -> str:
    """The last line of the exception that ended an RQ job, or why there is none."""
    try:
        job = Job.fetch(job_id, connection=django_rq.get_connection("default"))
    except NoSuchJobError:
        return "its job was lost (Redis restarted?)"
    text = (job.exc_info or "").strip()
    return text.splitlines()[-1] if text else "its worker stopped responding"
