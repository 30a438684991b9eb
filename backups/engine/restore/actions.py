"""What Velero's restore does to one item before creating it (pkg/restore/restore.go restoreItem and
the built-in restore item actions in pkg/restore/actions/), as pure functions on dicts.

- `reset_metadata`: uid, resourceVersion, generation, creationTimestamp, deletionTimestamp,
  deletionGracePeriodSeconds, ownerReferences, selfLink and generateName removed (Velero's
  resetMetadata; managedFields are kept and patched back by Velero, so they are kept here);
  `status` dropped (restored afterwards only for the status-included resources).
- The labels `velero.io/backup-name` and `velero.io/restore-name` (GetValidName: names over 63
  characters cut to 57 plus 6 hex digits of their SHA-256).
- Pods: `spec.nodeName` and `spec.priority` dropped, `<serviceaccount>-token-*` volumes and mounts
  removed (PodAction). Pods are restored even when a controller owns them: Velero has no such
  check (ownerReferences are dropped with the metadata, so a ReplicaSet adopts the pod again).
  Completed pods (Succeeded/Failed) and completed jobs are not restored; nor are mirror pods.
- Services: `clusterIP`/`clusterIPs` cleared unless headless (`None`); node ports cleared unless
  `--preserve-nodeports` or set explicitly (in the last-applied-configuration annotation, else in
  a managedFields entry) (ServiceAction).
- Jobs: the `controller-uid` labels removed from the selector and the template (JobAction).
- Secrets: service account token secrets of a service account in the backup are skipped; other
  token secrets lose `kubernetes.io/service-account.uid`, `token` and `ca.crt` (SecretAction).
- ServiceAccounts: the first `<name>-token-*` secret reference removed (ServiceAccountAction).
- (Cluster)RoleBindings: subjects' namespaces mapped (RoleBindingAction).
- Claims: binding and provisioner annotations removed (PVCAction); `volumeName` dropped for a
  volume that is re-provisioned; restored from their CSI VolumeSnapshot (csi pvcRestoreItemAction).
- PersistentVolumes: restored as-is (binding reset, claimRef namespace mapped) unless re-provisioned
  (a CSI snapshot, a pod volume backup, or reclaim policy Delete), as restoreItem decides.
- VolumeSnapshots/VolumeSnapshotContents: renamed to sha256(<restore>/<snapshot>) and bound to each
  other by the snapshot handle, deletion policy Retain (csi volumesnapshot(content)_action).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping

BACKUP_NAME_LABEL = "velero.io/backup-name"
RESTORE_NAME_LABEL = "velero.io/restore-name"
VOLUME_SNAPSHOT_ANNOTATION = "velero.io/volume-snapshot-name"
DATA_UPLOAD_ANNOTATION = "velero.io/data-upload-name"
VSC_DELETION_POLICY_ANNOTATION = "velero.io/csi-vsc-deletion-policy"
RESTORE_STATUS_ANNOTATION = "velero.io/restore-status"
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
SNAPSHOT_GROUP = "snapshot.storage.k8s.io"
_RESET_METADATA = (
    "generateName",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "ownerReferences",
)
_CLAIM_ANNOTATIONS = (
    "pv.kubernetes.io/bind-completed",
    "pv.kubernetes.io/bound-by-controller",
    "volume.kubernetes.io/storage-provisioner",
    "volume.beta.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/selected-node",
    VOLUME_SNAPSHOT_ANNOTATION,
    DATA_UPLOAD_ANNOTATION,
)
_BINDING_ANNOTATIONS = ("pv.kubernetes.io/bind-completed", "pv.kubernetes.io/bound-by-controller")
_JOB_UID_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")

# what restoreItem decides for a PersistentVolume
PV_RESTORE, PV_PROVISION = "restore", "provision"


def valid_label_value(name: str) -> str:
    """Velero's label.GetValidName."""
    if len(name) <= 63:
        return name
    return name[:57] + hashlib.sha256(name.encode()).hexdigest()[:6]


