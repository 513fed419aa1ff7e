"""Keywords and example replies a journey adds to an intent, without code."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from nlu import compliance
from nlu.intents import FALLBACK, INTENTS, OPT_IN, RATING
from nlu.rules import SYMBOL_TOKENS, Text, normalise

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

    from nlu.classifier import Classifier

# A rating needs a number and nlu_fallback is what nothing matched: neither can be taught.
TEACHABLE = INTENTS - {FALLBACK, RATING}
# Re-subscribing must be asked for in so many words, so a near match cannot do it.
TEACHABLE_BY_EXAMPLE = TEACHABLE - {OPT_IN}
# How close (cosine over the classifier's features) a reply must be to a journey's example.
SIMILARITY = 0.7
_NONE: Mapping[str, tuple[str, ...]] = MappingProxyType({})


@dataclass(frozen=True, init=False)
class Vocabulary:
    """Per-journey additions: intent -> exact keywords, and intent -> example replies.

    Keywords match the whole reply, ignoring case, accents, punctuation and emoji. A
    keyword that the opt-out, opt-in or help rules already claim for another intent is
    refused, so a journey can never make STOP mean something else. Examples match replies
    close to them; they cannot teach opt_in, and an opt_out example needs the reply to show
    a sign of revocation too.
    """

    keywords: Mapping[str, tuple[str, ...]]
    examples: Mapping[str, tuple[str, ...]]

    def __init__(
        self,
        keywords: Mapping[str, Iterable[str]] = _NONE,
        examples: Mapping[str, Iterable[str]] = _NONE,
    ) -> None:
        """Check the tables and keep them frozen: each intent's texts as a tuple."""
        object.__setattr__(self, "keywords", _freeze(keywords, "keywords", TEACHABLE))
        object.__setattr__(self, "examples", _freeze(examples, "examples", TEACHABLE_BY_EXAMPLE))
        seen: dict[str, str] = {}
        for intent, words in self.keywords.items():
            for word in words:
                key = _key(normalise(word))
                if not key:
                    raise ValueError(f"keyword {word!r} for {intent} has no letters or digits")
                claimed = compliance.match(normalise(word))
                if claimed is not None and claimed[0] != intent:
                    raise ValueError(
                        f"keyword {word!r} cannot mean {intent}: it always means {claimed[0]}"
                    )
                if seen.setdefault(key, intent) != intent:
                    raise ValueError(f"keyword {word!r} is given for {seen[key]} and {intent}")

    def __hash__(self) -> int:
        return hash((tuple(self.keywords.items()), tuple(self.examples.items())))

    def __bool__(self) -> bool:
        return bool(self.keywords or self.examples)


def match_keyword(vocabulary: Vocabulary, t: Text) -> str | None:
    """Return the intent whose keyword is the whole message, or None."""
    return _keywords(vocabulary).get(_key(t))


def match_example(
    vocabulary: Vocabulary, t: Text, classifier: Classifier
) -> tuple[str, float] | None:
    """Return (intent, similarity) of the nearest example if it is similar enough."""
    if not vocabulary.examples or not t.norm:
        return None
    found = _examples(vocabulary, classifier)
    if found is None:
        return None
    labels, matrix = found
    similarities = (matrix @ classifier.embed([t]).T).toarray().ravel()
    best = int(similarities.argmax())
    similarity = float(similarities[best])
    return (labels[best], min(similarity, 1.0)) if similarity >= SIMILARITY else None


def _key(t: Text) -> str:
    """Return the words of `t` once each, emoji dropped unless that leaves nothing."""
    words = dict.fromkeys(t.norm.split())
    return " ".join(w for w in words if w not in SYMBOL_TOKENS) or " ".join(words)


def _freeze(
    table: Mapping[str, Iterable[str]], what: str, teachable: frozenset[str]
) -> Mapping[str, tuple[str, ...]]:
    if not isinstance(table, Mapping):
        raise TypeError(f"{what} must map intent names to lists of texts")
    frozen = {}
    for intent, texts in sorted(table.items()):
        if intent not in teachable:
            allowed = ", ".join(sorted(teachable))
            raise ValueError(f"{what}: unknown or fixed intent {intent!r} (allowed: {allowed})")
        items = (texts,) if isinstance(texts, str) else tuple(texts)
        if not all(isinstance(item, str) for item in items):
            raise TypeError(f"{what} for {intent} must be strings")
        frozen[intent] = items
    return MappingProxyType(frozen)


@functools.lru_cache(maxsize=128)
def _keywords(vocabulary: Vocabulary) -> dict[str, str]:
    return {
        _key(normalise(word)): intent
        for intent, words in vocabulary.keywords.items()
        for word in words
    }


@functools.lru_cache(maxsize=128)
def _examples(
    vocabulary: Vocabulary, classifier: Classifier
) -> tuple[tuple[str, ...], csr_matrix] | None:
    """Return the examples' intents and feature rows; None when no example has words."""
    pairs = [
        (intent, normalise(text))
        for intent, texts in vocabulary.examples.items()
        for text in texts
        if normalise(text).norm
    ]
    if not pairs:
        return None
    return tuple(intent for intent, _ in pairs), classifier.embed([t for _, t in pairs])
