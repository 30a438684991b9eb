"""The shapes of a restore plan: one `PlannedItem` per backed-up object, grouped in priority tiers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

CREATE, SKIP, CONFLICT, UPDATE, EXCLUDED = "create", "skip", "conflict", "update", "excluded"
ACTIONS = (CREATE, SKIP, CONFLICT, UPDATE, EXCLUDED)


class FieldDiff(NamedTuple):
    """One differing field: a dotted path (`spec.replicas`, `data.key`, `spec.ports[0].port`), the
    value the restore would write and the value in the cluster (None when absent on that side)."""

    path: str
    backup: object
    cluster: object

    def as_dict(self) -> dict:
        return {"path": self.path, "backup": self.backup, "cluster": self.cluster}


class PlannedItem(NamedTuple):
    """What happens to one backed-up object.

    `namespace` is where it is restored (after the namespace mapping, "" for cluster scope);
    `source_namespace` where it was backed up. `action` is one of ACTIONS: without a dry run every
    included item is `create` (what really happens is decided when it is restored, see
    `ItemOutcome`); a dry run reads the target and says `skip` (exists, identical apart from
    Velero's changes), `conflict` (exists and differs, policy none) or `update` (exists and differs,
    policy update), with `diff`. `reason` says why (the filter that excluded it, "exists,
    identical", ...). `offset`/`length` locate the object in the contents' spool.
    """

    group: str
    version: str
    resource: str
    namespace: str
    name: str
    action: str
    reason: str = ""
    diff: tuple[FieldDiff, ...] = ()
    source_namespace: str = ""
    kind: str = ""
    offset: int = -1
    length: int = 0

    @property
    def group_resource(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def as_dict(self, *, diff: bool = False) -> dict:
        """The dry run's JSON shape (the CLI's `--output json` items), the diff when asked."""
        out: dict[str, object] = {
            "group": self.group,
            "version": self.version,
            "resource": self.resource,
            "namespace": self.namespace,
            "name": self.name,
            "action": self.action,
            "reason": self.reason,
        }
        if diff:
            out["diff"] = [d.as_dict() for d in self.diff]
        return out

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.group_resource} {where}"


@dataclass
class Tier:
    """Items restored together (in parallel); the next tier starts when this one is done.

    `name` is the priority entry (`pods`, `persistentvolumeclaims`) or `*` for everything between
    the high and the low priorities. `waits_for_crds`: the tier creates CRDs, which must be
    established (and discovery refreshed) before the next tier.
    """

    name: str
    items: list[PlannedItem] = field(default_factory=list)

    @property
    def waits_for_crds(self) -> bool:
        return any(i.resource == "customresourcedefinitions" and i.action != EXCLUDED for i in self.items)

    def to_restore(self) -> list[PlannedItem]:
        return [i for i in self.items if i.action != EXCLUDED]


@dataclass
class RestorePlan:
    """Every backed-up object in priority tiers (`tiers` in restore order), as planned."""

    tiers: list[Tier]
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)

    def items(self) -> Iterator[PlannedItem]:
        for tier in self.tiers:
            yield from tier.items

    @property
    def item_count(self) -> int:
        return sum(len(t.items) for t in self.tiers)

    @property
    def to_restore_count(self) -> int:
        return sum(1 for i in self.items() if i.action != EXCLUDED)

    def counts(self) -> dict[str, dict]:
        """`{"namespaces": {ns: {action: n}}, "resources": {group_resource: {action: n}},
        "actions": {action: n}}` (cluster-scoped items under the namespace "")."""
        by_ns: dict[str, Counter] = {}
        by_resource: dict[str, Counter] = {}
        actions: Counter = Counter()
        for item in self.items():
            by_ns.setdefault(item.namespace, Counter())[item.action] += 1
            by_resource.setdefault(item.group_resource, Counter())[item.action] += 1
            actions[item.action] += 1
        return {
            "namespaces": {k: dict(v) for k, v in sorted(by_ns.items())},
            "resources": {k: dict(v) for k, v in sorted(by_resource.items())},
            "actions": dict(actions),
        }

    def as_json(self, *, diff: bool = False) -> dict:
        """`{"items": [...]}` as `restore create --dry-run --output json` prints it."""
        return {"items": [i.as_dict(diff=diff) for i in self.items()]}
