from django.core.management.base import BaseCommand

from backups.runs.watchdog import run_forever


class Command(BaseCommand):
    help = "Admit queued backups and recover lost or dead jobs, every few seconds (runs until stopped)."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=2.0)

    def handle(self, *args, **options):
        run_forever(options["interval"])
