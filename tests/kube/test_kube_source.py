"""backups.kube against the real KubeEmulator over HTTP."""

import json
import os
import time
import urllib.request

import pytest
import yaml

from backups.engine.planning.resources import ResourceInfo
from backups.engine.source import SourceError
from backups.kube import ExecResult, KubeConfigError, KubeSource, connect
from backups.kube.discovery import discover

from .conftest import NAMESPACES, sample_objects, start_emulator


def _raw(emu, path):
    with urllib.request.urlopen(emu.url + path, timeout=5) as resp:
        return json.loads(resp.read())


def _keys(objs):
    return [(o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in objs]


# ---------------------------------------------------------------- discovery


def test_connect_attributes(source, emu):
    assert isinstance(source, KubeSource)
    assert source.server_url == emu.url
    assert source.context == "emulator"


def test_discovery_order_and_preferred_versions(source, emu):
    table = source.resources()
    served = _raw(emu, "/apis")["groups"]
    expected_groups = [g["name"] for g in served]
    preferred = {g["name"]: g["preferredVersion"]["version"] for g in served}

    groups_in_table = []
    for info in table:
        if info.group not in groups_in_table:
            groups_in_table.append(info.group)
    # core first, then /apis groups exactly in the server's order
    assert groups_in_table[0] == ""
    assert groups_in_table[1:] == [g for g in expected_groups if g in groups_in_table]
    assert len(groups_in_table) > 10
    for info in table:
        if info.group:
            assert info.version == preferred[info.group], info
        else:
            assert info.version == "v1"
    # a group served at several versions appears once, at its preferred one
    hpa = [i for i in table if i.resource == "horizontalpodautoscalers"]
    assert [(i.group, i.version) for i in hpa] == [("autoscaling", preferred["autoscaling"])]
    assert source.warnings == []


def test_discovery_skips_subresources_and_keeps_metadata(source, emu):
    raw_core = [r["name"] for r in _raw(emu, "/api/v1")["resources"]]
    assert "pods/exec" in raw_core and "pods/log" in raw_core  # the server does list them
    table = source.resources()
    assert all("/" not in info.resource for info in table)
    assert [i.resource for i in table if i.group == ""] == [n for n in raw_core if "/" not in n]

    pods = table.resolve("po")
    assert pods == ResourceInfo(
        group="",
        version="v1",
        resource="pods",
        kind="Pod",
        namespaced=True,
        short_names=pods.short_names,
        verbs=pods.verbs,
        singular="pod",
    )
    assert "po" in pods.short_names
    assert {"list", "get", "create", "delete"} <= set(pods.verbs)
    assert pods.backupable
    assert table.resolve("deploy").group_resource == "deployments.apps"
    nodes = table.resolve("nodes")
    assert nodes.namespaced is False and nodes.kind == "Node"
    assert table.resolve("bindings").backupable is False  # create-only: verbs kept as served


def test_crd_group_present_at_storage_version(source):
    table = source.resources()
    widgets = table.by_group_resource("widgets.example.com")
    assert widgets is not None
    assert (widgets.version, widgets.kind, widgets.namespaced) == ("v1", "Widget", True)
    assert widgets.short_names == ("wd",)
    assert widgets.singular == "widget"
    assert table.resolve("wd") is widgets
    objs = list(source.list(widgets))
    assert _keys(objs) == [("shop", "w1")]
    assert objs[0]["apiVersion"] == "example.com/v1" and objs[0]["kind"] == "Widget"


def test_discovery_is_cached_per_connection(source, emu):
    source.resources()
    before = emu.requests[("discovery", None)]
    source.resources()
    assert emu.requests[("discovery", None)] == before


def test_discovery_failure_of_one_group_is_a_warning():
    docs = {
        "/api": {"versions": ["v1"]},
        "/api/v1": {"resources": [{"name": "pods", "kind": "Pod", "namespaced": True, "verbs": ["list"]}]},
        "/apis": {
            "groups": [
                {"name": "apps", "preferredVersion": {"version": "v1"}, "versions": [{"version": "v1"}]},
                {"name": "metrics.k8s.io", "preferredVersion": {"version": "v1beta1"}},
                {"name": "b.io", "preferredVersion": {"version": "v2"}, "versions": [{"version": "v1"}]},
            ]
        },
        "/apis/apps/v1": {"resources": [{"name": "deployments", "kind": "Deployment", "namespaced": True}]},
        "/apis/b.io/v2": {"resources": [{"name": "bees", "kind": "Bee", "namespaced": False}]},
    }

    def fetch(path):
        if path not in docs:
            raise SourceError("the server is currently unable to handle it", resource=path, status=503)
        return docs[path]

    warnings = []
    table = discover(fetch, warnings)
    assert [i.group_resource for i in table] == ["pods", "deployments.apps", "bees.b.io"]
    assert table.by_group_resource("bees.b.io").version == "v2"
    assert len(warnings) == 1 and "metrics.k8s.io/v1beta1" in warnings[0] and "503" in warnings[0]


def test_discovery_total_failure_is_a_source_error(kubeconfig, emu):
    src = connect(kubeconfig, request_timeout=5)
    emu.fail(503, verb="discovery")
    with pytest.raises(SourceError) as err:
        src.resources()
    assert err.value.status == 503


# ---------------------------------------------------------------- list / get


def _expected_configmaps(namespace=None, pred=lambda o: True):
    objs = [o for o in sample_objects() if o["kind"] == "ConfigMap" and pred(o)]
    if namespace:
        objs = [o for o in objs if o["metadata"]["namespace"] == namespace]
    return sorted(_keys(objs))


def test_list_paginates_every_object_once_in_order(small_pages, emu):
    cms = small_pages.resources().resolve("configmaps")
    before = emu.requests[("list", "configmaps")]
    objs = list(small_pages.list(cms))
    keys = _keys(objs)
    expected = _expected_configmaps()
    assert len(expected) == 15
    assert keys == expected  # every object exactly once, (namespace, name) order
    assert len(set(keys)) == len(keys)
    assert emu.requests[("list", "configmaps")] - before == 8  # 15 objects at 2 per page
    for o in objs:
        assert o["apiVersion"] == "v1" and o["kind"] == "ConfigMap"
        assert list(o)[:2] == ["apiVersion", "kind"]
        assert o["data"]["key"] == f"{o['metadata']['namespace']}/{o['metadata']['name']}"


def test_list_streams_page_by_page_with_one_page_asked_ahead(small_pages, emu):
    cms = small_pages.resources().resolve("configmaps")
    before = emu.requests[("list", "configmaps")]

    def pages_asked(expected):
        deadline = time.monotonic() + 5
        while emu.requests[("list", "configmaps")] - before < expected and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # and no more than that
        return emu.requests[("list", "configmaps")] - before

    it = small_pages.list(cms)
    assert pages_asked(0) == 0  # lazy: nothing requested yet
    next(it)
    assert pages_asked(2) == 2  # the first page in hand, the second asked for meanwhile
    next(it)
    assert pages_asked(2) == 2
    next(it)
    assert pages_asked(3) == 3


def test_list_cluster_scoped_and_apps(source):
    table = source.resources()
    pvs = list(source.list(table.resolve("pv")))
    assert _keys(pvs) == [("", "pv-1")]
    assert pvs[0]["kind"] == "PersistentVolume"
    deps = list(source.list(table.resolve("deployments"), namespace="shop"))
    assert _keys(deps) == [("shop", "web")]
    assert (deps[0]["apiVersion"], deps[0]["kind"]) == ("apps/v1", "Deployment")
    with pytest.raises(ValueError, match="cluster-scoped"):
        source.list(table.resolve("pv"), namespace="shop")


def test_list_namespace_and_label_selectors(small_pages):
    cms = small_pages.resources().resolve("cm")
    assert _keys(small_pages.list(cms, namespace="shop")) == _expected_configmaps("shop")
    front = _keys(small_pages.list(cms, label_selector="tier=front"))
    assert front == _expected_configmaps(pred=lambda o: o["metadata"]["labels"]["tier"] == "front")
    assert len(front) == 9
    both = _keys(small_pages.list(cms, namespace="web", label_selector="tier=back,idx in (1,2,3)"))
    assert both == [("web", "cm-1"), ("web", "cm-3")]
    assert list(small_pages.list(cms, namespace="nowhere")) == []


def test_invalid_label_selector_names_it(source):
    cms = source.resources().resolve("configmaps")
    with pytest.raises(SourceError) as err:
        list(source.list(cms, namespace="shop", label_selector="tier in front"))
    assert err.value.status == 400
    assert err.value.resource == "configmaps" and err.value.namespace == "shop"
    assert "tier in front" in str(err.value)


def test_get_and_not_found(source):
    table = source.resources()
    cm = source.get(table.resolve("configmaps"), "dev", "cm-2")
    assert cm["metadata"]["name"] == "cm-2" and cm["data"] == {"key": "dev/cm-2"}
    assert cm["apiVersion"] == "v1" and cm["kind"] == "ConfigMap"
    assert source.get(table.resolve("configmaps"), "dev", "missing") is None
    assert source.get(table.resolve("pv"), None, "pv-1")["metadata"]["name"] == "pv-1"
    assert source.get(table.resolve("pv"), None, "nope") is None
    assert source.get(table.resolve("widgets.example.com"), "shop", "w1")["kind"] == "Widget"


# ---------------------------------------------------------------- errors


def test_forbidden_on_one_resource_names_resource_and_namespace(source, emu):
    table = source.resources()
    emu.fail(403, resource="secrets", namespace="shop", verb="list")
    with pytest.raises(SourceError) as err:
        list(source.list(table.resolve("secrets"), namespace="shop"))
    e = err.value
    assert (e.status, e.resource, e.namespace) == (403, "secrets", "shop")
    text = str(e)
    assert text.startswith("secrets in namespace shop: forbidden: User ")
    assert "cannot list" in text and text.endswith("(HTTP 403)")
    # other resources and namespaces are unaffected
    assert list(source.list(table.resolve("secrets"), namespace="dev")) == []
    assert len(list(source.list(table.resolve("configmaps"), namespace="shop"))) == 5


def test_server_errors_become_source_errors(source, emu):
    table = source.resources()
    deployments = table.resolve("deployments")
    emu.fail(500, resource="deployments")
    with pytest.raises(SourceError) as err:
        list(source.list(deployments))
    assert err.value.status == 500 and err.value.resource == "deployments.apps"
    assert "injected fault" in str(err.value)
    with pytest.raises(SourceError) as err:
        source.get(deployments, "shop", "web")
    assert err.value.status == 500 and err.value.namespace == "shop"


def test_error_in_the_middle_of_a_list(small_pages, emu):
    cms = small_pages.resources().resolve("configmaps")
    emu.fail(500, resource="configmaps", verb="list", times=1, skip=1)  # the second page's request
    it = small_pages.list(cms)
    first = [next(it), next(it)]
    with pytest.raises(SourceError) as err:
        list(it)
    assert err.value.status == 500
    assert len(first) == 2


def test_expired_continue_token_is_a_clear_error(small_pages, emu):
    cms = small_pages.resources().resolve("configmaps")
    emu.fail(410, resource="configmaps", verb="list", times=1, skip=1)  # the second page's request
    it = small_pages.list(cms)
    next(it)
    with pytest.raises(SourceError) as err:
        list(it)
    assert err.value.status == 410
    assert "continue token expired after 2 objects" in str(err.value)


def test_throttled_request_is_retried(source, emu):
    cms = source.resources().resolve("configmaps")
    emu.fail(429, resource="configmaps", verb="list", times=1)  # Retry-After: 1
    started = time.monotonic()
    assert len(list(source.list(cms, namespace="web"))) == 5
    assert 0.9 < time.monotonic() - started < 3


def test_latency_beyond_request_timeout(kubeconfig, emu):
    src = connect(kubeconfig, request_timeout=0.5)
    cms = src.resources().resolve("configmaps")
    emu.set_latency(3, resource="configmaps")
    started = time.monotonic()
    with pytest.raises(SourceError) as err:
        list(src.list(cms, namespace="dev"))
    elapsed = time.monotonic() - started
    assert "timed out" in str(err.value)
    assert err.value.resource == "configmaps" and err.value.namespace == "dev"
    assert elapsed < 1.5  # one attempt, not silently retried
    emu.set_latency(0, resource="configmaps")
    assert len(list(src.list(cms, namespace="dev"))) == 5


def test_unreachable_server(tmp_path):
    emulator = start_emulator([])
    path = str(tmp_path / "kc")
    emulator.write_kubeconfig(path)
    emulator.stop()
    src = connect(path, request_timeout=2)
    with pytest.raises(SourceError) as err:
        src.resources()
    assert "cannot reach the API server" in str(err.value)


def test_two_connections_are_independent(source, tmp_path):
    other = start_emulator(
        [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}},
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "only-here", "namespace": "other"},
            },
        ]
    )
    try:
        path = str(tmp_path / "other-kc")
        other.write_kubeconfig(path, context="second")
        second = connect(path, context="second", page_size=1)
        assert second.server_url == other.url != source.server_url
        assert second.context == "second"
        cms1 = source.resources().resolve("cm")
        cms2 = second.resources().resolve("cm")
        assert source.resources().by_group_resource("widgets.example.com") is not None
        assert second.resources().by_group_resource("widgets.example.com") is None
        # interleave the two streams
        a, b = source.list(cms1), second.list(cms2)
        got_a, got_b = [next(a)], [next(b)]
        got_a += list(a)
        got_b += list(b)
        assert _keys(got_a) == _expected_configmaps()
        assert _keys(got_b) == [("other", "only-here")]
        other.fail(500)
        with pytest.raises(SourceError):
            list(second.list(cms2))
        assert len(list(source.list(cms1))) == 15
    finally:
        other.stop()


