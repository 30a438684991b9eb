"""`manage.py backup create|describe|logs|cancel|delete|list`: everything the dashboard does, from a shell."""

from __future__ import annotations

import gzip
import json

from django.core.management.base import BaseCommand, CommandError

from backups.audit_context import acting_as
from backups.engine.planning.resource_policies import parse_resource_policies
from backups.engine.planning.spec import parse_bool, parse_or_selectors, parse_ordered_resources
from backups.engine.running.hooks_text import HooksTextError, line_of, parse_hooks_text
from backups.engine.velero_format.layout import backup_file_key
from backups.engine.velero_format.log_text import format_line
from backups.management import cli
from backups.models import Backup, Cluster, StorageLocation
from backups.runs.steps import wait_for
from backups.runs.watchdog import tick
from backups.services import backups as backup_services
from backups.services.audit import cli_actor
from backups.validation import name_problem


def _hooks_text(text: str | None, path: str | None) -> tuple[str, str]:
    """(the hooks document, the option it came from) of `--hooks` or `--hooks-file`."""
    if not path:
        return text or "", "--hooks"
    try:
        with open(path, encoding="utf-8") as f:
            return f.read(), f"--hooks-file {path}"
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"cannot read --hooks-file: {error}") from None


def _hooks(text: str, option: str) -> dict:
    """Velero's spec.hooks from YAML or JSON text; a syntax error names the line and column."""
    try:
        hooks = parse_hooks_text(text)
    except HooksTextError as error:
        raise CommandError(f"{option}: {error}") from None
    if isinstance(hooks, list):
        hooks = {"resources": hooks}
    return hooks or {}


def _with_lines(problems: list[str], text: str) -> list[str]:
    """Problems of the hooks prefixed with the line of the hook they name, when there is one."""
    return [f"line {line}: {p}" if text and (line := line_of(text, p)) else p for p in problems]


HOOK_ORDER = {"concurrent": "a block's pods at once", "sequential": "pod after pod, as Velero"}


