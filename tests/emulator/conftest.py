import pytest
from kubernetes import client, config

from emulator import SAMPLE_CLUSTER, KubeEmulator


@pytest.fixture(scope="session")
def sample_emulator():
    with KubeEmulator.from_manifests([SAMPLE_CLUSTER]) as emu:
        yield emu


@pytest.fixture
def emu(sample_emulator):
    """The shared sample-cluster emulator, reset after each test."""
    yield sample_emulator
    sample_emulator.clear_faults()
    sample_emulator.clear_exec_scripts()
    sample_emulator.exec_log.clear()


@pytest.fixture(scope="session")
def kubeconfig(sample_emulator, tmp_path_factory):
    return sample_emulator.write_kubeconfig(
        str(tmp_path_factory.mktemp("kube") / "config"), context="emulator"
    )


@pytest.fixture
def api(emu, kubeconfig):
    """An official-client ApiClient loaded from the emulator's kubeconfig."""
    api_client = config.new_client_from_config(config_file=kubeconfig, context="emulator")
    yield api_client
    api_client.close()


@pytest.fixture
def core(api):
    return client.CoreV1Api(api)


@pytest.fixture(name="raw_get")
def raw_get_fixture():
    return raw_get


def raw_get(api_client, path, query=None):
    """GET a raw API path through the official client's ApiClient; returns (status, parsed JSON or text)."""
    import json
    from urllib.parse import urlencode

    url = api_client.configuration.host + path + ("?" + urlencode(query, doseq=True) if query else "")
    headers = {"Accept": "application/json"}
    api_client.update_params_for_auth(headers, [], ["BearerToken"], url, "GET", None)
    resp = api_client.call_api("GET", url, header_params=headers)
    data = resp.read()
    try:
        return resp.status, json.loads(data)
    except ValueError:
        return resp.status, data.decode()
