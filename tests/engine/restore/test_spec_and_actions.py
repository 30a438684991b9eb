"""The restore spec's validation, resource modifiers and the built-in restore item actions, on dicts."""

import json

import pytest

from backups.engine.restore import RestoreSpec, actions, parse_priorities, restore_spec_problems
from backups.engine.restore.modifiers import ModifierError, apply_json_patch, parse_resource_modifiers


def fields(spec):
    return [f for f, _m in restore_spec_problems(spec)]


def test_a_plain_spec_is_valid():
    assert restore_spec_problems(RestoreSpec(backup_name="b")) == []


@pytest.mark.parametrize(
    ("spec", "field", "text"),
    [
        (RestoreSpec(backup_name=""), "backup_name", "required"),
        (RestoreSpec(backup_name="b", included_namespaces=("*", "a")), "included_namespaces", "'*' only"),
        (
            RestoreSpec(backup_name="b", excluded_namespaces=("Bad_Name",)),
            "excluded_namespaces",
            "invalid namespace",
        ),
        (RestoreSpec(backup_name="b", included_resources=("nodes",)), "included_resources", "non-restorable"),
        (RestoreSpec(backup_name="b", excluded_resources=("*",)), "excluded_resources", "cannot be excluded"),
        (
            RestoreSpec(
                backup_name="b", label_selector={"matchLabels": {"a": "b"}}, or_label_selectors=({},)
            ),
            "or_label_selectors",
            "only one can be specified",
        ),
        (RestoreSpec(backup_name="b", label_selector={"matchLabels": {"a b": "c"}}), "label_selector", "key"),
        (
            RestoreSpec(backup_name="b", namespace_mapping={"a": "c", "b": "c"}),
            "namespace_mapping",
            "both mapped",
        ),
        (RestoreSpec(backup_name="b", namespace_mapping={"a": "Not_OK"}), "namespace_mapping", "RFC 1123"),
        (
            RestoreSpec(backup_name="b", existing_resource_policy="replace"),
            "existing_resource_policy",
            "none or update",
        ),
        (
            RestoreSpec(
                backup_name="b",
                restore_status={"included_resources": ["pods"], "excluded_resources": ["pods"]},
            ),
            "restore_status",
            "both included and excluded",
        ),
        (
            RestoreSpec(backup_name="b", resource_modifiers="version: v2\nresourceModifierRules: []"),
            "resource_modifiers",
            "version",
        ),
        (RestoreSpec(backup_name="b", priorities=("a", "-", "b", "-")), "priorities", "at most one"),
        (RestoreSpec(backup_name="b", hooks=({"name": "h", "postHooks": [{}]},)), "hooks", "init or exec"),
        (RestoreSpec(backup_name="b", workers=0), "workers", "1 to 64"),
    ],
)
def test_problems_name_the_field(spec, field, text):
    problems = restore_spec_problems(spec)
    assert any(f == field and text in m for f, m in problems), problems


def test_priorities():
    assert parse_priorities("pods, services,-,configmaps") == ("pods", "services", "-", "configmaps")
    spec = RestoreSpec(backup_name="b", priorities=parse_priorities("pods,-,configmaps"))
    assert spec.high_and_low_priorities() == (["pods"], ["configmaps"])
    high, low = RestoreSpec(backup_name="b").high_and_low_priorities()
    assert high[:2] == ["customresourcedefinitions", "namespaces"] and high[-1] == "services"
    assert low[0] == "clusterbootstraps.run.tanzu.vmware.com"


def test_modifier_documents_are_checked():
    with pytest.raises(ModifierError, match="rule 1: conditions.groupResource cannot be empty"):
        parse_resource_modifiers(
            "version: v1\nresourceModifierRules:\n- conditions: {}\n  patches: [{operation: add, path: /a}]"
        )
    with pytest.raises(ModifierError, match="only one of patches"):
        parse_resource_modifiers(
            "version: v1\nresourceModifierRules:\n- conditions: {groupResource: pods}\n"
            "  patches: [{operation: add, path: /a}]\n  mergePatches: [{patchData: '{}'}]"
        )
    with pytest.raises(ModifierError, match="unsupported operation jump"):
        parse_resource_modifiers(
            "version: v1\nresourceModifierRules:\n- conditions: {groupResource: pods}\n"
            "  patches: [{operation: jump, path: /a}]"
        )


def test_json_patch_values_are_read_as_velero_reads_them():
    rules = parse_resource_modifiers(
        """
version: v1
resourceModifierRules:
- conditions: {groupResource: deployments.apps}
  patches:
  - {operation: replace, path: /spec/replicas, value: "3"}
  - {operation: add, path: /metadata/labels/quoted, value: '"3"'}
  - {operation: add, path: /spec/template/spec/containers/0, value: '{"name": "extra"}'}
  - {operation: test, path: /spec/paused, value: "false"}
"""
    )
    obj = {
        "metadata": {"labels": {}},
        "spec": {"replicas": 1, "paused": False, "template": {"spec": {"containers": []}}},
    }
    out, errors = rules.apply(obj, "deployments.apps")
    assert errors == []
    assert out["spec"]["replicas"] == 3 and out["metadata"]["labels"]["quoted"] == "3"
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "extra"}]
    # a failed test leaves the object as it was
    obj["spec"]["paused"] = True
    assert rules.apply(obj, "deployments.apps")[0] == obj
    # `*` in groupResource does not cross a dot (gobwas/glob with '.')
    assert rules.rules[0].matches_object(obj, "deployments.apps")
    assert (
        parse_resource_modifiers(
            "version: v1\nresourceModifierRules:\n- conditions: {groupResource: '*'}\n"
            "  patches: [{operation: remove, path: /a}]"
        )
        .rules[0]
        .matches_object({}, "deployments.apps")
        is False
    )


