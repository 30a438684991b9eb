"""Deterministic generator of large, realistic clusters for performance tests and demos."""

import datetime
import gc
import random

_BASE_TIME = datetime.datetime(2024, 6, 1, tzinfo=datetime.UTC)
_CSI_DRIVER = "hostpath.csi.k8s.io"
_APPS = [
    "api",
    "web",
    "worker",
    "cache",
    "auth",
    "search",
    "billing",
    "cart",
    "mailer",
    "reports",
    "gateway",
    "ingest",
    "notifier",
    "scheduler",
    "frontend",
    "backend",
    "exporter",
    "queue",
    "media",
    "catalog",
]
_TEAMS = ["shop", "payments", "data", "platform", "growth", "ml", "infra", "search", "ads", "core"]
_CLUSTER_ROLES = [
    "view",
    "edit",
    "admin",
    "pod-reader",
    "secret-reader",
    "node-viewer",
    "pv-viewer",
    "metrics-reader",
    "events-writer",
    "leases-manager",
]
_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"
_NODES = [f"node-{i}" for i in range(1, 25)]


class _Gen:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.objects = []
        self.pv_index = 0
        self._times = {}
        self._random = self.rng.random

    def ri(self, a, b=None):
        """Fast randrange(a) / randrange(a, b)."""
        if b is None:
            return int(self._random() * a)
        return a + int(self._random() * (b - a))

    def pick(self, seq):
        return seq[int(self._random() * len(seq))]

    def uid(self):
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"

    def ts(self, days=120):
        times = self._times.get(days)
        if times is None:  # a pool of 4096 timestamps per window: strftime per object is slow
            times = self._times[days] = sorted(
                (_BASE_TIME - datetime.timedelta(seconds=self.rng.randrange(days * 86400))).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                )
                for _ in range(4096)
            )
        return times[self.rng.getrandbits(12)]

    def suffix(self, n=5):
        r = self._random
        return "".join([_SUFFIX_CHARS[int(r() * 27)] for _ in range(n)])

    def meta(self, name, namespace=None, labels=None, annotations=None, owner=None):
        m = {"name": name}
        if namespace is not None:
            m["namespace"] = namespace
        m["uid"] = self.uid()
        m["resourceVersion"] = str(self.ri(1000, 9_999_999))
        m["creationTimestamp"] = self.ts()
        if labels:
            m["labels"] = labels
        if annotations:
            m["annotations"] = annotations
        if owner:
            m["ownerReferences"] = [
                {
                    "apiVersion": owner["apiVersion"],
                    "kind": owner["kind"],
                    "name": owner["metadata"]["name"],
                    "uid": owner["metadata"]["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ]
        return m

    def emit(self, obj):
        self.objects.append(obj)
        return obj

    # ---------------------------------------------------------------- building blocks
    def namespace(self, name, team):
        return self.emit(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": self.meta(name, labels={"kubernetes.io/metadata.name": name, "team": team}),
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            }
        )

    def service_account(self, ns, name):
        return self.emit({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": self.meta(name, ns)})

    def pv_for(self, pvc, access_mode, size):
        self.pv_index += 1
        name = f"pvc-{pvc['metadata']['uid']}"
        pv = {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": self.meta(
                name,
                annotations={
                    "pv.kubernetes.io/provisioned-by": _CSI_DRIVER,
                    "volume.kubernetes.io/provisioner-deletion-secret-name": "",
                    "volume.kubernetes.io/provisioner-deletion-secret-namespace": "",
                },
            ),
            "spec": {
                "accessModes": [access_mode],
                "capacity": {"storage": size},
                "claimRef": {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "name": pvc["metadata"]["name"],
                    "namespace": pvc["metadata"]["namespace"],
                    "uid": pvc["metadata"]["uid"],
                },
                "csi": {"driver": _CSI_DRIVER, "fsType": "ext4", "volumeHandle": self.uid()},
                "persistentVolumeReclaimPolicy": "Delete",
                "storageClassName": "csi-hostpath-sc",
                "volumeMode": "Filesystem",
            },
            "status": {"phase": "Bound"},
        }
        pv["metadata"]["finalizers"] = ["kubernetes.io/pv-protection"]
        pvc["spec"]["volumeName"] = name
        return self.emit(pv)

    def pvc(self, ns, name, labels=None, access_mode="ReadWriteOnce", size="10Gi", bound=True):
        pvc = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": self.meta(name, ns, labels=labels),
            "spec": {
                "accessModes": [access_mode],
                "resources": {"requests": {"storage": size}},
                "storageClassName": "csi-hostpath-sc",
                "volumeMode": "Filesystem",
            },
            "status": {"phase": "Pending"},
        }
        pvc["metadata"]["finalizers"] = ["kubernetes.io/pvc-protection"]
        if bound:
            pvc["metadata"]["annotations"] = {
                "pv.kubernetes.io/bind-completed": "yes",
                "pv.kubernetes.io/bound-by-controller": "yes",
                "volume.kubernetes.io/storage-provisioner": _CSI_DRIVER,
            }
            pvc["status"] = {"phase": "Bound", "accessModes": [access_mode], "capacity": {"storage": size}}
            self.emit(pvc)
            self.pv_for(pvc, access_mode, size)
        else:
            self.emit(pvc)
        return pvc

    def pod(self, ns, name, labels, owner, sa, image, claims=(), phase="Running"):
        volumes = [
            {"name": f"vol-{i}", "persistentVolumeClaim": {"claimName": c}} for i, c in enumerate(claims)
        ]
        volumes.append(
            {
                "name": "kube-api-access",
                "projected": {
                    "defaultMode": 420,
                    "sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}],
                },
            }
        )
        mounts = [{"name": f"vol-{i}", "mountPath": f"/data/{i}"} for i in range(len(claims))]
        mounts.append(
            {
                "name": "kube-api-access",
                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                "readOnly": True,
            }
        )
        container = {
            "name": labels["app"],
            "image": image,
            "imagePullPolicy": "IfNotPresent",
            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
            "volumeMounts": mounts,
        }
        spec = {
            "containers": [container],
            "restartPolicy": "Never" if phase == "Succeeded" else "Always",
            "serviceAccountName": sa,
            "schedulerName": "default-scheduler",
            "volumes": volumes,
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
        }
        start = self.ts(30)
        status = {"phase": phase, "qosClass": "Burstable"}
        if phase == "Pending":
            status["conditions"] = [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "lastTransitionTime": start,
                    "message": "0/24 nodes are available: 24 Insufficient cpu.",
                }
            ]
        else:
            spec["nodeName"] = self.pick(_NODES)
            running = phase == "Running"
            state = (
                {"running": {"startedAt": start}}
                if running
                else {
                    "terminated": {
                        "exitCode": 0,
                        "reason": "Completed",
                        "startedAt": start,
                        "finishedAt": start,
                    }
                }
            )
            status.update(
                {
                    "hostIP": f"10.0.{self.ri(256)}.{self.ri(1, 255)}",
                    "podIP": f"10.244.{self.ri(256)}.{self.ri(1, 255)}",
                    "startTime": start,
                    "conditions": [
                        {
                            "type": t,
                            "status": "True" if running or t == "PodScheduled" else "False",
                            "lastTransitionTime": start,
                        }
                        for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
                    ],
                    "containerStatuses": [
                        {
                            "name": container["name"],
                            "image": image,
                            "imageID": "",
                            "ready": running,
                            "restartCount": 0,
                            "started": running,
                            "containerID": f"containerd://{self.rng.getrandbits(64):016x}",
                            "state": state,
                        }
                    ],
                }
            )
        return self.emit(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": self.meta(name, ns, labels=labels, owner=owner),
                "spec": spec,
                "status": status,
            }
        )

    def service(self, ns, name, selector):
        return self.emit(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": self.meta(name, ns, labels=selector),
                "spec": {
                    "type": "ClusterIP",
                    "selector": selector,
                    "clusterIP": f"10.96.{self.ri(256)}.{self.ri(1, 255)}",
                    "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
                },
                "status": {"loadBalancer": {}},
            }
        )

    def config_map(self, ns, name, labels=None):
        return self.emit(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": self.meta(name, ns, labels=labels),
                "data": {
                    "LOG_LEVEL": self.pick(["info", "debug", "warn"]),
                    "config.yaml": f"replicas: {self.ri(1, 9)}\nfeature: true\n",
                },
            }
        )

    def secret(self, ns, name, labels=None):
        return self.emit(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": self.meta(name, ns, labels=labels),
                "type": "Opaque",
                "data": {"password": "ZmFrZS1wYXNzd29yZA==", "username": "YXBw"},
            }
        )

    def cluster_role_binding(self, ns, sa, role):
        return self.emit(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": self.meta(f"{ns}-{sa}-{role}"),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": ns}],
            }
        )

    # ---------------------------------------------------------------- composites
    def deployment_unit(self, ns, app, sa, replicas, rwx):
        labels = {"app": app}
        image = f"registry.example.com/{app}:{self.ri(1, 40)}.{self.ri(10)}"
        template = {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": app, "image": image}], "serviceAccountName": sa},
        }
        dep = self.emit(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": self.meta(
                    app, ns, labels=labels, annotations={"deployment.kubernetes.io/revision": "1"}
                ),
                "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": template},
                "status": {
                    "replicas": replicas,
                    "readyReplicas": replicas,
                    "availableReplicas": replicas,
                    "observedGeneration": 1,
                },
            }
        )
        phash = f"{self.rng.getrandbits(40):010x}"[:10]
        rs_labels = dict(labels, **{"pod-template-hash": phash})
        rs = self.emit(
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": self.meta(f"{app}-{phash}", ns, labels=rs_labels, owner=dep),
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": rs_labels},
                    "template": dict(template, metadata={"labels": rs_labels}),
                },
                "status": {
                    "replicas": replicas,
                    "readyReplicas": replicas,
                    "availableReplicas": replicas,
                    "observedGeneration": 1,
                },
            }
        )
        claims = ()
        if rwx:
            claims = (
                self.pvc(ns, f"{app}-shared", labels={"app": app}, access_mode="ReadWriteMany", size="50Gi")[
                    "metadata"
                ]["name"],
            )
        for _ in range(replicas):
            roll = self.rng.random()
            phase = "Pending" if roll < 0.04 else "Running"
            self.pod(ns, f"{app}-{phash}-{self.suffix()}", rs_labels, rs, sa, image, claims, phase)
        self.service(ns, app, labels)

    def statefulset_unit(self, ns, app, sa, replicas):
        labels = {"app": app}
        image = "postgres:16.3"
        sts = self.emit(
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": self.meta(app, ns, labels=labels),
                "spec": {
                    "replicas": replicas,
                    "serviceName": app,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [{"name": app, "image": image}]},
                    },
                    "volumeClaimTemplates": [
                        {
                            "metadata": {"name": "data"},
                            "spec": {
                                "accessModes": ["ReadWriteOnce"],
                                "resources": {"requests": {"storage": "20Gi"}},
                            },
                        }
                    ],
                },
                "status": {
                    "replicas": replicas,
                    "readyReplicas": replicas,
                    "currentReplicas": replicas,
                    "observedGeneration": 1,
                },
            }
        )
        group = f"{ns}-{app}"
        for i in range(replicas):
            claim = self.pvc(
                ns, f"data-{app}-{i}", labels={"app": app, "velero.io/volume-group": group}, size="20Gi"
            )
            pod_labels = dict(
                labels,
                **{
                    "statefulset.kubernetes.io/pod-name": f"{app}-{i}",
                    "apps.kubernetes.io/pod-index": str(i),
                },
            )
            self.pod(ns, f"{app}-{i}", pod_labels, sts, sa, image, (claim["metadata"]["name"],))
        self.service(ns, app, labels)

    def job_pod(self, ns, app, sa):
        job_name = f"{app}-{self.ri(28_000_000, 29_000_000)}"
        labels = {"app": app, "batch.kubernetes.io/job-name": job_name, "job-name": job_name}
        job = self.emit(
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": self.meta(job_name, ns, labels),
                "spec": {
                    "completions": 1,
                    "parallelism": 1,
                    "backoffLimit": 6,
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "containers": [{"name": app, "image": "busybox:1.36"}],
                            "restartPolicy": "Never",
                        },
                    },
                },
                "status": {"succeeded": 1, "startTime": self.ts(10), "completionTime": self.ts(9)},
            }
        )
        self.pod(ns, f"{job_name}-{self.suffix()}", labels, job, sa, "busybox:1.36", phase="Succeeded")

    def namespace_block(self, index, budget):
        team = self.pick(_TEAMS)
        ns = f"{team}-{index:05d}"
        start = len(self.objects)
        self.namespace(ns, team)
        self.service_account(ns, "default")
        self.config_map(ns, "kube-root-ca.crt")
        apps_sa = self.service_account(ns, "app")["metadata"]["name"]
        self.cluster_role_binding(ns, apps_sa, self.pick(_CLUSTER_ROLES))
        if budget >= 40:
            self.statefulset_unit(ns, "db", apps_sa, 3)
        apps = self.rng.sample(_APPS, len(_APPS))
        k = 0
        while len(self.objects) - start < budget - 12:
            app = apps[k % len(apps)] + ("" if k < len(apps) else f"-{k // len(apps)}")
            k += 1
            unit = self.rng.random()
            if unit < 0.08:
                self.job_pod(ns, app, apps_sa)
                continue
            self.config_map(ns, f"{app}-config", {"app": app})
            self.secret(ns, f"{app}-credentials", {"app": app})
            self.deployment_unit(ns, app, apps_sa, self.ri(2, 7), rwx=unit > 0.85)
        while len(self.objects) - start < budget:
            self.config_map(ns, f"extra-{len(self.objects) - start}")


def generate_cluster(n_objects: int, seed: int = 0) -> list[dict]:
    """About ``n_objects`` realistic objects (namespaces of ~300 objects each), deterministic for ``seed``."""
    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of small containers: the cyclic GC would dominate the run time
    try:
        return _generate(n_objects, seed)
    finally:
        if gc_was_enabled:
            gc.enable()


def _generate(n_objects, seed):
    g = _Gen(seed)
    for role in _CLUSTER_ROLES:
        g.emit(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": g.meta(role),
                "rules": [
                    {
                        "apiGroups": [""],
                        "resources": ["pods", "services", "configmaps"],
                        "verbs": ["get", "list", "watch"],
                    }
                ],
            }
        )
    n_ns = max(1, round(n_objects / 300))
    remaining = max(0, n_objects - len(g.objects))
    for i in range(n_ns):
        budget = remaining // (n_ns - i)
        before = len(g.objects)
        g.namespace_block(i, budget)
        remaining -= len(g.objects) - before
    return g.objects
