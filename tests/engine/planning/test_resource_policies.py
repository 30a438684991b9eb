"""Velero's resource policy document: parsed strictly, every refusal naming its line and field, and
volume conditions matched as `internal/resourcepolicies` matches them."""

from decimal import Decimal

import pytest

from backups.engine.planning.resource_policies import PolicyError, parse_resource_policies, quantity

# the template of Velero's resource-filtering.md, whole
VELERO_TEMPLATE = """\
# currently only supports v1 version
version: v1
includeExcludePolicy:
  includedClusterScopedResources:
    - "crd"
    - "pv"
  excludedClusterScopedResources: []
  includedNamespaceScopedResources:
    - "pod"
    - "service"
    - "deployment"
    - "pvc"
  excludedNamespaceScopedResources:
    - "configmap"
    - "secret"
volumePolicies:
- conditions:
    capacity: "10,100Gi"
    csi:
      driver: ebs.csi.aws.com
    storageClass:
      - gp2
      - standard
    pvcPhase:
      - Pending
  action:
    type: skip
- conditions:
    capacity: "0,100Gi"
    nfs:
      server: 192.168.200.90
      path: /mnt/data
  action:
    type: skip
- conditions:
    nfs:
      server: 192.168.200.90
  action:
    type: fs-backup
- conditions:
    nfs: {}
  action:
    type: skip
- conditions:
    csi:
      driver: aws.efs.csi.driver
  action:
    type: skip
- conditions:
    csi: {}
  action:
    type: snapshot
"""


def pv(size="20Gi", storage_class="", csi=None, nfs=None, host_path=False, labels=None):
    spec = {"capacity": {"storage": size}, "storageClassName": storage_class}
    if csi:
        spec["csi"] = {
            "driver": csi[0],
            "volumeHandle": "h",
            **({"volumeAttributes": csi[1]} if len(csi) > 1 else {}),
        }
    if nfs:
        spec["nfs"] = {"server": nfs[0], "path": nfs[1]}
    if host_path:
        spec["hostPath"] = {"path": "/data"}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": "v", "labels": labels},
        "spec": spec,
    }


def pvc(phase="Bound", labels=None):
    meta = {"name": "c", "namespace": "a", **({"labels": labels} if labels else {})}
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta, "status": {"phase": phase}}


def test_veleros_documented_template_parses_whole():
    policies = parse_resource_policies(VELERO_TEMPLATE)
    assert [p.action for p in policies.volume_policies] == [
        "skip",
        "skip",
        "fs-backup",
        "skip",
        "skip",
        "snapshot",
    ]
    assert policies.has_include_exclude_policy
    assert policies.included_cluster_scoped_resources == ["crd", "pv"]
    assert policies.excluded_namespace_scoped_resources == ["configmap", "secret"]
    assert policies.warnings == []


@pytest.mark.parametrize(
    ("volume", "claim", "action"),
    [
        # the first policy whose conditions all hold wins
        (pv("50Gi", "gp2", csi=("ebs.csi.aws.com",)), pvc("Pending"), "skip"),
        (pv("50Gi", "gp2", csi=("ebs.csi.aws.com",)), pvc("Bound"), "snapshot"),  # phase differs
        (pv("200Gi", "gp2", csi=("ebs.csi.aws.com",)), pvc("Pending"), "snapshot"),  # above 100Gi
        (pv("50Gi", nfs=("192.168.200.90", "/mnt/data")), pvc(), "skip"),
        (pv("500Gi", nfs=("192.168.200.90", "/mnt/data")), pvc(), "fs-backup"),  # above 100Gi
        (pv("500Gi", nfs=("10.0.0.1", "/x")), pvc(), "skip"),  # nfs: {} is any NFS volume
        (pv(csi=("aws.efs.csi.driver",)), pvc(), "skip"),
        (pv(csi=("other.csi",)), pvc(), "snapshot"),  # csi: {} is any CSI volume
        (pv(host_path=True), pvc(), None),
        (None, pvc("Pending"), None),  # a claim without volume: only claim conditions can hold
    ],
)
def test_volume_conditions_match_as_veleros(volume, claim, action):
    assert parse_resource_policies(VELERO_TEMPLATE).action_for(volume, claim) == action