# ---------------------------------------------------------------- exec


def test_exec_scripted_output_and_exit_code(source, emu):
    emu.script_exec("dev", "api-0", stdout="flushed\n", stderr="a warning\n", exit_code=0)
    result = source.exec("dev", "api-0", None, ["sh", "-c", "sync"], timeout=5)
    assert isinstance(result, ExecResult)
    assert (result.exit_code, result.stdout, result.stderr) == (0, "flushed\n", "a warning\n")
    assert result.error is None and not result.timed_out and result.ok
    assert emu.exec_log[-1]["command"] == ["sh", "-c", "sync"]
    assert emu.exec_log[-1]["container"] == "app"

    emu.script_exec("shop", "web-0", container="sidecar", stdout="", stderr="boom", exit_code=3)
    result = source.exec("shop", "web-0", "sidecar", ["/bin/false"], timeout=5)
    assert result.exit_code == 3 and result.stderr == "boom"
    assert "exit code 3" in result.error and not result.ok and not result.timed_out


def test_exec_large_output_keeps_the_tail(source, emu):
    big = "".join(f"line {i:06d}\n" for i in range(20000))  # 240 KB
    emu.script_exec("dev", "api-0", stdout=big, exit_code=0)
    result = source.exec("dev", "api-0", "app", ["cat", "big"], timeout=10)
    assert result.exit_code == 0
    assert len(result.stdout) == 64 * 1024
    assert big.endswith(result.stdout)


