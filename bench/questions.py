"""Question understanding benchmark: parse accuracy per pool, refusals, confusion matrix, parse latency.

Pools: ``dev`` and ``test`` (the literal ``questions:`` of bench/laeqa_data/{dev,test}_phrasings.yaml, each
labelled with kind / target / room / receptacle / time words / reason code), and ``openeqa`` (ids + labels in
bench/laeqa_data/openeqa_labels.yaml, question text read from ../shared/phrasings/open-eqa-v0.json; the
pool is skipped, with the reason, when that file is absent). The parser's learned fallback trains on the
OpenEQA train half (intent_classifier.openeqa_split), so every OpenEQA figure — parse_kind_acc_openeqa
(answerable questions), the out-of-scope rates — is the eval half's (openeqa_eval_n); the train half is
listed apart as ``openeqa_train`` and enters no headline figure. Calls the product parser (QuestionParser over the
shipped Vocabulary), nothing re-implemented. A refused question whose label is a kind but whose object the
detector cannot name counts as right when refused as unknown_object; a robot-centric question refused for
want of a room it knows is compared by the parse's intent.

Usage: python -m bench.questions [--quick] [--json PATH] [--no-embeddings]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import yaml

from memory_nodes.planner.intent_classifier import openeqa_label_kind, openeqa_split
from memory_nodes.planner.parse import ParserConfig, QuestionParser
from memory_nodes.planner.query import CANNOT_PARSE, ROBOT_KINDS, Query
from memory_nodes.planner.timephrase import from_datetime
from memory_nodes.vocab.vocabulary import VocabConfig, Vocabulary

DATA = Path(__file__).resolve().parent / "laeqa_data"
OPENEQA = Path(__file__).resolve().parents[1].parent / "shared" / "phrasings" / "open-eqa-v0.json"
REF = from_datetime(dt.datetime(2024, 5, 16, 15, 0))          # a Thursday, 15:00


def load_pools() -> Tuple[Dict[str, List[Dict[str, Any]]], Dict[str, str]]:
    pools: Dict[str, List[Dict[str, Any]]] = {}
    skipped: Dict[str, str] = {}
    for name in ("dev", "test"):
        with (DATA / f"{name}_phrasings.yaml").open() as f:
            qs = (yaml.safe_load(f) or {}).get("questions") or []
        if qs:
            pools[name] = [dict(x) for x in qs]
        else:
            skipped[name] = "no literal questions in the pool file"
    with (DATA / "openeqa_labels.yaml").open() as f:
        labels = (yaml.safe_load(f) or {}).get("labels") or {}
    if not OPENEQA.is_file():
        skipped["openeqa"] = f"{OPENEQA} not found (the shared phrasings are outside this checkout)"
    else:
        text = {d["question_id"]: d["question"] for d in json.loads(OPENEQA.read_text())}
        items = [dict(lab, q=text[qid], id=qid) for qid, lab in labels.items() if qid in text]
        # the parser's learned fallback trains on the train half: every OpenEQA figure is the eval half's
        pools["openeqa"] = [x for x in items if openeqa_split(x["id"]) == "eval"]
        pools["openeqa_train"] = [x for x in items if openeqa_split(x["id"]) == "train"]
    return pools, skipped


def _canon(vocab: Vocabulary, name: str) -> str:
    return vocab.canonical(name) or name if name else ""


def judge(q: Query, lab: Dict[str, Any], vocab: Vocabulary) -> Tuple[str, bool, bool]:
    """(kind as parsed for the matrix, kind right, kind + slots right)."""
    exp = lab["kind"]
    got = q.kind
    if q.kind == CANNOT_PARSE and q.intent in ROBOT_KINDS:
        got = q.intent
    if exp == CANNOT_PARSE:
        kind_ok = got == CANNOT_PARSE
        full = kind_ok and q.reason_code == lab.get("reason", q.reason_code)
        if full and lab.get("reason") == "unknown_object" and lab.get("target"):
            head = str(lab["target"]).split()[-1].rstrip("s")
            full = head in q.target_phrase
        return got, kind_ok, full
    kind_ok = got == exp
    slots = [(str(lab.get("room", "") or ""), q.room), (_canon(vocab, str(lab.get("rec", "") or "")), q.receptacle)]
    if exp not in ROBOT_KINDS:
        slots.append((_canon(vocab, str(lab.get("target", "") or "")), q.target))
    full = kind_ok and all(a == b for a, b in slots)
    words = str(lab.get("time", "") or "").split()
    labels = " ".join([q.window.label if q.window else "", q.day_part] + [w.label for w in q.windows])
    if words:
        full = full and all(w in labels for w in words if not w.isdigit()) and bool(labels.strip())
    return got, kind_ok, full


def classifier_heldout(parser: QuestionParser, items: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The learned fallback alone (as if no rule fired) on held-out labelled questions: accuracy, how
    many it answers at its threshold and how right those are, expected calibration error (10 bins)."""
    clf = parser.classifier()
    rows = [(x["q"], openeqa_label_kind(x)) for x in items]
    rows = [(q, k) for q, k in rows if k is not None and k in (clf.classes if clf else ())]
    if clf is None or not rows:
        return None
    x = parser.vocab.embeddings([parser._core(q, REF) or q for q, _ in rows])    # type: ignore[union-attr]
    proba = clf.proba(np.asarray(x, dtype=np.float32))
    pred = proba.argmax(axis=1)
    conf = proba.max(axis=1)
    right = np.array([clf.classes[i] == k for i, (_, k) in zip(pred, rows)])
    kept = conf >= parser.config.min_classifier_prob
    bins = np.minimum((conf * 10).astype(int), 9)
    ece = sum(abs(right[bins == b].mean() - conf[bins == b].mean()) * (bins == b).mean()
              for b in range(10) if (bins == b).any())
    return {"n": len(rows), "acc": float(right.mean()), "coverage": float(kept.mean()),
            "selective_acc": float(right[kept].mean()) if kept.any() else None, "ece": float(ece)}