def snapshot_restore_name(restore: str, snapshot: str) -> str:
    """Velero's GenerateSha256FromRestoreUIDAndVsName; Veloweb uses the restore's name where Velero
    uses its UID (restore names are unique per location)."""
    return hashlib.sha256(f"{restore}/{snapshot}".encode()).hexdigest()


def reset_metadata(obj: dict) -> dict:
    """A copy without Velero's reset metadata fields and without status."""
    out = {k: v for k, v in obj.items() if k != "status"}
    meta = dict(out.get("metadata") or {})
    for key in _RESET_METADATA:
        meta.pop(key, None)
    out["metadata"] = meta
    return out


def add_restore_labels(obj: dict, restore: str, backup: str) -> None:
    meta = obj.setdefault("metadata", {})
    labels = dict(meta.get("labels") or {})
    labels[BACKUP_NAME_LABEL] = valid_label_value(backup)
    labels[RESTORE_NAME_LABEL] = valid_label_value(restore)
    meta["labels"] = labels


def completed_reason(obj: Mapping, group_resource: str) -> str | None:
    """Why Velero does not restore a completed pod or job (isCompleted), or None."""
    status = obj.get("status") or {}
    if group_resource == "pods" and status.get("phase") in ("Succeeded", "Failed"):
        return f"completed pod (phase {status['phase']}): Velero does not restore it"
    if group_resource == "jobs.batch" and status.get("completionTime"):
        return "completed job: Velero does not restore it"
    return None


def is_mirror_pod(obj: Mapping) -> bool:
    return bool(((obj.get("metadata") or {}).get("annotations") or {}).get(MIRROR_POD_ANNOTATION))


def should_restore_status(
    obj: Mapping, group_resource: str, includes: list[str], excludes: list[str]
) -> bool:
    """determineRestoreStatus: the spec's status includes/excludes, overridden by the object's
    `velero.io/restore-status` annotation ("true"/"false")."""
    decision = False
    if includes or excludes:
        excluded = any(_gr_match(p, group_resource) for p in excludes)
        included = not includes or any(p == "*" or _gr_match(p, group_resource) for p in includes)
        decision = included and not excluded
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(RESTORE_STATUS_ANNOTATION)
    if value is not None:
        normalized = str(value).strip().lower()
        if normalized in ("true", "false"):
            decision = normalized == "true"
    return decision


def _gr_match(pattern: str, group_resource: str) -> bool:
    from fnmatch import fnmatchcase

    return pattern == group_resource or fnmatchcase(group_resource, pattern)


# ------------------------------------------------------------------------------------- pods


def pod_action(pod: dict) -> dict:
    out = copy.deepcopy(pod)
    spec = out.setdefault("spec", {})
    spec.pop("nodeName", None)
    spec.pop("priority", None)
    prefix = f"{spec.get('serviceAccountName') or ''}-token-"
    if spec.get("volumes") is not None:
        kept = [v for v in spec["volumes"] if not str(v.get("name", "")).startswith(prefix)]
        spec["volumes"] = kept
    for key in ("containers", "initContainers"):
        for container in spec.get(key) or []:
            if container.get("volumeMounts") is not None:
                container["volumeMounts"] = [
                    m for m in container["volumeMounts"] if not str(m.get("name", "")).startswith(prefix)
                ]
    return out


# ---------------------------------------------------------------------------------- services


def _explicit_node_ports(service: Mapping) -> tuple[set[str], set[int], set[str]]:
    """Node ports set explicitly: (port names, unnamed node port numbers) from the
    last-applied-configuration annotation, or the managedFields port keys (`k:{"port":80,...}`)."""
    annotations = (service.get("metadata") or {}).get("annotations") or {}
    if LAST_APPLIED in annotations:
        named: set[str] = set()
        unnamed: set[int] = set()
        try:
            applied = json.loads(annotations[LAST_APPLIED])
        except ValueError:
            applied = {}
        for port in ((applied or {}).get("spec") or {}).get("ports") or []:
            if not isinstance(port, Mapping) or "nodePort" not in port:
                continue
            try:
                number = int(port["nodePort"])
            except (TypeError, ValueError):
                continue
            if number > 0:
                if "name" in port:
                    named.add(str(port["name"]))
                else:
                    unnamed.add(number)
        return named, unnamed, set()
    keys: set[str] = set()
    for entry in (service.get("metadata") or {}).get("managedFields") or []:
        ports = ((entry.get("fieldsV1") or {}).get("f:spec") or {}).get("f:ports") or {}
        for key, port in ports.items():
            if isinstance(port, Mapping) and "f:nodePort" in port:
                keys.add(key)
    return set(), set(), keys


