"""`manage.py restore create|describe|logs|list|delete`: Velero's `velero restore` commands over
Veloweb's restores, with the dry run (`create --dry-run`) that Velero lacks."""

from __future__ import annotations

import gzip
import json
import time

from django.core.management.base import BaseCommand, CommandError

from backups.audit_context import acting_as
from backups.engine.planning.spec import parse_bool, parse_or_selectors
from backups.engine.restore import parse_priorities
from backups.engine.storage import StorageError
from backups.engine.velero_format.layout import restore_file_key
from backups.management import cli
from backups.models import Backup, Cluster, Restore
from backups.queries import restore_problems_by_scope
from backups.runs.watchdog import tick
from backups.services import restores as restore_services
from backups.services.audit import cli_actor
from backups.validation import name_problem

Phase = Restore.Phase




def parse_mappings(text: str | None) -> dict[str, str]:
    """Velero's `--namespace-mappings src1:dst1,src2:dst2`."""
    mapping: dict[str, str] = {}
    for pair in cli.comma_list(text):
        source, sep, target = pair.partition(":")
        if not sep or not source.strip() or not target.strip():
            raise CommandError(f"invalid --namespace-mappings {pair!r}: expected OLD:NEW[,OLD:NEW...]")
        if source.strip() in mapping:
            raise CommandError(f"invalid --namespace-mappings: {source.strip()!r} is mapped twice")
        mapping[source.strip()] = target.strip()
    return mapping


