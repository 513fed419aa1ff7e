"""The trained intent classifier for free text, taught from Rasa-format examples."""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize
from sklearn.utils.extmath import safe_sparse_dot, softmax
from threadpoolctl import threadpool_limits

from nlu import corpus
from nlu.intents import FALLBACK, INTENTS
from nlu.rules import Text, normalise

if TYPE_CHECKING:
    import numpy as np
    from scipy.sparse import spmatrix

Ranking = list[tuple[str, float]]
# Strong enough to learn from a few hundred short examples, regularised enough that one
# shared word ("stop", "message") does not decide.
C = 20.0


def features(t: Text) -> str:
    """Return what the classifier reads: the normalised text plus any emoji it dropped."""
    pictures = dict.fromkeys(c for c in t.raw if unicodedata.category(c) == "So")
    extra = " ".join(c for c in pictures if c not in t.norm)
    return f"{t.norm} {extra}" if extra else t.norm


class Analyzer:
    """Character 2-5-grams within words, for misspellings, plus word 1-2-grams, for phrasing."""

    def __init__(self) -> None:
        self._chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)).build_analyzer()
        self._words = TfidfVectorizer(ngram_range=(1, 2), token_pattern=r"\S+").build_analyzer()

    def __call__(self, text: str) -> list[str]:
        """Return the n-grams of `text`; words are marked so they never equal a character run."""
        return self._chars(text) + ["|" + gram for gram in self._words(text)]


class Classifier:
    """TF-IDF n-grams and a logistic regression over the contract's intents."""

    def __init__(self, vectorizer: TfidfVectorizer, model: LogisticRegression) -> None:
        self._vectorizer = vectorizer
        self._model = model
        self._labels: tuple[str, ...] = tuple(str(label) for label in model.classes_)

    @classmethod
    def train(cls, examples: Iterable[corpus.Example]) -> Classifier:
        """Fit a classifier; intents outside the contract are learnt as nlu_fallback."""
        texts, labels = [], []
        for example in examples:
            text = features(normalise(example.text))
            if text:
                texts.append(text)
                labels.append(example.intent if example.intent in INTENTS else FALLBACK)
        vectorizer = TfidfVectorizer(analyzer=Analyzer(), sublinear_tf=True)
        model = LogisticRegression(C=C, max_iter=2000)
        # One thread: BLAS spreading this small fit over busy cores makes it many times slower.
        with threadpool_limits(limits=1):
            model.fit(vectorizer.fit_transform(texts), labels)
        return cls(vectorizer, model)

    def rank(self, t: Text) -> Ranking:
        """Return every intent with its probability, most likely first."""
        text = features(t)
        if not text:
            return [(FALLBACK, 1.0)]
        with _fast():
            probabilities = self.probabilities(self._vectorizer.transform([text]))[0]
        ranking = zip(self._labels, map(float, probabilities), strict=True)
        return sorted(ranking, key=lambda pair: -pair[1])

    def probabilities(self, features: spmatrix) -> np.ndarray:
        """Return predict_proba's answer for rows the vectorizer made, without re-checking them.

        It is the model's own multinomial formula, computed with scikit-learn's helpers:
        predict_proba would first validate the rows again, which for one short text costs
        as much as the prediction.
        """
        model = self._model
        return softmax(
            safe_sparse_dot(features, model.coef_.T, dense_output=True) + model.intercept_
        )

    def embed(self, texts: Sequence[Text]) -> spmatrix:
        """Return unit-length feature rows, for comparing texts by cosine similarity."""
        with _fast():
            return normalize(self._vectorizer.transform([features(t) for t in texts]))


def _fast() -> sklearn.config_context:
    # One short text at a time: scikit-learn's input checks would cost more than the maths,
    # and our own input is a plain list of strings.
    return sklearn.config_context(assume_finite=True, skip_parameter_validation=True)


_lock = threading.Lock()
_trained: Classifier | None = None


def default() -> Classifier:
    """Return the classifier taught from nlu/data, training it on first use."""
    global _trained
    if _trained is None:
        with _lock:
            if _trained is None:
                _trained = Classifier.train(corpus.load())
    return _trained