def service_action(service: dict, preserve_node_ports: bool | None) -> dict:
    out = copy.deepcopy(service)
    spec = out.setdefault("spec", {})
    if spec.get("clusterIP") != "None":
        spec.pop("clusterIP", None)
        spec.pop("clusterIPs", None)
    if preserve_node_ports is True or spec.get("type") == "ExternalName":
        return out
    named, unnamed, keys = _explicit_node_ports(service)
    from_annotation = LAST_APPLIED in ((service.get("metadata") or {}).get("annotations") or {})
    for port in spec.get("ports") or []:
        if "nodePort" not in port:
            continue
        if from_annotation:
            keep = port["name"] in named if port.get("name") else int(port.get("nodePort") or 0) in unnamed
        else:
            key = f'k:{{"port":{port.get("port")},"protocol":"{port.get("protocol", "TCP")}"}}'
            keep = key in keys
        if not keep:
            del port["nodePort"]
    if not _health_check_explicit(service):
        spec.pop("healthCheckNodePort", None)
    return out


def _health_check_explicit(service: Mapping) -> bool:
    """deleteHealthCheckNodePort keeps it when last-applied-configuration or managedFields set it."""
    annotations = (service.get("metadata") or {}).get("annotations") or {}
    if LAST_APPLIED in annotations:
        try:
            applied = json.loads(annotations[LAST_APPLIED])
        except ValueError:
            return False
        return bool(((applied or {}).get("spec") or {}).get("healthCheckNodePort"))
    for entry in (service.get("metadata") or {}).get("managedFields") or []:
        if "f:healthCheckNodePort" in ((entry.get("fieldsV1") or {}).get("f:spec") or {}):
            return True
    return False


# -------------------------------------------------------------------------------- jobs, rbac


def job_action(job: dict) -> dict:
    out = copy.deepcopy(job)
    spec = out.get("spec") or {}
    match_labels = (spec.get("selector") or {}).get("matchLabels")
    if isinstance(match_labels, dict):
        for label in _JOB_UID_LABELS:
            match_labels.pop(label, None)
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    if isinstance(template_labels, dict):
        for label in _JOB_UID_LABELS:
            template_labels.pop(label, None)
    return out


def binding_action(binding: dict, mapping: Mapping[str, str]) -> dict:
    if not mapping:
        return binding
    out = copy.deepcopy(binding)
    for subject in out.get("subjects") or []:
        if subject.get("namespace") in mapping:
            subject["namespace"] = mapping[subject["namespace"]]
    return out


def service_account_action(account: dict) -> dict:
    name = (account.get("metadata") or {}).get("name") or ""
    secrets = account.get("secrets")
    if not secrets:
        return account
    out = copy.deepcopy(account)
    for i in range(len(out["secrets"]) - 1, -1, -1):
        if str(out["secrets"][i].get("name", "")).startswith(f"{name}-token-"):
            del out["secrets"][i]
            break
    return out


def secret_action(secret: dict, service_accounts: set[str]) -> tuple[dict | None, str]:
    """(the secret to restore, or None to skip it; why). `service_accounts` are the names of the
    service accounts of the secret's namespace (in the backup or the target)."""
    if secret.get("type") != "kubernetes.io/service-account-token":
        return secret, ""
    name = (secret.get("metadata") or {}).get("name") or ""
    for account in service_accounts:
        if name.startswith(f"{account}-token-"):
            return None, f"token secret of service account {account}: recreated by Kubernetes"
    out = copy.deepcopy(secret)
    annotations = (out.get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict):
        annotations.pop("kubernetes.io/service-account.uid", None)
    data = out.get("data")
    if isinstance(data, dict):
        data.pop("token", None)
        data.pop("ca.crt", None)
    return out, ""


