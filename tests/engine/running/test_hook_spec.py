"""Backup exec hooks: annotation and spec parsing, defaults, containers (running them: test_hook_runner)."""

from dataclasses import dataclass

import pytest

from backups.engine.durations import GO_DURATION, parse_duration
from backups.engine.log import BackupLog
from backups.engine.planning.resources import ResourceInfo, ResourceTable
from backups.engine.running.hook_runner import run_block_hooks
from backups.engine.running.hook_spec import (
    DEFAULT_TIMEOUT,
    FROM_ANNOTATION,
    HookSpecError,
    hook_warnings,
    hooks_for_pod,
    parse_resource_hooks,
)
from tests.engine.objects import pod

PRE = "pre.hook.backup.velero.io"
POST = "post.hook.backup.velero.io"
LEGACY = "hook.backup.velero.io"


def annotated(ns, name, annotations=None, labels=None, phase=None, containers=("app",), init=()):
    """A pod with hook annotations, containers by name and init containers as (name, restartPolicy)."""
    p = pod(ns, name, labels=labels, phase=phase)
    p["metadata"]["annotations"] = dict(annotations or {})
    p["spec"]["containers"] = [{"name": c, "image": "busybox"} for c in containers]
    p["spec"]["initContainers"] = [
        {"name": n, "image": "busybox", **({"restartPolicy": r} if r else {})} for n, r in init
    ]
    return p


def hook_of(annotations, phase="pre", **kw):
    hooks, warnings = hooks_for_pod(annotated("shop", "db-0", annotations, **kw), phase, [])
    return hooks, warnings


def spec(*entries):
    return parse_resource_hooks(list(entries))


def exec_entry(*command, container=None, on_error=None, timeout=None):
    body = {"command": list(command)}
    if container:
        body["container"] = container
    if on_error:
        body["onError"] = on_error
    if timeout:
        body["timeout"] = timeout
    return {"exec": body}


@dataclass
class Result:
    exit_code: int | None = 0
    stdout: str = ""
    stderr: str = ""
    error: str | None = None
    timed_out: bool = False
    duration: float = 0.25


class FakeExecutor:
    """Records every call; returns the scripted result for a (pod, first argv) pair, else success."""

    def __init__(self, script=None):
        self.script = script or {}
        self.calls = []

    def __call__(self, namespace, pod_name, container, command, timeout):
        self.calls.append((namespace, pod_name, container, tuple(command), timeout))
        return self.script.get((pod_name, command[0]), Result())

    def ran(self):
        return [(c[1], c[3][0]) for c in self.calls]


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        self.now += 1.0
        return self.now


FAILED = Result(exit_code=1, stderr="boom", error="command terminated with non-zero exit code: 1")


# ------------------------------------------------------------------------------------ annotations


def test_json_array_command_is_argv():
    hooks, warnings = hook_of({f"{PRE}/command": '["/sbin/fsfreeze", "--freeze", "/var/lib/db"]'})
    assert [h.command for h in hooks] == [["/sbin/fsfreeze", "--freeze", "/var/lib/db"]]
    assert hooks[0].source == FROM_ANNOTATION
    assert warnings == []


def test_plain_string_command_is_argv0_without_splitting():
    hooks, _ = hook_of({f"{PRE}/command": "/bin/sh -c 'sync'"})
    assert hooks[0].command == ["/bin/sh -c 'sync'"]


@pytest.mark.parametrize("text", ['["/bin/sh", "-c"', "[not json]", "[1, 2]"])
def test_broken_json_command_is_one_argv_element(text):
    hooks, _ = hook_of({f"{PRE}/command": text})
    assert hooks[0].command == [text]


def test_no_command_means_no_hook():
    hooks, _ = hook_of({f"{PRE}/container": "app", f"{PRE}/command": ""})
    assert hooks == []


def test_legacy_annotations_are_a_pre_hook():
    annotations = {f"{LEGACY}/command": '["sync"]', f"{LEGACY}/on-error": "Fail", f"{LEGACY}/timeout": "1m"}
    pre, _ = hook_of(annotations, "pre")
    post, _ = hook_of(annotations, "post")
    assert [(h.command, h.on_error, h.timeout) for h in pre] == [(["sync"], "Fail", 60.0)]
    assert post == []


def test_pre_annotation_wins_over_legacy():
    hooks, _ = hook_of({f"{LEGACY}/command": '["legacy"]', f"{PRE}/command": '["new"]'})
    assert [h.command for h in hooks] == [["new"]]


def test_post_annotations():
    hooks, _ = hook_of({f"{POST}/command": '["thaw"]', f"{PRE}/command": '["freeze"]'}, "post")
    assert [h.command for h in hooks] == [["thaw"]]


