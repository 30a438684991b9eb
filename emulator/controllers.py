"""What a cluster's controllers do to objects created through the API, for restores to meet:
a kubelet that starts pods, the apiextensions server that establishes CRDs.

- Pods created through the API get, after `pod_delay` seconds, a node when they have none (the
  scheduler), `status.phase: Running`, every init
  container terminated (exit 0) and every container running and ready (`never_ready` leaves them
  waiting, so hooks that wait for a container time out). Seeded pods are left as they are.
- A CRD created through the API is stored at once but served (its resources in discovery, its
  custom resources accepted) only after `crd_delay` seconds, when it gets the `NamesAccepted` and
  `Established` conditions, as the apiextensions server does. Creating a custom resource before
  then is a 404, as on a real server.
"""

from __future__ import annotations

import datetime
import threading

DEFAULT_POD_DELAY = 0.1
DEFAULT_CRD_DELAY = 0.3
CRD_GROUP = "apiextensions.k8s.io"
SCHEDULED_NODE = "emulator-node-1"


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class WorkloadControllers:
    def __init__(self, store):
        self.store = store
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.configure()

    def configure(
        self,
        pod_delay: float = DEFAULT_POD_DELAY,
        crd_delay: float = DEFAULT_CRD_DELAY,
        never_ready: bool = False,
    ) -> None:
        if pod_delay < 0 or crd_delay < 0:
            raise ValueError("delays must not be negative")
        with self._lock:
            self.pod_delay, self.crd_delay, self.never_ready = (
                float(pod_delay),
                float(crd_delay),
                bool(never_ready),
            )

    def settings(self) -> dict:
        with self._lock:
            return {"pod_delay": self.pod_delay, "crd_delay": self.crd_delay, "never_ready": self.never_ready}

    @staticmethod
    def is_crd(info) -> bool:
        return info.group == CRD_GROUP and info.resource == "customresourcedefinitions"

    def on_created(self, info, obj, loop) -> None:
        """Hook from the create path (on the server's event loop)."""
        settings = self.settings()
        meta = obj["metadata"]
        if info.group == "" and info.resource == "pods":
            loop.call_later(
                settings["pod_delay"], self.start_pod, meta["namespace"], meta["name"], meta["uid"], settings
            )
        elif self.is_crd(info):
            loop.call_later(settings["crd_delay"], self.establish, meta["name"], meta["uid"])

    def start_pod(self, namespace, name, uid, settings) -> None:
        pods = self.store.resources[("", "pods")]
        with self.store.lock:
            entry = self.store.get(pods, namespace, name)
            if entry is None or entry.obj["metadata"].get("uid") != uid:
                return
            pod = entry.obj
            spec = pod.get("spec") or {}
            ready = not settings["never_ready"]
            now = _now()
            containers = []
            for c in spec.get("containers") or []:
                state = (
                    {"running": {"startedAt": now}} if ready else {"waiting": {"reason": "ContainerCreating"}}
                )
                containers.append(
                    {
                        "name": c.get("name"),
                        "image": c.get("image", ""),
                        "ready": ready,
                        "started": ready,
                        "restartCount": 0,
                        "state": state,
                    }
                )
            inits = [
                {
                    "name": c.get("name"),
                    "image": c.get("image", ""),
                    "ready": True,
                    "restartCount": 0,
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": now}},
                }
                for c in spec.get("initContainers") or []
            ]
            status = {
                "phase": "Running" if ready else "Pending",
                "startTime": now,
                "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                "containerStatuses": containers,
            }
            if inits:
                status["initContainerStatuses"] = inits
            if ready and not spec.get("nodeName"):  # the scheduler's part: a restored pod has none
                spec = {**spec, "nodeName": SCHEDULED_NODE}
            self.store.add(dict(pod, spec=spec, status=status))

    def establish(self, name, uid) -> None:
        info = self.store.resources.get((CRD_GROUP, "customresourcedefinitions"))
        with self.store.lock:
            entry = self.store.get(info, "", name)
            if entry is None or entry.obj["metadata"].get("uid") != uid:
                return
            crd = entry.obj
            now = _now()
            conditions = [
                {
                    "type": "NamesAccepted",
                    "status": "True",
                    "reason": "NoConflicts",
                    "lastTransitionTime": now,
                },
                {
                    "type": "Established",
                    "status": "True",
                    "reason": "InitialNamesAccepted",
                    "lastTransitionTime": now,
                },
            ]
            spec = crd.get("spec") or {}
            status = {
                "conditions": conditions,
                "acceptedNames": spec.get("names") or {},
                "storedVersions": [v["name"] for v in spec.get("versions") or [] if v.get("storage")],
            }
            self.store.add(dict(crd, status=status))  # registers the CRD's resources
