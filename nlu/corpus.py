"""Training and evaluation examples in Rasa's NLU YAML format (`version: "3.1"`, `nlu:`)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

DATA_DIR = Path(__file__).parent / "data"
TEST_DIR = DATA_DIR / "test"
# Replies about consent, kept apart from TEST_DIR's bar: see nlu/README.md for their figures.
CONSENT_TEST_DIR = TEST_DIR / "consent"
SUFFIXES = (".yml", ".yaml")

# Rasa marks entities inline: "[4](rating)", "[4](rating:4)", '[4]{"entity": "rating"}'.
_ANNOTATION = re.compile(r"\[([^\]\n]*)\](?:\([^)\n]*\)|\{[^}\n]*\})")


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled text."""

    text: str
    intent: str


def load(*paths: str | Path) -> tuple[Example, ...]:
    """Read the intent examples of Rasa NLU files, or of every such file in a folder."""
    return tuple(example for path in _files(paths or (DATA_DIR,)) for example in _read(path))


def digest(examples: Iterable[Example]) -> str:
    """Return a short hash that changes whenever any example or label changes."""
    sha = hashlib.sha256()
    for example in examples:
        sha.update(f"{example.intent}\t{example.text}\n".encode())
    return sha.hexdigest()[:16]


def strip_annotations(text: str) -> str:
    """Return `text` with Rasa entity markup removed: "[4](rating) stars" -> "4 stars"."""
    return _ANNOTATION.sub(r"\1", text) if "[" in text else text


def _files(paths: Iterable[str | Path]) -> Iterator[Path]:
    # A folder means its own files only, so nlu/data does not pull in nlu/data/test.
    for path in map(Path, paths):
        if path.is_dir():
            yield from sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and p.is_file())
        elif path.is_file():
            yield path
        else:
            raise FileNotFoundError(f"no NLU data at {path}")


def _read(path: Path) -> Iterator[Example]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML: {error}") from None
    blocks = document.get("nlu") if isinstance(document, dict) else None
    if not isinstance(blocks, list):
        raise ValueError(f"{path}: expected a top-level `nlu:` list")
    for block in blocks:
        # Synonym, regex and lookup blocks are Rasa features this parser does not use.
        if not isinstance(block, dict) or "intent" not in block:
            continue
        intent = str(block["intent"])
        for text in _texts(block.get("examples"), path, intent):
            yield Example(strip_annotations(text), intent)


def _texts(examples: object, path: Path, intent: str) -> Iterator[str]:
    if isinstance(examples, str):  # the usual `examples: |` block of "- text" lines
        for line in examples.splitlines():
            line = line.strip()
            if line.startswith("- "):
                yield line[2:].strip()
            elif line:
                raise ValueError(f"{path}: intent {intent}: expected '- text', got {line!r}")
    elif isinstance(examples, list):  # the long form: `- text: ...` with metadata
        for item in examples:
            text = item.get("text") if isinstance(item, dict) else item
            if isinstance(text, str):
                yield text.strip()
    elif examples is not None:
        raise ValueError(f"{path}: intent {intent}: `examples` must be a block or a list")
