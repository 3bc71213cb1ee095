"""YAML documents kept as nodes, so every mistake can be reported with its file and line.

A small validator for a subset of JSON Schema (type, enum, const, properties, required,
additionalProperties, items, minItems, minLength, pattern, minimum, maximum, anyOf, $ref)
works directly on PyYAML nodes.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from safeguarding_rules.errors import Problem

Node = yaml.Node
Schema = Mapping[str, Any]
# libyaml's parser when PyYAML has it (much faster); nodes carry the same line marks.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def compose_file(path: Path) -> tuple[Node | None, list[Problem]]:
    """Parse ``path`` into a node tree; YAML syntax errors become problems."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(str(path), 1, 1, f"cannot read file: {exc}")]
    return compose_text(text, str(path))


def compose_text(text: str, name: str) -> tuple[Node | None, list[Problem]]:
    """Parse YAML ``text`` (reported as ``name``) into a node tree."""
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        return None, [Problem(name, line, col, f"YAML syntax: {reason}")]
    except yaml.YAMLError as exc:
        return None, [Problem(name, 1, 1, f"YAML error: {exc}")]
    if node is None:
        return None, [Problem(name, 1, 1, "file is empty")]
    return node, []


def where(node: Node) -> tuple[int, int]:
    """1-based (line, column) where ``node`` starts."""
    return node.start_mark.line + 1, node.start_mark.column + 1


def problem(name: str, node: Node, reason: str) -> Problem:
    """A problem located at ``node``."""
    line, col = where(node)
    return Problem(name, line, col, reason)


_CONSTRUCTOR = yaml.constructor.SafeConstructor()


def scalar(node: Node) -> Any:
    """The Python value of a scalar node (str, int, bool, float, date or None)."""
    if not isinstance(node, yaml.ScalarNode):
        return None
    build = _CONSTRUCTOR.yaml_constructors.get(node.tag)
    if build is None:
        return str(node.value)
    return build(_CONSTRUCTOR, node)


def mapping_items(node: Node | None) -> Iterator[tuple[str, Node, Node]]:
    """(key, key node, value node) for each entry of a mapping node with scalar keys."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                yield str(key_node.value), key_node, value_node


def field(node: Node, key: str) -> Node | None:
    """The value node under ``key`` in a mapping node, if present."""
    for name, _key_node, value_node in mapping_items(node):
        if name == key:
            return value_node
    return None


def sequence(node: Node | None) -> list[Node]:
    """The item nodes of a sequence node (empty for anything else)."""
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def to_python(node: Node) -> Any:
    """Convert a node tree to plain Python values."""
    if isinstance(node, yaml.MappingNode):
        return {key: to_python(value) for key, _k, value in mapping_items(node)}
    if isinstance(node, yaml.SequenceNode):
        return [to_python(item) for item in node.value]
    return scalar(node)


_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "text",
    "integer": "a whole number",
    "boolean": "true or false",
}


def validate(node: Node, schema: Schema, name: str, root: Schema | None = None) -> list[Problem]:
    """Check ``node`` against ``schema``; every problem carries the file and line."""
    root = root if root is not None else schema
    return list(_validate(node, schema, name, root, "top level"))


def _resolve(schema: Schema, root: Schema) -> Schema:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    if not ref.startswith("#/$defs/"):
        raise ValueError(f"unsupported $ref {ref!r}")
    resolved: Schema = root["$defs"][ref[len("#/$defs/") :]]
    return resolved


def _validate(node: Node, schema: Schema, name: str, root: Schema, path: str) -> Iterator[Problem]:
    schema = _resolve(schema, root)
    if "anyOf" in schema:
        options = schema["anyOf"]
        results = [list(_validate(node, opt, name, root, path)) for opt in options]
        if all(results):
            # Report the option that got furthest (fewest problems) to keep messages useful.
            yield from min(results, key=len)
        return
    expected = schema.get("type")
    if expected is not None and not _has_type(node, expected, schema):
        is_date = schema.get("format") == "date"
        what = "a date (YYYY-MM-DD)" if is_date else _TYPE_NAMES[expected]
        yield problem(name, node, f"{path} must be {what}")
        return
    if isinstance(node, yaml.ScalarNode):
        yield from _check_scalar(node, schema, name, path)
    elif isinstance(node, yaml.MappingNode):
        yield from _check_mapping(node, schema, name, root, path)
    elif isinstance(node, yaml.SequenceNode):
        yield from _check_sequence(node, schema, name, root, path)


def _has_type(node: Node, expected: str, schema: Schema) -> bool:
    if expected == "object":
        return isinstance(node, yaml.MappingNode)
    if expected == "array":
        return isinstance(node, yaml.SequenceNode)
    if not isinstance(node, yaml.ScalarNode):
        return False
    value = scalar(node)
    if expected == "string":
        if schema.get("format") == "date":
            return isinstance(value, dt.date) and not isinstance(value, dt.datetime)
        return isinstance(value, str)
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "boolean":
        return isinstance(value, bool)
    raise ValueError(f"unsupported type {expected!r}")


def _check_scalar(node: Node, schema: Schema, name: str, path: str) -> Iterator[Problem]:
    value = scalar(node)
    if "const" in schema and value != schema["const"]:
        yield problem(name, node, f"{path} must be {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(str(v) for v in schema["enum"])
        yield problem(name, node, f"{path} is {value!r}; expected one of: {allowed}")
    if isinstance(value, str):
        if len(value.strip()) < schema.get("minLength", 0):
            yield problem(name, node, f"{path} must not be empty")
        pattern = schema.get("pattern")
        if pattern is not None and not re.search(pattern, value):
            hint = schema.get("description", f"must match {pattern}")
            yield problem(name, node, f"{path} {value!r}: {hint}")
    if isinstance(value, int) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            yield problem(name, node, f"{path} is {value}; the minimum is {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            yield problem(name, node, f"{path} is {value}; the maximum is {schema['maximum']}")


def _check_mapping(
    node: Node, schema: Schema, name: str, root: Schema, path: str
) -> Iterator[Problem]:
    properties: Mapping[str, Schema] = schema.get("properties", {})
    additional = schema.get("additionalProperties", True)
    seen: set[str] = set()
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or not isinstance(scalar(key_node), str):
            hint = " (put it in quotes)" if isinstance(key_node, yaml.ScalarNode) else ""
            yield problem(name, key_node, f"{path}: keys must be text{hint}")
            continue
        key = str(key_node.value)
        if key in seen:
            yield problem(name, key_node, f"{path}: {key!r} appears twice")
        seen.add(key)
        sub_path = key if path == "top level" else f"{path}.{key}"
        if key in properties:
            yield from _validate(value_node, properties[key], name, root, sub_path)
        elif additional is False:
            close = difflib.get_close_matches(key, list(properties), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(properties)}"
            yield problem(name, key_node, f"{path}: unknown field {key!r} ({hint})")
        elif isinstance(additional, Mapping):
            yield from _validate(value_node, additional, name, root, sub_path)
    for key in schema.get("required", ()):
        if key not in seen:
            yield problem(name, node, f"{path}: missing required field {key!r}")


def _check_sequence(
    node: Node, schema: Schema, name: str, root: Schema, path: str
) -> Iterator[Problem]:
    min_items = schema.get("minItems", 0)
    if len(node.value) < min_items:
        yield problem(name, node, f"{path} needs at least {min_items} item(s)")
    items = schema.get("items")
    if items is not None:
        for index, item in enumerate(node.value):
            yield from _validate(item, items, name, root, f"{path}[{index + 1}]")