def test_exec_timeout_stops_the_command(source, emu):
    emu.script_exec("dev", "api-0", stdout="late", exit_code=0, delay=5)
    started = time.monotonic()
    result = source.exec("dev", "api-0", "app", ["sleep", "5"], timeout=0.7)
    elapsed = time.monotonic() - started
    assert result.timed_out and result.exit_code is None
    assert "timed out after 0.7s" in result.error
    assert 0.6 < elapsed < 1.6 and 0.6 < result.duration < 1.6
    deadline = time.monotonic() + 3
    while emu.exec_log[-1]["finished"] is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert emu.exec_log[-1]["stopped_early"] is True  # the stream was closed, the command stopped


def test_exec_after_a_handshake_that_timed_out(source, emu):
    """A handshake that outlives the hook's timeout is abandoned (it may still hold its client);
    the next command, and lists beside it, work as before."""
    emu.script_exec("dev", "api-0", stdout="ok")
    emu.set_latency(1.0, "pods")
    try:
        late = source.exec("dev", "api-0", "app", ["true"], timeout=0.3)
    finally:
        emu.set_latency(0, "pods")
    assert late.timed_out and "connecting to the exec endpoint" in late.error
    for _ in range(2):
        result = source.exec("dev", "api-0", "app", ["true"], timeout=5)
        assert result.ok and result.stdout == "ok", result
    assert len(list(source.list(source.resources().resolve("cm")))) == 15


