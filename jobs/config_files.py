"""The operator's YAML files (`AIUSAGE_AWARD_RULES`, `AIUSAGE_PRICES`), read with the care a
setting deserves: a regular file of at most 1 MiB, and no key given twice. Pure: a path in,
values out, ValueError with one line saying what is wrong."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import yaml

MAX_FILE_BYTES = 1024 * 1024


class _DuplicateKeyError(ValueError):
    pass


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a mapping that names a key twice (PyYAML keeps the last
    silently, so a second `steady:` quietly undid the first)."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *defaults` then an override is how YAML spells a change
        key = loader.construct_object(key_node, deep=True)
        try:
            if key in seen:
                line = key_node.start_mark.line + 1
                raise _DuplicateKeyError(f"duplicate key {key!r} (line {line})")
            seen.add(key)
        except TypeError:
            continue  # an unhashable key: the constructor below refuses it
    return loader.construct_mapping(node, deep=True)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


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
        return yaml.load(raw.decode("utf-8"), Loader=_UniqueKeyLoader)
    except _DuplicateKeyError as exc:
        raise ValueError(f"{what} {str(path)!r}: {exc}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        # One line: PyYAML's messages span several, with a caret under the mistake.
        raise ValueError(
            f"cannot read {what} {str(path)!r}: {' '.join(str(exc).split())}"
        ) from None
