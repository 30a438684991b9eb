"""`manage.py preview_blocks`: the ItemBlocks a backup would run, from manifests or a live cluster."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from backups.engine.dry_run import DryRun
from backups.engine.log import BackupLog
from backups.engine.manifests.reader import load_manifests
from backups.engine.planning.itemblocks import plan_item_blocks
from backups.engine.planning.label_selectors import parse_selector
from backups.engine.planning.resource_policies import parse_resource_policies
from backups.engine.planning.spec import (
    DEFAULT_VOLUME_GROUP_LABEL_KEY,
    BackupSpec,
    parse_bool,
    parse_or_selectors,
    parse_ordered_resources,
)
from backups.engine.source import SourceError


def _csv(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


class Command(BaseCommand):
    help = (
        "Show the ItemBlocks a backup with these filters would run, in dispatch order, computed offline "
        "from manifests (a `kubectl get -A -o yaml` dump, files or folders) or against a live cluster."
    )

    def add_arguments(self, parser):
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument(
            "--manifests",
            nargs="+",
            metavar="PATH",
            help="YAML/JSON files or folders of them, read as the cluster's content",
        )
        where.add_argument("--kubeconfig", metavar="PATH", help="read a live cluster through this kubeconfig")
        parser.add_argument("--context", help="kubeconfig context (default: its current context)")
        parser.add_argument(
            "--page-size",
            type=int,
            default=500,
            metavar="N",
            help="objects per list request against a live cluster (Velero's --client-page-size)",
        )
        parser.add_argument("--output", "-o", choices=["json", "table"], default="json")
        parser.add_argument("--include-namespaces", metavar="NS,...", help="namespaces to include (*)")
        parser.add_argument("--exclude-namespaces", metavar="NS,...", help="namespaces to exclude")
        parser.add_argument("--include-resources", metavar="RES,...", help="resources to include (default *)")
        parser.add_argument("--exclude-resources", metavar="RES,...", help="resources to exclude")
        parser.add_argument(
            "--include-cluster-resources",
            metavar="true|false",
            help="include cluster-scoped resources (unset: only with all namespaces)",
        )
        for scope in ("cluster", "namespace"):
            for verb in ("include", "exclude"):
                parser.add_argument(
                    f"--{verb}-{scope}-scoped-resources",
                    metavar="RES,...",
                    help=f"{scope}-scoped resources to {verb} (Velero's new filters, not with the old ones)",
                )
        parser.add_argument("--selector", "-l", metavar="SELECTOR", help="label selector, as kubectl -l")
        parser.add_argument(
            "--or-selector", metavar="SELECTORS", help="items matching any of these: 'app=web or tier=db'"
        )
        parser.add_argument(
            "--resource-policies-file",
            metavar="PATH",
            help="Velero's resource policy YAML (volume policies, includeExcludePolicy)",
        )
        parser.add_argument(
            "--snapshot-volumes",
            metavar="true|false",
            help="take CSI snapshots (default true): decides the snapshot objects counted as added",
        )
        parser.add_argument(
            "--ordered-resources",
            metavar="MAP",
            help="resources backed up in order: pods=ns/a,ns/b;persistentvolumes=pv1",
        )
        parser.add_argument(
            "--volume-group-label-key",
            default=DEFAULT_VOLUME_GROUP_LABEL_KEY,
            metavar="KEY",
            help="PVCs sharing this label's value form one block (default %(default)s)",
        )

    def handle(self, *args, **options):
        try:
            spec = self._spec(options)
            snapshot_volumes = parse_bool(options["snapshot_volumes"], "--snapshot-volumes")
            source = self._source(options)
            log = BackupLog(sink=self._report)
            plan = plan_item_blocks(source, spec, log)
            table = source.resources()
            policies = parse_resource_policies(spec.resource_policy) if spec.resource_policy else None
            dry_run = DryRun.start(source, table, snapshot_volumes, policies)
            adds = [dry_run.add_fetched_block(block.items, source, table) for block in plan.blocks]
            counted = dry_run.finish(source, table, spec)
        except (ValueError, SourceError, OSError) as exc:
            raise CommandError(" ".join(str(exc).split())) from exc
        if options["output"] == "table":
            self._print_table(plan, log, adds, counted)
        else:
            result = plan.as_dict()
            for block, added in zip(result["blocks"], adds, strict=True):
                block["adds"] = added
            result["dry_run"] = counted
            self.stdout.write(json.dumps(result, indent=2))

    def _spec(self, options) -> BackupSpec:
        if options["context"] and not options["kubeconfig"]:
            raise ValueError("--context needs --kubeconfig")
        selector = options["selector"]
        if selector is not None:
            parse_selector(selector)  # so a bad selector is reported as such, before any listing
        or_selectors = parse_or_selectors(options["or_selector"])
        if selector and or_selectors:
            raise ValueError("either a --selector or an --or-selector can be given, not both")
        policy = ""
        if options["resource_policies_file"]:
            try:
                with open(options["resource_policies_file"], encoding="utf-8") as f:
                    policy = f.read()
            except (OSError, UnicodeDecodeError) as error:
                raise ValueError(f"cannot read --resource-policies-file: {error}") from None
            parse_resource_policies(policy)  # its own error, naming the line
        return BackupSpec(
            included_namespaces=_csv(options["include_namespaces"]) or ["*"],
            excluded_namespaces=_csv(options["exclude_namespaces"]),
            included_resources=_csv(options["include_resources"]) or ["*"],
            excluded_resources=_csv(options["exclude_resources"]),
            include_cluster_resources=parse_bool(
                options["include_cluster_resources"], "include-cluster-resources"
            ),
            label_selector=selector or None,
            or_label_selectors=or_selectors,
            included_cluster_scoped_resources=_csv(options["include_cluster_scoped_resources"]),
            excluded_cluster_scoped_resources=_csv(options["exclude_cluster_scoped_resources"]),
            included_namespace_scoped_resources=_csv(options["include_namespace_scoped_resources"]),
            excluded_namespace_scoped_resources=_csv(options["exclude_namespace_scoped_resources"]),
            resource_policy=policy or None,
            ordered_resources=parse_ordered_resources(options["ordered_resources"]),
            volume_group_label_key=options["volume_group_label_key"] or DEFAULT_VOLUME_GROUP_LABEL_KEY,
        )

    def _source(self, options):
        if options["manifests"]:
            # Hand-written manifests often leave out their Namespace, which a cluster always has.
            return load_manifests(options["manifests"], add_missing_namespaces=True, warn=self._warn)
        from backups.kube import connect

        if options["page_size"] < 1:
            raise CommandError(f"invalid --page-size {options['page_size']}: must be at least 1")
        return connect(
            kubeconfig=options["kubeconfig"], context=options["context"], page_size=options["page_size"]
        )

    def _warn(self, message: str) -> None:
        """An object of the manifests that is skipped (the rest is previewed)."""
        self.stderr.write(f"warning: {message}")

    def _report(self, entry) -> None:
        if entry.level in ("warning", "error"):
            self.stderr.write(str(entry))

    def _print_table(self, plan, log: BackupLog, adds: list[int], counted: dict) -> None:
        write = self.stdout.write
        write(
            f"{len(plan.blocks)} blocks, {plan.item_count} items, {len(plan.excluded)} excluded, "
            f"{log.warnings} warnings, {log.errors} errors"
        )
        self._print_dry_run(counted)
        if not plan.blocks:
            return
        number_width = max(len("BLOCK"), len(str(len(plan.blocks))))
        size_width = max(len("ITEMS"), *(len(str(len(b))) for b in plan.blocks))
        write("")
        write(f"{'BLOCK':>{number_width}}  {'ITEMS':>{size_width}}  ITEM")
        for number, block in enumerate(plan.blocks, start=1):
            for position, item in enumerate(block.items):
                lead = (
                    f"{number:>{number_width}}  {len(block):>{size_width}}"
                    if position == 0
                    else " " * (number_width + 2 + size_width)
                )
                reason = f"  ({item.reason})" if item.reason else ""
                added = (
                    f"  (+ {adds[number - 1]} snapshot objects at run time)"
                    if position == 0 and adds[number - 1]
                    else ""
                )
                write(f"{lead}  {item.key}{reason}{added}")
        if plan.excluded:
            write("")
            write("EXCLUDED")  # items only: the types the filters leave out are never listed
            reasons = plan.excluded_reasons or [""] * len(plan.excluded)
            for key, reason in zip(plan.excluded, reasons, strict=False):
                write(f"  {key}{f'  ({reason})' if reason else ''}")

    def _print_dry_run(self, counted: dict) -> None:
        """Items per resource type, then what the run adds to them (snapshots, CRDs)."""
        write = self.stdout.write
        if counted["types"]:
            width = max(len("RESOURCE"), *(len(t) for t, _ in counted["types"]))
            write("")
            write(f"{'RESOURCE':<{width}}  ITEMS")
            for group_resource, count in counted["types"]:
                write(f"{group_resource:<{width}}  {count:>5}")
        write("")
        write(f"ADDED AT RUN TIME: {counted['added']} (expected in the backup: {counted['total']} items)")
        if counted["snapshots"]:
            n = counted["snapshotted"]
            classes = ", ".join(counted["snapshot_classes"]) or "none"
            write(
                f"  {n} VolumeSnapshots + {n} VolumeSnapshotContents (claims snapshotted); classes: {classes}"
            )
            for why, count in counted["not_snapshotted"]:
                write(f"  {count} claims without a snapshot: {why}")
        else:
            write("  no snapshot: --snapshot-volumes is false and no volume policy says snapshot")
        if counted["crds"]:
            write(f"  CRDs added at the end: {', '.join(counted['crds'])}")