@pytest.mark.parametrize(
    ("conditions", "volume", "claim", "matches"),
    [
        ("capacity: ',10Gi'", pv("10Gi"), pvc(), True),
        ("capacity: ',10Gi'", pv("10.5Gi"), pvc(), False),
        ("capacity: '10Gi,'", pv("10Gi"), pvc(), True),
        ("capacity: '1Gi,2Gi'", pv("1500Mi"), pvc(), True),
        ("capacity: '1G,2G'", pv("1Gi"), pvc(), True),  # 1073741824 lies in [1e9, 2e9]
        ("storageClass: [gp2]", pv(storage_class=""), pvc(), False),
        (
            "csi: {driver: d, volumeAttributes: {tier: gold}}",
            pv(csi=("d", {"tier": "gold", "x": "y"})),
            pvc(),
            True,
        ),
        ("csi: {driver: d, volumeAttributes: {tier: gold}}", pv(csi=("d", {"tier": "silver"})), pvc(), False),
        ("csi: {driver: d, volumeAttributes: {tier: gold}}", pv(csi=("d",)), pvc(), False),
        ("nfs: {path: /x}", pv(nfs=("any", "/x")), pvc(), True),
        ("volumeTypes: [hostPath, nfs]", pv(host_path=True), pvc(), True),
        ("volumeTypes: [csi]", pv(host_path=True), pvc(), False),
        ("pvcLabels: {app: db}", pv(), pvc(labels={"app": "db", "x": "y"}), True),
        ("pvcLabels: {app: db}", pv(), pvc(), False),
        ("pvcPhase: [Bound, Lost]", pv(), pvc("Lost"), True),
        ("pvcPhase: [Bound]", None, pvc("Pending"), False),
    ],
)
def test_each_condition(conditions, volume, claim, matches):
    policies = parse_resource_policies(
        f"version: v1\nvolumePolicies:\n- conditions: {{{conditions}}}\n  action: {{type: skip}}\n"
    )
    assert policies.action_for(volume, claim) == ("skip" if matches else None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "resource policy: empty document; expected at least 'version: v1'"),
        ("volumePolicies: []\n", "resource policy line 1: version: no version is not supported"),
        (
            "version: v1\nvolumePolicy: []\n",
            "resource policy line 2: volumePolicy: unknown field; expected one of version, volumePolicies, includeExcludePolicy",  # noqa: E501
        ),
        ("version: v1\nvolumePolicies: [\n", "resource policy line 3: not valid YAML"),
        (
            "version: v1\nvolumePolicies:\n- conditions: {capacity: '1Gi'}\n  action: {type: skip}\n",
            "resource policy line 3: volumePolicies[0].conditions.capacity: wrong format '1Gi'",
        ),
        (
            "version: v1\nvolumePolicies:\n- conditions: {capacity: '10Gi,1Gi'}\n  action: {type: skip}\n",
            "line 3: volumePolicies[0].conditions.capacity: illegal values '10Gi,1Gi'",
        ),
        (
            "version: v1\nvolumePolicies:\n- conditions: {capacity: 'ten,'}\n  action: {type: skip}\n",
            "'ten' is not a quantity",
        ),
        (
            "version: v1\nvolumePolicies:\n- conditions: {}\n  action:\n    type: delete\n",
            "resource policy line 5: volumePolicies[0].action.type: invalid action type 'delete'",
        ),
        (
            "version: v1\nvolumePolicies:\n- conditions: {}\n",
            "resource policy line 3: volumePolicies[0]: a volume policy needs an action",
        ),
        (
            "version: v1\nvolumePolicies:\n- conditions: {size: 1}\n  action: {type: skip}\n",
            "line 3: volumePolicies[0].conditions.size: unknown field",
        ),
        (
            "version: v1\nvolumePolicies:\n- conditions:\n    csi: {volumeAttributes: {a: b}}\n  action: {type: skip}\n",  # noqa: E501
            "line 4: volumePolicies[0].conditions.csi: csi driver should not be empty when filtering by volume attributes",  # noqa: E501
        ),
        (
            "version: v1\nvolumePolicies:\n- conditions: {pvcLabels: [a]}\n  action: {type: skip}\n",
            "volumePolicies[0].conditions.pvcLabels: must be a map of string to string",
        ),
        ("version: v1\nvolumePolicies: {a: b}\n", "line 2: volumePolicies: expected a list"),
        (
            "version: v1\nincludeExcludePolicy:\n  includedClusterScopedResources: ['*']\n",
            "line 3: includeExcludePolicy.includedClusterScopedResources: cannot use '*' in includes or excludes filters in the policy",  # noqa: E501
        ),
        (
            "version: v1\nincludeExcludePolicy:\n  includedNamespaceScopedResources: [pods]\n  excludedNamespaceScopedResources: [pods]\n",  # noqa: E501
            "line 4: includeExcludePolicy.excludedNamespaceScopedResources: excludes list cannot contain an item in the includes list: pods",  # noqa: E501
        ),
    ],
)
def test_a_policy_velero_refuses_is_one_error_naming_line_and_field(text, message):
    with pytest.raises(PolicyError) as refused:
        parse_resource_policies(text)
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_volume_type_or_phase_velero_does_not_know_is_accepted_with_a_warning():
    policies = parse_resource_policies(
        "version: v1\nvolumePolicies:\n- conditions: {volumeTypes: [nsf], pvcPhase: [Bond]}\n  action: {type: skip}\n"  # noqa: E501
    )
    assert policies.warnings == [
        "resource policy line 3: volumePolicies[0].conditions.volumeTypes: nsf is not a volume type Velero "
        "knows, so it matches no volume",
        "resource policy line 3: volumePolicies[0].conditions.pvcPhase: Bond is not a claim phase (Pending, "
        "Bound, Lost), so it matches no claim",
    ]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("10Gi", 10 * 2**30),
        ("500M", 500 * 10**6),
        ("1.5", Decimal("1.5")),
        ("1e3", 1000),
        ("100m", Decimal("0.1")),
    ],
)
def test_quantities_are_exact(text, value):
    assert quantity(text) == value
