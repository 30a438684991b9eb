import django_rq
from django.core.management.base import BaseCommand

from backups.periodic_jobs import build_scheduler


class Command(BaseCommand):
    help = (
        "Enqueue the schedule tick (every VELOWEB_SCHEDULE_INTERVAL s) and the expiry of backups and "
        "previews (every VELOWEB_GC_INTERVAL s) on the default queue with RQ's CronScheduler; runs "
        "until stopped."
    )

    def handle(self, *args, **options):
        build_scheduler(django_rq.get_connection("default")).start()
