"""Hooks typed as YAML on the define form and in the CLI's --hooks/--hooks-file: the same backup as
JSON, and an error that names the line (and column) of the problem, nothing saved."""

import pytest
from django.core.management import CommandError, call_command

from backups.models import Backup

HOOKS = """\
resources:
  - name: db
    includedNamespaces: [shop]
    pre:
      - exec:
          command: ["/bin/sh", "-c", "sync"]
          timeout: 30s
"""


@pytest.fixture
def quiet_queue(settings, tmp_path):
    """Nothing is admitted (no worker here): accepted backups stay Queued."""
    settings.VELOWEB_MAX_RUNNING_BACKUPS = 0
    settings.VELOWEB_DEFAULT_STORAGE_DIR = tmp_path / "default"


def post(client, cluster, hooks):
    data = {"name_prefix": "nightly", "ttl": "720h0m0s", "workers": "4", "cluster": cluster.pk, "backup": "1"}
    return client.post("/backups/new/", {**data, "hooks": hooks})


def test_the_form_takes_yaml_hooks(client_as, cluster, quiet_queue):
    response = post(client_as("operator"), cluster, HOOKS)
    backup = Backup.objects.get()
    assert response.status_code == 302 and backup.phase == Backup.Phase.QUEUED
    assert backup.hooks == {
        "resources": [
            {
                "name": "db",
                "includedNamespaces": ["shop"],
                "pre": [{"exec": {"command": ["/bin/sh", "-c", "sync"], "timeout": "30s"}}],
            }
        ]
    }


def test_a_yaml_syntax_error_names_line_and_column(client_as, cluster, quiet_queue):
    broken = HOOKS.replace("    pre:", "   pre:")  # one space short
    response = post(client_as("operator"), cluster, "\n" + broken)  # a blank first line counts
    errors = " ".join(response.context["form"].errors["hooks"])
    assert "invalid YAML at line 5, column 4 ('pre:')" in errors, errors
    assert 'id="id_hooks-errors"' in response.content.decode()
    assert not Backup.objects.exists()


def test_a_hook_problem_names_the_line_of_its_hook(client_as, cluster, quiet_queue):
    wrong = HOOKS.replace("timeout: 30s", "timeout: 30")
    response = post(client_as("operator"), cluster, wrong)
    errors = " ".join(response.context["form"].errors["hooks"])
    assert errors.startswith("line 5: hook 'db': pre[0].exec.timeout 30"), errors
    assert not Backup.objects.exists()


def test_the_cli_reads_a_yaml_hooks_file(cluster, quiet_queue, tmp_path):
    path = tmp_path / "hooks.yaml"
    path.write_text(HOOKS)
    call_command("backup", "create", "from-yaml", "--cluster", cluster.name, "--hooks-file", str(path))
    assert Backup.objects.get(name="from-yaml").hooks["resources"][0]["pre"][0]["exec"]["timeout"] == "30s"
    call_command("backup", "create", "inline-yaml", "--cluster", cluster.name, "--hooks", HOOKS)
    assert Backup.objects.get(name="inline-yaml").hooks == Backup.objects.get(name="from-yaml").hooks


def test_the_cli_names_the_line_of_the_problem(cluster, quiet_queue, tmp_path):
    path = tmp_path / "hooks.yaml"
    path.write_text(HOOKS.replace("    pre:", "   pre:"))
    with pytest.raises(CommandError, match=r"--hooks-file .*hooks.yaml: invalid YAML at line 4, column 4"):
        call_command("backup", "create", "bad", "--cluster", cluster.name, "--hooks-file", str(path))
    path.write_text(HOOKS.replace("timeout: 30s", "timeout: 30"))
    with pytest.raises(CommandError, match=r"failed validation: line 5: hook 'db': pre\[0\].exec.timeout"):
        call_command("backup", "create", "bad2", "--cluster", cluster.name, "--hooks-file", str(path))
    with pytest.raises(CommandError, match="cannot read --hooks-file"):
        call_command(
            "backup", "create", "bad3", "--cluster", cluster.name, "--hooks-file", str(tmp_path / "no")
        )
    assert not Backup.objects.filter(name__in=["bad", "bad3"]).exists()
