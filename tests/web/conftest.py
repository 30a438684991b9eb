"""Users per role, clusters and backups for the dashboard's view tests."""

import pytest
from django.contrib.auth.models import Group, User

from backups.models import Backup, Cluster


@pytest.fixture
def make_user(db):
    def make(role=None, username=None):
        user = User.objects.create_user(username or f"{role or 'nobody'}-user", password="pw-Secret-123")
        if role:
            user.groups.add(Group.objects.get_or_create(name=role)[0])
        return user

    return make


@pytest.fixture
def client_as(client, make_user):
    def login(role):
        client.force_login(make_user(role))
        return client

    return login


@pytest.fixture
def cluster(db):
    return Cluster.objects.create(name="sample", kubeconfig_path="/nonexistent")


@pytest.fixture
def make_backup(cluster):
    def make(name, **fields):
        return Backup.objects.create(name=name, cluster=cluster, **fields)

    return make


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    """The sample cluster served by the emulator over HTTP, with a kubeconfig to reach it."""
    from emulator import SAMPLE_CLUSTER, KubeEmulator

    with KubeEmulator.from_manifests([SAMPLE_CLUSTER]) as emu:
        emu.kubeconfig = emu.write_kubeconfig(str(tmp_path_factory.mktemp("kube") / "kubeconfig"))
        yield emu
