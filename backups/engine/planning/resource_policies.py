"""Velero's resource policies (`internal/resourcepolicies`, `site/.../resource-filtering.md`).

A resource policy document (Velero keeps it in a ConfigMap named by `spec.resourcePolicy`; Veloweb
keeps the YAML with the backup) has `version: v1`, `volumePolicies` (conditions on a volume and the
action to take: the first policy whose conditions all hold wins) and, since Velero 1.14,
`includeExcludePolicy` (more scoped resource lists, new-style filters only).

Parsing is strict like Velero's (unknown keys are refused) and every problem names its line and
field: `resource policy line 7: volumePolicies[0].conditions.capacity: ...`.

Actions: `snapshot` takes the CSI snapshot, `skip` writes the claim without one; `fs-backup` and
`custom` (Velero's file-system backup and external plugins, which Veloweb does not have) also
leave the volume without a snapshot, recorded as skipped with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import yaml

VERSION = "v1"
SKIP, SNAPSHOT, FS_BACKUP, CUSTOM = "skip", "snapshot", "fs-backup", "custom"
ACTIONS = (SKIP, SNAPSHOT, FS_BACKUP, CUSTOM)
# Velero's SupportedVolume names (volume_types_conditions.go)
VOLUME_TYPES = (
    "awsAzureDisk awsElasticBlockStore azureDisk azureFile cinder cephfs configMap csi downwardAPI "
    "emptyDir ephemeral fc flocker flexVolume gitRepo glusterfs gcePersistentDisk hostPath iscsi local "
    "nfs photonPersistentDisk portworxVolume projected quobyte rbd scaleIO secret storageOS vsphereVolume"
).split()
# the PersistentVolume source field of each type, in Velero's getVolumeTypeFromPV order
_PV_SOURCES = (
    "awsElasticBlockStore azureDisk azureFile cephfs cinder csi fc flocker flexVolume gcePersistentDisk "
    "glusterfs hostPath iscsi local nfs photonPersistentDisk portworxVolume quobyte rbd scaleIO storageos "
    "vsphereVolume"
).split()
PVC_PHASES = ("Pending", "Bound", "Lost")
SCOPED_LISTS = (
    "includedClusterScopedResources",
    "excludedClusterScopedResources",
    "includedNamespaceScopedResources",
    "excludedNamespaceScopedResources",
)
_QUANTITY = re.compile(
    r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$"
)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


class PolicyError(ValueError):
    """A resource policy Velero would refuse; the message names the line and the field."""


def quantity(text: str) -> Decimal:
    """A Kubernetes quantity (`10Gi`, `500M`, `1.5`, `1e3`) as an exact number; ValueError if not one."""
    match = _QUANTITY.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a quantity (e.g. 10Gi, 500M)")
    number, suffix = Decimal(match.group(1)), match.group(2) or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number.scaleb(_DECIMAL[suffix])
    return number.scaleb(int(suffix[1:])) if suffix else number


@dataclass(frozen=True)
class VolumeFacts:
    """What volume conditions look at, from a claim's PersistentVolume and the claim itself
    (Velero's structuredVolume: parsePV, then parsePVC)."""

    capacity: Decimal = Decimal(0)
    storage_class: str = ""
    nfs: tuple[str, str] | None = None  # (server, path)
    csi: tuple[str, dict] | None = None  # (driver, volumeAttributes)
    volume_type: str = ""
    pvc_labels: dict | None = None
    pvc_phase: str = ""

    @classmethod
    def of(cls, pv: dict | None, pvc: dict | None) -> VolumeFacts:
        facts: dict = {}
        if pv is not None:
            spec = pv.get("spec") or {}
            try:
                facts["capacity"] = quantity(str((spec.get("capacity") or {}).get("storage") or "0"))
            except (ValueError, InvalidOperation):
                facts["capacity"] = Decimal(0)
            facts["storage_class"] = spec.get("storageClassName") or ""
            nfs, csi = spec.get("nfs"), spec.get("csi")
            if nfs is not None:
                facts["nfs"] = (nfs.get("server") or "", nfs.get("path") or "")
            if csi is not None:
                facts["csi"] = (csi.get("driver") or "", csi.get("volumeAttributes") or {})
            source = next((s for s in _PV_SOURCES if spec.get(s) is not None), "")
            facts["volume_type"] = "storageOS" if source == "storageos" else source
        if pvc is not None:
            facts["pvc_labels"] = ((pvc.get("metadata") or {}).get("labels")) or None
            facts["pvc_phase"] = (pvc.get("status") or {}).get("phase") or ""
        return cls(**facts)


@dataclass(frozen=True)
class VolumeConditions:
    """One policy's conditions; every one must hold (Velero's volPolicy.conditions)."""

    capacity: tuple[Decimal, Decimal] = (Decimal(0), Decimal(0))  # (lower, upper); 0 = unbounded
    storage_classes: tuple[str, ...] = ()
    nfs: tuple[str, str] | None = None
    csi: tuple[str, dict] | None = None
    volume_types: tuple[str, ...] = ()
    pvc_labels: dict | None = None
    pvc_phases: tuple[str, ...] = ()

    def matches(self, v: VolumeFacts) -> bool:
        return (
            self._capacity(v.capacity)
            and (
                not self.storage_classes or bool(v.storage_class) and v.storage_class in self.storage_classes
            )
            and self._nfs(v.nfs)
            and self._csi(v.csi)
            and (not self.volume_types or v.volume_type in self.volume_types)
            and self._labels(v.pvc_labels)
            and (not self.pvc_phases or bool(v.pvc_phase) and v.pvc_phase in self.pvc_phases)
        )

    def _labels(self, labels: dict | None) -> bool:
        if not self.pvc_labels:
            return True
        return labels is not None and all(labels.get(k) == value for k, value in self.pvc_labels.items())

    def _capacity(self, size: Decimal) -> bool:
        lower, upper = self.capacity
        if lower == 0 and upper >= size:
            return True
        if upper == 0 and lower <= size:
            return True
        return lower != 0 and upper != 0 and lower <= size <= upper

    def _nfs(self, nfs: tuple[str, str] | None) -> bool:
        if self.nfs is None:
            return True
        if nfs is None:
            return False
        server, path = self.nfs
        return (not server or server == nfs[0]) and (not path or path == nfs[1])

    def _csi(self, csi: tuple[str, dict] | None) -> bool:
        if self.csi is None:
            return True
        driver, attributes = self.csi
        if not driver:
            return csi is not None
        if csi is None or csi[0] != driver:
            return False
        return all(csi[1].get(k) == value for k, value in attributes.items())


@dataclass(frozen=True)
class VolumePolicy:
    conditions: VolumeConditions
    action: str
    parameters: dict = field(default_factory=dict)


@dataclass
class ResourcePolicies:
    """A parsed, valid resource policy document."""

    volume_policies: list[VolumePolicy] = field(default_factory=list)
    included_cluster_scoped_resources: list[str] = field(default_factory=list)
    excluded_cluster_scoped_resources: list[str] = field(default_factory=list)
    included_namespace_scoped_resources: list[str] = field(default_factory=list)
    excluded_namespace_scoped_resources: list[str] = field(default_factory=list)
    has_include_exclude_policy: bool = False
    warnings: list[str] = field(default_factory=list)  # accepted, but matches nothing (a typo?)

    def action_for(self, pv: dict | None, pvc: dict | None) -> str | None:
        """The action of the first volume policy whose conditions all hold, or None."""
        if not self.volume_policies:
            return None
        facts = VolumeFacts.of(pv, pvc)
        return next((p.action for p in self.volume_policies if p.conditions.matches(facts)), None)


def parse_resource_policies(text: str) -> ResourcePolicies:
    """Parse and validate a resource policy document. Raises PolicyError naming line and field."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise PolicyError(f"resource policy {where}not valid YAML: {problem}") from None
    if root is None:
        raise PolicyError("resource policy: empty document; expected at least 'version: v1'")
    doc = _mapping(root, "", ("version", "volumePolicies", "includeExcludePolicy"))
    version = doc.get("version")
    if version is None or _scalar(version, "version") != VERSION:
        got = "no version" if version is None else f"version {_scalar(version, 'version')!r}"
        node = version if version is not None else root
        raise _error(node, "version", f"{got} is not supported: the supported version is {VERSION!r}")
    policies = ResourcePolicies()
    if "volumePolicies" in doc:
        for i, node in enumerate(_sequence(doc["volumePolicies"], "volumePolicies")):
            policies.volume_policies.append(_volume_policy(node, f"volumePolicies[{i}]", policies.warnings))
    if "includeExcludePolicy" in doc:
        policies.has_include_exclude_policy = True
        _include_exclude(doc["includeExcludePolicy"], policies)
    return policies


def _error(node, path: str, message: str) -> PolicyError:
    where = f"line {node.start_mark.line + 1}: " if node is not None else ""
    return PolicyError(f"resource policy {where}{path + ': ' if path else ''}{message}")


def _mapping(node, path: str, known: tuple[str, ...]) -> dict:
    if not isinstance(node, yaml.MappingNode):
        raise _error(node, path, "expected a mapping")
    found: dict = {}
    for key_node, value in node.value:
        key = key_node.value
        if key not in known:
            raise _error(
                key_node,
                f"{path}.{key}" if path else key,
                f"unknown field; expected one of {', '.join(known)}",
            )
        if key in found:
            raise _error(key_node, f"{path}.{key}" if path else key, "given twice")
        found[key] = value
    return found


def _sequence(node, path: str) -> list:
    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
        return []
    if not isinstance(node, yaml.SequenceNode):
        raise _error(node, path, "expected a list")
    return list(node.value)


def _scalar(node, path: str) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise _error(node, path, "expected a single value")
    return node.value


def _strings(node, path: str) -> list[str]:
    return [_scalar(item, f"{path}[{i}]") for i, item in enumerate(_sequence(node, path))]


def _string_map(node, path: str) -> dict[str, str]:
    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
        return {}
    if not isinstance(node, yaml.MappingNode):
        raise _error(node, path, "must be a map of string to string")
    return {k.value: _scalar(v, f"{path}.{k.value}") for k, v in node.value}


def _volume_policy(node, path: str, warnings: list[str]) -> VolumePolicy:
    doc = _mapping(node, path, ("conditions", "action"))
    if "action" not in doc:
        raise _error(node, path, "a volume policy needs an action")
    action = _mapping(doc["action"], f"{path}.action", ("type", "parameters"))
    kind = _scalar(action["type"], f"{path}.action.type") if "type" in action else ""
    if kind not in ACTIONS:
        where = action.get("type", doc["action"])
        raise _error(
            where, f"{path}.action.type", f"invalid action type {kind!r}; expected {', '.join(ACTIONS)}"
        )
    parameters: dict = {}
    if "parameters" in action:
        parameters = yaml.load(yaml.serialize(action["parameters"]), Loader=yaml.SafeLoader) or {}
        if not isinstance(parameters, dict):
            raise _error(action["parameters"], f"{path}.action.parameters", "expected a mapping")
    conditions = VolumeConditions()
    if "conditions" in doc and not (
        isinstance(doc["conditions"], yaml.ScalarNode) and doc["conditions"].tag == "tag:yaml.org,2002:null"
    ):
        conditions = _conditions(doc["conditions"], f"{path}.conditions", warnings)
    return VolumePolicy(conditions, kind, parameters)


def _conditions(node, path: str, warnings: list[str]) -> VolumeConditions:
    known = ("capacity", "storageClass", "nfs", "csi", "volumeTypes", "pvcLabels", "pvcPhase")
    doc = _mapping(node, path, known)
    values: dict = {}
    if "capacity" in doc:
        values["capacity"] = _capacity(doc["capacity"], f"{path}.capacity")
    if "storageClass" in doc:
        values["storage_classes"] = tuple(_strings(doc["storageClass"], f"{path}.storageClass"))
    if "nfs" in doc:
        nfs = _mapping_or_empty(doc["nfs"], f"{path}.nfs", ("server", "path"))
        values["nfs"] = (nfs.get("server", ""), nfs.get("path", ""))
    if "csi" in doc:
        csi_node = doc["csi"]
        csi = _mapping_or_empty(
            csi_node, f"{path}.csi", ("driver", "volumeAttributes"), raw=("volumeAttributes",)
        )
        attributes = (
            _string_map(csi["volumeAttributes"], f"{path}.csi.volumeAttributes")
            if "volumeAttributes" in csi
            else None
        )
        if not csi.get("driver") and attributes is not None:
            raise _error(
                csi_node, f"{path}.csi", "csi driver should not be empty when filtering by volume attributes"
            )
        values["csi"] = (csi.get("driver", ""), attributes or {})
    if "volumeTypes" in doc:
        types = tuple(_strings(doc["volumeTypes"], f"{path}.volumeTypes"))
        unknown = [t for t in types if t not in VOLUME_TYPES]
        if unknown:
            warnings.append(
                f"resource policy line {doc['volumeTypes'].start_mark.line + 1}: {path}.volumeTypes: "
                f"{', '.join(unknown)} is not a volume type Velero knows, so it matches no volume"
            )
        values["volume_types"] = types
    if "pvcLabels" in doc:
        values["pvc_labels"] = _string_map(doc["pvcLabels"], f"{path}.pvcLabels")
    if "pvcPhase" in doc:
        phases = tuple(_strings(doc["pvcPhase"], f"{path}.pvcPhase"))
        unknown = [p for p in phases if p not in PVC_PHASES]
        if unknown:
            warnings.append(
                f"resource policy line {doc['pvcPhase'].start_mark.line + 1}: {path}.pvcPhase: "
                f"{', '.join(unknown)} is not a claim phase ({', '.join(PVC_PHASES)}), so it matches no claim"
            )
        values["pvc_phases"] = phases
    return VolumeConditions(**values)


def _mapping_or_empty(node, path: str, known: tuple[str, ...], raw: tuple[str, ...] = ()) -> dict:
    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
        return {}
    doc = _mapping(node, path, known)
    return {k: (v if k in raw else _scalar(v, f"{path}.{k}")) for k, v in doc.items()}


def _capacity(node, path: str) -> tuple[Decimal, Decimal]:
    """Velero's parseCapacity: `LOWER,UPPER`, either side empty for 0 (unbounded)."""
    text = _scalar(node, path)
    parts = (text or ",").split(",")
    if len(parts) != 2:
        raise _error(
            node, path, f"wrong format {text!r}: expected 'LOWER,UPPER' such as '10Gi,100Gi' or '0,10Gi'"
        )
    bounds = []
    for part in parts:
        try:
            bounds.append(quantity(part) if part.strip() else Decimal(0))
        except (ValueError, InvalidOperation) as error:
            raise _error(node, path, f"wrong format {text!r}: {error}") from None
    lower, upper = bounds
    if not (upper >= lower or (lower != 0 and upper == 0)):
        raise _error(node, path, f"illegal values {text!r}: the lower bound is above the upper one")
    return lower, upper


def _include_exclude(node, policies: ResourcePolicies) -> None:
    path = "includeExcludePolicy"
    doc = _mapping(node, path, SCOPED_LISTS)
    lists = {key: _strings(doc[key], f"{path}.{key}") if key in doc else [] for key in SCOPED_LISTS}
    for scope in ("ClusterScoped", "NamespaceScoped"):
        includes, excludes = lists[f"included{scope}Resources"], lists[f"excluded{scope}Resources"]
        if "*" in includes or "*" in excludes:
            key = f"included{scope}Resources" if "*" in includes else f"excluded{scope}Resources"
            raise _error(
                doc[key], f"{path}.{key}", "cannot use '*' in includes or excludes filters in the policy"
            )
        both = sorted(set(includes) & set(excludes))
        if both:
            key = f"excluded{scope}Resources"
            raise _error(
                doc[key],
                f"{path}.{key}",
                f"excludes list cannot contain an item in the includes list: {both[0]}",
            )
    policies.included_cluster_scoped_resources = lists["includedClusterScopedResources"]
    policies.excluded_cluster_scoped_resources = lists["excludedClusterScopedResources"]
    policies.included_namespace_scoped_resources = lists["includedNamespaceScopedResources"]
    policies.excluded_namespace_scoped_resources = lists["excludedNamespaceScopedResources"]
