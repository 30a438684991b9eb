"""The real stack for browser tests: uvicorn, RQ workers, the emulated sample cluster registered
through the CLI, an operator created through `manage.py shell`, and Debian's Chromium via Playwright.

No ORM call is made from the test process (Playwright's sync API runs an event loop, and the stack
has its own database): everything goes through `manage.py` subprocesses.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from emulator import SAMPLE_CLUSTER, KubeEmulator
from tests.conftest import REPO
from veloweb.devstack import CHROMIUM, CHROMIUM_ARGS

SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
USERNAME, PASSWORD = "olivia", "operator-Pass-42"


def manage(env, *args, timeout=120) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"manage.py {args[0]} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout


def shell(env, code: str) -> str:
    return manage(env, "shell", "-c", code)


@pytest.fixture(scope="session")
def playwright_sync():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing")
    with sync_api.sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_sync):
    browser = playwright_sync.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def sample_emulator(stack_env, tmp_path_factory):
    """The sample cluster, emulated in this process, registered as `sample` with the CLI."""
    with KubeEmulator.from_manifests([SAMPLE_CLUSTER]) as emulator:
        kubeconfig = emulator.write_kubeconfig(str(tmp_path_factory.mktemp("kube") / "kubeconfig"))
        manage(stack_env, "cluster", "add", "sample", "--kubeconfig", kubeconfig)
        yield emulator


@pytest.fixture(scope="session")
def sample_cluster(sample_emulator):
    return "sample"


@pytest.fixture(scope="session")
def operator_user(stack_env):
    shell(
        stack_env,
        "from django.contrib.auth.models import Group, User\n"
        f"u = User.objects.create_user({USERNAME!r}, password={PASSWORD!r})\n"
        "u.groups.add(Group.objects.get(name='operator'))",
    )
    return USERNAME, PASSWORD


@pytest.fixture
def page(browser, live_server_url, operator_user):
    """A signed-in page that records console errors and failed responses."""
    context = browser.new_context(base_url=live_server_url, accept_downloads=True)
    page = context.new_page()
    page.problems = []
    page.on("console", lambda m: m.type == "error" and page.problems.append(f"console: {m.text}"))
    page.on("response", lambda r: r.status >= 400 and page.problems.append(f"{r.status} {r.url}"))
    page.goto("/accounts/login/")
    page.fill("#id_username", operator_user[0])
    page.fill("#id_password", operator_user[1])
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server_url}/")
    yield page
    context.close()


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def backup_state(env, name: str) -> dict:
    out = shell(
        env,
        "import json\nfrom backups.models import Backup\n"
        f"b = Backup.objects.get(name={name!r})\n"
        "print(json.dumps({'id': b.pk, 'phase': b.phase, 'blocks': b.total_blocks}))",
    )
    return json.loads(out.strip().splitlines()[-1])


ADMIN, ADMIN_PASSWORD = "ada", "admin-Pass-42"


@pytest.fixture
def admin_page(browser, live_server_url, stack_env):
    shell(
        stack_env,
        "from django.contrib.auth.models import Group, User\n"
        f"u, _ = User.objects.get_or_create(username={ADMIN!r})\n"
        f"u.set_password({ADMIN_PASSWORD!r}); u.save()\n"
        "u.groups.add(Group.objects.get(name='admin'))",
    )
    context = browser.new_context(base_url=live_server_url)
    page = context.new_page()
    page.problems = []
    page.on("console", lambda m: m.type == "error" and page.problems.append(f"console: {m.text}"))
    page.on("response", lambda r: r.status >= 400 and page.problems.append(f"{r.status} {r.url}"))
    page.goto("/accounts/login/")
    page.fill("#id_username", ADMIN)
    page.fill("#id_password", ADMIN_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server_url}/")
    yield page
    context.close()
