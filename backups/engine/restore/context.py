"""Everything restoring an item needs besides the item: one `RestoreContext` per restore per process.

Built from the spec, the indexed backup and the target; what it derives from the backup (which PVs
are re-provisioned, the service accounts of each namespace) depends on the backup alone, so every
worker of one restore derives the same. Thread-safe: lanes share one context.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from backups.engine.log import BackupLog
from backups.engine.planning.resources import ResourceInfo, ResourceTable
from backups.engine.source import SourceError

from . import actions
from .contents import BackupContents
from .hooks import RestoreResourceHook, parse_restore_hooks
from .modifiers import ModifierRules, parse_resource_modifiers
from .results import CREATED, RestoreResults
from .spec import RestoreSpec
from .target import RestoreTarget

NAMESPACES = ResourceInfo("", "v1", "namespaces", "Namespace", False)
SNAPSHOT_CLASSES = ResourceInfo(
    "snapshot.storage.k8s.io", "v1", "volumesnapshotclasses", "VolumeSnapshotClass", False
)


@dataclass
class RestoreContext:
    """A restore's shared state (see the module docstring).

    `restore_name` labels what is created (`velero.io/restore-name`) and names restored snapshots;
    `contents` is the indexed backup; `target` the cluster; `results`/`log` collect what happened.
    Build one per process (a worker reopens the contents with `BackupContents.load`).
    """

    restore_name: str
    spec: RestoreSpec
    contents: BackupContents
    target: RestoreTarget
    results: RestoreResults = field(default_factory=RestoreResults)
    log: BackupLog = field(default_factory=BackupLog)
    clock: Callable[[], float] = time.time
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _ns_locks: dict[str, threading.Lock] = field(default_factory=dict, repr=False)
    _namespaces_ready: set[str] = field(default_factory=set, repr=False)
    _table: ResourceTable | None = field(default=None, repr=False)
    _pv_decisions: dict[str, tuple[str, str]] | None = field(default=None, repr=False)
    _accounts: dict[str, set[str]] | None = field(default=None, repr=False)
    _classes: dict[str, str] | None = field(default=None, repr=False)
    resource_hooks: list[RestoreResourceHook] = field(default_factory=list, repr=False)
    modifiers: ModifierRules | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.resource_hooks = parse_restore_hooks(self.spec.hooks or ())
        if self.spec.resource_modifiers:
            self.modifiers = parse_resource_modifiers(self.spec.resource_modifiers)

    # ---------------------------------------------------------------- discovery

    def table(self) -> ResourceTable:
        """The target's discovery (refreshed by `refresh_table` after CRDs are established)."""
        with self._lock:
            if self._table is None:
                self._table = self.target.resources()
            return self._table

    def refresh_table(self) -> ResourceTable:
        table = self.target.refresh()
        with self._lock:
            self._table = table
        return table

    def resource_for(self, group: str, resource: str, version: str, kind: str = "") -> ResourceInfo | None:
        """The target's resource for a backed-up item: the target's preferred version of that
        `resource.group` (the API server converts), or None when the target does not serve it."""
        gr = f"{resource}.{group}" if group else resource
        return self.table().by_group_resource(gr)

    @property
    def restore_labels(self) -> dict[str, str]:
        return {
            actions.BACKUP_NAME_LABEL: actions.valid_label_value(self.spec.backup_name),
            actions.RESTORE_NAME_LABEL: actions.valid_label_value(self.restore_name),
        }

    # ------------------------------------------------------------ backup-derived

    def pv_decision(self, name: str) -> tuple[str, str]:
        """(PV_RESTORE | PV_PROVISION, why) for a backed-up PersistentVolume."""
        with self._lock:
            if self._pv_decisions is None:
                self._pv_decisions = self._decide_pvs()
            return self._pv_decisions.get(name, (actions.PV_RESTORE, "restored as-is"))

    def provisioned_volumes(self) -> set[str]:
        self.pv_decision("")
        assert self._pv_decisions is not None
        return {n for n, (d, _why) in self._pv_decisions.items() if d == actions.PV_PROVISION}

    def _decide_pvs(self) -> dict[str, tuple[str, str]]:
        infos = {i.get("pvName"): i for i in self.contents.volume_infos if i.get("pvName")}
        snapshotted: set[tuple[str, str]] = set()
        for _entry, claim in self.contents.iter_objects(self.contents.entries("persistentvolumeclaims")):
            meta = claim.get("metadata") or {}
            if (meta.get("annotations") or {}).get(actions.VOLUME_SNAPSHOT_ANNOTATION):
                snapshotted.add((meta.get("namespace") or "", meta.get("name") or ""))
        decisions = {}
        for entry, pv in self.contents.iter_objects(self.contents.entries("persistentvolumes")):
            ref = (pv.get("spec") or {}).get("claimRef") or {}
            claimed = (ref.get("namespace") or "", ref.get("name") or "") in snapshotted
            decisions[entry.name] = actions.pv_decision(pv, infos.get(entry.name), claimed)
        return decisions

    def service_accounts(self, source_namespace: str) -> set[str]:
        """Names of the backed-up service accounts of a namespace (for token secrets)."""
        with self._lock:
            if self._accounts is None:
                self._accounts = {}
                for entry in self.contents.entries("serviceaccounts"):
                    self._accounts.setdefault(entry.namespace, set()).add(entry.name)
            return self._accounts.get(source_namespace, set())

    def snapshot_class_for(self, driver: str) -> str | None:
        """The target's first VolumeSnapshotClass of a CSI driver (the VSC action's choice)."""
        with self._lock:
            if self._classes is None:
                self._classes = {}
                info = self.table().by_group_resource(SNAPSHOT_CLASSES.group_resource) or SNAPSHOT_CLASSES
                try:
                    for cls in self.target.list(info):
                        self._classes.setdefault(cls.get("driver") or "", cls["metadata"]["name"])
                except SourceError as exc:
                    self.log.warning(f"Failed to list VolumeSnapshotClasses: {exc}")
            return self._classes.get(driver)

    # ---------------------------------------------------------------- namespaces

    def ensure_namespace(self, source: str, target: str, *, dry_run: bool = False) -> bool:
        """Make sure `target` exists (Velero's EnsureNamespaceExistsAndIsReady), created from the
        backed-up namespace `source` (its labels, annotations and spec) when there is one. Returns
        True when this call created it. Raises SourceError when it cannot be created."""
        if target in self._namespaces_ready:
            return False
        with self._lock:
            lock = self._ns_locks.setdefault(target, threading.Lock())
        with lock:
            if target in self._namespaces_ready:
                return False
            existing = self.target.get(NAMESPACES, None, target)
            created = False
            if existing is None and not dry_run:
                try:
                    self.target.create(NAMESPACES, None, self.namespace_object(source, target))
                except SourceError as exc:
                    if exc.status != 409:  # 409: another worker of this restore was first
                        raise
                else:
                    self.results.item("v1", "Namespace", "", target, CREATED)
                    self.log.info(f"created namespace {target}", resource="namespaces", name=target)
                    created = True
            if existing is not None and (existing.get("status") or {}).get("phase") == "Terminating":
                raise SourceError(
                    f"namespace {target} is terminating: cannot restore into it", resource="namespaces"
                )
            if not dry_run:
                self._namespaces_ready.add(target)
            return created

    def namespace_object(self, source: str, target: str) -> dict:
        """getNamespace: the backed-up namespace's labels, annotations and spec under the target
        name, or a blank namespace when the backup has none."""
        entry = next((e for e in self.contents.entries("namespaces") if e.name == source), None)
        if entry is None:
            return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": target}}
        backed_up = self.contents.read(entry)
        meta = backed_up.get("metadata") or {}
        out: dict = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": target}}
        if meta.get("labels"):
            out["metadata"]["labels"] = dict(meta["labels"])
        if meta.get("annotations"):
            out["metadata"]["annotations"] = dict(meta["annotations"])
        if backed_up.get("spec"):
            out["spec"] = backed_up["spec"]
        return out
