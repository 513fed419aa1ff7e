"""The trained intent classifier for free text, taught from Rasa-format examples."""

from __future__ import annotations

import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from nlu import corpus
from nlu.intents import FALLBACK, INTENTS
from nlu.model import Ranking
from nlu.rules import Text, normalise

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
        # The fitted parts, read once: one short text at a time, scikit-learn's transform
        # and input checks cost ten times the arithmetic they wrap.
        analyzer = vectorizer.analyzer
        self._analyze = analyzer if callable(analyzer) else vectorizer.build_analyzer()
        self._vocabulary: dict[str, int] = dict(vectorizer.vocabulary_)
        self._idf = np.asarray(vectorizer.idf_, dtype=np.float64)
        self._weights = np.ascontiguousarray(model.coef_.T, dtype=np.float64)
        self._intercept = np.asarray(model.intercept_, dtype=np.float64)

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
        columns, values = self.vector(text)
        scores = values @ self._weights[columns] + self._intercept
        exp = np.exp(scores - scores.max())
        probabilities = (exp / exp.sum()).tolist()
        return sorted(zip(self._labels, probabilities, strict=True), key=lambda pair: -pair[1])

    def vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Return the vectorizer's row for `text` as (columns, values), values of unit length.

        It is TfidfVectorizer.transform's arithmetic for one text: n-gram counts within the
        fitted vocabulary, 1 + log(count) (sublinear tf), times idf, L2-normalised.
        """
        vocabulary = self._vocabulary
        counts = [
            (vocabulary[g], n) for g, n in Counter(self._analyze(text)).items() if g in vocabulary
        ]
        columns = np.array([column for column, _ in counts], dtype=np.intp)
        values = np.log(np.array([n for _, n in counts], dtype=np.float64))
        values += 1.0
        values *= self._idf[columns]
        norm = np.sqrt(values @ values)
        return columns, values / norm if norm else values

    def embed(self, texts: Sequence[Text]) -> csr_matrix:
        """Return unit-length feature rows, for comparing texts by cosine similarity."""
        rows = [self.vector(features(t)) for t in texts]
        lengths = [len(columns) for columns, _ in rows]
        indptr = np.zeros(len(rows) + 1, dtype=np.intp)
        np.cumsum(lengths, out=indptr[1:])
        columns = np.concatenate([c for c, _ in rows]) if rows else np.zeros(0, np.intp)
        values = np.concatenate([v for _, v in rows]) if rows else np.zeros(0)
        shape = (len(rows), len(self._vocabulary))
        return csr_matrix((values, columns, indptr), shape=shape)


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
