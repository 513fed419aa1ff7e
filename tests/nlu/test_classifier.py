"""The trained classifier: Rasa-format data, what it may decide, and what it never may."""

from __future__ import annotations

from pathlib import Path

import pytest

import nlu
from nlu import classifier, compliance, corpus, parse
from nlu.intents import (
    AFFIRM,
    DENY,
    FALLBACK,
    GREET,
    HELP,
    HUMAN,
    INTENTS,
    OPT_IN,
    OPT_OUT,
    RATING,
    RESCHEDULE,
    THANKS,
)
from nlu.rules import normalise


class _Sure:
    """A stand-in classifier that is certain of one intent whatever it reads."""

    def __init__(self, intent: str, probability: float = 0.99) -> None:
        self.ranking = [(intent, probability), (FALLBACK, 1.0 - probability)]

    def rank(self, t):
        return list(self.ranking)


@pytest.fixture
def model_says(monkeypatch: pytest.MonkeyPatch):
    """Return a function that makes the local classifier answer one intent."""

    def say(intent: str, probability: float = 0.99) -> None:
        monkeypatch.setattr(classifier, "_trained", _Sure(intent, probability))

    monkeypatch.delenv("NLU_URL", raising=False)
    return say


# --- training data in Rasa's format ---


def test_training_data_is_rasa_nlu_yaml_covering_every_intent() -> None:
    examples = corpus.load()
    assert len(examples) >= 500
    assert {e.intent for e in examples} >= INTENTS - {FALLBACK}
    assert all(e.text and "[" not in e.text for e in examples)
    for path in corpus.DATA_DIR.glob("*.yml"):
        assert 'version: "3.1"' in path.read_text(encoding="utf-8")


def test_corpus_reads_blocks_long_form_and_entity_markup(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(
        'version: "3.1"\n'
        "nlu:\n"
        "- intent: rating\n"
        "  examples: |\n"
        "    - I'd give it [4](rating)\n"
        '    - [five]{"entity": "rating", "value": 5} stars\n'
        "- synonym: five\n"
        "  examples: |\n"
        "    - 5\n"
        "- intent: affirm\n"
        "  examples:\n"
        "  - text: count me in\n"
        "    metadata: {source: journey}\n",
        encoding="utf-8",
    )
    (tmp_path / "notes.txt").write_text("not data", encoding="utf-8")
    assert corpus.load(tmp_path) == (
        corpus.Example("I'd give it 4", RATING),
        corpus.Example("five stars", RATING),
        corpus.Example("count me in", AFFIRM),
    )


@pytest.mark.parametrize(
    "content",
    ["nlu: [", "version: '3.1'\n", "nlu:\n- intent: affirm\n  examples: |\n    yes\n"],
)
def test_corpus_refuses_files_that_are_not_rasa_nlu(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.yml"):
        corpus.load(path)


def test_a_folder_means_its_own_files_so_the_test_set_stays_out_of_training() -> None:
    trained_on = {e.text for e in corpus.load()}
    assert not trained_on & {e.text for e in corpus.load(corpus.TEST_DIR)}
    with pytest.raises(FileNotFoundError):
        corpus.load(corpus.DATA_DIR / "missing.yml")


def test_digest_changes_with_any_example() -> None:
    examples = corpus.load()
    assert corpus.digest(examples) == corpus.digest(list(examples))
    assert corpus.digest(examples) != corpus.digest(examples[1:])


# --- the classifier ---


def test_classifier_is_trained_once_and_shared() -> None:
    nlu.prepare()
    assert classifier.default() is classifier.default()


def test_classifier_learns_from_any_rasa_examples() -> None:
    model = classifier.Classifier.train(
        [
            corpus.Example("count me in", AFFIRM),
            corpus.Example("sounds great", AFFIRM),
            corpus.Example("not for me", DENY),
            corpus.Example("no way", DENY),
            corpus.Example("whats the wifi", "ask_wifi"),  # outside the contract
        ]
    )
    ranking = model.rank(normalise("count me in!"))
    assert ranking[0][0] == AFFIRM
    assert {intent for intent, _ in ranking} == {AFFIRM, DENY, FALLBACK}
    assert sum(p for _, p in ranking) == pytest.approx(1.0)
    assert model.rank(normalise("")) == [(FALLBACK, 1.0)]


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("ya I can make that work", AFFIRM),
        ("nah sorry wont work for me this week", DENY),
        ("something came up, any chance we could shift things around", RESCHEDULE),
        ("is there a human who can look at my bill", HUMAN),
        ("thank you kindly, you've been great", THANKS),
        ("heyyy 👋", GREET),
        ("what is this number about", HELP),
        ("what colour is the sky on mars", FALLBACK),
    ],
)
def test_free_text_the_rules_do_not_know(text: str, intent: str) -> None:
    assert parse(text).intent == intent


