"""An operator pauses, resumes and runs a schedule now from the definitions page (htmx row swaps)."""

import json

import pytest

from tests.browser.conftest import screenshot, shell

pytestmark = pytest.mark.usefixtures("rq_workers", "sample_cluster")


def schedule_of(env, name: str) -> dict:
    out = shell(
        env,
        "import json\nfrom backups.models import Backup, BackupDefinition\n"
        f"d = BackupDefinition.objects.get(name={name!r})\n"
        "print(json.dumps({'paused': d.paused, 'runs': list(Backup.objects.filter(schedule_name=d.name)"
        ".values_list('name', flat=True))}))",
    )
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(autouse=True)
def paused_afterwards(stack_env):
    """No active schedule is left behind in the stack the other tests share."""
    yield
    shell(
        stack_env,
        "from backups.models import BackupDefinition\n"
        "BackupDefinition.objects.filter(name='browser-nightly').update(paused=True)",
    )


def test_pause_resume_and_run_now_from_the_definitions_page(page, stack_env):
    pk = (
        shell(
            stack_env,
            "from django.utils import timezone\nfrom backups.models import BackupDefinition, Cluster\n"
            "print(BackupDefinition.objects.create(name='browser-nightly', "
            "cluster=Cluster.objects.get(name='sample'), included_namespaces=['shop'], "
            "schedule='0 3 * * *', schedule_since=timezone.now()).pk)",
        )
        .strip()
        .splitlines()[-1]
    )
    row = f"#definition-{pk}"
    page.goto("/definitions/")
    assert page.inner_text(f"{row} .schedule-state") == "active"
    assert "UTC" in page.inner_text(f"{row} .next-run")

    page.click(f"{row} button.pause")
    page.wait_for_selector(f"{row} button.resume")
    assert page.inner_text(f"{row} .schedule-state") == "paused"
    assert page.inner_text(f"{row} .next-run").strip() == "—"
    assert schedule_of(stack_env, "browser-nightly")["paused"] is True
    screenshot(page, "schedule-paused")

    page.click(f"{row} button.resume")
    page.wait_for_selector(f"{row} button.pause")
    assert page.inner_text(f"{row} .schedule-state") == "active"
    assert schedule_of(stack_env, "browser-nightly")["paused"] is False

    page.click(f"{row} button.run-now")
    page.wait_for_selector(f"{row} .last-run a")
    runs = schedule_of(stack_env, "browser-nightly")["runs"]
    assert len(runs) == 1 and page.inner_text(f"{row} .last-run a") == runs[0]
    screenshot(page, "schedule-run-now")
    page.click(f"{row} .last-run a")
    page.wait_for_selector("#schedule-name")
    assert page.inner_text("#schedule-name") == "browser-nightly"
    assert page.problems == []
