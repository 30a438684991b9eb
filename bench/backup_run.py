"""End-to-end backups on real RQ workers against the emulator (issue goals in brackets).

    python bench/backup_run.py speedup [--blocks 48 --hook-delay 0.25 --api-latency 0.005 --processes 2]
    python bench/backup_run.py scale [--objects 300000 --workers 2]

`speedup`: every block is one pod with a pre and a post hook that each take --hook-delay seconds
and every API call --api-latency more, so blocks are latency-bound; prints the time of the block
phase (first block started to last block finished) and the speedup for a backup of 1, 2, 4, 8 and
16 workers [>= 0.9 x workers] on --processes RQ worker processes (one per core, as deployed here;
0: one process per backup worker). `scale`: a metadata-only backup of a generated cluster, end to
end (create to Completed) [300,000 objects < 60 s], with the peak memory of every process of the
stack [< 300 MB each]; the emulator's own memory is reported apart (it stands in for the API server).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from veloweb.devstack import DevStack, children  # noqa: E402


def peak_rss_mib(pid: int) -> float | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"VmHWM:\s+(\d+) kB", text)
    return int(match.group(1)) / 1024 if match else None


class MemoryWatch:
    """Samples the peak RSS (VmHWM) of the stack's processes and their work horses."""

    def __init__(self, stack: DevStack, interval: float = 0.05):
        self.stack, self.interval = stack, interval
        self.peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _label(self, pid: int, parent: str) -> str:
        return f"{parent} work horse"

    def _run(self) -> None:
        while not self._stop.is_set():
            procs = [("watchdog", self.stack.watchdog.pid)] if self.stack.watchdog else []
            for i, worker in enumerate(self.stack.workers):
                procs.append((f"rq worker {i}", worker.pid))
                procs += [(f"rq work horse (worker {i})", c) for c in children(worker.pid)]
            for label, pid in procs:
                peak = peak_rss_mib(pid)
                if peak is not None:
                    self.peaks[label] = max(self.peaks.get(label, 0.0), peak)
            self._stop.wait(self.interval)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def phases(stack: DevStack, name: str) -> dict:
    """Seconds spent queued, planning (dispatch), running blocks and finalizing."""
    code = (
        "import json; from django.db.models import Max, Min; from backups.models import Backup, BlockRun; "
        f"b = Backup.objects.get(name={name!r}); "
        "r = BlockRun.objects.filter(backup=b).aggregate(a=Min('started'), z=Max('finished')); "
        "print(json.dumps({'queued': (b.started - b.created).total_seconds(), "
        "'planning': (r['a'] - b.started).total_seconds(), 'blocks': (r['z'] - r['a']).total_seconds(), "
        "'finalizing': (b.completed - r['z']).total_seconds()}))"
    )
    return json.loads(stack.manage("shell", "-c", code).stdout.strip().splitlines()[-1])


def run_backup(stack: DevStack, name: str, create_args: list[str], timeout: float, poll: float):
    """Create backup `name` and wait for it in one Django process polling every `poll` seconds;
    (state, seconds from create to a final phase). The process starts before the backup is
    created: Django's start-up (about a second of CPU) and polling by starting `manage.py` again
    and again would take a core of this 2-core machine from what is measured."""
    code = (
        "import json, time; from django.core.management import call_command; "
        "from backups.models import Backup; "
        "done = ('Completed', 'PartiallyFailed', 'Failed', 'FailedValidation'); "
        f"started = time.monotonic(); call_command('backup', 'create', {name!r}, *{create_args!r}); "
        f"deadline = started + {timeout!r}\n"
        "while True:\n"
        f"    b = Backup.objects.get(name={name!r})\n"
        "    if b.phase in done or time.monotonic() > deadline: break\n"
        f"    time.sleep({poll!r})\n"
        "print(json.dumps([b.phase, time.monotonic() - started]))"
    )
    output = stack.manage("shell", "-c", code, timeout=timeout + 60).stdout.strip().splitlines()[-1]
    phase, seconds = json.loads(output)
    state = stack.backup_state(name)
    if state["phase"] != phase or phase not in ("Completed", "PartiallyFailed", "Failed", "FailedValidation"):
        raise TimeoutError(f"backup {name} still {state['phase']} after {timeout}s: {state}")
    return state, seconds


def block_phase_seconds(stack: DevStack, name: str) -> float:
    code = (
        "from django.db.models import Max, Min; from backups.models import BlockRun; "
        f"r = BlockRun.objects.filter(backup__name={name!r}).aggregate(a=Min('started'), b=Max('finished')); "
        "print((r['b'] - r['a']).total_seconds())"
    )
    return float(stack.manage("shell", "-c", code).stdout.strip().splitlines()[-1])