def run(quick: bool, use_embeddings: bool) -> Dict[str, Any]:
    vocab = Vocabulary(VocabConfig(allow_model=use_embeddings))
    parser = QuestionParser(ParserConfig(use_embeddings=use_embeddings), vocab)
    pools, skipped = load_pools()
    parser.warm_up()            # the model and classifier load once, before any parse is timed
    clf = parser.classifier()
    classifier_info = None if clf is None else {
        "classes": len(clf.classes), "n_train": clf.n_train, "n_calib": clf.n_calib,
        "temperature": round(clf.temperature, 3), "min_prob": parser.config.min_classifier_prob,
        "trained_on": "dev_phrasings templates + openeqa train half (sha1(id) even)",
        "openeqa_eval_alone": classifier_heldout(parser, pools.get("openeqa", []))}
    out: Dict[str, Any] = {"skipped": skipped, "pools": {}}
    times: List[float] = []
    oos_n = oos_refused = oos_wrong = ins_n = ins_refused = 0
    codes_ok = codes_n = 0
    for name, items in pools.items():
        seen_in_training = name == "openeqa_train"
        confusion: Dict[str, Counter] = defaultdict(Counter)
        k_ok = f_ok = ans_n = ans_ok = 0
        misses = []
        for lab in items:
            t0 = time.perf_counter()
            q = parser.parse(lab["q"], REF)
            times.append((time.perf_counter() - t0) * 1000.0)
            got, kind_ok, full = judge(q, lab, vocab)
            confusion[lab["kind"]][got] += 1
            k_ok += kind_ok
            f_ok += full
            oos = lab["kind"] == CANNOT_PARSE and lab.get("reason") != "unknown_object" and not seen_in_training
            if lab["kind"] != CANNOT_PARSE or lab.get("reason") == "unknown_object":
                ans_n += 1
                ans_ok += kind_ok
            if oos:
                oos_n += 1
                oos_refused += q.kind == CANNOT_PARSE
                oos_wrong += q.kind != CANNOT_PARSE
                codes_n += 1
                codes_ok += q.reason_code == lab.get("reason")
            elif lab["kind"] != CANNOT_PARSE and not seen_in_training:
                ins_n += 1
                ins_refused += q.kind == CANNOT_PARSE and got not in ROBOT_KINDS
            if not full:
                misses.append({"q": lab["q"], "want": {k: v for k, v in lab.items() if k not in ("q", "id")},
                               "got": {"kind": got, "target": q.target or q.target_phrase, "room": q.room,
                                       "rec": q.receptacle, "code": q.reason_code,
                                       "time": q.window.label if q.window else q.day_part}})
        n = len(items)
        out["pools"][name] = {"n": n, "kind_acc": k_ok / n, "full_acc": f_ok / n,
                              "answerable_n": ans_n, "answerable_kind_acc": ans_ok / ans_n if ans_n else None,
                              "confusion": {k: dict(v) for k, v in sorted(confusion.items())},
                              "misses": misses[: (20 if quick else len(misses))]}
    p = out["pools"]
    out.update({
        "parse_kind_acc_dev": p.get("dev", {}).get("kind_acc"),
        "parse_kind_acc_test": p.get("test", {}).get("kind_acc"),
        "parse_full_acc_test": p.get("test", {}).get("full_acc"),
        "parse_kind_acc_openeqa": p.get("openeqa", {}).get("answerable_kind_acc"),
        "parse_kind_acc_openeqa_all": p.get("openeqa", {}).get("kind_acc"),
        "openeqa_eval_n": p.get("openeqa", {}).get("answerable_n"),
        "openeqa_eval_n_all": p.get("openeqa", {}).get("n"),
        "parse_kind_acc_openeqa_train": p.get("openeqa_train", {}).get("answerable_kind_acc"),
        "classifier": classifier_info,
        "parse_full_acc_openeqa": p.get("openeqa", {}).get("full_acc"),
        "oos_refusal_rate": oos_refused / oos_n if oos_n else None,
        "oos_wrong_kind_rate": oos_wrong / oos_n if oos_n else None,
        "oos_reason_code_acc": codes_ok / codes_n if codes_n else None,
        "inscope_refusal_rate": ins_refused / ins_n if ins_n else None,
        "parse_p50_ms": float(np.percentile(times, 50)) if times else None,
        "parse_p95_ms": float(np.percentile(times, 95)) if times else None,
        "embeddings": use_embeddings,
        "latency_note": "per parse, after parser.warm_up() (model and classifier loaded)",
    })
    return out


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="list at most 20 misses per pool")
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--no-embeddings", action="store_true", help="rules and lexicon only")
    ap.add_argument("--misses", action="store_true", help="print the misses")
    a = ap.parse_args(argv)
    res = run(a.quick, not a.no_embeddings)
    for name, r in res["pools"].items():
        ans = r["answerable_kind_acc"]
        print(f"{name:8s} n={r['n']:4d} kind {r['kind_acc']:.1%}  kind+slots {r['full_acc']:.1%}  "
              f"answerable kind {ans:.1%} (n={r['answerable_n']})" if ans is not None else "")
        if a.misses:
            for m in r["misses"]:
                print("   ", m["q"], "| want", m["want"], "| got", m["got"])
    for name, why in res["skipped"].items():
        print(f"{name:8s} skipped: {why}")
    for k in ("oos_refusal_rate", "oos_wrong_kind_rate", "oos_reason_code_acc", "inscope_refusal_rate",
              "parse_p95_ms"):
        v = res[k]
        print(f"{k}: {v:.3f}" if v is not None else f"{k}: n/a")
    if a.json:
        a.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
