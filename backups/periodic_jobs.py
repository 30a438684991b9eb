"""The periodic jobs, on RQ's own CronScheduler: the schedule controller's tick, expiry of backups
and of previews.

One `manage.py run_cron` per deployment is enough (`run_dashboard` starts one); two are safe, as
`fire_due` claims each run with a compare-and-swap and expiry deletes what is still there.
"""

from __future__ import annotations

from django.conf import settings
from redis import Redis
from rq.cron import CronScheduler

from backups.runs.queues import DEFAULT_QUEUE as QUEUE
from backups.services import expiry, previews, schedules


def build_scheduler(connection: Redis) -> CronScheduler:
    scheduler = CronScheduler(connection=connection)
    scheduler.register(
        schedules.fire_due,
        QUEUE,
        interval=settings.VELOWEB_SCHEDULE_INTERVAL,
        job_timeout=600,
        result_ttl=3600,
        name="veloweb-schedules",
    )
    scheduler.register(
        expiry.collect_expired,
        QUEUE,
        interval=settings.VELOWEB_GC_INTERVAL,
        job_timeout=3 * 3600,
        result_ttl=24 * 3600,
        name="veloweb-expiry",
    )
    scheduler.register(
        previews.expire_previews,
        QUEUE,
        interval=settings.VELOWEB_GC_INTERVAL,
        job_timeout=600,
        result_ttl=24 * 3600,
        name="veloweb-preview-expiry",
    )
    return scheduler
