"""Kubernetes label selectors, parsed, validated and matched the way apimachinery does it.

Two forms exist: the string form used by `kubectl -l` and Velero's `--selector`
(`app=web,tier in (a,b),!legacy`), and the LabelSelector object used in specs and hooks
(`{"matchLabels": {...}, "matchExpressions": [...]}`). Both become a `Selector`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NoReturn

_NAME_MAX = 63
_PREFIX_MAX = 253
_NAME_RE = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS_LABEL_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")

# Operators as written in the string form; `=` and `==` are the same requirement.
EQUALS, NOT_EQUALS, GT, LT = "=", "!=", ">", "<"
IN, NOT_IN, EXISTS, DOES_NOT_EXIST = "in", "notin", "exists", "!"
_SET_OPERATORS = {IN, NOT_IN}
_LABEL_SELECTOR_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}


class InvalidSelector(ValueError):
    """A selector that the API server would reject; the message names the selector and the bad part."""

    def __init__(self, text: str, problem: str):
        # quoted as JSON, so a newline in the selector cannot break the message's one line
        super().__init__(f"invalid label selector {json.dumps(text, ensure_ascii=False)}: {problem}")
        self.text = text
        self.problem = problem


def label_key_problem(key: str) -> str | None:
    """Why `key` is not a valid label key (optional DNS-subdomain prefix + `/` + name), or None."""
    if key.count("/") > 1:
        return f"key {key!r}: a qualified name has at most one '/'"
    prefix, slash, name = key.rpartition("/")
    if slash:
        if not prefix:
            return f"key {key!r}: prefix part must be non-empty"
        if len(prefix) > _PREFIX_MAX:
            return f"key {key!r}: prefix part must be no more than {_PREFIX_MAX} characters"
        if not all(_DNS_LABEL_RE.fullmatch(label) for label in prefix.split(".")):
            return (
                f"key {key!r}: prefix part must be a lowercase DNS subdomain "
                "(alphanumerics, '-' and '.', starting and ending with an alphanumeric)"
            )
    if not name:
        return f"key {key!r}: name part must be non-empty"
    if len(name) > _NAME_MAX:
        return f"key {key!r}: name part must be no more than {_NAME_MAX} characters"
    if not _NAME_RE.fullmatch(name):
        return (
            f"key {key!r}: name part must consist of alphanumerics, '-', '_' or '.', "
            "starting and ending with an alphanumeric"
        )
    return None


def label_value_problem(value: str) -> str | None:
    """Why `value` is not a valid label value (empty, or a name of at most 63 characters), or None."""
    if value == "":
        return None
    if len(value) > _NAME_MAX:
        return f"value {value!r}: must be no more than {_NAME_MAX} characters"
    if not _NAME_RE.fullmatch(value):
        return (
            f"value {value!r}: must be empty or consist of alphanumerics, '-', '_' or '.', "
            "starting and ending with an alphanumeric"
        )
    return None


@dataclass(frozen=True, slots=True)
class Requirement:
    """One comma-separated part of a selector: `key`, `operator` (a constant above) and `values`."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op == EXISTS:
            return self.key in labels
        if op == DOES_NOT_EXIST:
            return self.key not in labels
        if op in (EQUALS, IN):
            return self.key in labels and labels[self.key] in self.values
        if op in (NOT_EQUALS, NOT_IN):
            return self.key not in labels or labels[self.key] not in self.values
        # GT / LT: the label must exist and hold an integer.
        try:
            have, want = int(labels[self.key]), int(self.values[0])
        except (KeyError, ValueError):
            return False
        return have > want if op == GT else have < want

    def __str__(self) -> str:
        op = self.operator
        if op == EXISTS:
            return self.key
        if op == DOES_NOT_EXIST:
            return f"!{self.key}"
        if op in _SET_OPERATORS:
            return f"{self.key} {op} ({','.join(self.values)})"
        return f"{self.key}{op}{self.values[0]}"