@pytest.mark.parametrize(
    ("value", "on_error", "is_set", "warns"),
    [
        ("Continue", "Continue", True, False),
        ("Fail", "Fail", True, False),
        ("FailBlock", "FailBlock", True, False),
        (None, "Continue", False, False),
        ("fail", "Continue", False, True),
        ("Abort", "Continue", False, True),
    ],
)
def test_on_error_values(value, on_error, is_set, warns):
    annotations = {f"{PRE}/command": '["x"]'}
    if value is not None:
        annotations[f"{PRE}/on-error"] = value
    hooks, warnings = hook_of(annotations)
    assert (hooks[0].on_error, hooks[0].on_error_set) == (on_error, is_set)
    assert bool(warnings) == warns
    if warns:
        assert value in warnings[0] and "shop/db-0" in warnings[0]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("30s", 30.0), ("5m", 300.0), ("1h30m", 5400.0), ("500ms", 0.5), ("1.5s", 1.5), (None, DEFAULT_TIMEOUT)],
)
def test_timeouts(value, seconds):
    annotations = {f"{PRE}/command": '["x"]'}
    if value:
        annotations[f"{PRE}/timeout"] = value
    hooks, warnings = hook_of(annotations)
    assert hooks[0].timeout == pytest.approx(seconds)
    assert hooks[0].invalid is None and warnings == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("300", "a unit is required (e.g. 300s)"),
        ("5d", "unknown unit"),
        ("soon", "not a duration"),
    ],
)
def test_go_duration_errors(text, problem):
    with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        parse_duration(text)


def test_durations_beyond_gos_range_are_refused_where_velero_could_have_written_them():
    """A TTL like 99999999h, which overflowed every date it was added to, in an imported backup."""
    assert GO_DURATION.check("2562047h") == 2562047 * 3600
    with pytest.raises(ValueError, match=r"must be at most 2562047h47m16"):
        GO_DURATION.check("99999999h")


def test_unitless_timeout_is_rejected_with_a_warning_naming_pod_and_value():
    hooks, warnings = hook_of({f"{PRE}/command": '["x"]', f"{PRE}/timeout": "300"})
    assert hooks[0].invalid == "invalid timeout '300' on pod shop/db-0: a unit is required (e.g. 300s)"
    assert len(warnings) == 1 and "'300'" in warnings[0] and "shop/db-0" in warnings[0]


def test_unitless_timeout_hook_is_not_run_and_counts_as_failed():
    p = annotated(
        "shop", "db-0", {f"{PRE}/command": '["x"]', f"{PRE}/timeout": "300", f"{PRE}/on-error": "Fail"}
    )
    executor, log = FakeExecutor(), BackupLog()
    outcome = run_block_hooks([p], "pre", [], executor, log, clock=Clock())
    assert executor.calls == []
    assert (outcome.attempted, outcome.failed) == (1, 1)
    assert (
        outcome.results[0].error == "invalid timeout '300' on pod shop/db-0: a unit is required (e.g. 300s)"
    )
    assert outcome.failed_pods == [("shop", "db-0")]  # it follows its onError: Fail
    assert (log.warnings, log.errors) == (1, 1)


# -------------------------------------------------------------------------------------- containers


def test_default_container_is_the_first():
    hooks, _ = hook_of({f"{PRE}/command": '["x"]'}, containers=("db", "metrics"))
    assert hooks[0].container == "db"


def test_named_container_missing_fails_with_no_such_container():
    p = annotated("shop", "db-0", {f"{PRE}/command": '["x"]', f"{PRE}/container": "nope"})
    executor, log = FakeExecutor(), BackupLog()
    outcome = run_block_hooks([p], "pre", [], executor, log)
    assert executor.calls == []
    assert outcome.results[0].error == 'no such container: "nope"'
    assert outcome.failed == 1 and log.errors == 1


def test_native_sidecar_is_accepted_but_plain_init_container_is_not():
    annotations = {f"{PRE}/command": '["x"]', f"{PRE}/container": "proxy"}
    sidecar = annotated("shop", "a", annotations, init=[("proxy", "Always")])
    init_only = annotated("shop", "b", annotations, init=[("proxy", None)])
    executor = FakeExecutor()
    outcome = run_block_hooks([sidecar, init_only], "pre", [], executor, BackupLog())
    assert [(c[1], c[2]) for c in executor.calls] == [("a", "proxy")]
    assert [r.failed for r in outcome.results] == [False, True]


# -------------------------------------------------------------------------------------- spec hooks


def test_spec_hooks_match_namespace_globs():
    hooks = spec(
        {
            "name": "dbs",
            "includedNamespaces": ["shop-*"],
            "excludedNamespaces": ["shop-test"],
            "pre": [exec_entry("freeze")],
        }
    )
    assert hooks_for_pod(annotated("shop-prod", "p"), "pre", hooks)[0]
    assert not hooks_for_pod(annotated("shop-test", "p"), "pre", hooks)[0]
    assert not hooks_for_pod(annotated("blog", "p"), "pre", hooks)[0]


def test_spec_hooks_match_label_selector():
    hooks = spec(
        {
            "name": "pg",
            "labelSelector": {
                "matchLabels": {"app": "pg"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["db"]}],
            },
            "pre": [exec_entry("freeze")],
        }
    )
    assert hooks_for_pod(annotated("shop", "p", labels={"app": "pg", "tier": "db"}), "pre", hooks)[0]
    assert not hooks_for_pod(annotated("shop", "p", labels={"app": "pg"}), "pre", hooks)[0]


