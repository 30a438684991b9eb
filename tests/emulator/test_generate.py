import collections
import gc
import json
import time
import urllib.request

from kubernetes import client, config

from emulator import KubeEmulator
from emulator.generate import generate_cluster


def _key(o):
    return o["apiVersion"], o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]


def test_deterministic_and_sized():
    a, b, c = generate_cluster(3000, seed=7), generate_cluster(3000, seed=7), generate_cluster(3000, seed=8)
    assert a == b and a != c
    for n in (100, 3000, 12345):
        assert abs(len(generate_cluster(n)) - n) <= max(5, n * 0.02)
    assert len({_key(o) for o in a}) == len(a)


def test_realistic_mix():
    objs = generate_cluster(6000, seed=1)
    kinds = collections.Counter(o["kind"] for o in objs)
    for kind in (
        "Namespace",
        "Deployment",
        "ReplicaSet",
        "Pod",
        "PersistentVolumeClaim",
        "PersistentVolume",
        "ServiceAccount",
        "ClusterRoleBinding",
        "ClusterRole",
        "ConfigMap",
        "Secret",
        "Service",
        "StatefulSet",
    ):
        assert kinds[kind] > 0, kind
    assert 15 <= kinds["Namespace"] <= 25
    phases = collections.Counter(o["status"]["phase"] for o in objs if o["kind"] == "Pod")
    assert phases["Running"] and phases["Pending"] and phases["Succeeded"]
    pvs = {o["metadata"]["name"]: o for o in objs if o["kind"] == "PersistentVolume"}
    for pvc in (o for o in objs if o["kind"] == "PersistentVolumeClaim"):
        assert pvs[pvc["spec"]["volumeName"]]["spec"]["claimRef"]["name"] == pvc["metadata"]["name"]
    claim_users = collections.Counter(
        (o["metadata"]["namespace"], v["persistentVolumeClaim"]["claimName"])
        for o in objs
        if o["kind"] == "Pod"
        for v in o["spec"]["volumes"]
        if "persistentVolumeClaim" in v
    )
    assert any(n > 1 for n in claim_users.values())  # RWX claims shared by several pods
    groups = collections.Counter(
        o["metadata"]["labels"]["velero.io/volume-group"]
        for o in objs
        if o["kind"] == "PersistentVolumeClaim"
        and "velero.io/volume-group" in o["metadata"].get("labels", {})
    )
    assert groups and all(n == 3 for n in groups.values())


def test_300k_cluster_performance(tmp_path):
    # Full GC passes over ~10 million live objects would dominate the timings: keep the collector off.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        _check_300k(tmp_path)
    finally:
        if gc_was_enabled:
            gc.enable()


def _check_300k(tmp_path):
    t_start = time.perf_counter()
    t0 = time.perf_counter()
    objs = generate_cluster(300_000)
    t_gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    emu = KubeEmulator(objects=objs)
    t_seed = time.perf_counter() - t0
    del objs
    with emu:
        api = config.new_client_from_config(config_file=emu.write_kubeconfig(str(tmp_path / "kc")))
        core = client.CoreV1Api(api)
        timings = []
        cont = None
        seen = 0
        for _ in range(4):
            t0 = time.perf_counter()
            page = core.list_pod_for_all_namespaces(limit=500, _continue=cont)
            timings.append(time.perf_counter() - t0)
            cont = page.metadata._continue
            seen += len(page.items)
        raw_timings = []
        for _ in range(3):
            t0 = time.perf_counter()
            resp = core.list_config_map_for_all_namespaces_with_http_info(limit=500, _preload_content=False)
            assert len(resp.data) > 1000
            raw_timings.append(time.perf_counter() - t0)
        server_timings = []
        cont = page.metadata._continue
        for _ in range(5):  # server side only: raw HTTP, no model decoding; pages deep into the list
            url = f"{emu.url}/api/v1/pods?limit=500&continue={cont}"
            t0 = time.perf_counter()
            with urllib.request.urlopen(url) as resp:
                data = resp.read()
            server_timings.append(time.perf_counter() - t0)
            raw = json.loads(data)
            assert len(raw["items"]) == 500
            cont = raw["metadata"]["continue"]
        t0 = time.perf_counter()
        sel = core.list_pod_for_all_namespaces(limit=500, label_selector="app=db")
        t_sel = time.perf_counter() - t0
        api.close()
    print(
        f"\n300k cluster (total {time.perf_counter() - t_start:.1f} s): generate {t_gen:.2f} s, "
        f"seed {t_seed:.2f} s; pods page of 500 (client decode incl.): "
        + ", ".join(f"{t * 1000:.1f}" for t in timings)
        + " ms; raw HTTP pods page: "
        + ", ".join(f"{t * 1000:.1f}" for t in server_timings)
        + " ms; raw configmap page: "
        + ", ".join(f"{t * 1000:.1f}" for t in raw_timings)
        + f" ms; label-selected page {t_sel * 1000:.1f} ms"
    )
    assert seen == 2000 and len(sel.items) == 500
    assert min(raw_timings) < 0.5
