"""Running a block's exec hooks: pre-hooks, then the items, then post-hooks; how failures count."""

from backups.engine.log import BackupLog
from backups.engine.running.hook_runner import OUTPUT_LIMIT, run_block_hooks
from backups.engine.running.hook_spec import ExecHook
from tests.engine.running.test_hook_spec import (
    FAILED,
    Clock,
    FakeExecutor,
    Result,
    annotated,
    exec_entry,
    spec,
)


def block_spec(pods_hooks):
    """One spec hook per pod, selected by its `pod` label; `post` hooks named thaw-<pod>."""
    return spec(
        *[
            {
                "name": f"h-{name}",
                "labelSelector": {"matchLabels": {"pod": name}},
                "pre": [exec_entry(c, on_error=e) for c, e in pre],
                "post": [exec_entry(f"thaw-{name}")],
            }
            for name, pre in pods_hooks.items()
        ]
    )


def block_pods(*names, phase=None):
    return [annotated("shop", n, labels={"pod": n}, phase=phase) for n in names]


def test_succeeded_pod_hooks_are_skipped_silently():
    hooks = block_spec({"done": [("a", "Fail"), ("b", None)]})
    executor, log = FakeExecutor(), BackupLog()
    outcome = run_block_hooks(block_pods("done", phase="Succeeded"), "pre", hooks, executor, log)
    assert executor.calls == []
    assert (outcome.attempted, outcome.failed) == (2, 0)
    assert all(r.skipped_reason == "pod is not running (phase Succeeded)" for r in outcome.results)
    assert (log.errors, log.warnings) == (0, 0)
    assert outcome.failed_pods == [] and len(outcome.post_pods) == 1


def test_fail_stops_the_pods_remaining_hooks_and_marks_it_failed():
    hooks = block_spec({"db": [("a", None), ("b", "Fail"), ("c", None)], "web": [("d", None)]})
    executor, log = FakeExecutor({("db", "b"): FAILED}), BackupLog()
    outcome = run_block_hooks(block_pods("db", "web"), "pre", hooks, executor, log)
    assert executor.ran() == [("db", "a"), ("db", "b"), ("web", "d")]
    assert [r.skipped_reason for r in outcome.results] == [None, None, "previous hook failed", None]
    assert outcome.failed_pods == [("shop", "db")]
    assert not outcome.fail_block
    assert [p["metadata"]["name"] for p in outcome.post_pods] == ["web"]
    assert (outcome.attempted, outcome.failed, log.errors) == (4, 1, 1)


def test_continue_failure_does_not_stop_later_hooks():
    hooks = block_spec({"db": [("a", "Continue"), ("b", None), ("c", None)]})
    executor = FakeExecutor({("db", "a"): FAILED, ("db", "b"): FAILED})
    log = BackupLog()
    outcome = run_block_hooks(block_pods("db"), "pre", hooks, executor, log)
    assert executor.ran() == [("db", "a"), ("db", "b"), ("db", "c")]
    assert outcome.failed_pods == [] and len(outcome.post_pods) == 1
    assert (outcome.attempted, outcome.failed, log.errors) == (3, 2, 2)
    (b_error,) = [e for e in log.entries if e.level == "error" and '["b"]' in e.message]
    assert "onError Continue (default)" in b_error.message


def test_failure_log_names_pod_container_command_and_exit_code():
    hooks = block_spec({"db": [("freeze", "Fail")]})
    log = BackupLog()
    run_block_hooks(block_pods("db"), "pre", hooks, FakeExecutor({("db", "freeze"): FAILED}), log)
    (entry,) = [e for e in log.entries if e.level == "error"]
    assert (entry.resource, entry.namespace, entry.name) == ("pods", "shop", "db")
    assert "'app'" in entry.message and '["freeze"]' in entry.message and "exit code 1" in entry.message
    assert "the pod is not backed up" in entry.message


def test_fail_block_drops_the_block_and_post_hooks_run_for_pods_whose_pre_hooks_ran():
    hooks = block_spec(
        {"ok": [("a", None)], "soft": [("b", "Continue")], "db": [("c", "FailBlock")], "late": []}
    )
    executor = FakeExecutor({("soft", "b"): FAILED, ("db", "c"): FAILED})
    log = BackupLog()
    pods = block_pods("ok", "soft", "db", "late")
    pre = run_block_hooks(pods, "pre", hooks, executor, log)
    assert pre.fail_block
    assert pre.failed_pods == [("shop", "db")]
    assert [p["metadata"]["name"] for p in pre.post_pods] == ["ok", "soft", "late"]
    post = run_block_hooks(pre.post_pods, "post", hooks, executor, log)
    assert executor.ran()[-3:] == [("ok", "thaw-ok"), ("soft", "thaw-soft"), ("late", "thaw-late")]
    assert (post.failed_pods, post.fail_block) == ([], False)


def test_fail_in_post_phase_is_only_logged():
    hooks = spec({"name": "h", "post": [exec_entry("a", on_error="Fail"), exec_entry("b")]})
    executor, log = FakeExecutor({("db", "a"): FAILED}), BackupLog()
    post = run_block_hooks(block_pods("db"), "post", hooks, executor, log)
    assert (post.failed_pods, post.fail_block, post.post_pods) == ([], False, [])
    assert (post.attempted, post.failed, log.errors) == (2, 1, 1)
    assert "not backed up" not in [e for e in log.entries if e.level == "error"][0].message


