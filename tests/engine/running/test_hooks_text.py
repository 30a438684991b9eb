"""Hooks typed as YAML or JSON: the same document either way, and a syntax error that names the
line and column (and shows the line); the line of the hook a structural problem names."""

import json

import pytest

from backups.engine.running.hook_spec import HookSpecError, parse_resource_hooks
from backups.engine.running.hooks_text import HooksTextError, line_of, parse_hooks_text

YAML = """\
resources:
  - name: db
    includedNamespaces: [shop]
    pre:
      - exec:
          container: db
          command: ["/bin/sh", "-c", "sync"]
          timeout: 30s
          onError: Fail
  - name: cache
    post:
      - exec:
          command: [redis-cli, save]
"""


def test_yaml_and_json_read_the_same():
    from_yaml = parse_hooks_text(YAML)
    assert parse_hooks_text(json.dumps(from_yaml, indent=2)) == from_yaml
    assert from_yaml["resources"][0]["pre"][0]["exec"]["timeout"] == "30s"
    assert [h.name for h in parse_resource_hooks(from_yaml["resources"])] == ["db", "cache"]


def test_empty_is_none():
    assert parse_hooks_text("  \n") is None


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [
        ("\nresources:\n  - name: db\n    pre: [\n", 5, 1, "invalid YAML at line 5"),
        ("resources:\n  - name: db\n   pre: x\n", 3, 4, "invalid YAML at line 3, column 4 ('pre: x')"),
        ("resources:\n  - name: db\n\tpre: []\n", 3, 1, "line 3, column 1"),
        ('{\n  "resources": [\n    {"name": "db" "pre": []}\n  ]\n}', 3, 19, "JSON at line 3, column 19"),
        ("resources: &a [1]\nmore: *a\n", 2, 7, "aliases (*a) are not accepted"),
    ],
)
def test_a_syntax_error_points_at_the_line_and_column(text, line, column, words):
    with pytest.raises(HooksTextError) as caught:
        parse_hooks_text(text)
    assert (caught.value.line, caught.value.column) == (line, column)
    assert words in str(caught.value)


def test_what_json_cannot_hold_is_refused_by_name():
    with pytest.raises(HooksTextError, match=r"hooks.resources\[0\].name: bytes values are not JSON"):
        parse_hooks_text("resources:\n  - name: !!binary aGVsbG8=\n")
    with pytest.raises(HooksTextError, match="the key 1 must be a string"):
        parse_hooks_text("1: x\n")
    assert parse_hooks_text("when: 2024-01-01\n") == {"when": "2024-01-01"}  # no dates: a string


def test_deep_nesting_is_refused_clearly():
    with pytest.raises(HooksTextError, match="nested too deeply"):
        parse_hooks_text("[" * 100_000 + "]" * 100_000)


def test_the_line_of_a_structural_problem():
    bad = YAML.replace("timeout: 30s", "timeout: 30").replace("command: [redis-cli, save]", "command: []")
    document = parse_hooks_text(bad)
    with pytest.raises(HookSpecError) as caught:
        parse_resource_hooks(document["resources"])
    assert str(caught.value).startswith("hook 'db': pre[0].exec.timeout")
    assert line_of(bad, str(caught.value)) == 5  # the `- exec:` of pre[0]
    assert line_of(bad, "hook 'cache': post[0].exec.command must be a non-empty list") == 12
    assert line_of(bad, "hook 'cache': unknown field 'x'") == 10
    assert line_of(bad, "hooks.resources[1]: name is required") == 10
    assert line_of(bad, "hook 'nope': x") is None
    assert line_of("{not yaml", "hook 'db': x") is None