@pytest.mark.parametrize(
    ("included", "excluded", "applies"),
    [
        ([], [], True),
        (["*"], [], True),
        (["pods"], [], True),
        (["po"], [], True),
        (["deployments.apps"], [], False),
        ([], ["pods"], False),
        (["p*"], [], True),
    ],
)
def test_spec_hooks_resource_filters(included, excluded, applies):
    hooks = spec(
        {"name": "h", "includedResources": included, "excludedResources": excluded, "pre": [exec_entry("x")]}
    )
    assert bool(hooks_for_pod(annotated("shop", "p"), "pre", hooks)[0]) is applies


def test_spec_resource_names_resolve_through_discovery():
    table = ResourceTable([ResourceInfo("", "v1", "pods", "Pod", True, ("po",), singular="pod")])
    hooks = parse_resource_hooks(
        [{"name": "h", "includedResources": ["Pod"], "pre": [exec_entry("x")]}], table
    )
    assert hooks[0].included_resources == ["pods"]
    assert hooks[0].warnings == []


def test_an_unknown_resource_name_is_kept_matches_nothing_and_is_a_warning():
    """As Velero's GetResourceIncludesExcludes: the name is kept as given (dropping it would turn
    the include list into "everything"), so the hook applies to no pod."""
    table = ResourceTable([ResourceInfo("", "v1", "pods", "Pod", True, ("po",), singular="pod")])
    (hook,) = parse_resource_hooks(
        [
            {
                "name": "h",
                "includedResources": ["Widgets"],
                "excludedResources": ["gadgets"],
                "pre": [exec_entry("x")],
            }
        ],
        table,
    )
    assert hook.included_resources == ["Widgets"]
    assert hook.excluded_resources == ["gadgets"]
    assert hooks_for_pod(annotated("shop", "p"), "pre", [hook])[0] == []
    assert hook_warnings([hook]) == [
        "unknown resource 'Widgets' in hook 'h' includedResources: the cluster does not serve it, "
        "so it matches nothing",
        "unknown resource 'gadgets' in hook 'h' excludedResources: the cluster does not serve it, "
        "so it matches nothing",
    ]
    (excluding,) = parse_resource_hooks(
        [{"name": "h", "excludedResources": ["gadgets"], "pre": [exec_entry("x")]}], table
    )
    assert len(hooks_for_pod(annotated("shop", "p"), "pre", [excluding])[0]) == 1


def test_all_applicable_spec_hooks_run_in_spec_order():
    hooks = spec(
        {"name": "first", "pre": [exec_entry("a"), exec_entry("b", container="sidecar")]},
        {"name": "elsewhere", "includedNamespaces": ["blog"], "pre": [exec_entry("never")]},
        {
            "name": "second",
            "pre": [exec_entry("c", on_error="Fail", timeout="2m")],
            "post": [exec_entry("d")],
        },
    )
    got, _ = hooks_for_pod(annotated("shop", "p", containers=("app", "sidecar")), "pre", hooks)
    assert [(h.source, h.index, h.command[0], h.container) for h in got] == [
        ("first", 0, "a", "app"),
        ("first", 1, "b", "sidecar"),
        ("second", 0, "c", "app"),
    ]
    assert (got[2].on_error, got[2].on_error_set, got[2].timeout) == ("Fail", True, 120.0)
    assert (got[0].on_error, got[0].on_error_set, got[0].timeout) == ("Continue", False, DEFAULT_TIMEOUT)


def test_annotations_win_over_spec_hooks_per_phase():
    hooks = spec({"name": "h", "pre": [exec_entry("spec-pre")], "post": [exec_entry("spec-post")]})
    p = annotated("shop", "p", {f"{PRE}/command": '["annotated-pre"]'})
    assert [h.command[0] for h in hooks_for_pod(p, "pre", hooks)[0]] == ["annotated-pre"]
    assert [h.command[0] for h in hooks_for_pod(p, "post", hooks)[0]] == ["spec-post"]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"pre": []}, r"resources\[0\]: name is required"),
        ({"name": "h", "includeNamespaces": ["x"]}, "'h': unknown field 'includeNamespaces'"),
        ({"name": "h", "pre": [exec_entry()]}, r"'h': pre\[0\]\.exec\.command must be a non-empty list"),
        ({"name": "h", "post": [{"command": ["x"]}]}, r"'h': post\[0\]: expected \{exec"),
        ({"name": "h", "pre": [exec_entry("x", on_error="Abort")]}, r"'h': pre\[0\]\.exec\.onError 'Abort'"),
        (
            {"name": "h", "pre": [exec_entry("x", timeout="300")]},
            r"'h': pre\[0\]\.exec\.timeout '300': a unit",
        ),
        ({"name": "h", "labelSelector": {"matchLabels": {"a b": "c"}}}, "'h': labelSelector: invalid label"),
        ({"name": "h", "includedNamespaces": ["Bad_NS"]}, "'h': invalid namespace 'Bad_NS'"),
    ],
)
def test_spec_hook_errors_name_the_hook_and_field(entry, message):
    with pytest.raises(HookSpecError, match=message):
        spec(entry)


# ------------------------------------------------------------------------------------- the runner
