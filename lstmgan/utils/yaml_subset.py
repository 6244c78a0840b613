"""A reader for the plain YAML our params files are written in, for machines without PyYAML.

The GPU machine has torch and numpy but no PyYAML, and the training and benchmark code must still
read ``params.yaml`` and ``configs/*.yaml`` there. Those files use a small part of YAML: nested
block mappings, ``- item`` block lists, flow lists and mappings (``[1, 2]``, ``{a: 1}``), plain and
quoted scalars, and ``#`` comments. :func:`safe_load` reads exactly that part, with PyYAML's
``safe_load`` results (YAML 1.1 scalars: ``2.0e-4`` is a float, ``1e-4`` a string), and raises
:class:`YAMLSubsetError` naming the line for anything else (anchors, tags, multi-line strings), so a
file it cannot read is never read wrongly. ``lstmgan.config`` uses PyYAML when it is installed.
"""
from __future__ import annotations

import re
from typing import Any

_INT = re.compile(r"^[-+]?(0|[1-9][0-9_]*)$")
_OCTAL = re.compile(r"^[-+]?0[0-7_]+$")  # YAML 1.1, as PyYAML: 007 is 7
_FLOAT = re.compile(r"^[-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+][0-9]+)?$")
_SPECIAL_FLOATS = {".inf": float("inf"), "+.inf": float("inf"), "-.inf": float("-inf"), ".nan": float("nan")}
_BOOLEANS = {"true": True, "false": False, "yes": True, "no": False, "on": True, "off": False}
_UNSUPPORTED_START = ("&", "*", "!", "|", ">", "%", "@", "`")


class YAMLSubsetError(ValueError):
    """Text outside the supported subset, or malformed."""


def safe_load(text: str) -> Any:
    """Parse ``text`` (a params-style YAML document) into dicts, lists and scalars."""
    lines = []
    for number, raw in enumerate(text.splitlines(), 1):
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise YAMLSubsetError(f"line {number}: tabs are not allowed for indentation")
        content = _strip_comment(raw).rstrip()
        if content.strip() in ("---", "..."):
            continue
        if content.strip():
            lines.append((number, len(content) - len(content.lstrip()), content.strip()))
    if not lines:
        return None
    if len(lines) == 1 and not _is_mapping_entry(lines[0][2]) and not _is_list_item(lines[0][2]):
        return _scalar_or_flow(lines[0][2], lines[0][0])
    value, end = _block(lines, 0, lines[0][1])
    if end != len(lines):
        number = lines[end][0]
        raise YAMLSubsetError(f"line {number}: unexpected indentation")
    return value


