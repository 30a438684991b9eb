"""ItemBlock relations: Velero's ItemBlockActions as pluggable classes (spec part 2 (a)).

A relation says which items must be backed up in the same block as a given item. It keeps
only the few fields it needs from each object (`summarize`), so the engine never holds
300,000 full objects in memory. Add your own by subclassing `Relation` and passing an
instance to `plan_item_blocks(..., relations=[...])`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from .label_selectors import Selector

PODS = "pods"
PVCS = "persistentvolumeclaims"
PVS = "persistentvolumes"
SERVICE_ACCOUNTS = "serviceaccounts"
PRIORITY_CLASSES = "priorityclasses.scheduling.k8s.io"
CLUSTER_ROLE_BINDINGS = "clusterrolebindings.rbac.authorization.k8s.io"
CLUSTER_ROLES = "clusterroles.rbac.authorization.k8s.io"


class Related(NamedTuple):
    """A reference returned by a relation, with why the item joins the block."""

    group_resource: str
    namespace: str
    name: str
    reason: str


class RelationContext(Protocol):
    volume_group_label_key: str

    def objects(
        self, relation: Relation, group_resource: str, namespace: str | None
    ) -> list[tuple[str, Any]]:
        """(name, summary) of every object of a resource in a namespace (None: cluster scope),
        summarized by `relation.watches[group_resource]`. Listed once and cached."""


class Relation:
    """Base class. `applies_to` are group resources; empty namespace/label filters mean all."""

    name: str = ""
    applies_to: tuple[str, ...] = ()
    included_namespaces: tuple[str, ...] = ()
    excluded_namespaces: tuple[str, ...] = ()
    label_selector: Selector | None = None
    # other resources this relation reads, and the summary it keeps of each object
    watches: dict[str, Callable[[dict], Any]] = {}

    def summarize(self, obj: dict) -> Any:
        """The fields `related` needs from an item this relation applies to."""
        return None

    def related(self, namespace: str, name: str, facts: Any, ctx: RelationContext) -> Iterable[Related]:
        raise NotImplementedError


def _claim_names(pod: dict) -> tuple[str, ...]:
    names = []
    for volume in (pod.get("spec") or {}).get("volumes") or ():
        claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
        if claim:
            names.append(claim)
    return tuple(names)


def is_pod_running(pod: dict) -> bool:
    """Velero's kube.IsPodRunning: scheduled, phase Running, not being deleted."""
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    return (
        bool(spec.get("nodeName")) and status.get("phase") == "Running" and not meta.get("deletionTimestamp")
    )


class PodRelation(Relation):
    """velero.io/pod: a pod brings its PriorityClass and every claim it mounts."""

    name = "velero.io/pod"
    applies_to = (PODS,)

    def summarize(self, obj: dict) -> tuple[str, tuple[str, ...]]:
        return ((obj.get("spec") or {}).get("priorityClassName") or "", _claim_names(obj))

    def related(self, namespace, name, facts, ctx) -> Iterator[Related]:
        priority_class, claims = facts
        if priority_class:
            yield Related(PRIORITY_CLASSES, "", priority_class, "priority class")
        for claim in claims:
            yield Related(PVCS, namespace, claim, "mounted volume")


def _pod_mounts(pod: dict) -> tuple[bool, frozenset[str]]:
    return (is_pod_running(pod), frozenset(_claim_names(pod)))


class PVCRelation(Relation):
    """velero.io/pvc: a bound claim brings its volume, the running pods that mount it, and the
    claims that share its volume-group label value. An unbound claim brings nothing."""

    name = "velero.io/pvc"
    applies_to = (PVCS,)
    watches = {PODS: _pod_mounts, PVCS: lambda pvc: (pvc.get("metadata") or {}).get("labels") or {}}

    def summarize(self, obj: dict) -> tuple[bool, str, dict]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return (status.get("phase") == "Bound", spec.get("volumeName") or "", labels)

    def related(self, namespace, name, facts, ctx) -> Iterator[Related]:
        bound, volume, labels = facts
        if not bound or not volume:
            return
        yield Related(PVS, "", volume, "bound volume")
        for pod_name, (running, claims) in ctx.objects(self, PODS, namespace):
            if name in claims and running:
                yield Related(PODS, namespace, pod_name, "mounted by")
        key = ctx.volume_group_label_key
        group = labels.get(key) if key else None
        if group:
            for pvc_name, pvc_labels in ctx.objects(self, PVCS, namespace):
                if pvc_name != name and pvc_labels.get(key) == group:
                    yield Related(PVCS, namespace, pvc_name, "volume group")


def _binding_summary(crb: dict) -> tuple[tuple[tuple[str, str], ...], str]:
    subjects = tuple(
        (s.get("namespace") or "", s.get("name") or "")
        for s in crb.get("subjects") or ()
        if s.get("kind") == "ServiceAccount"
    )
    return (subjects, (crb.get("roleRef") or {}).get("name") or "")


class ServiceAccountRelation(Relation):
    """velero.io/service-account: a service account brings the ClusterRoleBindings naming it
    and their ClusterRoles (bindings first, then roles, each sorted by name)."""

    name = "velero.io/service-account"
    applies_to = (SERVICE_ACCOUNTS,)
    watches = {CLUSTER_ROLE_BINDINGS: _binding_summary}

    def related(self, namespace, name, facts, ctx) -> Iterator[Related]:
        bindings, roles = set(), set()
        for crb_name, (subjects, role) in ctx.objects(self, CLUSTER_ROLE_BINDINGS, None):
            if (namespace, name) in subjects:
                bindings.add(crb_name)
                if role:
                    roles.add(role)
        for crb_name in sorted(bindings):
            yield Related(CLUSTER_ROLE_BINDINGS, "", crb_name, "binding subject")
        for role in sorted(roles):
            yield Related(CLUSTER_ROLES, "", role, "bound role")


def default_relations() -> list[Relation]:
    """Velero's built-in ItemBlockActions, in its registration order."""
    return [PVCRelation(), PodRelation(), ServiceAccountRelation()]
