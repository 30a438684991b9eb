"""The emulated sample cluster and a `backups.kube` client of it, for engine tests that need the API."""

import pytest

from backups.kube import connect
from emulator import SAMPLE_CLUSTER, KubeEmulator


@pytest.fixture
def emu():
    with KubeEmulator.from_manifests([SAMPLE_CLUSTER]) as emulator:
        yield emulator


@pytest.fixture
def source(emu, tmp_path):
    src = connect(kubeconfig=emu.write_kubeconfig(str(tmp_path / "kc")))
    yield src
    src.close()
