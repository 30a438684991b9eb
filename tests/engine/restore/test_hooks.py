"""Restore hooks as Velero runs them: init containers put first in restored pods, post-restore exec
hooks once their container is up, in order, with onError, exec and wait timeouts; the emulator's
exec log says what ran, in which order."""

import json

from backups.engine.restore.hooks import (
    PostHook,
    add_init_hooks,
    parse_restore_hooks,
    post_hooks_for,
)

from .conftest import make_backup, namespace, pod, restore_from

ANNOTATED = {
    "init.hook.restore.velero.io/container-image": "alpine:3",
    "init.hook.restore.velero.io/container-name": "restore-init",
    "init.hook.restore.velero.io/command": '["/bin/sh", "-c", "echo init"]',
    "post.hook.restore.velero.io/container": "db",
    "post.hook.restore.velero.io/command": '["/bin/sh", "-c", "echo from-annotation"]',
}

SPEC_HOOKS = (
    {
        "name": "first",
        "includedNamespaces": ["shop"],
        "labelSelector": {"matchLabels": {"tier": "web"}},
        "postHooks": [
            {"init": {"initContainers": [{"name": "seed", "image": "busybox", "command": ["seed"]}]}},
            {"exec": {"container": "sidecar", "command": ["sidecar-1"]}},
            {"exec": {"command": ["app-1"], "waitForReady": True}},
            {"exec": {"container": "app", "command": ["app-2"], "execTimeout": "5s"}},
        ],
    },
    {
        "name": "second",
        "includedNamespaces": ["shop"],
        "postHooks": [{"exec": {"container": "app", "command": ["app-3"], "onError": "Fail"}}],
    },
)


def hook_cluster():
    return [
        namespace("shop"),
        namespace("other"),
        pod("shop", "web-0", containers=("app", "sidecar"), labels={"tier": "web"}),
        pod("shop", "db-0", containers=("postgres", "db"), annotations=ANNOTATED, labels={"tier": "web"}),
        pod("other", "web-1", labels={"tier": "web"}),
    ]


def _ran(emu, namespace_, pod_):
    return [
        (r["container"], r["command"][-1])
        for r in emu.exec_log
        if (r["namespace"], r["pod"]) == (namespace_, pod_)
    ]


def test_init_containers_and_post_hooks_in_velero_order(tmp_path, target_emu, target):
    backup = make_backup(hook_cluster(), tmp_path)
    result = restore_from(backup, target, tmp_path, hooks=SPEC_HOOKS)
    assert result.phase == "Completed", result.results.results_json()

    web = target_emu.get("pods", "shop", "web-0")
    assert [c["name"] for c in web["spec"]["initContainers"]] == ["seed"]
    # the spec's exec hooks, grouped by container in the pod's container order, each container's in spec order
    assert _ran(target_emu, "shop", "web-0") == [
        ("app", "app-1"),
        ("app", "app-2"),
        ("app", "app-3"),
        ("sidecar", "sidecar-1"),
    ]
    # the annotations win over the spec: their init container and their one exec hook
    db = target_emu.get("pods", "shop", "db-0")
    assert db["spec"]["initContainers"] == [
        {"name": "restore-init", "image": "alpine:3", "command": ["/bin/sh", "-c", "echo init"]}
    ]
    assert _ran(target_emu, "shop", "db-0") == [("db", "echo from-annotation")]
    # outside the hooks' namespaces nothing is added or run
    assert "initContainers" not in target_emu.get("pods", "other", "web-1")["spec"]
    assert _ran(target_emu, "other", "web-1") == []
    # each exec happened after the container was up (the emulator's kubelet started it)
    assert all(run.ok for run in result.hooks) and len(result.hooks) == 5


def test_on_error_fail_stops_the_pods_remaining_hooks(tmp_path, target_emu, target):
    backup = make_backup(hook_cluster(), tmp_path)
    target_emu.script_exec("shop", "web-0", "app", exit_code=3, match="app-1")
    hooks = json.loads(json.dumps(SPEC_HOOKS))
    hooks[0]["postHooks"][2]["exec"]["onError"] = "Fail"
    result = restore_from(backup, target, tmp_path, hooks=tuple(hooks))
    assert result.phase == "PartiallyFailed"
    assert _ran(target_emu, "shop", "web-0") == [("app", "app-1")]
    errors = result.results.results_json()["errors"]["namespaces"]["shop"]
    assert any("hook first in container app failed to execute" in e and "exit code 3" in e for e in errors)
    not_run = [e for e in errors if "not executed" in e]
    assert len(not_run) == 3  # app-2, app-3 and the sidecar's


def test_on_error_continue_runs_the_rest(tmp_path, target_emu, target):
    backup = make_backup(hook_cluster(), tmp_path)
    target_emu.script_exec("shop", "web-0", "app", exit_code=1, match="app-1")
    result = restore_from(backup, target, tmp_path, hooks=SPEC_HOOKS)
    assert result.phase == "PartiallyFailed"
    assert len(_ran(target_emu, "shop", "web-0")) == 4
    assert result.results.error_count == 1


def test_a_container_that_never_gets_ready_times_the_hooks_out(tmp_path, target_emu, target):
    backup = make_backup(hook_cluster(), tmp_path)
    target_emu.controllers.configure(never_ready=True)
    hooks = json.loads(json.dumps(SPEC_HOOKS[:1]))
    for entry in hooks[0]["postHooks"][1:]:
        entry["exec"]["waitTimeout"] = "1s"
    result = restore_from(backup, target, tmp_path, hooks=tuple(hooks))
    assert result.phase == "PartiallyFailed"
    assert _ran(target_emu, "shop", "web-0") == []
    errors = result.results.results_json()["errors"]["namespaces"]["shop"]
    assert any("not executed: context deadline exceeded" in e for e in errors)


def test_parse_errors_name_the_hook():
    import pytest

    from backups.engine.restore.hooks import HookSpecProblem

    with pytest.raises(HookSpecProblem, match="hook 'x'.*Command, Name or Image"):
        parse_restore_hooks([{"name": "x", "postHooks": [{"init": {"initContainers": [{"name": "a"}]}}]}])
    with pytest.raises(HookSpecProblem, match="waitTimeout"):
        parse_restore_hooks([{"name": "x", "postHooks": [{"exec": {"command": ["a"], "waitTimeout": "5"}}]}])
    with pytest.raises(HookSpecProblem, match="onError"):
        parse_restore_hooks([{"name": "x", "postHooks": [{"exec": {"command": ["a"], "onError": "Stop"}}]}])


def test_annotation_hook_defaults_to_the_first_container():
    p = pod(
        "shop", "p", containers=("main", "side"), annotations={"post.hook.restore.velero.io/command": "true"}
    )
    hooks = post_hooks_for(p, parse_restore_hooks(SPEC_HOOKS))
    assert hooks == [PostHook("<from-annotation>", "main", ("true",))]


def test_init_hooks_match_the_namespace_restored_into():
    hooks = parse_restore_hooks(SPEC_HOOKS)
    p = pod("prod", "web-0", labels={"tier": "web"})
    assert add_init_hooks(p, hooks, "prod") is p
    assert add_init_hooks(p, hooks, "shop")["spec"]["initContainers"][0]["name"] == "seed"
