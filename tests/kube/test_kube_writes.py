"""KubeSource.create / delete against the emulator over real HTTP."""

import pytest

from backups.engine.source import SourceError


def _cm(name=None, generate=None, ns=None):
    meta = {}
    if name:
        meta["name"] = name
    if generate:
        meta["generateName"] = generate
    if ns:
        meta["namespace"] = ns
    return {"metadata": meta, "data": {"k": "v"}}


def test_create_sets_type_and_returns_server_object(source, emu):
    cms = source.resources().resolve("configmaps")
    obj = source.create(cms, "dev", _cm("created-1"))
    try:
        assert obj["apiVersion"] == "v1" and obj["kind"] == "ConfigMap"
        assert obj["metadata"]["namespace"] == "dev" and obj["metadata"]["uid"]
        assert emu.get("configmaps", "dev", "created-1")["data"] == {"k": "v"}
        assert source.get(cms, "dev", "created-1")["metadata"]["uid"] == obj["metadata"]["uid"]
    finally:
        emu.delete("configmaps", "dev", "created-1")


def test_create_with_generate_name(source, emu):
    cms = source.resources().resolve("configmaps")
    obj = source.create(cms, "dev", _cm(generate="gen-"))
    name = obj["metadata"]["name"]
    assert name.startswith("gen-") and len(name) > len("gen-")
    assert source.delete(cms, "dev", name) is True
    assert emu.get("configmaps", "dev", name) is None


def test_create_cluster_scoped_and_crd(source, emu):
    table = source.resources()
    ns = source.create(table.resolve("namespaces"), None, {"metadata": {"name": "created-ns"}})
    assert ns["kind"] == "Namespace"
    widget = source.create(table.resolve("widgets.example.com"), "created-ns", {"metadata": {"name": "w9"}})
    assert widget["apiVersion"] == "example.com/v1" and widget["kind"] == "Widget"
    assert source.delete(table.resolve("widgets.example.com"), "created-ns", "w9") is True
    assert source.delete(table.resolve("namespaces"), None, "created-ns") is True


def test_create_existing_is_409(source):
    cms = source.resources().resolve("configmaps")
    with pytest.raises(SourceError) as err:
        source.create(cms, "shop", _cm("cm-1"))
    assert err.value.status == 409
    assert err.value.resource == "configmaps" and err.value.namespace == "shop"
    assert "cm-1" in str(err.value) and "already exists" in str(err.value)


def test_create_forbidden_names_resource_namespace_and_name(source, emu):
    cms = source.resources().resolve("configmaps")
    emu.fail(403, resource="configmaps", verb="create")
    with pytest.raises(SourceError) as err:
        source.create(cms, "dev", _cm("denied"))
    assert err.value.status == 403
    assert err.value.namespace == "dev"
    assert "forbidden" in str(err.value) and "denied" in str(err.value)
    assert emu.get("configmaps", "dev", "denied") is None


def test_create_in_missing_namespace_is_404(source):
    cms = source.resources().resolve("configmaps")
    with pytest.raises(SourceError) as err:
        source.create(cms, "no-such-ns", _cm("x"))
    assert err.value.status == 404


def test_create_needs_namespace_for_namespaced(source):
    cms = source.resources().resolve("configmaps")
    with pytest.raises(ValueError):
        source.create(cms, None, _cm("x"))


def test_create_throttled_is_retried(source, emu):
    cms = source.resources().resolve("configmaps")
    emu.fail(429, resource="configmaps", verb="create", times=1)
    obj = source.create(cms, "dev", _cm(generate="throttled-"))
    assert source.delete(cms, "dev", obj["metadata"]["name"]) is True


def test_delete_missing_is_false(source):
    cms = source.resources().resolve("configmaps")
    assert source.delete(cms, "dev", "never-existed") is False


def test_delete_forbidden_raises(source, emu):
    cms = source.resources().resolve("configmaps")
    emu.fail(403, resource="configmaps", verb="delete")
    with pytest.raises(SourceError) as err:
        source.delete(cms, "shop", "cm-0")
    assert err.value.status == 403 and "cm-0" in str(err.value)
    assert emu.get("configmaps", "shop", "cm-0") is not None


def test_delete_needs_name(source):
    cms = source.resources().resolve("configmaps")
    with pytest.raises(ValueError):
        source.delete(cms, "dev", "")


def test_patch_merge_json_and_status(source, emu):
    table = source.resources()
    cms = table.resolve("configmaps")
    source.create(cms, "dev", {"metadata": {"name": "patched"}, "data": {"a": "1", "b": "2"}})
    try:
        out = source.patch(cms, "dev", "patched", {"data": {"a": "9", "b": None}})
        assert out["data"] == {"a": "9"} and out["kind"] == "ConfigMap"
        out = source.patch(
            cms,
            "dev",
            "patched",
            [{"op": "add", "path": "/data/c", "value": "3"}],
            patch_type="application/json-patch+json",
        )
        assert emu.get("configmaps", "dev", "patched")["data"] == {"a": "9", "c": "3"}
    finally:
        emu.delete("configmaps", "dev", "patched")
    deployments = table.resolve("deployments.apps")
    out = source.patch(deployments, "shop", "web", {"status": {"replicas": 7}}, subresource="status")
    assert out["status"] == {"replicas": 7}
    with pytest.raises(SourceError) as err:
        source.patch(cms, "dev", "nope", {"data": {}})
    assert err.value.status == 404 and "nope" in str(err.value)
    with pytest.raises(SourceError) as err:
        source.patch(
            cms, "dev", "x", [{"op": "remove", "path": "/data/zz"}], patch_type="application/json-patch+json"
        )
    assert err.value.status == 404
    with pytest.raises(TypeError):
        source.patch(cms, "dev", "x", {"a": 1}, patch_type="application/json-patch+json")
    with pytest.raises(ValueError, match="unknown patch type"):
        source.patch(cms, "dev", "x", {}, patch_type="text/plain")
