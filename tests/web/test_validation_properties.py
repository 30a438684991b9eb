"""Random option values through the define form and the CLI, the two ways in: each ends in a clear
refusal (one line, under the field it concerns) or a saved backup in Queued or FailedValidation,
never an exception; and what the validation layer refuses, both refuse.

(`tests/runs/test_no_wedge.py` runs accepted values through real workers to a terminal phase.)
"""

import json

import pytest
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backups.forms import BackupForm
from backups.models import Backup
from backups.services import backups as backup_services
from backups.validation import backup_problems

UNITS = ["ns", "us", "ms", "s", "m", "h", "", "d", "µs"]
durations = st.one_of(
    st.builds(lambda n, unit: f"{n}{unit}", st.integers(-5, 10**14), st.sampled_from(UNITS)),
    st.sampled_from(["720h0m0s", "0", "1h30m", "87600h", "87601h", "24h", "24h0m1s", "99999999h", "1e9h"]),
    st.text(max_size=12),
)
words = st.one_of(st.from_regex(r"[a-z*?][-a-z0-9*?]{0,12}", fullmatch=True), st.text(max_size=10))
name_lists = st.lists(words, max_size=3).map(", ".join)
selectors = st.one_of(
    st.just(""), st.sampled_from(["app=web", "app in (a,b)", "!x", "a!=b"]), st.text(max_size=16)
)
hook_specs = st.builds(
    lambda timeout, on_error, command: json.dumps(
        {
            "resources": [
                {
                    "name": "h",
                    "pre": [{"exec": {"command": command, "timeout": timeout, "onError": on_error}}],
                }
            ]
        }
    ),
    durations,
    st.sampled_from(["Continue", "Fail", "FailBlock", "sometimes", ""]),
    st.one_of(st.lists(st.text(max_size=5), max_size=2), st.text(max_size=5)),
)
hooks = st.one_of(st.just(""), hook_specs, st.text(max_size=20))
options = st.fixed_dictionaries(
    {
        "name_prefix": st.one_of(st.just("nightly"), words),
        "included_namespaces": name_lists,
        "excluded_namespaces": name_lists,
        "included_resources": name_lists,
        "excluded_resources": st.one_of(st.just(""), st.just("*"), name_lists),
        "include_cluster_resources": st.sampled_from(["", "true", "false", "maybe"]),
        "label_selector": selectors,
        "ordered_resources": st.one_of(st.just(""), st.just("pods=shop/db-0"), st.text(max_size=12)),
        "hooks": hooks,
        "snapshot_volumes": st.sampled_from(["", "true", "false"]),
        "ttl": durations,
        "csi_snapshot_timeout": durations,
        "volume_group_label_key": st.one_of(st.just("velero.io/volume-group"), st.text(max_size=12)),
        "workers": st.one_of(st.integers(-2, 80).map(str), st.text(max_size=3)),
    }
)
LAYER_FIELDS = ("ttl", "csi_snapshot_timeout", "label_selector", "workers")


def clear(message: str) -> bool:
    return (
        bool(message.strip()) and "\n" not in message and "Traceback" not in message and len(message) < 2000
    )


def cli_args(values: dict, name: str, cluster: str) -> list[str]:
    args = ["backup", "create", name, "--cluster", cluster]
    for field, flag in [
        ("included_namespaces", "--include-namespaces"),
        ("excluded_namespaces", "--exclude-namespaces"),
        ("included_resources", "--include-resources"),
        ("excluded_resources", "--exclude-resources"),
        ("include_cluster_resources", "--include-cluster-resources"),
        ("label_selector", "--selector"),
        ("ordered_resources", "--ordered-resources"),
        ("hooks", "--hooks"),
        ("snapshot_volumes", "--snapshot-volumes"),
        ("ttl", "--ttl"),
        ("csi_snapshot_timeout", "--csi-snapshot-timeout"),
        ("volume_group_label_key", "--volume-group-label-key"),
        ("workers", "--workers"),
    ]:
        if values[field] != "":
            args += [f"{flag}={values[field]}"]
    return args


@pytest.fixture
def quiet_queue(settings, tmp_path):
    """Nothing is admitted (no worker here): accepted backups stay Queued."""
    settings.VELOWEB_MAX_RUNNING_BACKUPS = 0
    settings.VELOWEB_DEFAULT_STORAGE_DIR = tmp_path / "default"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=options)
def test_random_options_end_in_a_clear_refusal_or_a_queued_backup(cluster, quiet_queue, values):
    Backup.objects.all().delete()
    form = BackupForm({**values, "cluster": cluster.pk, "backup": "1"})
    if form.is_valid():
        backup = backup_services.create_backup_now(
            form.cleaned_data["name_prefix"], form.cleaned_data["cluster"], **form.backup_fields()
        )
        assert backup.phase in (Backup.Phase.QUEUED, Backup.Phase.FAILED_VALIDATION)
        assert all(clear(m) for m in backup.validation_errors)
        form_refused = set()
    else:
        assert all(clear(m) for messages in form.errors.values() for m in messages), form.errors
        form_refused = set(form.errors)

    name = f"cli-{Backup.objects.count()}"
    try:
        call_command(*cli_args(values, name, cluster.name))
    except CommandError as error:
        assert clear(str(error)), str(error)
        cli_refused = True
    else:
        assert Backup.objects.get(name=name).phase == Backup.Phase.QUEUED
        cli_refused = False

    # a value the shared layer refuses is refused by both ways in
    layer = {p.field for p in backup_problems(layer_values(values))}
    if layer & set(LAYER_FIELDS):
        assert cli_refused
        assert layer & form_refused, (layer, form_refused)


def layer_values(values: dict) -> dict:
    """The values the layer sees from both: the ones that need no parsing of their own (an empty
    value is the CLI's default: left out, the option is not given)."""
    fields = {
        "ttl": values["ttl"] or "720h0m0s",
        "csi_snapshot_timeout": values["csi_snapshot_timeout"] or "10m0s",
        "label_selector": values["label_selector"].strip(),
    }
    try:
        fields["workers"] = int(values["workers"] or 4)
    except ValueError:
        fields["workers"] = None
    return fields