def test_exec_unknown_container_and_pod(source):
    result = source.exec("shop", "web-0", "nope", ["true"], timeout=5)
    assert result.exit_code is None and not result.timed_out
    assert "container nope not found in pod web-0" in result.error

    result = source.exec("shop", "web-0", None, ["true"], timeout=5)  # two containers, none named
    assert "a container name must be specified" in result.error and "HTTP 400" in result.error

    result = source.exec("shop", "ghost", "app", ["true"], timeout=5)
    assert 'pods "ghost" not found' in result.error and "HTTP 404" in result.error


def test_exec_does_not_disturb_lists(source, emu):
    emu.script_exec("dev", "api-0", stdout="x", delay=0.3)
    cms = source.resources().resolve("cm")
    result = source.exec("dev", "api-0", "app", ["true"], timeout=5)
    assert result.stdout == "x"
    assert len(list(source.list(cms))) == 15


# ---------------------------------------------------------------- kubeconfig


def test_missing_kubeconfig_path(tmp_path):
    path = str(tmp_path / "nope" / "config")
    with pytest.raises(KubeConfigError) as err:
        connect(path)
    assert path in str(err.value) and "not found" in str(err.value)
    assert isinstance(err.value, SourceError) and isinstance(err.value, ValueError)


def test_unknown_context(kubeconfig):
    with pytest.raises(KubeConfigError) as err:
        connect(kubeconfig, context="prod")
    text = str(err.value)
    assert "'prod'" in text and kubeconfig in text and "'emulator'" in text


