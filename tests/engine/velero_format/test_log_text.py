"""The backup log in Velero's logrus text format, read back with logrus's text rules by a parser
written here from the grammar (not the writer's own reader)."""

import gzip
import re

import pytest

from backups.engine.log import BackupLog, LogEntry
from backups.engine.velero_format.backup_files import write_log_lines
from backups.engine.velero_format.log_text import format_line, go_quote, parse_line

# logrus TextFormatter: `key=value` pairs separated by one space; a value is bare when every
# character is in [A-Za-z0-9-._/@^+], else a Go double-quoted string (strconv.Quote).
BARE = r"[A-Za-z0-9\-._/@^+]+"
QUOTED = r'"(?:[^"\\]|\\(?:[abfnrtv\\"]|x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8}))*"'
PAIR = re.compile(rf"([A-Za-z][A-Za-z0-9_]*)=({BARE}|{QUOTED})")
GO_ESCAPES = dict(zip('abfnrtv\\"', '\a\b\f\n\r\t\v\\"', strict=True))


def go_unquote(quoted: str) -> str:
    def one(match):
        code = match.group(1)
        if code[0] in "xuU":
            return chr(int(code[1:], 16))
        return GO_ESCAPES[code]

    return re.sub(r"\\(x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8}|.)", one, quoted[1:-1])


def logfmt(line: str) -> list[tuple[str, str]]:
    """Every pair of a logrus text line, in order; fails on anything between or after the pairs."""
    pairs, position = [], 0
    while position < len(line):
        match = PAIR.match(line, position)
        assert match, f"not key=value at column {position + 1}: {line[position:]!r}"
        key, value = match.groups()
        pairs.append((key, go_unquote(value) if value.startswith('"') else value))
        position = match.end()
        if position < len(line):
            assert line[position] == " ", f"pairs are separated by one space: {line!r}"
            position += 1
    return pairs


def test_lines_read_back_with_logruss_rules():
    log = BackupLog()
    log.info("Backing up item", resource="pods", namespace="shop", name="db-0")
    log.warning('a "quoted" word, a back\\slash and a tab\there', resource="configmaps", namespace="n")
    log.error("line one\nline two", resource="persistentvolumes", name="pv-1")
    log.info("plain-word")
    log.info("ünïcode ✓ and a bell \a and \x7f")
    lines = [format_line(e, "shop-1") for e in log.entries]
    parsed = [logfmt(line) for line in lines]
    for entry, pairs in zip(log.entries, parsed, strict=True):
        keys = [k for k, _ in pairs]
        assert keys[:3] == ["time", "level", "msg"]
        assert keys[3:] == sorted(keys[3:])  # logrus sorts the other fields
        fields = dict(pairs)
        assert fields["level"] == entry.level and fields["msg"] == entry.message
        assert fields["backup"] == "velero/shop-1"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", fields["time"])
        assert re.fullmatch(r"tests/engine/velero_format/test_log_text\.py:\d+", fields["logSource"])
        for key in ("resource", "namespace", "name"):
            assert fields.get(key, "") == getattr(entry, key)
    assert lines[0].startswith('time="')
    assert ' level=info msg="Backing up item" backup=velero/shop-1 ' in lines[0]
    assert lines[0].endswith(" name=db-0 namespace=shop resource=pods")
    assert " msg=plain-word " in lines[3]  # bare, as logrus leaves it
    assert r'msg="line one\nline two"' in lines[2]
    assert '"ünïcode ✓ and a bell \\a and \\x7f"' in lines[4]


def test_a_velero_line_and_ours_read_the_same():
    velero = (
        'time="2023-05-10T12:00:00Z" level=info msg="Backing up item" backup=velero/nightly '
        'logSource="pkg/backup/item_backupper.go:179" name=nginx-1 namespace=default resource=pods'
    )
    assert dict(logfmt(velero)) == parse_line(velero)
    entry = LogEntry("warning", "x=1 y", resource="pods", namespace="a b", time=1796464800.0, source="m.py:1")
    line = format_line(entry, "b")
    assert line == (
        'time="2026-12-05T10:00:00Z" level=warning msg="x=1 y" backup=velero/b logSource="m.py:1" '
        'namespace="a b" resource=pods'
    )
    assert parse_line(line) == dict(logfmt(line))


@pytest.mark.parametrize(
    "text, quoted",
    [("", '""'), ('a"b', '"a\\"b"'), ("\x00", '"\\x00"'), ("\u200b", '"\\u200b"'), ("é", '"é"')],
)
def test_go_quote(text, quoted):
    assert go_quote(text) == quoted


def test_the_log_file_is_gzip_text_every_line_logfmt(tmp_path):
    log = BackupLog()
    for i in range(50):
        log.info(f"item {i}", resource="pods", namespace="ns", name=f"p-{i}")
    log.error("boom")
    path = tmp_path / "b-logs.gz"
    write_log_lines(str(path), log.entries, "b")
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    assert len(lines) == 51
    assert [dict(logfmt(line))["msg"] for line in lines] == [e.message for e in log.entries]
    assert dict(logfmt(lines[-1]))["level"] == "error" and "resource" not in dict(logfmt(lines[-1]))


def test_parse_line_says_where_it_is_not_logfmt():
    with pytest.raises(ValueError, match="column 12"):
        parse_line("level=info garbage")
