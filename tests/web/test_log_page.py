"""The full log page: every line, level filter and search in the database, server-side pages."""

import re

import pytest

from backups import queries
from backups.models import Backup, BackupLogEntry

LEVELS = ["info", "info", "warning", "info", "error"]


@pytest.fixture
def logged(make_backup):
    backup = make_backup("logged-1", phase=Backup.Phase.COMPLETED)
    BackupLogEntry.objects.bulk_create(
        BackupLogEntry(
            backup=backup,
            level=LEVELS[i % 5],
            message=f"line {i:04d}" + (" needle" if i % 97 == 0 else ""),
            resource="pods",
            namespace="shop" if i % 2 else "pay",
            name=f"p-{i}",
            time=1796464800.0 + i,
            source="backups/engine/running/blocks.py:10",
        )
        for i in range(1000)
    )
    return backup


def shown(html: str) -> list[str]:
    return re.findall(r'<td class="msg">([^<]*)</td>', html)


def test_pages_hold_200_lines_in_order(client_as, logged):
    client = client_as("viewer")
    first = client.get(f"/backups/{logged.pk}/log/").content.decode()
    assert shown(first)[:2] == ["line 0000 needle", "line 0001"] and len(shown(first)) == 200
    assert "1000 lines" in first and "Page 1 of 5" in first
    assert '<time datetime="2026-12-05T10:00:00Z">' in first
    last = client.get(f"/backups/{logged.pk}/log/?page=last").content.decode()
    assert shown(last)[-1] == "line 0999" and "Page 5 of 5" in last
    assert "ws-connect" not in last  # a finished backup's log does not change


def test_the_level_filter_keeps_that_level_and_the_more_severe(client_as, logged):
    client = client_as("viewer")
    errors = client.get(f"/backups/{logged.pk}/log/?level=error").content.decode()
    assert "200 lines matching" in errors and all(int(m[5:9]) % 5 == 4 for m in shown(errors))
    problems = client.get(f"/backups/{logged.pk}/log/?level=warning").content.decode()
    assert "400 lines matching" in problems
    assert {int(m[5:9]) % 5 for m in shown(problems)} == {2, 4}
    assert "page=2" in problems and "level=warning&amp;page=2" in problems  # pages keep the filter


def test_search_finds_text_in_message_and_item(client_as, logged):
    client = client_as("viewer")
    found = client.get(f"/backups/{logged.pk}/log/?q=NEEDLE").content.decode()
    assert shown(found) == [f"line {i:04d} needle" for i in range(0, 1000, 97)]
    by_name = client.get(f"/backups/{logged.pk}/log/?q=p-123&level=info").content.decode()
    assert shown(by_name) == ["line 0123"]
    none = client.get(f"/backups/{logged.pk}/log/?q=nothing-like-it").content.decode()
    assert "No line matches the filter." in none and "0 lines matching" in none


def test_junk_parameters_are_ignored(client_as, logged):
    client = client_as("viewer")
    for query in ("level=verbose", "page=-3", "page=abc", "q=" + "x" * 5000, "level=%00"):
        response = client.get(f"/backups/{logged.pk}/log/?{query}")
        assert response.status_code == 200, query
    assert queries.LogFilter.of({"q": "y" * 500}).q == "y" * 200


def test_a_running_backups_log_opens_on_its_last_page_and_follows(client_as, make_backup):
    backup = make_backup("running-1", phase=Backup.Phase.IN_PROGRESS)
    rows = [BackupLogEntry(backup=backup, level="info", message=f"m{i}", time=float(i)) for i in range(450)]
    BackupLogEntry.objects.bulk_create(rows)
    client = client_as("viewer")
    html = client.get(f"/backups/{backup.pk}/log/").content.decode()
    last = BackupLogEntry.objects.filter(backup=backup).order_by("id").last()
    assert "Page 3 of 3" in html and shown(html)[-1] == "m449"
    assert f'ws-connect="/ws/backups/{backup.pk}/log/?after={last.pk}&amp;follow=1"' in html
    first = client.get(f"/backups/{backup.pk}/log/?page=1").content.decode()
    assert f"after={last.pk}&amp;follow=0" in first  # elsewhere new lines are only counted


def test_viewers_only(client, logged):
    assert client.get(f"/backups/{logged.pk}/log/").status_code == 302  # to the sign-in page


def test_a_search_pages_through_its_first_matches_and_says_when_there_are_more(
    client_as, logged, monkeypatch
):
    monkeypatch.setattr(queries, "LOG_SEARCH_CAP", 250)
    client = client_as("viewer")
    html = client.get(f"/backups/{logged.pk}/log/?q=line&page=last").content.decode()
    assert "more than 250 lines matching: narrow the search" in html and "Page 2 of 2" in html
    assert shown(html) == [f"line {i:04d}" + (" needle" if i % 97 == 0 else "") for i in range(200, 250)]


VELERO_LOG = (
    'time="2023-05-10T12:00:00Z" level=info msg="Setting up backup log" backup=velero/old-1 '
    'logSource="pkg/controller/backup_controller.go:606"\n'
    'time="2023-05-10T12:00:01+02:00" level=warning msg="a \\"quoted\\" warning" backup=velero/old-1 '
    'logSource="pkg/backup/item_backupper.go:99" name=web-0 namespace=shop resource=pods\n'
    "not a logrus line at all\n"
    'time="2023-05-10T12:00:02Z" level=error msg="Error backing up item" error="boom" backup=velero/old-1\n'
)


def test_an_imported_backups_stored_log_is_read_once_by_a_job(
    client_as, make_backup, tmp_path, django_capture_on_commit_callbacks
):
    import gzip

    import django_rq

    from backups.models import StorageLocation
    from backups.services import stored_logs

    location = StorageLocation.objects.create(name="found", path=str(tmp_path))
    folder = tmp_path / "backups" / "old-1"
    folder.mkdir(parents=True)
    (folder / "old-1-logs.gz").write_bytes(gzip.compress(VELERO_LOG.encode()))
    backup = make_backup("old-1", phase=Backup.Phase.COMPLETED, imported=True, storage_location=location)
    client = client_as("viewer")
    with django_capture_on_commit_callbacks(execute=True):  # django-rq enqueues on commit
        html = client.get(f"/backups/{backup.pk}/log/").content.decode()
    assert "its log is being read from its storage location" in html and 'hx-trigger="load delay:2s"' in html
    job = django_rq.get_queue("default").fetch_job(f"stored-log-{backup.pk}")
    assert job is not None and job.func_name == "backups.services.stored_logs.load_stored_log"
    with django_capture_on_commit_callbacks(execute=True):
        client.get(f"/backups/{backup.pk}/log/")  # a second view adds no second job
    assert django_rq.get_queue("default").job_ids.count(f"stored-log-{backup.pk}") == 1

    assert stored_logs.load_stored_log(backup.pk) == 4
    html = client.get(f"/backups/{backup.pk}/log/").content.decode()
    assert shown(html) == [
        "Setting up backup log",
        "a &quot;quoted&quot; warning",
        "not a logrus line at all",
        "Error backing up item",
    ]
    assert '<time datetime="2023-05-10T10:00:01Z">' in html and "pkg/backup/item_backupper.go:99" in html
    problems = client.get(f"/backups/{backup.pk}/log/?level=warning").content.decode()
    assert shown(problems) == ["a &quot;quoted&quot; warning", "Error backing up item"]
    assert "being read" not in html
    django_rq.get_queue("default").empty()
