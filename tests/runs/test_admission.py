"""Many "Back up now" at once, over HTTP to a real uvicorn: no error page, one backup per request
(one per double click), and admission keeps the cap and the overlap rule under the race.

A probe once sent 200 quick posts: 67 answered 500 (two requests took the same generated name) and
three backups of one namespace ran at once against a cap of 2. Nothing consumes the queue here, so
the backups stay where admission put them and its decisions can be read back.
"""

import json
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from veloweb.devstack import DevStack

NAMESPACES = {
    "shop-a": ["shop"],
    "shop-b": ["shop*"],
    "pay": ["payments"],
    "logs": ["logging"],
    "ops": ["ops"],
}
POSTS_PER_DEFINITION = 24
CAP = 2


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with DevStack(tmp_path_factory.mktemp("admission"), VELOWEB_MAX_RUNNING_BACKUPS=str(CAP)) as stack:
        stack.start(workers=0, watchdog=False)
        setup = [
            "from django.contrib.auth.models import Group, User",
            "from backups.models import BackupDefinition, Cluster",
            "u = User.objects.create_user('racer', password='pw-Secret-123')",
            "u.groups.add(Group.objects.get(name='operator'))",
            "c = Cluster.objects.create(name='race', kubeconfig_path='/nonexistent')",
            "import json",
            f"for name, ns in json.loads({json.dumps(json.dumps(NAMESPACES))}).items():",
            "    d = BackupDefinition.objects.create(name=name, cluster=c, included_namespaces=ns)",
            "    print('DEF', name, d.pk)",
        ]
        out = stack.manage("shell", "-c", "\n".join(setup)).stdout
        stack.definitions = dict(line.split()[1:] for line in out.splitlines() if line.startswith("DEF "))
        stack.url = stack.start_web()
        yield stack


def signed_in(url: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{url}/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = session.post(
        f"{url}/accounts/login/",
        {"username": "racer", "password": "pw-Secret-123", "csrfmiddlewaretoken": token},
        allow_redirects=False,
    )
    assert answer.status_code == 302, answer.text[:500]
    return session


def backups(stack) -> list[dict]:
    code = (
        "import json; from backups.models import Backup; "
        "print(json.dumps([dict(name=b.name, phase=b.phase, ns=b.included_namespaces, "
        "token=b.request_token) for b in Backup.objects.all()]))"
    )
    return json.loads(stack.manage("shell", "-c", code).stdout.strip().splitlines()[-1])


def overlap(a: list[str], b: list[str]) -> bool:
    from fnmatch import fnmatchcase

    return any(fnmatchcase(x, y) or fnmatchcase(y, x) for x in a for y in b)


def test_concurrent_back_up_now_never_fails_and_admission_holds(stack):
    sessions = [signed_in(stack.url) for _ in range(8)]
    csrf = [s.cookies["csrftoken"] for s in sessions]
    posts = [
        (i % len(sessions), stack.definitions[name], f"{name}-{n}")
        for n in range(POSTS_PER_DEFINITION)
        for i, name in enumerate(NAMESPACES)
    ]

    def post(job):
        slot, pk, token = job
        return (
            sessions[slot]
            .post(
                f"{stack.url}/definitions/{pk}/backup/",
                {"request_token": token},
                headers={"X-CSRFToken": csrf[slot]},
                allow_redirects=False,
            )
            .status_code
        )

    # every request twice (a double click), all at once
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(post, posts + posts))

    assert set(statuses) == {302}, sorted(set(statuses))
    made = backups(stack)
    assert len(made) == len(posts)  # one per request, not one per click
    assert len({b["name"] for b in made}) == len(made)
    assert all(len(b["name"]) <= 63 for b in made)
    running = [b for b in made if b["phase"] == "ReadyToStart"]
    assert 1 <= len(running) <= CAP
    for i, a in enumerate(running):
        for b in running[i + 1 :]:
            assert not overlap(a["ns"], b["ns"]), (a, b)
    assert {b["phase"] for b in made} <= {"Queued", "ReadyToStart"}