def _strip_comment(line: str) -> str:
    """``line`` without a ``#`` comment (a ``#`` at the start or after a space, outside quotes)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"" and (i == 0 or line[i - 1] in " \t[{,:"):
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def _is_mapping_entry(content: str) -> bool:
    return _split_key(content)[1]


def _is_list_item(content: str) -> bool:
    return content == "-" or content.startswith("- ")


def _split_key(content: str) -> tuple[str | None, bool, str]:
    """``"key: value"`` -> (key, True, "value"); not a mapping entry -> (None, False, content)."""
    if content[0] in "[{":
        return None, False, content
    if content[0] in "'\"":
        end = content.find(content[0], 1)
        if end > 0 and content[end + 1:end + 2] == ":" and content[end + 2:end + 3] in ("", " "):
            return content[1:end], True, content[end + 2:].strip()
        return None, False, content
    match = re.match(r"^([^:#]+?):(\s+|$)", content)
    if not match:
        return None, False, content
    return match.group(1).strip(), True, content[match.end():].strip()


def _block(lines: list[tuple[int, int, str]], start: int, indent: int) -> tuple[Any, int]:
    """The block (mapping or list) whose entries sit at ``indent``, from ``lines[start]``."""
    is_list = _is_list_item(lines[start][2])
    result: Any = [] if is_list else {}
    i = start
    while i < len(lines):
        number, ind, content = lines[i]
        if ind < indent:
            break
        if ind > indent:
            raise YAMLSubsetError(f"line {number}: unexpected indentation")
        if is_list:
            if not _is_list_item(content):
                break  # a list written at its key's indentation ends where the mapping goes on
            item = content[1:].strip()
            if not item:
                value, i = _nested(lines, i + 1, indent)
            elif _is_mapping_entry(item):
                raise YAMLSubsetError(f"line {number}: mappings inside '- ' list items are not supported")
            else:
                value, i = _scalar_or_flow(item, number), i + 1
            result.append(value)
            continue
        key, is_entry, rest = _split_key(content)
        if not is_entry:
            raise YAMLSubsetError(f"line {number}: expected 'key: value'")
        if key in result:
            raise YAMLSubsetError(f"line {number}: duplicate key {key!r}")
        if rest:
            result[key], i = _scalar_or_flow(rest, number), i + 1
        else:
            result[key], i = _nested(lines, i + 1, indent, allow_same_indent_list=True)
    return result, i


def _nested(lines: list[tuple[int, int, str]], start: int, indent: int, allow_same_indent_list: bool = False) -> tuple[Any, int]:
    """The value of an entry with nothing after its colon: a deeper block, or null."""
    if start < len(lines):
        ind, content = lines[start][1], lines[start][2]
        same_indent_list = allow_same_indent_list and ind == indent and _is_list_item(content)
        if ind > indent or same_indent_list:
            return _block(lines, start, ind)
    return None, start


def _scalar_or_flow(text: str, number: int) -> Any:
    text = text.strip()
    if text.startswith(_UNSUPPORTED_START):
        raise YAMLSubsetError(f"line {number}: {text[:20]!r}: anchors, tags and multi-line strings are not supported")
    if text[0] in "[{":
        value, end = _flow(text, 0, number)
        if text[end:].strip():
            raise YAMLSubsetError(f"line {number}: unexpected text after {text[:end]!r}")
        return value
    if text[0] not in "'\"" and ": " in text:
        raise YAMLSubsetError(f"line {number}: {text!r}: a second 'key: value' on one line (quote the value)")
    return _scalar(text, number)


def _flow(text: str, pos: int, number: int) -> tuple[Any, int]:
    """A flow list or mapping starting at ``text[pos]``; returns (value, position after it)."""
    opening = text[pos]
    closing = "]" if opening == "[" else "}"
    items: Any = [] if opening == "[" else {}
    pos += 1
    while True:
        pos = _skip_spaces(text, pos)
        if pos >= len(text):
            raise YAMLSubsetError(f"line {number}: missing {closing!r}")
        if text[pos] == closing:
            return items, pos + 1
        if opening == "{":
            colon = _find_unquoted(text, pos, ":")
            if colon < 0:
                raise YAMLSubsetError(f"line {number}: expected 'key: value' inside {{...}}")
            key = _scalar(text[pos:colon].strip(), number)
            pos = _skip_spaces(text, colon + 1)
        value, pos = _flow_item(text, pos, number)
        if opening == "{":
            items[key] = value
        else:
            items.append(value)
        pos = _skip_spaces(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos += 1
        elif pos >= len(text) or text[pos] != closing:
            raise YAMLSubsetError(f"line {number}: expected ',' or {closing!r} in {text!r}")


def _flow_item(text: str, pos: int, number: int) -> tuple[Any, int]:
    if pos < len(text) and text[pos] in "[{":
        return _flow(text, pos, number)
    if pos < len(text) and text[pos] in "'\"":
        end = text.find(text[pos], pos + 1)
        if end < 0:
            raise YAMLSubsetError(f"line {number}: unterminated quote")
        return _scalar(text[pos:end + 1], number), end + 1
    end = pos
    while end < len(text) and text[end] not in ",]}":
        end += 1
    return _scalar(text[pos:end].strip(), number), end


def _skip_spaces(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t":
        pos += 1
    return pos


def _find_unquoted(text: str, pos: int, char: str) -> int:
    quote = None
    for i in range(pos, len(text)):
        ch = text[i]
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == char:
            return i
    return -1


def _scalar(text: str, number: int) -> Any:
    """A plain or quoted scalar, resolved as PyYAML's safe loader does for the common cases."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        inner = text[1:-1]
        if text[0] == "'":
            return inner.replace("''", "'")
        if "\\" in inner:
            return inner.encode("latin-1", "backslashreplace").decode("unicode_escape")
        return inner
    if text[:1] in ("'", '"'):
        raise YAMLSubsetError(f"line {number}: unterminated quote in {text!r}")
    lowered = text.lower()
    if text in ("", "~") or lowered == "null":
        return None
    if lowered in _BOOLEANS:
        return _BOOLEANS[lowered]
    if _INT.match(text):
        return int(text.replace("_", ""))
    if _OCTAL.match(text):
        return int(text.replace("_", ""), 8)
    if _FLOAT.match(text) and any(c.isdigit() for c in text):
        return float(text.replace("_", ""))
    if lowered in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[lowered]
    return text