class Command(BaseCommand):
    help = "Create (or dry-run), describe, read the logs of, list and delete restores."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="restore a backup into a registered cluster")
        create.add_argument("name", nargs="?", help="default: <backup>-<timestamp>, as Velero")
        create.add_argument("--from-backup", required=True, metavar="BACKUP")
        create.add_argument("--cluster", help="registered cluster name (default: the only one)")
        create.add_argument("--include-namespaces", default="*")
        create.add_argument("--exclude-namespaces")
        create.add_argument("--include-resources")
        create.add_argument("--exclude-resources")
        create.add_argument("--include-cluster-resources", metavar="true|false")
        create.add_argument("--selector", "-l", default="")
        create.add_argument("--or-selector", default="", help="'app=web or tier=db'")
        create.add_argument("--namespace-mappings", metavar="OLD:NEW,...")
        create.add_argument("--restore-pvs", metavar="true|false")
        create.add_argument("--existing-resource-policy", default="", metavar="none|update")
        create.add_argument("--preserve-nodeports", metavar="true|false", nargs="?", const="true")
        create.add_argument("--status-include-resources")
        create.add_argument("--status-exclude-resources")
        create.add_argument(
            "--resource-modifier-configmap",
            metavar="FILE",
            help="Velero's resource modifier rules (YAML); Velero reads them from a ConfigMap",
        )
        create.add_argument(
            "--priorities", metavar="LIST", help="restore priorities, '-' before the low ones"
        )
        create.add_argument(
            "--hooks", metavar="JSON", help='Velero\'s restore spec.hooks: {"resources": [...]}'
        )
        create.add_argument("--workers", type=int, default=4)
        create.add_argument(
            "--wait", action="store_true", help="wait until it ends (exit 1 unless Completed)"
        )
        create.add_argument("--timeout", type=float, default=3600)
        create.add_argument("--dry-run", action="store_true", help="show what would happen; change nothing")
        create.add_argument("--output", "-o", choices=("table", "json"), default="table")
        for action in ("describe", "logs", "delete"):
            one = sub.add_parser(action)
            one.add_argument("name")
        sub.add_parser("list")

    def handle(self, *args, action, **options):
        with acting_as(cli_actor()):
            return getattr(self, f"_{action}")(**options)

    def _restore(self, name: str) -> Restore:
        try:
            return Restore.objects.select_related("cluster", "storage_location").get(name=name)
        except Restore.DoesNotExist:
            raise CommandError(f"no restore named {name!r}") from None

    def _target(self, cluster: str | None) -> Cluster:
        clusters = Cluster.objects.all()
        try:
            return clusters.get(name=cluster) if cluster else clusters.get()
        except Cluster.DoesNotExist:
            raise CommandError(
                f"no cluster named {cluster!r}" if cluster else "no cluster is registered"
            ) from None
        except Cluster.MultipleObjectsReturned:
            raise CommandError("several clusters are registered: choose one with --cluster") from None

    def _options(self, o) -> dict:
        if o["selector"] and o["or_selector"]:
            raise CommandError("either a --selector or an --or-selector can be given, not both")
        modifiers = ""
        if o["resource_modifier_configmap"]:
            try:
                with open(o["resource_modifier_configmap"], encoding="utf-8") as f:
                    modifiers = f.read()
            except (OSError, UnicodeDecodeError) as error:
                raise CommandError(f"cannot read --resource-modifier-configmap: {error}") from None
        try:
            hooks = json.loads(o["hooks"]) if o["hooks"] else {}
        except (json.JSONDecodeError, RecursionError) as error:
            raise CommandError(f"invalid --hooks JSON: {error}") from None
        policy = (o["existing_resource_policy"] or "").strip()
        if policy not in ("", "none", "update"):
            raise CommandError(f"invalid --existing-resource-policy {policy!r}: expected none or update")
        try:
            return dict(
                included_namespaces=cli.comma_list(o["include_namespaces"]),
                excluded_namespaces=cli.comma_list(o["exclude_namespaces"]),
                included_resources=cli.comma_list(o["include_resources"]),
                excluded_resources=cli.comma_list(o["exclude_resources"]),
                include_cluster_resources=parse_bool(
                    o["include_cluster_resources"], "--include-cluster-resources"
                ),
                label_selector=o["selector"],
                or_label_selectors=parse_or_selectors(o["or_selector"]),
                namespace_mapping=parse_mappings(o["namespace_mappings"]),
                restore_pvs=parse_bool(o["restore_pvs"], "--restore-pvs"),
                preserve_node_ports=parse_bool(o["preserve_nodeports"], "--preserve-nodeports"),
                existing_resource_policy=policy,
                status_included_resources=cli.comma_list(o["status_include_resources"]),
                status_excluded_resources=cli.comma_list(o["status_exclude_resources"]),
                resource_modifiers=modifiers,
                priorities=list(parse_priorities(o["priorities"] or "")),
                hooks=hooks,
                workers=o["workers"],
            )
        except ValueError as error:  # SpecError, InvalidSelector: the message names the option
            raise CommandError(str(error)) from None

    def _create(self, name, from_backup, cluster, wait, timeout, dry_run, output, **o):
        backup = Backup.objects.select_related("storage_location").filter(name=from_backup).first()
        if backup is None:
            raise CommandError(f"no backup named {from_backup!r}")
        target = self._target(cluster)
        options = self._options(o)
        if dry_run:
            return self._dry_run(backup, target, options, output)
        name = name or restore_services.default_name(backup)
        problem = name_problem(name, "restore name")
        if problem:
            raise CommandError(problem)
        try:
            restore = restore_services.create_restore(name, backup, target, by=cli.who(), **options)
        except ValueError as error:  # RestoreExists, NotRestorable, InvalidName: nothing was saved
            raise CommandError(str(error)) from None
        if restore.phase == Phase.FAILED_VALIDATION:
            raise CommandError(f"restore {name} failed validation: " + "; ".join(restore.validation_errors))
        self.stdout.write(f"Restore {name} of backup {backup.name} into cluster {target.name} submitted.")
        if wait:
            deadline = time.monotonic() + timeout
            while not restore.is_terminal and time.monotonic() < deadline:
                tick()
                time.sleep(0.5)
                restore.refresh_from_db()
            self._describe(name)
            if restore.phase != Phase.COMPLETED:
                raise CommandError(
                    f"restore {name} ended {restore.phase}"
                    if restore.is_terminal
                    else f"restore {name} still {restore.phase} after {timeout:.0f}s"
                )

    def _dry_run(self, backup: Backup, target: Cluster, options: dict, output: str) -> None:
        try:
            plan = restore_services.dry_run(backup, target, options)
        except ValueError as error:
            raise CommandError(str(error)) from None
        if output == "json":
            self.stdout.write(json.dumps(plan.as_json()))
            return
        counts = plan.counts()
        self.stdout.write(f"Dry run of restoring backup {backup.name} into cluster {target.name}:")
        for action, count in sorted(counts["actions"].items()):
            self.stdout.write(f"  {action:9} {count}")
        for warning in plan.warnings:
            self.stdout.write(f"warning: {warning}")
        self.stdout.write(f"{'ACTION':9} {'RESOURCE':40} {'NAMESPACE':20} {'NAME':40} REASON")
        for item in plan.items():
            self.stdout.write(
                f"{item.action:9} {item.group_resource:40} {item.namespace or '-':20} {item.name:40} "
                f"{item.reason}"
            )
            for diff in item.diff:
                self.stdout.write(f"{'':9} ~ {diff.path}: cluster {diff.cluster!r} -> backup {diff.backup!r}")

    def _describe(self, name, **_):
        r = self._restore(name)
        yes_no = {True: "true", False: "false", None: "auto"}
        mappings = ", ".join(f"{k}:{v}" for k, v in r.namespace_mapping.items())
        lines = [
            f"Name:         {r.name}",
            f"Phase:        {r.phase}",
            f"Backup:       {r.backup_name}",
            f"Cluster:      {r.cluster.name}",
            f"Namespaces:   included {', '.join(r.included_namespaces) or '*'}; "
            f"excluded {', '.join(r.excluded_namespaces) or '<none>'}",
            f"Resources:    included {', '.join(r.included_resources) or '*'}; "
            f"excluded {', '.join(r.excluded_resources) or '<none>'}; "
            f"cluster-scoped {yes_no[r.include_cluster_resources]}",
            f"Namespace mappings: {mappings or '<none>'}",
            f"Label selector: {r.label_selector or ' or '.join(r.or_label_selectors) or '<none>'}",
            f"Restore PVs:  {yes_no[r.restore_pvs]}",
            f"Existing resource policy: {r.existing_resource_policy or '<none>'}",
            f"Preserve service node ports: {yes_no[r.preserve_node_ports]}",
            f"Started:      {r.started or '<n/a>'}",
            f"Completed:    {r.completed or '<n/a>'}",
            f"Items:        {r.items_restored} restored, {r.items_skipped} skipped, {r.items_failed} failed "
            f"of {r.total_items} ({r.items_excluded} excluded)",
            f"Tiers:        {max(0, r.current_tier + 1)} of {r.total_tiers} started",
            f"Hooks:        {r.hooks_attempted} attempted, {r.hooks_failed} failed",
        ]
        for tier in r.tiers.all():
            lines.append(
                f"  tier {tier.index} {tier.label}: {tier.restored} restored, {tier.skipped} skipped, "
                f"{tier.failed} failed of {tier.item_count}"
            )
        for level, title in (("warning", "Warnings"), ("error", "Errors")):
            scopes = restore_problems_by_scope(r, level)
            lines.append(f"{title}:{'  <none>' if not scopes else ''}")
            for scope, messages in scopes.items():
                lines.append(f"  {scope}:")
                lines += [f"    {m}" for m in messages]
        if r.validation_errors:
            lines.append("Validation errors: " + "; ".join(r.validation_errors))
        if r.failure_reason:
            lines.append(f"Failure reason: {r.failure_reason}")
        if r.cancelled_by:
            lines.append(f"Cancelled by: {r.cancelled_by}")
        self.stdout.write("\n".join(lines))

    def _logs(self, name, **_):
        r = self._restore(name)
        if r.phase in (Phase.COMPLETED, Phase.PARTIALLY_FAILED) and r.storage_location:
            key = restore_file_key("log", r.name)
            try:
                with r.storage_location.store().open(key) as raw, gzip.open(raw, "rt", encoding="utf-8") as f:
                    for line in f:
                        self.stdout.write(line.rstrip("\n"))
                return
            except (StorageError, OSError, ValueError) as error:
                self.stderr.write(f"cannot read {key}: {error}; showing warnings and errors only")
        for e in r.log_entries.all():
            where = "/".join(p for p in (e.namespace, e.name) if p)
            self.stdout.write(f"{e.level}: {where + ': ' if where else ''}{e.message}")

    def _delete(self, name, **_):
        r = self._restore(name)
        try:
            restore_services.delete_restore(r)
        except (ValueError, StorageError) as error:
            raise CommandError(f"cannot delete restore {name}: {error}") from None
        self.stdout.write(f"Restore {name} deleted.")

    def _list(self, **_):
        self.stdout.write(
            f"{'NAME':40} {'BACKUP':30} {'STATUS':16} {'RESTORED':>8} {'ERRORS':>6} {'WARNINGS':>8}  CREATED"
        )
        for r in Restore.objects.all():
            self.stdout.write(
                f"{r.name:40} {r.backup_name:30} {r.phase:16} {r.items_restored:>8} {r.errors:>6} "
                f"{r.warnings:>8}  {r.created:%Y-%m-%d %H:%M}"
            )
