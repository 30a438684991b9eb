"""Label selectors: the string form of `--selector` and the LabelSelector objects of backup specs."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backups.engine.planning.label_selectors import InvalidSelector, Selector, parse_selector

WEB = {"app": "web", "tier": "frontend", "example.com/team": "shop"}


@pytest.mark.parametrize(
    ("text", "matches_web"),
    [
        ("app=web", True),
        ("app==web", True),
        ("app=db", False),
        ("app!=db", True),
        ("app!=web", False),
        ("missing!=x", True),  # != and notin also match objects without the label
        ("tier in (frontend,backend)", True),
        ("tier in (backend)", False),
        ("tier notin (backend)", True),
        ("tier notin (frontend)", False),
        ("missing notin (x)", True),
        ("app", True),
        ("missing", False),
        ("!missing", True),
        ("!app", False),
        ("example.com/team=shop", True),
        ("app=web,tier=frontend", True),  # comma is AND
        ("app=web,tier=backend", False),
        ("  app = web ,  tier in ( frontend , x )  ", True),  # whitespace between tokens is ignored
    ],
)
def test_each_operator_matches_as_kubernetes_does(text, matches_web):
    assert parse_selector(text).matches(WEB) is matches_web


def test_empty_selector_matches_everything_including_unlabelled_objects():
    for text in ("", "   ", None):
        selector = parse_selector(text)
        assert selector.matches(WEB)
        assert selector.matches(None)
        assert str(selector) == ""


def test_empty_value_is_a_value():
    assert parse_selector("app=").matches({"app": ""})
    assert not parse_selector("app=").matches({})
    assert parse_selector("app in ()").matches({"app": ""})
    assert parse_selector("app in (a,)").matches({"app": ""})


def test_numeric_comparisons_need_an_integer_label():
    assert parse_selector("replicas>2").matches({"replicas": "3"})
    assert not parse_selector("replicas>2").matches({"replicas": "2"})
    assert parse_selector("replicas<2").matches({"replicas": "1"})
    assert not parse_selector("replicas<2").matches({"replicas": "one"})
    assert not parse_selector("replicas<2").matches({})


def test_canonical_form_sorts_keys_and_values_and_spells_equality_once():
    selector = parse_selector("tier in (b, a, b),app==web, !old,zone!=x,ready")
    assert str(selector) == "app=web,!old,ready,tier in (a,b),zone!=x"


def test_canonical_form_parses_back_to_the_same_selector():
    selector = parse_selector("x notin (c,a),k8s.io/name=v, !gone, n>3")
    assert parse_selector(str(selector)) == selector


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("a in (b", "missing ')'"),
        ("a b", "found 'b'"),
        ("a=b,", "found end of string"),
        (",a", "found ','"),
        ("a=b=c", "found '='"),
        ("!a=b", "found '='"),
        ("a in b", "expected '('"),
        ("in=b", "found 'in'"),
        ("-a=b", "key '-a'"),
        ("a=-b", "value '-b'"),
        ("a=" + "v" * 64, "no more than 63 characters"),
        ("k" * 64, "no more than 63 characters"),
        ("Example.com/a=b", "prefix part must be a lowercase DNS subdomain"),
        ("a/b/c=d", "at most one '/'"),
        ("/a=b", "prefix part must be non-empty"),
        ("a/=b", "name part must be non-empty"),
        ("n>x", "needs an integer"),
        ("n>", "needs an integer"),
    ],
)
def test_invalid_selectors_are_rejected_naming_the_selector_and_the_problem(text, named):
    with pytest.raises(InvalidSelector) as raised:
        parse_selector(text)
    message = str(raised.value)
    assert message.startswith(f'invalid label selector "{text}": ')
    assert named in message
    assert "\n" not in message
    assert isinstance(raised.value, ValueError)


def test_longest_valid_key_and_value_are_accepted():
    prefix = ".".join(["a" * 63] * 3) + "." + "b" * 61  # 253 characters
    key = f"{prefix}/{'n' * 63}"
    assert parse_selector(f"{key}={'v' * 63}").matches({key: "v" * 63})
    with pytest.raises(InvalidSelector):
        parse_selector(f"{prefix}c/n=v")


def test_label_selector_object_combines_match_labels_and_expressions():
    selector = Selector.from_label_selector(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["frontend", "edge"]},
                {"key": "legacy", "operator": "DoesNotExist"},
                {"key": "example.com/team", "operator": "Exists"},
                {"key": "zone", "operator": "NotIn", "values": ["eu"]},
            ],
        }
    )
    assert selector.matches(WEB)
    assert not selector.matches({**WEB, "legacy": "yes"})
    assert not selector.matches({**WEB, "tier": "backend"})
    assert str(selector) == "app=web,example.com/team,!legacy,tier in (edge,frontend),zone notin (eu)"


def test_label_selector_parts_can_be_built_alone():
    assert Selector.from_match_labels({"app": "web"}) == parse_selector("app=web")
    assert Selector.from_match_expressions([{"key": "app", "operator": "Exists"}]) == parse_selector("app")


def test_absent_or_empty_label_selector_object_matches_everything():
    assert Selector.from_label_selector(None).matches({"any": "thing"})
    assert Selector.from_label_selector({}).matches(None)


@pytest.mark.parametrize(
    ("label_selector", "named"),
    [
        ({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}, "'Gt' is not a valid"),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}, "can't be empty"),
        ({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}, "must be empty"),
        ({"matchLabels": {"a": "not valid"}}, "value 'not valid'"),
        ({"matchLabels": {"bad key": "x"}}, "key 'bad key'"),
        ({"matchLabel": {"a": "b"}}, "unknown field 'matchLabel'"),
    ],
)
def test_invalid_label_selector_objects_are_rejected(label_selector, named):
    with pytest.raises(InvalidSelector, match=named):
        Selector.from_label_selector(label_selector)


_names = st.from_regex(r"[a-z0-9]([-a-z0-9_.]{0,10}[a-z0-9])?", fullmatch=True)


@given(labels=st.dictionaries(_names, _names, max_size=4), key=_names, values=st.sets(_names, min_size=1))
def test_in_and_notin_are_complements(labels, key, values):
    listed = ",".join(sorted(values))
    in_ = parse_selector(f"{key} in ({listed})")
    notin = parse_selector(f"{key} notin ({listed})")
    assert in_.matches(labels) != notin.matches(labels)
    assert parse_selector(str(in_)) == in_
