"""`manage.py preview_blocks`: the ItemBlocks a backup would run, from manifests or a live cluster."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from backups.engine.log import BackupLog
from backups.engine.manifests.reader import load_manifests
from backups.engine.planning.itemblocks import plan_item_blocks
from backups.engine.planning.label_selectors import parse_selector
from backups.engine.planning.spec import (
    DEFAULT_VOLUME_GROUP_LABEL_KEY,
    BackupSpec,
    parse_bool,
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
        parser.add_argument("--selector", "-l", metavar="SELECTOR", help="label selector, as kubectl -l")
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
            source = self._source(options)
            log = BackupLog(sink=self._report)
            plan = plan_item_blocks(source, spec, log)
        except (ValueError, SourceError, OSError) as exc:
            raise CommandError(" ".join(str(exc).split())) from exc
        if options["output"] == "table":
            self._print_table(plan, log)
        else:
            self.stdout.write(json.dumps(plan.as_dict(), indent=2))

    def _spec(self, options) -> BackupSpec:
        if options["context"] and not options["kubeconfig"]:
            raise ValueError("--context needs --kubeconfig")
        selector = options["selector"]
        if selector is not None:
            parse_selector(selector)  # so a bad selector is reported as such, before any listing
        return BackupSpec(
            included_namespaces=_csv(options["include_namespaces"]) or ["*"],
            excluded_namespaces=_csv(options["exclude_namespaces"]),
            included_resources=_csv(options["include_resources"]) or ["*"],
            excluded_resources=_csv(options["exclude_resources"]),
            include_cluster_resources=parse_bool(
                options["include_cluster_resources"], "include-cluster-resources"
            ),
            label_selector=selector or None,
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

    def _print_table(self, plan, log: BackupLog) -> None:
        write = self.stdout.write
        write(
            f"{len(plan.blocks)} blocks, {plan.item_count} items, {len(plan.excluded)} excluded, "
            f"{log.warnings} warnings, {log.errors} errors"
        )
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
                write(f"{lead}  {item.key}{reason}")
        if plan.excluded:
            write("")
            write("EXCLUDED")
            reasons = plan.excluded_reasons or [""] * len(plan.excluded)
            for key, reason in zip(plan.excluded, reasons, strict=False):
                write(f"  {key}{f'  ({reason})' if reason else ''}")
