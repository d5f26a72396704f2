#!/usr/bin/env python3
"""A threshold per category for a model's heads, chosen on one labelled set's answers.

Usage:
  scripts/experiments/thresholds.py choose ANSWERS.ndjson LABELLED > THRESHOLDS.json
  scripts/experiments/thresholds.py apply THRESHOLDS.json ANSWERS.ndjson OUT.ndjson

ANSWERS are `classify --input` lines or `train --cv-predictions` files (`id`, `scores`).
A category is assigned where its score reaches its threshold, highest score first; when
none does, the most likely category is kept if it reaches half of its own threshold (as
models/head's heads do with one threshold, 0.5), else `other`.

`choose` finds thresholds in {0.20, 0.25, ..., 0.80} by coordinate ascent on the macro-F1
that `walletwatch eval --input LABELLED --predictions` reports (three sweeps over the
categories in DESIGN.md's order, starting from 0.5; a change must raise the score), and
prints them with the score before and after. `apply` writes the answers decided with
them, for `walletwatch eval --predictions`. Set WALLETWATCH to the binary (default
target/release/walletwatch). Used for the "threshold per category" entry of
docs/evaluation.md.
"""
import json
import os
import subprocess
import sys
import tempfile

CATEGORIES = ["failed_transaction", "fund_security", "account_takeover", "data_leak",
              "fraud", "service"]
GRID = [round(0.20 + 0.05 * i, 2) for i in range(13)]
BINARY = os.environ.get("WALLETWATCH", "target/release/walletwatch")


def read(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def decide(scores, t):
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    cats = [c for c, p in ranked if p >= t[c]]
    if not cats:
        best, p = ranked[0]
        cats = [best] if p >= t[best] / 2 else ["other"]
    return cats


def write(answers, t, path):
    with open(path, "w", encoding="utf-8") as w:
        for a in answers:
            cats = decide(a["scores"], t)
            w.write(json.dumps({"id": a["id"], "categories": cats, "primary_category": cats[0],
                                "scores": a["scores"], "classifier": "thresholds"},
                               ensure_ascii=False) + "\n")


def score(answers, t, labelled, tmp):
    write(answers, t, tmp)
    out = subprocess.run([BINARY, "-q", "eval", "--input", labelled, "--predictions", tmp,
                          "--bootstrap", "0", "--json"],
                         check=True, capture_output=True, text=True).stdout
    d = json.loads(out)
    return d["macro_f1"], d["primary_accuracy"]


def choose(answers_path, labelled):
    answers = read(answers_path)
    t = {c: 0.5 for c in CATEGORIES}
    with tempfile.TemporaryDirectory() as d:
        tmp = os.path.join(d, "answers.ndjson")
        start = score(answers, t, labelled, tmp)
        best = start
        for _ in range(3):
            changed = False
            for c in CATEGORIES:
                for v in GRID:
                    if v == t[c]:
                        continue
                    trial = dict(t, **{c: v})
                    s = score(answers, trial, labelled, tmp)
                    if s[0] > best[0] + 1e-9:
                        best, t, changed = s, trial, True
            if not changed:
                break
    json.dump({"thresholds": t, "chosen_on": labelled,
               "macro_f1_before": start[0], "primary_accuracy_before": start[1],
               "macro_f1_after": best[0], "primary_accuracy_after": best[1]},
              sys.stdout, indent=1)
    print()


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "choose":
        choose(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == "apply":
        with open(sys.argv[2], encoding="utf-8") as f:
            t = json.load(f)["thresholds"]
        write(read(sys.argv[3]), t, sys.argv[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
