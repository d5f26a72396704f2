#!/usr/bin/env python3
"""The mean of two classifiers' answers, decided as a head decides.

Usage: scripts/experiments/ensemble.py A.ndjson B.ndjson OUT.ndjson

A and B are `classify --input` lines (or `train --cv-predictions` files) with `id` and
`scores`; OUT gets one line per id of A that B answers too, with the mean of the six
scores: every category at >= 0.5, highest first; else the most likely one if it reaches
0.25 (half the threshold, as models/head's heads do); else `other`. Score OUT with
`walletwatch eval --input LABELLED --predictions OUT`. Used for the "Both models at once"
entry of docs/evaluation.md.
"""
import json
import sys

THRESHOLD = 0.5


def read(path):
    with open(path, encoding="utf-8") as f:
        return {str(d["id"]): d for d in map(json.loads, f)}


def decide(scores):
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    cats = [c for c, p in ranked if p >= THRESHOLD]
    if not cats:
        best, p = ranked[0]
        cats = [best] if p >= THRESHOLD / 2 else ["other"]
    return cats


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    a, b = read(sys.argv[1]), read(sys.argv[2])
    n = 0
    with open(sys.argv[3], "w", encoding="utf-8") as w:
        for id_, da in a.items():
            db = b.get(id_)
            if db is None:
                continue
            mean = {k: (da["scores"][k] + db["scores"][k]) / 2 for k in da["scores"]}
            cats = decide(mean)
            w.write(json.dumps({"id": id_, "categories": cats, "primary_category": cats[0],
                                "scores": mean, "classifier": "mean of two"}) + "\n")
            n += 1
    print(f"{sys.argv[3]}: {n} answers (of {len(a)} and {len(b)})", file=sys.stderr)


if __name__ == "__main__":
    main()
