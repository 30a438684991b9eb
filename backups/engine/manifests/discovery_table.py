"""Built-in API resources of Kubernetes 1.31, as served by the emulator and used by offline (manifests) mode.

``BUILTIN_RESOURCES`` is a list of dicts with the keys ``group`` ("" for core), ``version``, ``resource``
(plural), ``kind``, ``namespaced``, ``shortNames``, ``verbs``, ``singularName`` and optionally ``categories``.
A resource served under several versions of a group (autoscaling v2 and v1) appears once per version;
the first version listed for a group is its preferred version.

``BUILTIN_SUBRESOURCES`` lists subresources (``pods/exec`` ...) as dicts with ``group``, ``version``,
``resource`` ("pods/exec"), ``kind``, ``namespaced`` and ``verbs``.
"""

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
NO_COLLECTION_DELETE = ["create", "delete", "get", "list", "patch", "update", "watch"]
STATUS_VERBS = ["get", "patch", "update"]
PROXY_VERBS = ["create", "delete", "get", "patch", "update"]


def _r(group, version, resource, kind, namespaced, short=(), verbs=ALL_VERBS, singular=None, categories=()):
    d = {
        "group": group,
        "version": version,
        "resource": resource,
        "kind": kind,
        "namespaced": namespaced,
        "shortNames": list(short),
        "verbs": list(verbs),
        "singularName": singular or kind.lower(),
    }
    if categories:
        d["categories"] = list(categories)
    return d


_ALL = ("all",)

