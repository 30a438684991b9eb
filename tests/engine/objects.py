"""Small builders for Kubernetes objects, so tests read as the cluster they describe."""

from __future__ import annotations


def namespace(name, labels=None, phase="Active"):
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": labels or {}},
        "status": {"phase": phase},
    }


def pod(ns, name, claims=(), running=True, priority_class=None, labels=None, phase=None, deleting=False):
    meta = {"name": name, "namespace": ns, "labels": labels or {}}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            "nodeName": "node-1" if running else "",
            "priorityClassName": priority_class,
            "containers": [{"name": "app", "image": "busybox"}],
            "volumes": [{"name": c, "persistentVolumeClaim": {"claimName": c}} for c in claims],
        },
        "status": {"phase": phase or ("Running" if running else "Pending")},
    }


def pvc(ns, name, volume=None, labels=None):
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
        "spec": {"volumeName": volume or "", "accessModes": ["ReadWriteOnce"]},
        "status": {"phase": "Bound" if volume else "Pending"},
    }


def pv(name):
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name},
        "spec": {"capacity": {"storage": "1Gi"}},
    }


def configmap(ns, name, labels=None):
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
    }


def service_account(ns, name):
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": ns}}


def cluster_role(name):
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": [],
    }


def cluster_role_binding(name, role, *service_accounts):
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "ServiceAccount", "namespace": ns, "name": sa} for ns, sa in service_accounts],
    }


def priority_class(name):
    return {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": name},
        "value": 1000,
    }


def deployment(ns, name, group="apps"):
    return {
        "apiVersion": f"{group}/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {},
    }
