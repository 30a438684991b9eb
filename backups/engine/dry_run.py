"""A backup counted before it runs (the preview's dry run): how many items of each resource type
it takes, and what the run writes on its own that the plan does not hold.

Velero's users ask for this (#448, #3536): the plan says 48 items, the backup then writes 58. The
difference is the run's own additions: a VolumeSnapshot and its VolumeSnapshotContent for each
claim snapshotted (plus each VolumeSnapshotClass used, once), and at the end the CRDs of the
backed-up custom resources (`running.crds`). Blocks are counted one at a time as they stream by,
so nothing grows with the cluster but the per-type counters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from backups.engine.items import BlockItem, ItemKey
from backups.engine.planning.resource_policies import ResourcePolicies
from backups.engine.planning.resources import ResourceTable
from backups.engine.planning.spec import BackupSpec
from backups.engine.running.crds import CRD_RESOURCE, crds_to_add
from backups.engine.running.csi_snapshots import (
    VS_RESOURCE,
    VSC_RESOURCE,
    VSCLASS_RESOURCE,
    expected_snapshot,
)
from backups.engine.source import Source

PV_RESOURCE = "persistentvolumes"


def takes_snapshots(snapshot_volumes: bool | None, policies: ResourcePolicies | None) -> bool:
    """Claims are snapshotted unless snapshotVolumes is false, and then still where a volume
    policy says `snapshot` (Velero's volume helper)."""
    return snapshot_volumes is not False or bool(policies and policies.volume_policies)


def _looked_at(key: ItemKey) -> bool:
    """The items whose content the dry run reads: claims and their volumes."""
    return key.is_claim or key.group_resource == PV_RESOURCE


@dataclass
class DryRun:
    """Counts of a plan's blocks. `snapshots` is whether the backup takes CSI snapshots at all
    (snapshotVolumes not false, or a volume policy that says `snapshot`), with the arguments
    `snapshot_claim` will get."""

    snapshots: bool
    snapshot_volumes: bool = True
    policies: ResourcePolicies | None = None
    snapshot_classes: list[dict] = field(default_factory=list)
    types: Counter = field(default_factory=Counter)  # group resource -> items planned
    snapshotted: int = 0  # claims that will be snapshotted
    not_snapshotted: Counter = field(default_factory=Counter)  # why not -> claims
    classes: set[str] = field(default_factory=set)  # VolumeSnapshotClasses written once each
    crds: set[str] = field(default_factory=set)  # CRDs the plan holds (not added again at the end)

    @classmethod
    def start(
        cls,
        source: Source,
        table: ResourceTable,
        snapshot_volumes: bool | None,
        policies: ResourcePolicies | None,
    ) -> DryRun:
        """A dry run of a backup with these options (the snapshot classes listed once)."""
        snapshots = takes_snapshots(snapshot_volumes, policies)
        info = table.by_group_resource(VSCLASS_RESOURCE) if snapshots else None
        return cls(
            snapshots=snapshots,
            snapshot_volumes=snapshot_volumes is not False,
            policies=policies,
            snapshot_classes=list(source.list(info)) if info is not None else [],
        )

    def add_fetched_block(self, items: Iterable[BlockItem], source: Source, table: ResourceTable) -> int:
        """`add_block` for a plan without a spool: the claims and volumes read from `source`."""
        keys = [i.key for i in items]
        looked_at = [(k, self._read(source, table, k) if _looked_at(k) else None) for k in keys]
        return self.add_block(
            looked_at, lambda name: self._read(source, table, ItemKey("", "v1", PV_RESOURCE, "", name))
        )

    @staticmethod
    def _read(source: Source, table: ResourceTable, key: ItemKey) -> dict | None:
        info = table.by_group_resource(key.group_resource)
        return source.get(info, key.namespace or None, key.name) if info is not None else None

    def finish(self, source: Source, table: ResourceTable, spec: BackupSpec) -> dict:
        """`as_dict` with the CRDs the backup will add at the end (read from `source`)."""
        return self.as_dict(crds_to_add(source, table, spec, self.types, self.crds))

    def add_block(
        self, items: Iterable[tuple[ItemKey, dict | None]], get_volume: Callable[[str], dict | None]
    ) -> int:
        """Count one block's items (key, object; the object is needed for claims and volumes
        only); returns the snapshot objects the block will add. `get_volume(name)` reads a
        PersistentVolume the block does not hold."""
        items = list(items)
        volumes = {k.name: o for k, o in items if k.group_resource == PV_RESOURCE and o is not None}
        added = 0
        for key, obj in items:
            self.types[key.group_resource] += 1
            if key.group_resource == CRD_RESOURCE:
                self.crds.add(key.name)
            if not key.is_claim or not self.snapshots or obj is None:
                continue
            name = (obj.get("spec") or {}).get("volumeName") or ""
            volume = volumes.get(name) if name in volumes else (get_volume(name) if name else None)
            cls, why_not = expected_snapshot(
                obj,
                volume,
                policies=self.policies,
                snapshot_volumes=self.snapshot_volumes,
                snapshot_classes=self.snapshot_classes,
            )
            if cls is None:
                self.not_snapshotted[why_not] += 1
                continue
            self.snapshotted += 1
            self.classes.add((cls.get("metadata") or {}).get("name", ""))
            added += 2
        return added

    @property
    def items(self) -> int:
        return sum(self.types.values())

    def as_dict(self, crds: list[str]) -> dict:
        """The summary's `dry_run`: per-type counts (largest first) and the run-time additions."""
        added = 2 * self.snapshotted + len(self.classes) + len(crds)
        return {
            "types": sorted(([gr, n] for gr, n in self.types.items()), key=lambda t: (-t[1], t[0])),
            "snapshots": self.snapshots,
            "snapshotted": self.snapshotted,
            "added_types": {VS_RESOURCE: self.snapshotted, VSC_RESOURCE: self.snapshotted},
            "not_snapshotted": sorted(
                ([why, n] for why, n in self.not_snapshotted.items()), key=lambda t: -t[1]
            ),
            "snapshot_classes": sorted(self.classes),
            "crds": crds,
            "added": added,
            "total": self.items + added,
        }