def speedup(args) -> None:
    from emulator import KubeEmulator

    objects = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "bench"},
            "status": {"phase": "Active"},
        }
    ]
    for i in range(args.blocks):
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"app-{i:03d}",
                    "namespace": "bench",
                    "annotations": {
                        "pre.hook.backup.velero.io/command": '["/bin/sh", "-c", "sync"]',
                        "post.hook.backup.velero.io/command": '["/bin/sh", "-c", "true"]',
                    },
                },
                "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "busybox"}]},
                "status": {"phase": "Running"},
            }
        )
    print(
        f"{args.blocks} blocks, each one pod with a pre and a post hook of {args.hook_delay}s; "
        f"API latency {args.api_latency * 1000:.0f} ms per request"
    )
    baseline = None
    with tempfile.TemporaryDirectory() as tmp, KubeEmulator(objects=objects) as emulator:
        kubeconfig = emulator.write_kubeconfig(os.path.join(tmp, "kubeconfig"))
        for i in range(args.blocks):
            emulator.script_exec("bench", f"app-{i:03d}", delay=args.hook_delay)
        emulator.set_latency(args.api_latency)
        print(f"{'workers':>7} {'block phase':>12} {'speedup':>8} {'x workers':>10}")
        for workers in args.workers:
            with DevStack(Path(tmp) / f"w{workers}") as stack:
                stack.start(workers=args.processes or workers)
                stack.manage("cluster", "add", "bench", "--kubeconfig", kubeconfig)
                create = ["--include-namespaces", "bench", "--workers", str(workers)]
                create += ["--include-cluster-resources", "false"]
                state, _ = run_backup(stack, "speed", create, timeout=600, poll=0.25)
                assert state["phase"] == "Completed", state
                seconds = block_phase_seconds(stack, "speed")
            baseline = baseline or seconds * workers
            gain = baseline / seconds
            print(f"{workers:>7} {seconds:>11.2f}s {gain:>8.2f} {gain / workers:>10.2f}", flush=True)


def scale(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = os.path.join(tmp, "kubeconfig")
        started = time.perf_counter()
        emulator = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "emulator",
                "--generate",
                str(args.objects),
                "--kubeconfig-out",
                kubeconfig,
            ],
            cwd=Path(__file__).resolve().parent.parent,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            emulator.stdout.readline()
            ready = time.perf_counter() - started
            print(f"emulator: {args.objects:,} generated objects served in {ready:.1f} s")
            with DevStack(Path(tmp) / "stack", VELOWEB_BATCH_ITEMS=str(args.batch_items)) as stack:
                stack.start(workers=args.workers)
                stack.manage("cluster", "add", "big", "--kubeconfig", kubeconfig)
                with MemoryWatch(stack) as memory:
                    create = ["--workers", str(args.workers), "--snapshot-volumes", "false"]
                    state, elapsed = run_backup(stack, "big", create, timeout=3600, poll=0.5)
                print(
                    f"backup {state['phase']}: {state['done']:,} items in {state['blocks']:,} blocks, "
                    f"{state['errors']} errors, {state['warnings']} warnings"
                )
                print(
                    f"end to end: {elapsed:.1f} s = {state['done'] / elapsed:,.0f} items/s "
                    f"(goal: 300,000 objects < 60 s)"
                )
                print("  " + ", ".join(f"{k} {v:.1f} s" for k, v in phases(stack, "big").items()))
                print("peak memory per process (goal < 300 MB):")
                for label, peak in sorted(memory.peaks.items()):
                    print(f"  {label:32} {peak:7.0f} MiB")
                size = (stack.storage() / "backups" / "big" / "big.tar.gz").stat().st_size
                print(f"tarball: {size / 2**20:.1f} MiB")
            print(f"  {'emulator (the API server)':32} {peak_rss_mib(emulator.pid) or 0:7.0f} MiB")
        finally:
            emulator.terminate()
            emulator.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="bench", required=True)
    s = sub.add_parser("speedup")
    s.add_argument("--blocks", type=int, default=48)
    s.add_argument("--hook-delay", type=float, default=0.25)
    s.add_argument("--api-latency", type=float, default=0.005)
    s.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    s.add_argument("--processes", type=int, default=2)
    c = sub.add_parser("scale")
    c.add_argument("--objects", type=int, default=300_000)
    c.add_argument("--workers", type=int, default=2)
    c.add_argument("--batch-items", type=int, default=2000)
    args = parser.parse_args()
    {"speedup": speedup, "scale": scale}[args.bench](args)


if __name__ == "__main__":
    main()
