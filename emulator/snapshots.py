"""A simulated CSI snapshot controller (external-snapshotter + a CSI driver) for the emulator.

When a `snapshot.storage.k8s.io/v1` VolumeSnapshot is created through the API, after a
configurable delay the controller binds it: it creates a cluster-scoped VolumeSnapshotContent for
the source PVC's CSI volume and sets the VolumeSnapshot's status. `fail=True` sets
`status.error.message` instead; `never_ready=True` leaves the VolumeSnapshot without a status.
"""

import datetime
import re
import threading
import time
import uuid

GROUP = "snapshot.storage.k8s.io"
DEFAULT_DELAY = 0.5
PROVISION_DELAY = 0.1
RESTORED_FROM_ANNOTATION = "emulator.veloweb.io/restored-from-snapshot-handle"
_QUANTITY = re.compile(r"^([0-9.]+)([KMGTPE]i?|)$")
_FACTORS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_FACTORS.update({k + "i": 1024 ** (i + 1) for i, k in enumerate("KMGTPE")})


def _now_rfc3339():
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def quantity_bytes(value):
    """'20Gi' -> 21474836480; None when it cannot be parsed."""
    m = _QUANTITY.match(str(value or "").strip())
    if not m:
        return None
    try:
        return int(float(m.group(1)) * _FACTORS[m.group(2)])
    except ValueError:
        return None