# ------------------------------------------------------------------------------- volumes


def reset_binding_info(obj: dict) -> dict:
    """resetVolumeBindingInfo: claimRef uid/resourceVersion and the binding annotations removed."""
    out = copy.deepcopy(obj)
    claim_ref = (out.get("spec") or {}).get("claimRef")
    if isinstance(claim_ref, dict):
        claim_ref.pop("uid", None)
        claim_ref.pop("resourceVersion", None)
    annotations = (out.get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict):
        for key in _BINDING_ANNOTATIONS:
            annotations.pop(key, None)
        if not annotations:  # an empty map is not serialized by the API server
            del out["metadata"]["annotations"]
    return out


def pv_decision(pv: Mapping, volume_info: Mapping | None, snapshotted_claim: bool) -> tuple[str, str]:
    """(PV_RESTORE or PV_PROVISION, why) as restoreItem decides for a PersistentVolume.

    `volume_info` is the backup's entry for this PV (None without one); `snapshotted_claim` says
    whether its claim carries a CSI VolumeSnapshot annotation (the pre-volume-info rule)."""
    reclaim = (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy")
    if volume_info is not None:
        method = volume_info.get("backupMethod") or ""
        if method == "CSISnapshot":
            return PV_PROVISION, "re-provisioned from its CSI VolumeSnapshot"
        if method == "PodVolumeBackup":
            return PV_PROVISION, "re-provisioned: it has a pod volume backup"
        if method == "NativeSnapshot":
            return PV_RESTORE, "native snapshot (no volume snapshotter in Veloweb): restored as-is"
    elif snapshotted_claim:
        return PV_PROVISION, "re-provisioned from its CSI VolumeSnapshot"
    if reclaim == "Delete":
        return PV_PROVISION, "re-provisioned: no snapshot and reclaim policy Delete"
    return PV_RESTORE, "restored as-is: no snapshot and reclaim policy not Delete"


def pv_action(pv: dict, mapping: Mapping[str, str]) -> dict:
    """handleSkippedPVHasRetainPolicy: claimRef namespace mapped, binding reset."""
    out = reset_binding_info(pv)
    claim_ref = (out.get("spec") or {}).get("claimRef")
    if isinstance(claim_ref, dict) and claim_ref.get("namespace") in mapping:
        claim_ref["namespace"] = mapping[claim_ref["namespace"]]
    return out


def claim_action(
    claim: dict, *, provisioned_volumes: set[str] | Mapping, restore_pvs: bool | None, restore: str
) -> dict:
    """PVCAction + the CSI pvcRestoreItemAction + restoreItem's claim step, on a metadata-reset claim."""
    out = copy.deepcopy(claim)
    meta = out.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    snapshot = annotations.get(VOLUME_SNAPSHOT_ANNOTATION)
    for key in _CLAIM_ANNOTATIONS:
        annotations.pop(key, None)
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    spec = out.setdefault("spec", {})
    if restore_pvs is False:
        spec.pop("volumeName", None)
        spec.pop("dataSource", None)
        spec.pop("dataSourceRef", None)
    elif snapshot:
        spec.pop("volumeName", None)
        spec["dataSource"] = {
            "apiGroup": SNAPSHOT_GROUP,
            "kind": "VolumeSnapshot",
            "name": snapshot_restore_name(restore, snapshot),
        }
        spec.pop("dataSourceRef", None)
    volume = spec.get("volumeName")
    if volume:
        out = reset_binding_info(out)
        if volume in provisioned_volumes:
            out["spec"].pop("volumeName", None)
    return out


def volume_snapshot_action(vs: dict, backed_up: Mapping, restore: str) -> dict:
    """The VolumeSnapshot renamed and pointed at its restored content (raises ValueError without a
    bound content in the backup)."""
    name = (backed_up.get("metadata") or {}).get("name") or ""
    if not (backed_up.get("status") or {}).get("boundVolumeSnapshotContentName"):
        raise ValueError(f"VS {name} doesn't have bound VSC")
    new_name = snapshot_restore_name(restore, name)
    out = copy.deepcopy(vs)
    meta = out.setdefault("metadata", {})
    meta["name"] = new_name
    meta["annotations"] = {**(meta.get("annotations") or {}), VSC_DELETION_POLICY_ANNOTATION: "Retain"}
    spec = out.setdefault("spec", {})
    spec["source"] = {"volumeSnapshotContentName": new_name}
    spec.pop("volumeSnapshotClassName", None)
    return out


def volume_snapshot_content_action(
    vsc: dict, backed_up: Mapping, restore: str, mapping: Mapping[str, str], class_for_driver: str | None
) -> dict:
    """The VolumeSnapshotContent renamed, pre-provisioned from the recorded snapshot handle, Retain
    (raises ValueError without a handle in the backup)."""
    handle = (backed_up.get("status") or {}).get("snapshotHandle")
    ref = dict(((backed_up.get("spec") or {}).get("volumeSnapshotRef")) or {})
    new_name = snapshot_restore_name(restore, str(ref.get("name") or ""))
    if not handle:
        raise ValueError(f"fail to get snapshot handle from VSC {new_name} status")
    out = copy.deepcopy(vsc)
    out.setdefault("metadata", {})["name"] = new_name
    spec = out.setdefault("spec", {})
    if ref.get("namespace") in mapping:
        ref["namespace"] = mapping[ref["namespace"]]
    ref["name"] = new_name
    ref.pop("resourceVersion", None)
    ref.pop("uid", None)
    spec["volumeSnapshotRef"] = ref
    spec["deletionPolicy"] = "Retain"
    spec["source"] = {"snapshotHandle": handle}
    if class_for_driver:
        spec["volumeSnapshotClassName"] = class_for_driver
    else:
        spec.pop("volumeSnapshotClassName", None)
    return out


# ------------------------------------------------------------------------- comparing, patches


def comparable_cluster_object(obj: dict, restore_labels: Mapping[str, str]) -> dict:
    """The in-cluster object as Velero compares it: metadata reset, status dropped, the restore's
    two labels copied from the object being restored."""
    out = reset_metadata(obj)
    labels = dict((out["metadata"].get("labels")) or {})
    for key in (BACKUP_NAME_LABEL, RESTORE_NAME_LABEL):
        if key in restore_labels:
            labels[key] = restore_labels[key]
    out["metadata"]["labels"] = labels
    return out


def semantic_equal(a: object, b: object) -> bool:
    """equality.Semantic.DeepEqual for JSON values: an empty map/list equals a missing one."""
    return _normalized(a) == _normalized(b)


def _normalized(value: object) -> object:
    if isinstance(value, dict):
        return {k: _normalized(v) for k, v in value.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    return value


def field_diff(
    restored: object, cluster: object, path: str = "", limit: int = 50
) -> list[tuple[str, object, object]]:
    """(dotted path, value restored, value in cluster) for each differing leaf, at most `limit`."""
    out: list[tuple[str, object, object]] = []
    _diff(_normalized(restored), _normalized(cluster), path, out, limit)
    return out


def _diff(a: object, b: object, path: str, out: list, limit: int) -> None:
    if len(out) >= limit or a == b:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            _diff(a.get(key), b.get(key), f"{path}.{key}" if path else key, out, limit)
        return
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _diff(x, y, f"{path}[{i}]", out, limit)
        return
    out.append((path, a, b))


def create_merge_patch(original: object, modified: object) -> dict | None:
    """jsonpatch.CreateMergePatch: the RFC 7386 patch turning `original` into `modified`; None when
    they are equal."""
    if not isinstance(original, dict) or not isinstance(modified, dict):
        return None if original == modified else modified  # type: ignore[return-value]
    patch: dict = {}
    for key, value in modified.items():
        if key not in original:
            patch[key] = value
        elif original[key] != value:
            if isinstance(original[key], dict) and isinstance(value, dict):
                sub = create_merge_patch(original[key], value)
                if sub:
                    patch[key] = sub
            else:
                patch[key] = value
    for key in original:
        if key not in modified:
            patch[key] = None
    return patch or None
