"""Fixtures for backups run end to end: the emulated sample cluster, the CLI in subprocesses."""

import subprocess
import sys

import pytest

from emulator import SAMPLE_CLUSTER, KubeEmulator
from tests.conftest import REPO


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with KubeEmulator.from_manifests([SAMPLE_CLUSTER]) as emulator:
        emulator.kubeconfig = emulator.write_kubeconfig(str(tmp_path_factory.mktemp("kube") / "kubeconfig"))
        yield emulator


@pytest.fixture
def manage(stack_env):
    """Run `manage.py ...` against the stack's database and Redis; returns the CompletedProcess."""

    def run(*args, timeout=120, check=True):
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=stack_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"manage.py {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
            )
        return result

    return run


@pytest.fixture
def registered(cluster, manage, request):
    """The emulated cluster registered under a name unique to the test."""
    name = request.node.name.replace("_", "-")[:40].strip("-").lower()
    manage("cluster", "add", name, "--kubeconfig", cluster.kubeconfig)
    return name
