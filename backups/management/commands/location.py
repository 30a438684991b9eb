"""`manage.py location list|check|browse|import`: the storage-location pages, from a shell."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from backups.audit_context import acting_as
from backups.engine.storage import StorageError
from backups.models import StorageLocation
from backups.services import imports
from backups.services.audit import cli_actor


def _when(moment) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S}" if moment else "-"


class Command(BaseCommand):
    help = "List and check storage locations, browse their backups and import them into the history."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="the locations with their status")
        check = sub.add_parser("check", help="check access now (exit 1 when unavailable)")
        check.add_argument("name")
        browse = sub.add_parser("browse", help="the backups found in the location")
        browse.add_argument("name")
        import_ = sub.add_parser("import", help="import backups found in the location into the history")
        import_.add_argument("name")
        import_.add_argument("backups", nargs="*", metavar="BACKUP")
        import_.add_argument("--all", dest="every", action="store_true", help="every importable backup")

    def handle(self, *args, action, **options):
        with acting_as(cli_actor()):
            return getattr(self, f"_{action}")(**options)

    def _location(self, name: str) -> StorageLocation:
        try:
            return StorageLocation.objects.get(name=name)
        except StorageLocation.DoesNotExist:
            raise CommandError(f"no storage location named {name!r}") from None

    def _list(self, **_):
        self.stdout.write(
            f"{'NAME':20} {'PROVIDER':8} {'DEFAULT':7} {'ACCESS':12} {'LAST CHECKED':19}  WHERE"
        )
        for loc in StorageLocation.objects.all():
            where = loc.path if loc.provider == "local" else f"s3://{loc.bucket}/{loc.prefix}"
            access = {None: "not checked", True: "available", False: "unavailable"}[loc.available]
            access += " (ro)" if loc.read_only else ""
            default = "yes" if loc.default else ""
            checked = _when(loc.last_checked)
            self.stdout.write(f"{loc.name:20} {loc.provider:8} {default:7} {access:12} {checked:19}  {where}")

    def _check(self, name, **_):
        location = self._location(name)
        problem = location.check_access()
        if problem:
            raise CommandError(f"storage location {name} is unavailable: {problem}")
        self.stdout.write(f"Storage location {name} is available.")

    def _browse(self, name, **_):
        location = self._location(name)
        try:
            found = imports.discover(location)
        except (StorageError, ValueError) as error:
            raise CommandError(f"cannot list the backups of {name}: {error}") from None
        self.stdout.write(f"{'NAME':40} {'PHASE':17} {'STARTED':19} {'EXPIRES':19}  HISTORY")
        for entry in found:
            history = entry.status + (f": {entry.reason}" if entry.reason else "")
            self.stdout.write(
                f"{entry.shown:40} {entry.phase or '-':17} {_when(entry.started):19} "
                f"{_when(entry.expiration):19}  {history}"
            )

    def _import(self, name, backups, every, **_):
        location = self._location(name)
        if bool(backups) == every:
            raise CommandError("name the backups to import, or give --all")
        try:
            if every:
                imported, skipped = imports.import_all(location)
                for result in imported:
                    self.stdout.write(result.message)
                for reason in skipped:
                    self.stdout.write(f"Not imported: {reason}")
                self.stdout.write(f"Imported {len(imported)} backup(s) from {name}.")
                return
            problems = []
            for backup in backups:
                try:
                    self.stdout.write(imports.import_backup(location, backup).message)
                except imports.ImportProblem as problem:
                    problems.append(str(problem))
        except StorageError as error:
            raise CommandError(f"cannot read storage location {name}: {error}") from None
        if problems:
            raise CommandError("; ".join(problems))
