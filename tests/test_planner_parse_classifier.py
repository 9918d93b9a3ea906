"""The learned kind fallback and what a doubtful parse does.

- openeqa_split is a fixed, roughly even halving of the ids (the bench reports the eval half only).
- IntentClassifier fits separable data, its temperature is fitted on held-out rows, and the cache is
  keyed (another key reads as no cache).
- The parser asks the classifier only when no rule decides: an out-of-scope class refuses, a probability
  below min_classifier_prob abstains with reason_code low_confidence and the closest kind as intent.
- Every refusal carries a reason code; a parse less sure than min_answer_confidence is answered NOT_SURE
  and says what it understood.
"""
from __future__ import annotations

import numpy as np
import pytest

from memory_nodes.planner import query as Q
from memory_nodes.planner.answer import ANSWERED, NOT_SURE
from memory_nodes.planner.config import PlannerConfig
from memory_nodes.planner.fakes import FakeMemory
from memory_nodes.planner.intent_classifier import OOS, IntentClassifier, openeqa_split, training_set
from memory_nodes.planner.parse import ParserConfig, QuestionParser
from memory_nodes.planner.planner import Planner
from memory_nodes.vocab.vocabulary import VocabConfig, Vocabulary

NOW = 1715871600 * 10**9
D = 8


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary(VocabConfig(allow_model=False))


def _blobs(n: int = 60):
    rng = np.random.default_rng(0)
    centres = np.eye(D)[:3] * 3.0
    labels = [("where_now", "count", OOS)[i % 3] for i in range(n)]
    x = np.stack([centres[i % 3] + rng.normal(0, 0.3, D) for i in range(n)])
    return x, labels, [f"q{i}" for i in range(n)]


def test_openeqa_split_is_fixed_and_about_half():
    ids = [f"id-{i}" for i in range(400)]
    halves = [openeqa_split(i) for i in ids]
    assert halves == [openeqa_split(i) for i in ids]
    assert 150 < halves.count("train") < 250 and set(halves) == {"train", "eval"}


def test_training_set_reads_the_dev_templates():
    texts, labels, real = training_set()
    assert len(texts) == len(labels) == len(real) > 100 and not real[0]
    assert {"where_now", "count", OOS} <= set(labels) and not set(labels) & set(Q.ROBOT_KINDS)


def test_fit_predicts_calibrated_and_round_trips(tmp_path):
    x, labels, keys = _blobs()
    m = IntentClassifier.fit(x, labels, keys)
    assert m.n_calib > 0 and m.temperature > 0
    for i in range(3):
        kind, p = m.predict(x[i])
        assert kind == labels[i] and 0.5 < p <= 1.0
    path = tmp_path / "clf.npz"
    m.save(path, "k1")
    back = IntentClassifier.load(path, "k1")
    assert back is not None and back.classes == m.classes
    assert np.allclose(back.proba(x[:5]), m.proba(x[:5]))
    assert IntentClassifier.load(path, "other") is None
    assert IntentClassifier.load(tmp_path / "missing.npz", "k1") is None


def _parser_with(vocab, model: IntentClassifier, vec: np.ndarray) -> QuestionParser:
    p = QuestionParser(ParserConfig(), vocab)
    p._classifier, p._classifier_tried = model, True
    p._embed = lambda texts: np.tile(vec, (len(texts), 1))
    return p


def test_no_rule_then_the_classifier_decides_or_abstains(vocab):
    w = np.zeros((D, 3), np.float32)
    w[0, 0] = w[1, 1] = w[2, 2] = 10.0
    m = IntentClassifier(["count", OOS, "where_now"], w, np.zeros(3, np.float32))
    e = np.eye(D, dtype=np.float32)
    text = "mug kitchen tally"                  # no rule fires on this
    sure = _parser_with(vocab, m, e[0]).parse(text, NOW)
    assert sure.kind == Q.COUNT and sure.source == "classifier" and sure.confidence > 0.99
    oos = _parser_with(vocab, m, e[1]).parse(text, NOW)
    assert oos.kind == Q.CANNOT_PARSE and oos.reason_code == "no_kind" and oos.source == "classifier"
    q = _parser_with(vocab, m, (e[0] + e[2]) / 2.0).parse(text, NOW)     # between two kinds: abstain
    assert q.kind == Q.CANNOT_PARSE and q.reason_code == "low_confidence"
    assert q.intent in ("where_now", "count") and q.confidence < 0.55 and "not sure" in q.reason


def test_every_refusal_has_a_code(vocab):
    p = QuestionParser(ParserConfig(use_embeddings=False), vocab)
    for text in ("", "is the lamp in the living room on or off?", "which runs out first, the milk?",
                 "blah blah", "is the oven on?", "where is the paper shredder?"):
        q = p.parse(text, NOW)
        assert q.kind == Q.CANNOT_PARSE and q.reason_code in Q.REASON_CODES, (text, q.reason_code)
    assert Q.cannot_parse("x", "why").reason_code == "no_kind"
    assert Q.validate_query(Q.Query(kind=Q.CANNOT_PARSE)).reason_code == "no_kind"


def test_a_doubtful_parse_is_answered_not_sure_saying_what_was_understood(vocab):
    mem = FakeMemory({0: (0.0, 0.0, 0), 1: (4.0, 0.0, 1)}, {0: "kitchen", 1: "office"}, NOW)
    mem.add_object("book_1", "book", (4.3, 0.4, 0.8), 1, NOW - 7_200 * 10**9, NOW - 3_600 * 10**9, p_still=0.95)
    planner = Planner(PlannerConfig(), mem, None, vocab)
    q = planner.parse("where is the book?", NOW)
    assert planner.answer(q, NOW).status == ANSWERED
    q.confidence = 0.4
    a = planner.answer(q, NOW)
    assert a.status == NOT_SURE and a.answer.startswith("I understood the question as: where now (book)")
    assert "parse confidence 0.40" in a.reason
