"""No value can wedge a backup: random options through the CLI and real RQ workers each end in a
refusal or a terminal phase within a bounded time. A TTL of 99999999h once passed validation, then
crashed the dispatcher every 2 s forever while overlapping backups queued behind it."""

import itertools
import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.usefixtures("rq_workers")
TERMINAL = ("Completed", "PartiallyFailed", "Failed", "FailedValidation", "Cancelled")
numbers = itertools.count()

durations = st.one_of(
    st.sampled_from(["0", "1s", "720h0m0s", "87600h", "87600h0m1s", "99999999h", "24h", "1e9h", "30"]),
    st.builds(lambda n, unit: f"{n}{unit}", st.integers(0, 10**12), st.sampled_from(["ms", "s", "m", "h"])),
)
options = st.fixed_dictionaries(
    {
        "--ttl": durations,
        "--csi-snapshot-timeout": durations,
        "--workers": st.integers(0, 70).map(str),
        "--selector": st.sampled_from(["", "app.kubernetes.io/name=web", "tier notin (cache)", "(("]),
        "--hooks": st.builds(
            lambda timeout: json.dumps(
                {"resources": [{"name": "t", "pre": [{"exec": {"command": ["true"], "timeout": timeout}}]}]}
            ),
            durations,
        ),
    }
)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=options)
@example(values={"--ttl": "99999999h", "--workers": "2"})  # the value that once wedged the queue
@example(values={"--ttl": "87600h", "--csi-snapshot-timeout": "24h", "--workers": "64"})  # the limits
def test_random_options_end_in_a_refusal_or_a_terminal_phase(manage, registered, values):
    name = f"wedge-{next(numbers)}"
    args = [f"{flag}={value}" for flag, value in values.items() if value]
    result = manage(
        "backup", "create", name, "--cluster", registered, "--include-namespaces", "shop", *args,
        "--wait", "--timeout", "90", check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    if "failed validation" in output:
        assert "Traceback" not in output
        return
    phase = next(line.split()[-1] for line in result.stdout.splitlines() if line.startswith("Phase:"))
    assert phase in TERMINAL, output