BUILTIN_RESOURCES = [
    # core/v1
    _r("", "v1", "bindings", "Binding", True, verbs=["create"]),
    _r("", "v1", "componentstatuses", "ComponentStatus", False, ["cs"], ["get", "list"]),
    _r("", "v1", "configmaps", "ConfigMap", True, ["cm"]),
    _r("", "v1", "endpoints", "Endpoints", True, ["ep"], singular="endpoints"),
    _r("", "v1", "events", "Event", True, ["ev"]),
    _r("", "v1", "limitranges", "LimitRange", True, ["limits"]),
    _r("", "v1", "namespaces", "Namespace", False, ["ns"], NO_COLLECTION_DELETE),
    _r("", "v1", "nodes", "Node", False, ["no"]),
    _r("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, ["pvc"]),
    _r("", "v1", "persistentvolumes", "PersistentVolume", False, ["pv"]),
    _r("", "v1", "pods", "Pod", True, ["po"], categories=_ALL),
    _r("", "v1", "podtemplates", "PodTemplate", True),
    _r("", "v1", "replicationcontrollers", "ReplicationController", True, ["rc"], categories=_ALL),
    _r("", "v1", "resourcequotas", "ResourceQuota", True, ["quota"]),
    _r("", "v1", "secrets", "Secret", True),
    _r("", "v1", "serviceaccounts", "ServiceAccount", True, ["sa"]),
    _r("", "v1", "services", "Service", True, ["svc"], categories=_ALL),
    # apiregistration.k8s.io
    _r("apiregistration.k8s.io", "v1", "apiservices", "APIService", False, categories=("api-extensions",)),
    # apps
    _r("apps", "v1", "controllerrevisions", "ControllerRevision", True),
    _r("apps", "v1", "daemonsets", "DaemonSet", True, ["ds"], categories=_ALL),
    _r("apps", "v1", "deployments", "Deployment", True, ["deploy"], categories=_ALL),
    _r("apps", "v1", "replicasets", "ReplicaSet", True, ["rs"], categories=_ALL),
    _r("apps", "v1", "statefulsets", "StatefulSet", True, ["sts"], categories=_ALL),
    # events.k8s.io
    _r("events.k8s.io", "v1", "events", "Event", True, ["ev"]),
    # authentication / authorization (create-only, not listable)
    _r("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", False, verbs=["create"]),
    _r("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", False, verbs=["create"]),
    _r(
        "authorization.k8s.io",
        "v1",
        "localsubjectaccessreviews",
        "LocalSubjectAccessReview",
        True,
        verbs=["create"],
    ),
    _r(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        False,
        verbs=["create"],
    ),
    _r(
        "authorization.k8s.io",
        "v1",
        "selfsubjectrulesreviews",
        "SelfSubjectRulesReview",
        False,
        verbs=["create"],
    ),
    _r("authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview", False, verbs=["create"]),
    # autoscaling (v2 preferred, v1 also served)
    _r(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        True,
        ["hpa"],
        categories=_ALL,
    ),
    _r(
        "autoscaling",
        "v1",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        True,
        ["hpa"],
        categories=_ALL,
    ),
    # batch
    _r("batch", "v1", "cronjobs", "CronJob", True, ["cj"], categories=_ALL),
    _r("batch", "v1", "jobs", "Job", True, categories=_ALL),
    # certificates.k8s.io
    _r(
        "certificates.k8s.io", "v1", "certificatesigningrequests", "CertificateSigningRequest", False, ["csr"]
    ),
    # networking.k8s.io
    _r("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False),
    _r("networking.k8s.io", "v1", "ingresses", "Ingress", True, ["ing"]),
    _r("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, ["netpol"]),
    # policy
    _r("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ["pdb"]),
    # rbac.authorization.k8s.io
    _r("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _r("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _r("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    _r("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    # storage.k8s.io
    _r("storage.k8s.io", "v1", "csidrivers", "CSIDriver", False),
    _r("storage.k8s.io", "v1", "csinodes", "CSINode", False),
    _r("storage.k8s.io", "v1", "csistoragecapacities", "CSIStorageCapacity", True),
    _r("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, ["sc"]),
    _r("storage.k8s.io", "v1", "volumeattachments", "VolumeAttachment", False),
    # admissionregistration.k8s.io
    _r(
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        False,
        categories=("api-extensions",),
    ),
    _r(
        "admissionregistration.k8s.io",
        "v1",
        "validatingadmissionpolicies",
        "ValidatingAdmissionPolicy",
        False,
        categories=("api-extensions",),
    ),
    _r(
        "admissionregistration.k8s.io",
        "v1",
        "validatingadmissionpolicybindings",
        "ValidatingAdmissionPolicyBinding",
        False,
        categories=("api-extensions",),
    ),
    _r(
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        False,
        categories=("api-extensions",),
    ),
    # apiextensions.k8s.io
    _r(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        ["crd", "crds"],
        categories=("api-extensions",),
    ),
    # scheduling.k8s.io
    _r("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, ["pc"]),
    # coordination.k8s.io
    _r("coordination.k8s.io", "v1", "leases", "Lease", True),
    # node.k8s.io
    _r("node.k8s.io", "v1", "runtimeclasses", "RuntimeClass", False),
    # discovery.k8s.io
    _r("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
    # flowcontrol.apiserver.k8s.io
    _r("flowcontrol.apiserver.k8s.io", "v1", "flowschemas", "FlowSchema", False),
    _r(
        "flowcontrol.apiserver.k8s.io",
        "v1",
        "prioritylevelconfigurations",
        "PriorityLevelConfiguration",
        False,
    ),
    # snapshot.storage.k8s.io (external-snapshotter CRDs, treated as built in)
    _r(
        "snapshot.storage.k8s.io",
        "v1",
        "volumesnapshotclasses",
        "VolumeSnapshotClass",
        False,
        ["vsclass", "vsclasses"],
    ),
    _r(
        "snapshot.storage.k8s.io",
        "v1",
        "volumesnapshotcontents",
        "VolumeSnapshotContent",
        False,
        ["vsc", "vscs"],
    ),
    _r("snapshot.storage.k8s.io", "v1", "volumesnapshots", "VolumeSnapshot", True, ["vs"]),
]


def _s(group, version, resource, kind, namespaced, verbs=STATUS_VERBS):
    return {
        "group": group,
        "version": version,
        "resource": resource,
        "kind": kind,
        "namespaced": namespaced,
        "verbs": list(verbs),
    }


def _status_and_scale(group, version, plural, kind, scale_group="autoscaling", scale_kind="Scale"):
    return [
        _s(group, version, f"{plural}/scale", scale_kind, True),
        _s(group, version, f"{plural}/status", kind, True),
    ]


BUILTIN_SUBRESOURCES = [
    _s("", "v1", "namespaces/finalize", "Namespace", False, ["update"]),
    _s("", "v1", "namespaces/status", "Namespace", False),
    _s("", "v1", "nodes/proxy", "NodeProxyOptions", False, PROXY_VERBS),
    _s("", "v1", "nodes/status", "Node", False),
    _s("", "v1", "persistentvolumeclaims/status", "PersistentVolumeClaim", True),
    _s("", "v1", "persistentvolumes/status", "PersistentVolume", False),
    _s("", "v1", "pods/attach", "PodAttachOptions", True, ["create", "get"]),
    _s("", "v1", "pods/binding", "Binding", True, ["create"]),
    _s("", "v1", "pods/ephemeralcontainers", "Pod", True),
    _s("", "v1", "pods/eviction", "Eviction", True, ["create"]),
    _s("", "v1", "pods/exec", "PodExecOptions", True, ["create", "get"]),
    _s("", "v1", "pods/log", "Pod", True, ["get"]),
    _s("", "v1", "pods/portforward", "PodPortForwardOptions", True, ["create", "get"]),
    _s("", "v1", "pods/proxy", "PodProxyOptions", True, PROXY_VERBS),
    _s("", "v1", "pods/status", "Pod", True),
    *_status_and_scale("", "v1", "replicationcontrollers", "ReplicationController"),
    _s("", "v1", "resourcequotas/status", "ResourceQuota", True),
    _s("", "v1", "serviceaccounts/token", "TokenRequest", True, ["create"]),
    _s("", "v1", "services/proxy", "ServiceProxyOptions", True, PROXY_VERBS),
    _s("", "v1", "services/status", "Service", True),
    _s("apiregistration.k8s.io", "v1", "apiservices/status", "APIService", False),
    _s("apps", "v1", "daemonsets/status", "DaemonSet", True),
    *_status_and_scale("apps", "v1", "deployments", "Deployment"),
    *_status_and_scale("apps", "v1", "replicasets", "ReplicaSet"),
    *_status_and_scale("apps", "v1", "statefulsets", "StatefulSet"),
    _s("autoscaling", "v2", "horizontalpodautoscalers/status", "HorizontalPodAutoscaler", True),
    _s("autoscaling", "v1", "horizontalpodautoscalers/status", "HorizontalPodAutoscaler", True),
    _s("batch", "v1", "cronjobs/status", "CronJob", True),
    _s("batch", "v1", "jobs/status", "Job", True),
    _s(
        "certificates.k8s.io", "v1", "certificatesigningrequests/approval", "CertificateSigningRequest", False
    ),
    _s("certificates.k8s.io", "v1", "certificatesigningrequests/status", "CertificateSigningRequest", False),
    _s("networking.k8s.io", "v1", "ingresses/status", "Ingress", True),
    _s("policy", "v1", "poddisruptionbudgets/status", "PodDisruptionBudget", True),
    _s("storage.k8s.io", "v1", "volumeattachments/status", "VolumeAttachment", False),
    _s(
        "admissionregistration.k8s.io",
        "v1",
        "validatingadmissionpolicies/status",
        "ValidatingAdmissionPolicy",
        False,
    ),
    _s("apiextensions.k8s.io", "v1", "customresourcedefinitions/status", "CustomResourceDefinition", False),
    _s("flowcontrol.apiserver.k8s.io", "v1", "flowschemas/status", "FlowSchema", False),
    _s(
        "flowcontrol.apiserver.k8s.io",
        "v1",
        "prioritylevelconfigurations/status",
        "PriorityLevelConfiguration",
        False,
    ),
    _s("snapshot.storage.k8s.io", "v1", "volumesnapshotcontents/status", "VolumeSnapshotContent", False),
    _s("snapshot.storage.k8s.io", "v1", "volumesnapshots/status", "VolumeSnapshot", True),
]