def test_timed_out_exec_counts_as_failure():
    hooks = block_spec({"db": [("slow", "Fail")]})
    executor = FakeExecutor({("db", "slow"): Result(exit_code=None, timed_out=True, duration=30.0)})
    outcome = run_block_hooks(block_pods("db"), "pre", hooks, executor, BackupLog())
    (result,) = outcome.results
    assert result.timed_out and result.failed and result.error == "timed out after 30s"
    assert outcome.failed_pods == [("shop", "db")]


def test_error_with_exit_code_zero_is_still_a_failure():
    hooks = block_spec({"db": [("x", None)]})
    executor = FakeExecutor({("db", "x"): Result(exit_code=0, error="connection reset")})
    assert run_block_hooks(block_pods("db"), "pre", hooks, executor, BackupLog()).failed == 1


def test_executor_exception_is_a_failed_hook():
    def explode(*args):
        raise RuntimeError("no route to host")

    outcome = run_block_hooks(
        block_pods("db"), "pre", block_spec({"db": [("x", "Fail")]}), explode, BackupLog()
    )
    assert outcome.results[0].error == "exec failed: no route to host"
    assert outcome.failed_pods == [("shop", "db")]


def test_executor_gets_namespace_pod_container_command_and_timeout():
    hooks = spec({"name": "h", "pre": [exec_entry("sync", "-f", timeout="1m30s")]})
    executor = FakeExecutor()
    run_block_hooks(block_pods("db"), "pre", hooks, executor, BackupLog())
    assert executor.calls == [("shop", "db", "app", ("sync", "-f"), 90.0)]


def test_results_carry_output_and_clock_timestamps():
    hooks = block_spec({"db": [("a", None), ("b", None)]})
    executor = FakeExecutor({("db", "a"): Result(stdout="frozen\n", duration=0.5)})
    outcome = run_block_hooks(block_pods("db"), "pre", hooks, executor, BackupLog(), clock=Clock())
    a, b = outcome.results
    assert (a.started, a.finished, b.started, b.finished) == (1001.0, 1002.0, 1003.0, 1004.0)
    assert (a.stdout, a.exit_code, a.duration, a.phase, a.source) == ("frozen\n", 0, 0.5, "pre", "h-db")


def test_output_is_bounded_to_the_last_64_kib():
    big = "x" * OUTPUT_LIMIT + "END"
    hooks = block_spec({"db": [("a", None)]})
    executor = FakeExecutor({("db", "a"): Result(stdout=big, stderr="é" * OUTPUT_LIMIT)})
    (result,) = run_block_hooks(block_pods("db"), "pre", hooks, executor, BackupLog()).results
    assert len(result.stdout.encode()) == OUTPUT_LIMIT and result.stdout.endswith("END")
    assert len(result.stderr.encode()) <= OUTPUT_LIMIT and set(result.stderr) == {"é"}


def test_pods_without_hooks_go_to_post_phase():
    outcome = run_block_hooks(block_pods("plain"), "pre", [], FakeExecutor(), BackupLog())
    assert (outcome.attempted, outcome.failed, len(outcome.post_pods)) == (0, 0, 1)


def test_exec_hook_stops_only_on_explicit_fail_modes():
    make = lambda mode: ExecHook("app", ["x"], mode, True, 30.0, "h", 0)  # noqa: E731
    assert [make(m).stops_on_failure for m in ("Continue", "Fail", "FailBlock")] == [False, True, True]


def test_exec_without_exit_code_is_a_failure():
    hooks = block_spec({"db": [("x", None)]})
    executor = FakeExecutor({("db", "x"): Result(exit_code=None)})
    (result,) = run_block_hooks(block_pods("db"), "pre", hooks, executor, BackupLog()).results
    assert result.failed and result.error == "command did not report an exit code"


def test_concurrent_pods_fail_and_fail_block_as_sequential_ones_in_pod_order():
    """Several pods at once change only the timing: the same hooks run (each pod's in order), the
    same pods fail or get post-hooks, and results and log lines come out in pod order."""
    hooks = block_spec(
        {
            "ok": [("a", None), ("a2", None)],
            "soft": [("b", "Continue")],
            "db": [("c", "FailBlock"), ("c2", None)],
        }
    )
    outcomes = {}
    for at_once in (1, 4):
        executor, log = FakeExecutor({("soft", "b"): FAILED, ("db", "c"): FAILED}), BackupLog()
        passed = []
        pre = run_block_hooks(
            block_pods("ok", "soft", "db"),
            "pre",
            hooks,
            executor,
            log,
            on_passed=passed.append,
            concurrency=at_once,
        )
        ran = executor.ran()
        assert ran.index(("ok", "a")) < ran.index(("ok", "a2"))
        assert sorted(ran) == [("db", "c"), ("ok", "a"), ("ok", "a2"), ("soft", "b")]
        assert sorted(p["metadata"]["name"] for p in passed) == ["ok", "soft"]
        outcomes[at_once] = (
            [(r.pod, r.command, r.skipped_reason) for r in pre.results],
            pre.failed_pods,
            pre.fail_block,
            [p["metadata"]["name"] for p in pre.post_pods],
            [(e.level, e.name, e.message.split(" succeeded")[0]) for e in log.entries],
        )
    assert outcomes[4] == outcomes[1]
    assert outcomes[4][1:4] == ([("shop", "db")], True, ["ok", "soft"])
