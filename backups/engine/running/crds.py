"""The CustomResourceDefinitions of backed-up custom resources, added at the end of a backup.

Velero's `BackupWithResolvers` (pkg/backup/backup.go), after every ItemBlock: when the CRD type is
neither included nor excluded by the backup's resource filter, then for every resource type with at
least one item backed up from a block, it GETs the CRD named `<resource>.<group>` and backs it up
(`backupCRD`): not found means the type is not a custom resource; another read error is an error
line; the CRD then goes through the usual inclusion checks and the backed-up-items set. Items a
block adds on its own (the CSI snapshot objects) do not count, as Velero's block returns only its
items' types. When the CRD type is included, the collector took the CRDs already; when excluded
(or cluster resources are off), none is wanted.
"""

from __future__ import annotations

from collections.abc import Iterable

from backups.engine.items import ItemKey
from backups.engine.log import BackupLog
from backups.engine.planning.collect import build_filters, list_namespaces, object_exclusion
from backups.engine.planning.resources import ResourceTable
from backups.engine.planning.spec import BackupSpec
from backups.engine.source import Source, SourceError
from backups.engine.velero_format.archive import BlockArchiveWriter

CRD_RESOURCE = "customresourcedefinitions.apiextensions.k8s.io"


def crds_are_added(source: Source, table: ResourceTable, spec: BackupSpec) -> bool:
    """Velero's rule: `!ShouldExclude(crds) && !ShouldInclude(crds)` on the backup's resource filter.

    True for the common namespace-scoped backup (`include-cluster-resources` unset, some namespaces);
    false for a full backup (the collector lists the CRDs), with `include-cluster-resources=false`,
    when CRDs are excluded, or when the cluster serves no CRD type. Raises SourceError (the
    namespace list decides whether "all namespaces" are included).
    """
    if table.by_group_resource(CRD_RESOURCE) is None:
        return False
    _, resources = build_filters(spec, table, list_namespaces(source, table))
    return not resources.should_exclude(CRD_RESOURCE) and not resources.should_include(CRD_RESOURCE)


def crds_to_add(
    source: Source,
    table: ResourceTable,
    spec: BackupSpec,
    resource_types: Iterable[str],
    present: Iterable[str],
) -> list[str]:
    """The names of the CRDs `backup_crds` would add for these backed-up types (the preview):
    custom resource types whose CRD exists and is not among `present` (CRD names already planned).
    Raises SourceError."""
    info = table.by_group_resource(CRD_RESOURCE)
    if info is None or not crds_are_added(source, table, spec):
        return []
    have = set(present)
    found = []
    for group_resource in sorted(set(resource_types)):
        if "." not in group_resource or group_resource in have:
            continue
        crd = source.get(info, None, group_resource)
        if crd is not None and not object_exclusion(crd):
            found.append(group_resource)
    return found


def backup_crds(
    source: Source,
    table: ResourceTable,
    spec: BackupSpec,
    resource_types: Iterable[str],
    already: Iterable[ItemKey],
    writer: BlockArchiveWriter,
    log: BackupLog,
) -> list[tuple[ItemKey, str]]:
    """Write the CRD of each custom resource type in `resource_types` (group resources, e.g.
    `widgets.example.com`) that is not in `already`; returns `(key, kind)` of what was written.

    Nothing unless `crds_are_added`; a failed read is an error line, never an exception (the
    blocks are already written). Core types are skipped without a read (a CRD name has a group).
    """
    try:
        if not crds_are_added(source, table, spec):
            return []
    except SourceError as error:
        log.error(f"CRDs of the backed-up custom resources not added: {error}", resource=CRD_RESOURCE)
        return []
    info = table.by_group_resource(CRD_RESOURCE)
    if info is None:  # a cluster that serves no CRDs has no custom resources
        return []
    present = {key.name for key in already if key.group_resource == CRD_RESOURCE}
    written: list[tuple[ItemKey, str]] = []
    for group_resource in sorted(set(resource_types)):
        if "." not in group_resource or group_resource in present:
            continue
        where = {"resource": CRD_RESOURCE, "name": group_resource}
        try:
            crd = source.get(info, None, group_resource)
        except SourceError as error:
            log.error(f"error getting CRD {group_resource}: {error}", **where)
            continue
        if crd is None:
            continue  # not a custom resource
        reason = object_exclusion(crd)
        if reason:
            log.info(f"CRD {group_resource} not backed up: it {reason}", **where)
            continue
        key = ItemKey(info.group, info.version, info.resource, "", group_resource)
        writer.add_item(key, crd)
        written.append((key, str(crd.get("kind") or info.kind)))
        present.add(group_resource)
        log.info(f"found associated CRD {group_resource} to add to backup", **where)
    return written