def test_json_patch_move_copy_remove():
    doc = {"a": {"b": 1}, "l": [1, 2, 3]}
    out = apply_json_patch(
        doc,
        [
            {"op": "move", "from": "/a/b", "path": "/c"},
            {"op": "copy", "from": "/l/0", "path": "/l/-"},
            {"op": "remove", "path": "/l/1"},
        ],
    )
    assert out == {"a": {}, "c": 1, "l": [1, 3, 1]} and doc == {"a": {"b": 1}, "l": [1, 2, 3]}


def test_service_node_ports_explicit_in_last_applied_are_kept():
    applied = {"spec": {"ports": [{"name": "http", "port": 80, "nodePort": 30080}]}}
    svc = {
        "metadata": {"annotations": {actions.LAST_APPLIED: json.dumps(applied)}},
        "spec": {
            "type": "NodePort",
            "clusterIP": "10.0.0.1",
            "ports": [
                {"name": "http", "port": 80, "nodePort": 30080},
                {"name": "admin", "port": 81, "nodePort": 30081},
            ],
        },
    }
    out = actions.service_action(svc, None)
    assert out["spec"]["ports"] == [
        {"name": "http", "port": 80, "nodePort": 30080},
        {"name": "admin", "port": 81},
    ]
    assert "clusterIP" not in out["spec"]
    headless = actions.service_action({"spec": {"clusterIP": "None", "clusterIPs": ["None"]}}, None)
    assert headless["spec"]["clusterIP"] == "None"


def test_service_node_ports_from_managed_fields():
    svc = {
        "metadata": {
            "managedFields": [
                {"fieldsV1": {"f:spec": {"f:ports": {'k:{"port":80,"protocol":"TCP"}': {"f:nodePort": {}}}}}}
            ]
        },
        "spec": {
            "type": "NodePort",
            "ports": [
                {"port": 80, "protocol": "TCP", "nodePort": 30080},
                {"port": 81, "protocol": "TCP", "nodePort": 1},
            ],
        },
    }
    out = actions.service_action(svc, None)
    assert [p.get("nodePort") for p in out["spec"]["ports"]] == [30080, None]


def test_pod_job_and_secret_actions():
    pod = {
        "spec": {
            "nodeName": "n1",
            "priority": 10,
            "serviceAccountName": "app",
            "volumes": [{"name": "app-token-abcde"}, {"name": "data"}],
            "containers": [{"name": "c", "volumeMounts": [{"name": "app-token-abcde"}, {"name": "data"}]}],
        }
    }
    out = actions.pod_action(pod)
    assert "nodeName" not in out["spec"] and "priority" not in out["spec"]
    assert out["spec"]["volumes"] == [{"name": "data"}] and out["spec"]["containers"][0]["volumeMounts"] == [
        {"name": "data"}
    ]
    job = {
        "spec": {
            "selector": {
                "matchLabels": {"controller-uid": "x", "batch.kubernetes.io/controller-uid": "x", "app": "a"}
            },
            "template": {"metadata": {"labels": {"controller-uid": "x", "app": "a"}}},
        }
    }
    out = actions.job_action(job)
    assert out["spec"]["selector"]["matchLabels"] == {"app": "a"}
    assert out["spec"]["template"]["metadata"]["labels"] == {"app": "a"}
    token = {
        "type": "kubernetes.io/service-account-token",
        "metadata": {"name": "app-token-x"},
        "data": {"token": "t"},
    }
    assert actions.secret_action(token, {"app"})[0] is None
    kept, _ = actions.secret_action(
        {**token, "metadata": {"name": "manual", "annotations": {"kubernetes.io/service-account.uid": "u"}}},
        {"app"},
    )
    assert kept["data"] == {} and kept["metadata"]["annotations"] == {}


def test_pv_decisions():
    retain = {"spec": {"persistentVolumeReclaimPolicy": "Retain"}}
    delete = {"spec": {"persistentVolumeReclaimPolicy": "Delete"}}
    assert actions.pv_decision(retain, {"backupMethod": "CSISnapshot"}, False)[0] == actions.PV_PROVISION
    assert actions.pv_decision(retain, None, True)[0] == actions.PV_PROVISION
    assert actions.pv_decision(retain, None, False)[0] == actions.PV_RESTORE
    assert actions.pv_decision(delete, {"skipped": True}, False)[0] == actions.PV_PROVISION


def test_label_values_over_63_characters_are_shortened_as_velero_does():
    name = "r" * 70
    value = actions.valid_label_value(name)
    assert len(value) == 63 and value.startswith("r" * 57)
    assert actions.valid_label_value("short") == "short"


def test_merge_patch_and_diffs():
    a = {"data": {"k": "1", "gone": "x"}, "metadata": {"labels": {"l": "1"}}}
    b = {"data": {"k": "2"}, "metadata": {"labels": {"l": "1"}}}
    assert actions.create_merge_patch(a, b) == {"data": {"k": "2", "gone": None}}
    assert actions.create_merge_patch(a, a) is None
    assert actions.field_diff(b, a) == [("data.gone", None, "x"), ("data.k", "2", "1")]
    assert actions.semantic_equal({"a": {}, "b": 1}, {"b": 1})
