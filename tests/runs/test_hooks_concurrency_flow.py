"""A backup's hooks_concurrency from the CLI through real RQ workers: the database block's three
pods freeze at once by default, one after another with `--hooks-concurrency sequential` (Velero's
order), as the emulator's exec log shows; the choice is stored on the backup."""

import pytest

pytestmark = pytest.mark.usefixtures("rq_workers")
FREEZE = 0.5


def freezes(cluster):
    return sorted(
        (e["started"], e["finished"]) for e in cluster.exec_log if "--freeze" in " ".join(e["command"])
    )


@pytest.mark.parametrize("mode", ["concurrent", "sequential"])
def test_the_database_pods_freeze_at_once_or_in_turn(manage, registered, cluster, mode):
    for name in ("db-0", "db-1", "db-2"):
        cluster.script_exec("shop", name, match="--freeze", delay=FREEZE)
    cluster.exec_log.clear()
    try:
        args = ["--hooks-concurrency", mode] if mode == "sequential" else []  # concurrent is the default
        result = manage(
            "backup", "create", f"hooks-{mode}", "--cluster", registered, "--include-namespaces", "shop",
            "--include-resources", "pods,persistentvolumeclaims", *args, "--wait", "--timeout", "120",
            check=False,
        )  # fmt: skip
        assert "Phase:        Completed" in result.stdout, result.stdout + result.stderr
        assert f"6 attempted, 0 failed ({mode}: " in result.stdout  # describe says which order ran
        found = freezes(cluster)
    finally:
        cluster.clear_exec_scripts()
    assert len(found) == 3
    overlap = max(start for start, _ in found) < min(end for _, end in found)
    assert overlap is (mode == "concurrent")
    if mode == "sequential":
        assert all(b[0] >= a[1] for a, b in zip(found, found[1:], strict=False))
    stored = manage(
        "shell", "-c",
        "from backups.models import Backup; "
        f"print(Backup.objects.get(name='hooks-{mode}').hooks_concurrency)",
    ).stdout.strip().splitlines()[-1]  # fmt: skip
    assert stored == mode