@dataclass(frozen=True, slots=True)
class Selector:
    """Requirements that must all hold (AND). No requirements selects everything."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self) -> str:
        """Canonical form, as apimachinery prints it: sorted by key, set values sorted, `=` for equality."""
        return ",".join(str(r) for r in self.requirements)

    @classmethod
    def from_match_labels(cls, match_labels: Mapping[str, str] | None) -> Selector:
        """`matchLabels`: every key must have exactly that value."""
        text = _describe(match_labels)
        return _build([_requirement(text, k, EQUALS, [v]) for k, v in (match_labels or {}).items()])

    @classmethod
    def from_match_expressions(cls, expressions: Iterable[Mapping] | None) -> Selector:
        """`matchExpressions`: `{"key", "operator": In|NotIn|Exists|DoesNotExist, "values"}` each."""
        text = _describe(expressions)
        return _build([_expression(text, e) for e in expressions or ()])

    @classmethod
    def from_label_selector(cls, label_selector: Mapping | None) -> Selector:
        """A metav1.LabelSelector dict. None (an absent selector, as in Velero's hooks) selects everything."""
        if not label_selector:
            return cls()
        text = _describe(label_selector)
        if not isinstance(label_selector, Mapping):
            raise InvalidSelector(text, "expected an object with matchLabels and/or matchExpressions")
        unknown = set(label_selector) - {"matchLabels", "matchExpressions"}
        if unknown:
            raise InvalidSelector(text, f"unknown field {min(unknown)!r}")
        match_labels = label_selector.get("matchLabels") or {}
        expressions = label_selector.get("matchExpressions") or []
        if not isinstance(match_labels, Mapping):
            raise InvalidSelector(text, "matchLabels must be a map of key to value")
        if not isinstance(expressions, list):
            raise InvalidSelector(text, "matchExpressions must be a list")
        reqs = [_requirement(text, k, EQUALS, [v]) for k, v in match_labels.items()]
        reqs += [_expression(text, e) for e in expressions]
        return _build(reqs)


def parse_selector(text: str | None) -> Selector:
    """Parse the string form (`a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>1`, `a<1`).

    Raises InvalidSelector naming the selector and what is wrong. Empty text selects everything.
    """
    if text is None or not text.strip():
        return Selector()
    return _Parser(text).parse()


def label_selector_object(text: str | None) -> dict | None:
    """A selector string as a metav1.LabelSelector, for velero-backup.json (`>`/`<` have no
    LabelSelector form and are dropped)."""
    if not text:
        return None
    match_labels: dict[str, str] = {}
    expressions: list[dict] = []
    for req in parse_selector(text).requirements:
        if req.operator == EQUALS:
            match_labels[req.key] = req.values[0]
        elif req.operator in (IN, NOT_IN, NOT_EQUALS):
            op = "In" if req.operator == IN else "NotIn"
            expressions.append({"key": req.key, "operator": op, "values": list(req.values)})
        elif req.operator in (EXISTS, DOES_NOT_EXIST):
            op = "Exists" if req.operator == EXISTS else "DoesNotExist"
            expressions.append({"key": req.key, "operator": op})
    selector: dict = {}
    if match_labels:
        selector["matchLabels"] = match_labels
    if expressions:
        selector["matchExpressions"] = expressions
    return selector


def _describe(value) -> str:
    return value if isinstance(value, str) else repr(value)


def _build(requirements: list[Requirement]) -> Selector:
    # apimachinery sorts requirements by key (stable here, so equal keys keep their order).
    return Selector(tuple(sorted(requirements, key=lambda r: r.key)))


def _requirement(text: str, key, operator: str, values: Iterable) -> Requirement:
    if not isinstance(key, str):
        raise InvalidSelector(text, f"key {key!r} must be a string")
    problem = label_key_problem(key)
    if problem:
        raise InvalidSelector(text, problem)
    values = list(values)
    for value in values:
        if not isinstance(value, str):
            raise InvalidSelector(text, f"value {value!r} of key {key!r} must be a string")
    if operator in _SET_OPERATORS and not values:
        raise InvalidSelector(text, f"key {key!r}: values set can't be empty for 'in' and 'notin'")
    if operator in (EXISTS, DOES_NOT_EXIST) and values:
        raise InvalidSelector(text, f"key {key!r}: values set must be empty for exists and does not exist")
    if operator in (EQUALS, NOT_EQUALS, GT, LT) and len(values) != 1:
        raise InvalidSelector(text, f"key {key!r}: exactly one value is required for {operator!r}")
    if operator in (GT, LT):
        try:
            int(values[0])
        except ValueError:
            problem = f"key {key!r}: {operator!r} needs an integer, not {values[0]!r}"
            raise InvalidSelector(text, problem) from None
    else:
        for value in values:
            problem = label_value_problem(value)
            if problem:
                raise InvalidSelector(text, f"key {key!r}: {problem}")
    if operator in _SET_OPERATORS:
        values = sorted(set(values))
    return Requirement(key, operator, tuple(values))


def _expression(text: str, expression) -> Requirement:
    if not isinstance(expression, Mapping):
        raise InvalidSelector(text, f"match expression {expression!r} must be an object")
    given = expression.get("operator")
    operator = _LABEL_SELECTOR_OPERATORS.get(given) if isinstance(given, str) else None
    if operator is None:
        raise InvalidSelector(
            text,
            f"{expression.get('operator')!r} is not a valid label selector operator "
            "(In, NotIn, Exists, DoesNotExist)",
        )
    values = expression.get("values") or []
    if not isinstance(values, list):
        raise InvalidSelector(text, f"values of key {expression.get('key')!r} must be a list")
    return _requirement(text, expression.get("key"), operator, values)


_TOKEN_RE = re.compile(r"\s*(?:(!=|==|=|!|\(|\)|,|>|<)|([^\s!=(),><]+))")


class _Parser:
    """apimachinery's selector grammar: requirement (',' requirement)*."""

    def __init__(self, text: str):
        self.text = text
        self.tokens: list[tuple[str, str]] = []  # (kind, literal); kind "sym", "id" or "end"
        pos = 0
        while True:
            match = _TOKEN_RE.match(text, pos)
            if not match:
                break
            symbol, ident = match.groups()
            self.tokens.append(("sym", symbol) if symbol else ("id", ident))
            pos = match.end()
        self.tokens.append(("end", ""))
        self.pos = 0

    def fail(self, problem: str) -> NoReturn:
        raise InvalidSelector(self.text, problem)

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos]

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.pos]
        if token[0] != "end":
            self.pos += 1
        return token

    @staticmethod
    def show(token: tuple[str, str]) -> str:
        return "end of string" if token[0] == "end" else repr(token[1])

    def parse(self) -> Selector:
        requirements = [self.requirement()]
        while True:
            token = self.take()
            if token[0] == "end":
                return _build(requirements)
            if token != ("sym", ","):
                self.fail(f"found {self.show(token)}, expected ',' or end of string")
            requirements.append(self.requirement())

    def requirement(self) -> Requirement:
        token = self.take()
        if token == ("sym", "!"):
            key_token = self.take()
            if key_token[0] != "id":
                self.fail(f"found {self.show(key_token)}, expected a label key after '!'")
            self.expect_separator()
            return _requirement(self.text, key_token[1], DOES_NOT_EXIST, [])
        if token[0] != "id" or token[1] in (IN, NOT_IN):
            self.fail(f"found {self.show(token)}, expected '!' or a label key")
        key = token[1]
        problem = label_key_problem(key)
        if problem:
            self.fail(problem)
        op_token = self.peek()
        if op_token[0] == "end" or op_token == ("sym", ","):
            return _requirement(self.text, key, EXISTS, [])
        self.take()
        if op_token[0] == "id" and op_token[1] in (IN, NOT_IN):
            return _requirement(self.text, key, op_token[1], self.value_set())
        operator = {"=": EQUALS, "==": EQUALS, "!=": NOT_EQUALS, ">": GT, "<": LT}.get(op_token[1])
        if op_token[0] != "sym" or operator is None:
            self.fail(f"found {self.show(op_token)} after key {key!r}, expected in, notin, =, ==, !=, > or <")
        value = self.peek()
        if value[0] == "end" or value == ("sym", ","):
            if operator in (GT, LT):
                self.fail(f"key {key!r}: {operator!r} needs an integer value")
            return _requirement(self.text, key, operator, [""])
        self.take()
        if value[0] != "id":
            self.fail(f"found {self.show(value)} after {op_token[1]!r}, expected a value")
        return _requirement(self.text, key, operator, [value[1]])

    def expect_separator(self) -> None:
        token = self.peek()
        if token[0] != "end" and token != ("sym", ","):
            self.fail(f"found {self.show(token)}, expected ',' or end of string")

    def value_set(self) -> list[str]:
        token = self.take()
        if token != ("sym", "("):
            self.fail(f"found {self.show(token)}, expected '('")
        values: list[str] = []
        expect_value = True
        while True:
            token = self.take()
            if token == ("sym", ")"):
                if expect_value:
                    values.append("")  # `()` and a trailing `,` both mean the empty value
                return values
            if token == ("sym", ","):
                if expect_value:
                    values.append("")
                expect_value = True
            elif token[0] == "id" and expect_value:
                values.append(token[1])
                expect_value = False
            elif token[0] == "end":
                self.fail("missing ')' at end of string")
            else:
                self.fail(f"found {self.show(token)}, expected ',', ')' or a value")
