"""An operator cancels a running backup from its page in headless Chromium, against the real stack
and the sample cluster: the confirmation, then the page turns Cancelled live (over the WebSocket),
every block marked cancelled, and the database pods frozen by the running block thawed."""

import re

import pytest

from tests.browser.conftest import backup_state, manage, screenshot
from tests.runs.test_faults import wait_for_exec

pytestmark = pytest.mark.usefixtures("rq_workers", "sample_cluster")

FREEZE_DELAY = 10.0  # db-2's freeze: the block is in its pre-hooks while the operator clicks
DB_PODS = ("db-0", "db-1", "db-2")


def test_cancel_a_running_backup_from_its_page(page, stack_env, sample_emulator):
    sample_emulator.exec_log.clear()
    sample_emulator.script_exec("shop", "db-2", delay=FREEZE_DELAY, match="--freeze")
    try:
        manage(
            stack_env, "backup", "create", "ui-cancel-1", "--cluster", "sample",
            "--include-namespaces", "shop", "--workers", "1",
        )  # fmt: skip
        backup = backup_state(stack_env, "ui-cancel-1")
        page.goto(f"/backups/{backup['id']}/")
        page.wait_for_selector("body[data-ws=open]", timeout=10_000)
        wait_for_exec(sample_emulator, "db-2", "--freeze")  # db-0 and db-1 are frozen now
        screenshot(page, "cancel-01-running")

        page.click("#cancel-backup")
        page.wait_for_selector("#confirm-cancel")
        assert "runs their post-hooks" in page.inner_text("body")  # what a cancel does, before it is done
        screenshot(page, "cancel-02-confirm")
        page.click("#confirm-cancel")
        page.wait_for_url(re.compile(rf"/backups/{backup['id']}/$"))
        page.wait_for_selector("body[data-ws=open]", timeout=10_000)
        assert "is being cancelled" in page.inner_text("ul.messages")
        assert page.inner_text("#phase") == "Cancelling"  # its running block runs its post-hooks

        # no reload: the socket brings the end of the cancel
        page.wait_for_selector("#phase:text-is('Cancelled')", timeout=FREEZE_DELAY * 1000 + 20_000)
        page.wait_for_selector("#cancelled-panel")
        blocks = backup_state(stack_env, "ui-cancel-1")["blocks"]
        page.wait_for_function(
            f"document.querySelectorAll('#live tr.state-cancelled').length === {blocks}", timeout=10_000
        )
        assert page.locator("#cancel-backup").count() == 0
        screenshot(page, "cancel-03-cancelled")
    finally:
        sample_emulator.clear_exec_scripts()
    for pod in DB_PODS:
        freezes = [e for e in sample_emulator.exec_log if e["pod"] == pod and "--freeze" in e["command"][-1]]
        thaws = [e for e in sample_emulator.exec_log if e["pod"] == pod and "--unfreeze" in e["command"][-1]]
        assert len(freezes) == len(thaws) == 1 and thaws[0]["started"] >= freezes[0]["finished"]
    assert backup_state(stack_env, "ui-cancel-1")["phase"] == "Cancelled"
    assert page.problems == []