class SnapshotController:
    def __init__(self, store):
        self.store = store
        self._lock = threading.Lock()
        self.reset()

    def reset(self):
        """The initial behaviour: bind DEFAULT_DELAY seconds after creation (a real driver is not
        instant, and a client creating a VolumeSnapshot can still set its status first)."""
        self.configure(delay=DEFAULT_DELAY)

    def configure(self, delay=0.0, fail=False, never_ready=False):
        delay = float(delay)
        if delay < 0:
            raise ValueError("delay must not be negative")
        with self._lock:
            self.delay, self.fail, self.never_ready = delay, bool(fail), bool(never_ready)

    def settings(self):
        with self._lock:
            return {"delay": self.delay, "fail": self.fail, "never_ready": self.never_ready}

    def on_created(self, info, obj, loop):
        """Hook from the create path (runs on the server's event loop)."""
        meta = obj["metadata"]
        if info.group == "" and info.resource == "persistentvolumeclaims":
            loop.call_later(PROVISION_DELAY, self.provision, meta["namespace"], meta["name"], meta["uid"])
            return
        if info.group != GROUP or info.resource != "volumesnapshots":
            return
        settings = self.settings()
        if settings["never_ready"]:
            return
        loop.call_later(
            settings["delay"], self.reconcile, meta["namespace"], meta["name"], meta["uid"], settings["fail"]
        )

    def on_deleted(self, info, obj):
        """Hook from the delete path: a deleted VolumeSnapshot takes its bound content with it
        when the content's deletionPolicy is Delete (as the real snapshot controller does)."""
        if info.group != GROUP or info.resource != "volumesnapshots":
            return
        content = (obj.get("status") or {}).get("boundVolumeSnapshotContentName")
        with self.store.lock:
            vsc = self._get(GROUP, "volumesnapshotcontents", None, content)
            if vsc is None or (vsc.get("spec") or {}).get("deletionPolicy", "Delete") != "Delete":
                return
            ref = (vsc.get("spec") or {}).get("volumeSnapshotRef") or {}
            if ref.get("uid") == obj["metadata"].get("uid"):
                self.store.delete(self._info(GROUP, "volumesnapshotcontents"), "", content)

    # ------------------------------------------------------------------ reconcile
    def _info(self, group, resource):
        return self.store.resources.get((group, resource))

    def _get(self, group, resource, ns, name):
        info = self._info(group, resource)
        entry = self.store.get(info, ns or "", name) if info and name else None
        return entry.obj if entry else None

    def reconcile(self, ns, name, uid, fail=False):
        with self.store.lock:
            vs = self._get(GROUP, "volumesnapshots", ns, name)
            if vs is None or vs["metadata"].get("uid") != uid:
                return  # deleted (or replaced) meanwhile
            if fail:
                return self._set_error(vs, "simulated CSI snapshot failure (emulator fail=True)")
            if ((vs.get("spec") or {}).get("source") or {}).get("volumeSnapshotContentName"):
                return self._bind_preprovisioned(vs)
            try:
                content = self._content_for(vs)
            except LookupError as e:
                return self._set_error(vs, str(e))
            quantity = content.pop("_quantity")
            self.store.add(content)
            status = {
                "boundVolumeSnapshotContentName": content["metadata"]["name"],
                "creationTime": _now_rfc3339(),
                "readyToUse": True,
            }
            if quantity:
                status["restoreSize"] = quantity
            self.store.add(dict(vs, status=status))

    def _set_error(self, vs, message):
        status = {"readyToUse": False, "error": {"message": message, "time": _now_rfc3339()}}
        self.store.add(dict(vs, status=status))

    def _content_for(self, vs):
        meta, spec = vs["metadata"], vs.get("spec") or {}
        ns = meta["namespace"]
        claim = (spec.get("source") or {}).get("persistentVolumeClaimName")
        if not claim:
            raise LookupError(
                "spec.source.persistentVolumeClaimName is required (pre-provisioned snapshots "
                "are not simulated)"
            )
        pvc = self._get("", "persistentvolumeclaims", ns, claim)
        if pvc is None:
            raise LookupError(f'failed to retrieve PVC {claim} from the lister: "{claim}" not found')
        volume = (pvc.get("spec") or {}).get("volumeName")
        if (pvc.get("status") or {}).get("phase") != "Bound" or not volume:
            raise LookupError(
                f"the PVC {claim} is not yet bound to a PV, will not attempt to take a snapshot"
            )
        pv = self._get("", "persistentvolumes", None, volume)
        csi = ((pv or {}).get("spec") or {}).get("csi") or {}
        if not csi.get("driver"):
            raise LookupError(f"the PV {volume} is not a CSI volume")
        cls = self._class_for(spec.get("volumeSnapshotClassName"), csi["driver"])
        if cls.get("driver") != csi["driver"]:
            raise LookupError(
                f"VolumeSnapshotClass {cls['metadata']['name']} is for driver {cls.get('driver')}, "
                f"not {csi['driver']}"
            )
        quantity = ((pvc.get("status") or {}).get("capacity") or {}).get("storage") or (
            (pv.get("spec") or {}).get("capacity") or {}
        ).get("storage")
        content_name = f"snapcontent-{meta['uid']}"
        status = {
            "creationTime": time.time_ns(),
            "readyToUse": True,
            "snapshotHandle": f"snap-{uuid.uuid4()}",
        }
        size = quantity_bytes(quantity)
        if size is not None:
            status["restoreSize"] = size
        return {
            "apiVersion": f"{GROUP}/v1",
            "kind": "VolumeSnapshotContent",
            "metadata": {"name": content_name},
            "spec": {
                "deletionPolicy": cls.get("deletionPolicy") or "Delete",
                "driver": csi["driver"],
                "source": {"volumeHandle": csi.get("volumeHandle", "")},
                "volumeSnapshotClassName": cls["metadata"]["name"],
                "volumeSnapshotRef": {
                    "apiVersion": vs.get("apiVersion", f"{GROUP}/v1"),
                    "kind": "VolumeSnapshot",
                    "name": meta["name"],
                    "namespace": ns,
                    "resourceVersion": meta.get("resourceVersion", ""),
                    "uid": meta["uid"],
                },
            },
            "status": status,
            "_quantity": quantity,
        }

    def _class_for(self, name, driver):
        if name:
            cls = self._get(GROUP, "volumesnapshotclasses", None, name)
            if cls is None:
                raise LookupError(f'failed to get VolumeSnapshotClass "{name}": not found')
            return cls
        info = self._info(GROUP, "volumesnapshotclasses")
        store = self.store.stores[info.storage]
        defaults = [
            e.obj
            for e in store.objs.values()
            if e.obj.get("driver") == driver
            and (
                (e.obj["metadata"].get("annotations") or {}).get(
                    "snapshot.storage.kubernetes.io/is-default-class"
                )
                == "true"
            )
        ]
        if len(defaults) != 1:
            raise LookupError(f"cannot find a default snapshot class for driver {driver}")
        return defaults[0]

    # ------------------------------------------------------------ restores: pre-provisioned snapshots
    def _bind_preprovisioned(self, vs):
        """A VolumeSnapshot naming its VolumeSnapshotContent (a restore's): the content must exist,
        point back at it and carry a snapshot handle; both become ready."""
        meta, spec = vs["metadata"], vs.get("spec") or {}
        content_name = spec["source"]["volumeSnapshotContentName"]
        vsc = self._get(GROUP, "volumesnapshotcontents", None, content_name)
        if vsc is None:
            return self._set_error(vs, f'VolumeSnapshotContent "{content_name}" not found')
        vsc_spec = vsc.get("spec") or {}
        ref = vsc_spec.get("volumeSnapshotRef") or {}
        if ref.get("name") != meta["name"] or ref.get("namespace") != meta["namespace"]:
            return self._set_error(
                vs,
                f"VolumeSnapshotContent {content_name} is bound to {ref.get('namespace')}/{ref.get('name')}",
            )
        handle = (vsc_spec.get("source") or {}).get("snapshotHandle")
        if not handle:
            return self._set_error(vs, f"VolumeSnapshotContent {content_name} has no snapshotHandle")
        size = (vsc.get("status") or {}).get("restoreSize")
        self.store.add(
            dict(
                vsc,
                spec={**vsc_spec, "volumeSnapshotRef": {**ref, "uid": meta["uid"]}},
                status={
                    "snapshotHandle": handle,
                    "readyToUse": True,
                    "creationTime": time.time_ns(),
                    **({"restoreSize": size} if size is not None else {}),
                },
            )
        )
        status = {
            "boundVolumeSnapshotContentName": content_name,
            "creationTime": _now_rfc3339(),
            "readyToUse": True,
        }
        self.store.add(dict(vs, status=status))

    # ------------------------------------------------------------------ claims: a provisioner
    def provision(self, ns, name, uid, attempt=0):
        """Bind a claim created through the API, as the PV controller and a CSI provisioner do:
        to its `volumeName` PV when it names one; from its VolumeSnapshot (`dataSource`) once that
        is ready; else dynamically, from its StorageClass's provisioner. Retries a few times while
        the snapshot is not ready."""
        with self.store.lock:
            pvc = self._get("", "persistentvolumeclaims", ns, name)
            if (
                pvc is None
                or pvc["metadata"].get("uid") != uid
                or (pvc.get("status") or {}).get("phase") == "Bound"
            ):
                return
            spec = pvc.get("spec") or {}
            pv_info = self._info("", "persistentvolumes")
            if spec.get("volumeName"):
                pv = self._get("", "persistentvolumes", None, spec["volumeName"])
                if pv is None:
                    return
                ref = {"kind": "PersistentVolumeClaim", "namespace": ns, "name": name, "uid": uid}
                self.store.add(
                    dict(pv, spec={**(pv.get("spec") or {}), "claimRef": ref}, status={"phase": "Bound"})
                )
                capacity = ((pv.get("spec") or {}).get("capacity")) or {}
                self.store.add(
                    dict(
                        pvc,
                        status={
                            "phase": "Bound",
                            "capacity": capacity,
                            "accessModes": spec.get("accessModes") or [],
                        },
                    )
                )
                return
            source = spec.get("dataSource") or {}
            handle = None
            driver = None
            if source.get("kind") == "VolumeSnapshot":
                vs = self._get(GROUP, "volumesnapshots", ns, source.get("name"))
                ready = vs is not None and (vs.get("status") or {}).get("readyToUse")
                if not ready:
                    if attempt < 50:
                        threading.Timer(0.1, self.provision, (ns, name, uid, attempt + 1)).start()
                    return
                vsc = self._get(
                    GROUP, "volumesnapshotcontents", None, vs["status"]["boundVolumeSnapshotContentName"]
                )
                handle = ((vsc or {}).get("status") or {}).get("snapshotHandle")
                driver = ((vsc or {}).get("spec") or {}).get("driver")
            cls_name = spec.get("storageClassName")
            cls = self._get("storage.k8s.io", "storageclasses", None, cls_name) if cls_name else None
            if cls is None and driver is None:
                return  # nothing to provision with: the claim stays Pending
            driver = driver or cls.get("provisioner")
            storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
            pv_name = f"pvc-{uid}"
            pv = {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": pv_name, "annotations": {"pv.kubernetes.io/provisioned-by": driver}},
                "spec": {
                    "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                    "capacity": {"storage": storage},
                    "claimRef": {"kind": "PersistentVolumeClaim", "namespace": ns, "name": name, "uid": uid},
                    "csi": {"driver": driver, "volumeHandle": f"vol-{uuid.uuid4()}"},
                    "persistentVolumeReclaimPolicy": (cls or {}).get("reclaimPolicy") or "Delete",
                    "storageClassName": cls_name or "",
                    "volumeMode": spec.get("volumeMode") or "Filesystem",
                },
                "status": {"phase": "Bound"},
            }
            if handle:
                pv["metadata"]["annotations"][RESTORED_FROM_ANNOTATION] = handle
            if pv_info is not None:
                self.store.add(pv)
            self.store.add(
                dict(
                    pvc,
                    spec={**spec, "volumeName": pv_name},
                    status={
                        "phase": "Bound",
                        "capacity": {"storage": storage},
                        "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                    },
                )
            )