class Command(BaseCommand):
    help = "Create, wait for, describe, read the logs of, list, cancel and delete backups."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a backup and queue it")
        create.add_argument("name")
        create.add_argument("--cluster", help="registered cluster name (default: the only one)")
        create.add_argument("--include-namespaces", default="*")
        create.add_argument("--exclude-namespaces")
        create.add_argument("--include-resources")
        create.add_argument("--exclude-resources")
        create.add_argument("--include-cluster-resources", metavar="true|false")
        for scope in ("cluster", "namespace"):
            for verb in ("include", "exclude"):
                create.add_argument(
                    f"--{verb}-{scope}-scoped-resources",
                    metavar="LIST",
                    help=f"{scope}-scoped resources to {verb} (Velero's new filters, not with the old ones)",
                )
        create.add_argument("--selector", "-l", default="")
        create.add_argument(
            "--or-selector", default="", help="back up items matching any of these: 'app=web or tier=db'"
        )
        create.add_argument(
            "--resource-policies-file",
            metavar="PATH",
            help="Velero's resource policy YAML (volume policies, includeExcludePolicy)",
        )
        create.add_argument("--ordered-resources", default="")
        hooks = create.add_mutually_exclusive_group()
        hooks.add_argument(
            "--hooks", metavar="TEXT", help="Velero's spec.hooks as YAML or JSON: {resources: [...]}"
        )
        hooks.add_argument(
            "--hooks-file", metavar="PATH", help="a file holding Velero's spec.hooks, YAML or JSON"
        )
        create.add_argument("--ttl", default="720h0m0s")
        create.add_argument(
            "--snapshot-volumes", metavar="true|false", help="take CSI snapshots (default true)"
        )
        create.add_argument("--csi-snapshot-timeout", default="10m0s")
        create.add_argument("--volume-group-label-key", default="velero.io/volume-group")
        create.add_argument("--workers", type=int, default=4)
        create.add_argument(
            "--hooks-concurrency",
            choices=["concurrent", "sequential"],
            default="concurrent",
            help="the hooks of a block's pods at once, each pod's in order (default), "
            "or pod after pod as Velero runs them",
        )
        create.add_argument("--storage-location")
        create.add_argument(
            "--wait", action="store_true", help="wait until it finishes (exit 1 unless Completed)"
        )
        create.add_argument("--timeout", type=float, default=3600)
        for action in ("describe", "logs", "delete"):
            one = sub.add_parser(action)
            one.add_argument("name")
        stop = sub.add_parser("cancel", help="cancel a queued or running backup (a no-op once it ended)")
        stop.add_argument("name")
        stop.add_argument("--wait", action="store_true", help="wait until it is Cancelled (or ended)")
        stop.add_argument("--timeout", type=float, default=600)
        sub.add_parser("list")

    def handle(self, *args, action, **options):
        with acting_as(cli_actor()):
            return getattr(self, f"_{action}")(**options)

    def _backup(self, name: str) -> Backup:
        try:
            return Backup.objects.get(name=name)
        except Backup.DoesNotExist:
            raise CommandError(f"no backup named {name!r}") from None

    def _create(self, name, cluster, wait, timeout, **o):
        problem = name_problem(name)
        if problem:
            raise CommandError(problem)
        if Backup.objects.filter(name=name).exists():
            raise CommandError(f"a backup named {name!r} already exists")
        clusters = Cluster.objects.all()
        try:
            target = clusters.get(name=cluster) if cluster else clusters.get()
        except Cluster.DoesNotExist:
            raise CommandError(
                f"no cluster named {cluster!r}" if cluster else "no cluster is registered"
            ) from None
        except Cluster.MultipleObjectsReturned:
            raise CommandError("several clusters are registered: choose one with --cluster") from None
        location = None
        if o["storage_location"]:
            location = StorageLocation.objects.filter(name=o["storage_location"]).first()
            if location is None:
                raise CommandError(f"no storage location named {o['storage_location']!r}")
        if o["selector"] and o["or_selector"]:
            raise CommandError("either a --selector or an --or-selector can be given, not both")
        policy = ""
        if o["resource_policies_file"]:
            try:
                with open(o["resource_policies_file"], encoding="utf-8") as f:
                    policy = f.read()
            except (OSError, UnicodeDecodeError) as error:
                raise CommandError(f"cannot read --resource-policies-file: {error}") from None
        hooks_text, hooks_option = _hooks_text(o["hooks"], o["hooks_file"])
        try:
            if policy:
                parse_resource_policies(policy)
            hooks = _hooks(hooks_text, hooks_option)
            fields = dict(
                included_namespaces=cli.comma_list(o["include_namespaces"]),
                excluded_namespaces=cli.comma_list(o["exclude_namespaces"]),
                included_resources=cli.comma_list(o["include_resources"]),
                excluded_resources=cli.comma_list(o["exclude_resources"]),
                include_cluster_resources=parse_bool(
                    o["include_cluster_resources"], "--include-cluster-resources"
                ),
                label_selector=o["selector"],
                or_label_selectors=parse_or_selectors(o["or_selector"]),
                included_cluster_scoped_resources=cli.comma_list(o["include_cluster_scoped_resources"]),
                excluded_cluster_scoped_resources=cli.comma_list(o["exclude_cluster_scoped_resources"]),
                included_namespace_scoped_resources=cli.comma_list(o["include_namespace_scoped_resources"]),
                excluded_namespace_scoped_resources=cli.comma_list(o["exclude_namespace_scoped_resources"]),
                resource_policy=policy,
                ordered_resources=parse_ordered_resources(o["ordered_resources"]),
                hooks=hooks,
                ttl=o["ttl"],
                snapshot_volumes=parse_bool(o["snapshot_volumes"], "--snapshot-volumes"),
                csi_snapshot_timeout=o["csi_snapshot_timeout"],
                volume_group_label_key=o["volume_group_label_key"],
                workers=o["workers"],
                hooks_concurrency=o["hooks_concurrency"],
                storage_location=location,
            )
        except ValueError as error:
            raise CommandError(str(error)) from None
        try:
            backup = backup_services.create_backup(name, target, **fields)
        except ValueError as error:  # InvalidName, BackupExists: nothing was saved
            raise CommandError(str(error)) from None
        if backup.phase == Backup.Phase.FAILED_VALIDATION:
            problems = _with_lines(backup.validation_errors, hooks_text)
            raise CommandError(f"backup {name} failed validation: " + "; ".join(problems))
        self.stdout.write(f"Backup {name} {backup.phase}.")
        if wait:
            backup = wait_for(backup.pk, timeout, tick=tick)
            self._describe(name)
            if backup.phase != Backup.Phase.COMPLETED:
                raise CommandError(f"backup {name} ended {backup.phase}")

    def _describe(self, name, **_):
        b = self._backup(name)
        lines = [
            f"Name:         {b.name}",
            f"Cluster:      {b.cluster.name if b.cluster else '<unknown>'}",
            f"Storage:      {b.storage_location.name if b.storage_location else '<none>'}"
            + (" (imported)" if b.imported else ""),
            f"Phase:        {b.phase}",
            f"Namespaces:   included {', '.join(b.included_namespaces) or '*'}; "
            f"excluded {', '.join(b.excluded_namespaces) or '<none>'}",
            f"Resources:    included {', '.join(b.included_resources) or '*'}; "
            f"excluded {', '.join(b.excluded_resources) or '<none>'}",
            *self._scoped_lines(b),
            f"Started:      {b.started or '<n/a>'}",
            f"Completed:    {b.completed or '<n/a>'}",
            f"Expiration:   {b.expiration or '<n/a>'}",
            f"Items:        {b.items_backed_up} of {b.total_items}",
            f"Blocks:       {b.blocks_done} of {b.total_blocks}",
            f"Hooks:        {b.hooks_attempted} attempted, {b.hooks_failed} failed"
            f" ({b.hooks_concurrency}: {HOOK_ORDER[b.hooks_concurrency]})",
            f"Errors:       {b.errors}",
            f"Warnings:     {b.warnings}",
        ]
        if b.validation_errors:
            lines.append("Validation errors: " + "; ".join(b.validation_errors))
        if b.failure_reason:
            lines.append(f"Failure reason: {b.failure_reason}")
        lines += self._skipped_volumes(b)
        if b.phase in (Backup.Phase.CANCELLING, Backup.Phase.CANCELLED) and b.cancelled_by:
            lines.append(f"Cancelled by: {b.cancelled_by}")
        self.stdout.write("\n".join(lines))

    def _skipped_volumes(self, b: Backup) -> list[str]:
        """Volumes the resource policy kept from a snapshot, from the backup's volume info file."""
        if not b.resource_policy or b.phase not in (Backup.Phase.COMPLETED, Backup.Phase.PARTIALLY_FAILED):
            return []
        key = backup_file_key("volume-info", b.name)
        try:
            with b.storage_location.store().open(key) as raw, gzip.open(raw, "rt", encoding="utf-8") as f:
                infos = json.load(f)
        except Exception as error:  # noqa: BLE001 - describe still shows the rest
            self.stderr.write(f"cannot read {key}: {error}")
            return []
        skipped = [i for i in infos if i.get("skipped")]
        lines = [f"Skipped volumes: {len(skipped) or '<none>'}"]
        for info in skipped:
            claim = f"{info.get('pvcNamespace')}/{info.get('pvcName')}"
            lines.append(f"  {claim} ({info.get('pvName')}): {info.get('skippedReason')}")
        return lines

    @staticmethod
    def _scoped_lines(b: Backup) -> list[str]:
        """The new-style filters, selectors and resource policy, when the backup has them."""
        lines = []
        for scope in ("cluster", "namespace"):
            included = getattr(b, f"included_{scope}_scoped_resources")
            excluded = getattr(b, f"excluded_{scope}_scoped_resources")
            if included or excluded:
                lines.append(
                    f"{scope.capitalize()}-scoped: included {', '.join(included) or '<none>'}; "
                    f"excluded {', '.join(excluded) or '<none>'}"
                )
        if b.label_selector:
            lines.append(f"Selector:     {b.label_selector}")
        if b.or_label_selectors:
            lines.append(f"Or-selector:  {' or '.join(b.or_label_selectors)}")
        if b.resource_policy:
            lines.append(f"Policies:     {len(b.resource_policy.splitlines())} lines of resource policy")
        return lines

    def _logs(self, name, **_):
        """The log as `velero backup logs` prints it: the stored file's logrus lines as they are;
        before it exists (or when it cannot be read), the lines recorded so far, in that format."""
        b = self._backup(name)
        if b.is_terminal and b.storage_location and b.phase != Backup.Phase.FAILED_VALIDATION:
            store = b.storage_location.store()
            key = backup_file_key("log", b.name)
            try:
                with store.open(key) as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
                    for line in lines:
                        self.stdout.write(line.rstrip("\n"))
                return
            except Exception as error:  # noqa: BLE001 - fall back to the lines in the database
                self.stderr.write(f"cannot read {key}: {error}; showing the lines recorded in the database")
        for e in b.log_entries.order_by("id"):
            self.stdout.write(format_line(e.as_log_entry(), b.name))

    def _delete(self, name, **_):
        b = self._backup(name)
        try:
            deferred = backup_services.delete_backup(b, by=cli.who())
        except Exception as error:  # noqa: BLE001 - storage or state errors, reported in one line
            raise CommandError(f"cannot delete backup {name}: {error}") from None
        self.stdout.write(deferred or f"Backup {name} deleted.")

    def _cancel(self, name, wait, timeout, **_):
        outcome = backup_services.cancel_backup(self._backup(name), by=cli.who())
        self.stdout.write(outcome.message)  # a no-op (already ended) is not an error: exit 0
        if wait and outcome.changed:
            b = wait_for(self._backup(name).pk, timeout, tick=tick)
            self.stdout.write(f"Backup {name} {b.phase}.")

    def _list(self, **_):
        self.stdout.write(f"{'NAME':30} {'PHASE':17} {'ITEMS':>9} {'ERRORS':>6} {'WARNINGS':>8}  CREATED")
        for b in Backup.objects.all():
            counts = f"{b.items_backed_up:>9} {b.errors:>6} {b.warnings:>8}"
            self.stdout.write(f"{b.name:30} {b.phase:17} {counts}  {b.created:%Y-%m-%d %H:%M}")