def test_invalid_kubeconfig(tmp_path):
    bad = tmp_path / "config"
    bad.write_text("just some text\n")
    with pytest.raises(KubeConfigError, match="invalid kubeconfig"):
        connect(str(bad))
    bad.write_text("clusters: [\n")
    with pytest.raises(KubeConfigError, match="not valid YAML"):
        connect(str(bad))


def test_a_kubeconfig_path_list_merges_its_files(emu, tmp_path, monkeypatch):
    """KUBECONFIG=a:b as the official client merges it: the contexts of both files, the
    current-context of the last file that sets one, and a relative certificate path resolved
    against the folder of the file that names it."""
    first, second = tmp_path / "a" / "config", tmp_path / "b" / "config"
    first.parent.mkdir()
    second.parent.mkdir()
    emu.write_kubeconfig(str(first), context="emulator")
    emu.write_kubeconfig(str(second), context="other")
    doc = yaml.safe_load(second.read_text())
    doc["clusters"][0]["cluster"].update({"server": "https://127.0.0.1:9", "certificate-authority": "ca.crt"})
    doc["current-context"] = "other"
    second.write_text(yaml.safe_dump(doc))
    (second.parent / "ca.crt").write_text("never read: nothing connects to that server here\n")
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(first), str(second)]))

    merged = connect()
    assert merged.context == "other"
    chosen = connect(context="emulator")
    assert chosen.context == "emulator" and chosen.resources().resolve("pods")
    other = connect(context="other")
    assert other.api_client.configuration.ssl_ca_cert == str(second.parent / "ca.crt")
    for source in (merged, chosen, other):
        source.close()


def test_in_cluster_outside_a_cluster():
    with pytest.raises(KubeConfigError, match="in-cluster"):
        connect(in_cluster=True)


def test_namespaces_listed(source):
    names = [o["metadata"]["name"] for o in source.list(source.resources().resolve("ns"))]
    assert names == sorted(NAMESPACES)
