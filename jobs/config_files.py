"""The operator's YAML files (`AIUSAGE_AWARD_RULES`, `AIUSAGE_PRICES`), read with the care a
setting deserves: a regular file of at most 1 MiB, no key given twice, nested at most 32 deep,
and no aliases that expand it past 100,000 values. Pure: a path in, values out, ValueError with
one line saying what is wrong."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import yaml

MAX_FILE_BYTES = 1024 * 1024
# A rules or prices file nests four deep; PyYAML composes recursively, and 50,000 `[` ended
# start-up in a RecursionError.
MAX_DEPTH = 32
# Aliases cost nothing to write: nine anchors of nine aliases each are 9**9 values to whatever
# walks them (the "billion laughs"). A price list of a thousand tools is under 10,000.
MAX_EXPANDED = 100_000


class _Refused(ValueError):
    """What the loader refuses in a file, in one line."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a mapping that names a key twice (PyYAML keeps the last
    silently, so a second `steady:` quietly undid the first), and nesting past MAX_DEPTH."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                line = self.peek_event().start_mark.line + 1
                raise _Refused(f"nested more than {MAX_DEPTH} deep (line {line})")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *defaults` then an override is how YAML spells a change
        key = loader.construct_object(key_node, deep=True)
        try:
            if key in seen:
                line = key_node.start_mark.line + 1
                raise _Refused(f"duplicate key {key!r} (line {line})")
            seen.add(key)
        except TypeError:
            continue  # an unhashable key: the constructor below refuses it
    return loader.construct_mapping(node, deep=True)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def _expanded_size(root: yaml.Node) -> int:
    """How many values the document holds with every alias written out, counted without
    writing them out (each node once, in post-order; stops counting past MAX_EXPANDED).
    Raises when, written out, it nests past MAX_DEPTH, or an alias holds itself."""
    sizes: dict[int, tuple[int, int]] = {}  # a node's id: (values, depth) written out
    on_path = (-1, -1)
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        children = _children(node)
        if children_done:
            below = [sizes[id(child)] for child in children]
            total = min(1 + sum(size for size, _ in below), MAX_EXPANDED + 1)
            depth = 1 + max((depth for _, depth in below), default=0)
            if depth > MAX_DEPTH:
                line = node.start_mark.line + 1
                raise _Refused(f"nested more than {MAX_DEPTH} deep with aliases (line {line})")
            sizes[id(node)] = (total, depth)
            continue
        if id(node) in sizes:
            continue  # an alias of a node counted already
        sizes[id(node)] = on_path
        stack.append((node, True))
        for child in children:
            if sizes.get(id(child)) == on_path:
                line = child.start_mark.line + 1
                raise _Refused(f"an alias inside its own anchor (line {line})")
            if id(child) not in sizes:
                stack.append((child, False))
    expanded = sizes[id(root)][0]
    # A large file without aliases is only as big as it is written (1 MiB at most).
    return expanded if expanded > len(sizes) else 0


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def read_yaml(path: Path, what: str) -> Any:
    """The YAML document at `path` (None when it is empty). /dev/zero was read until memory
    ran out and a FIFO waited for a writer: only a regular file is read, and only so much."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"cannot read {what} {str(path)!r}: not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise ValueError(f"cannot read {what} {str(path)!r}: larger than 1 MiB")
        with path.open("rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise ValueError(f"cannot read {what} {str(path)!r}: larger than 1 MiB")
        return _load(raw.decode("utf-8"))
    except _Refused as exc:
        raise ValueError(f"{what} {str(path)!r}: {exc}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        # One line: PyYAML's messages span several, with a caret under the mistake.
        raise ValueError(
            f"cannot read {what} {str(path)!r}: {' '.join(str(exc).split())}"
        ) from None


def _load(text: str) -> Any:
    """`yaml.load` with the document's size checked between composing and constructing."""
    loader = _UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node) > MAX_EXPANDED:
            raise _Refused(f"aliases expand it past {MAX_EXPANDED:,} values")
        return loader.construct_document(node)
    finally:
        loader.dispose()
