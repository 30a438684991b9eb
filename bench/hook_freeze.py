"""How long a block's pods stay frozen: Velero's sequential hooks against concurrent ones.

    python bench/hook_freeze.py [--pods 3 --hook-delay 4 --workers 8]

One block of --pods database pods whose claims share a volume group (so they are one
ItemBlock), each frozen by a pre-hook that takes --hook-delay seconds in the emulator and
thawed by a post-hook. The backup runs end to end on real RQ workers (`backup create
--hooks-concurrency ...`), once per mode; the emulator's exec log gives, per pod, the time from
its freeze starting to its thaw finishing. Prints the longest freeze window and the block's
duration for each mode. Sequential (Velero's order) keeps the first pod frozen for every pod's
freeze in turn, about pods x delay; concurrent about one delay, whatever the workers (the block
is one batch on one worker either way).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.backup_run import block_phase_seconds, run_backup  # noqa: E402
from veloweb.devstack import DevStack  # noqa: E402


def objects(pods: int) -> list[dict]:
    found: list[dict] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "db"}, "status": {"phase": "Active"}}
    ]
    for i in range(pods):
        found.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {
                    "name": f"data-db-{i}",
                    "namespace": "db",
                    "labels": {"velero.io/volume-group": "db"},
                },
                "spec": {"accessModes": ["ReadWriteOnce"], "volumeName": f"pv-db-{i}"},
                "status": {"phase": "Bound"},
            }
        )
        found.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": f"pv-db-{i}"},
                "spec": {
                    "capacity": {"storage": "1Gi"},
                    "claimRef": {"namespace": "db", "name": f"data-db-{i}"},
                },
                "status": {"phase": "Bound"},
            }
        )
        found.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"db-{i}",
                    "namespace": "db",
                    "annotations": {
                        "pre.hook.backup.velero.io/command": '["fsfreeze", "--freeze", "/data"]',
                        "pre.hook.backup.velero.io/timeout": "60s",
                        "post.hook.backup.velero.io/command": '["fsfreeze", "--unfreeze", "/data"]',
                    },
                },
                "spec": {
                    "nodeName": "node-1",
                    "containers": [{"name": "db", "image": "postgres"}],
                    "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": f"data-db-{i}"}}],
                },
                "status": {"phase": "Running"},
            }
        )
    return found


def freeze_windows(exec_log: list[dict], pods: int) -> list[float]:
    """Per pod: its freeze's start to its thaw's end, from the emulator's exec log."""
    windows = []
    for i in range(pods):
        mine = [e for e in exec_log if e["pod"] == f"db-{i}"]
        freeze = next(e for e in mine if "--freeze" in e["command"])
        thaw = next(e for e in mine if "--unfreeze" in e["command"])
        windows.append(thaw["finished"] - freeze["started"])
    return windows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=3)
    parser.add_argument("--hook-delay", type=float, default=4.0)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    from emulator import KubeEmulator

    print(f"one block of {args.pods} pods, a {args.hook_delay:g}s freeze each, {args.workers} workers")
    print(f"{'hooks':>10} {'longest freeze':>15} {'shortest':>9} {'block':>8}")
    with tempfile.TemporaryDirectory() as tmp, KubeEmulator(objects=objects(args.pods)) as emulator:
        kubeconfig = emulator.write_kubeconfig(str(Path(tmp) / "kubeconfig"))
        for i in range(args.pods):
            emulator.script_exec("db", f"db-{i}", match="--freeze", delay=args.hook_delay)
        with DevStack(Path(tmp) / "stack") as stack:
            stack.start(workers=2)
            stack.manage("cluster", "add", "bench", "--kubeconfig", kubeconfig)
            for mode in ("sequential", "concurrent"):
                emulator.exec_log.clear()
                create = ["--include-namespaces", "db", "--include-cluster-resources", "false"]
                create += ["--workers", str(args.workers), "--hooks-concurrency", mode]
                state, _ = run_backup(stack, f"freeze-{mode}", create, timeout=600, poll=0.25)
                assert state["phase"] == "Completed", state
                windows = freeze_windows(list(emulator.exec_log), args.pods)
                block = block_phase_seconds(stack, f"freeze-{mode}")
                print(f"{mode:>10} {max(windows):>14.2f}s {min(windows):>8.2f}s {block:>7.2f}s", flush=True)


if __name__ == "__main__":
    main()