def test_model_confidence_stays_below_the_help_answer_and_the_rules() -> None:
    result = parse("what is this about")
    assert result.intent == HELP
    assert result.confidence <= 0.8  # the bot gives the HELP answer only from 0.9


# --- what the model may never decide alone ---


@pytest.mark.parametrize(
    "text",
    ["the weather is lovely", "can't stop smiling", "I love your messages", "the dog ate it"],
)
def test_model_alone_never_unsubscribes(model_says, text: str) -> None:
    model_says(OPT_OUT)
    assert parse(text).intent == FALLBACK


@pytest.mark.parametrize("text", ["cut it out with the texts", "i am so over these messages"])
def test_model_unsubscribes_when_a_sign_of_revocation_agrees(model_says, text: str) -> None:
    assert compliance.match(normalise(text)) is None  # not the rules' own catch
    model_says(OPT_OUT)
    assert (parse(text).intent, parse(text).confidence) == (OPT_OUT, 0.9)


@pytest.mark.parametrize(
    "text",
    [
        "please don't remove me, I want the coupons",
        "how many more texts will I get",
        "thanks for the texts",
        "take me off the waiting list",
    ],
)
def test_revocation_signs_that_are_undone_do_not_count(text: str) -> None:
    assert not compliance.mentions_revocation(normalise(text))


def test_model_alone_never_resubscribes(model_says) -> None:
    model_says(OPT_IN)
    assert parse("the weather is lovely").intent == FALLBACK


def test_model_rating_needs_a_number_the_rules_can_read(model_says) -> None:
    model_says(RATING)
    assert parse("the hygienist was lovely").intent == FALLBACK
    result = parse("honestly a 4 i reckon")
    assert (result.intent, result.entity(RATING)) == (RATING, 4)


def test_unsure_model_gives_nlu_fallback(model_says) -> None:
    model_says(AFFIRM, 0.45)
    assert (parse("the weather is lovely").intent, parse("x y z").confidence) == (FALLBACK, 0.3)


def test_rules_still_decide_what_they_know(model_says) -> None:
    model_says(DENY)
    assert parse("STOP").intent == OPT_OUT
    assert parse("yes").intent == AFFIRM
    assert parse("4/5").intent == RATING


def test_rank_equals_the_fitted_pipeline() -> None:
    import numpy as np

    trained = classifier.default()
    texts = [normalise(e.text) for e in corpus.load(corpus.TEST_DIR)]
    texts = [t for t in texts if classifier.features(t)]
    rows = trained._vectorizer.transform([classifier.features(t) for t in texts])
    expected = trained._model.predict_proba(rows)
    labels = [str(label) for label in trained._model.classes_]
    for t, row in zip(texts, expected, strict=True):
        ranked = dict(trained.rank(t))
        assert np.allclose([ranked[label] for label in labels], row, atol=1e-12), t.raw


def test_embed_equals_the_vectorizer_rows() -> None:
    import numpy as np

    trained = classifier.default()
    texts = [normalise(text) for text in ("yes please", "can we do friday?", "zzz", "👍")]
    expected = trained._vectorizer.transform([classifier.features(t) for t in texts])
    assert np.allclose(trained.embed(texts).toarray(), expected.toarray(), atol=1e-12)
