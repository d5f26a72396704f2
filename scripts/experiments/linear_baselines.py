#!/usr/bin/env python3
"""Two linear baselines measured against the shipped rules, on training data only (the
CFPB dev split and the project's labelled real narratives; never wallet_test.csv).
Recorded in docs/evaluation.md ("Two linear baselines", 2026-12-03); not part of the tests.

  1. TF-IDF word uni- and bigrams + logistic regression, trained on the dev split's Issue:
     5-fold cross-validated macro-F1 of the primary category (3 shuffles, averaged).
  2. The rules' own phrases with learned weights: logistic regression, one per category,
     over which phrases the rules found (their `evidence`) and the six rules scores,
     trained on the dev split (Issue) and the 284 labelled narratives; scored on the 65
     dev-split complaints labelled by definition (blind to the rules), and by 5-fold
     cross-validation on the narratives and on the dev split.

Every score is `walletwatch eval`'s own (`--predictions`), so it is computed exactly as the
README's are. Needs scikit-learn (pip install scikit-learn), a release build, and ../shared.
Usage (from the repository's root): scripts/experiments/linear_baselines.py [BINARY]
"""
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold

CATS = ["failed_transaction", "fund_security", "account_takeover", "data_leak", "fraud", "service"]
SERVICE = ["Problem with customer service", "Other service problem",
           "Managing, opening, or closing your mobile wallet account", "Unexpected or other fees",
           "Confusing or missing disclosures", "Confusing or misleading advertising or marketing"]
ISSUE = {"Fraud or scam": "fraud",
         "Unauthorized transactions or other transaction problem": "fund_security",
         "Money was not available when promised": "failed_transaction",
         "Wrong amount charged or received": "failed_transaction",
         "Problem adding money": "failed_transaction",
         "Trouble accessing funds in your mobile or digital wallet": "fund_security",
         **{s: "service" for s in SERVICE}}
BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/walletwatch"
DEV = "../shared/data/cfpb/wallet_dev.csv"


def macro_f1(labelled, answers, tmp):
    """`walletwatch eval`'s macro-F1 of `answers` ({id: [categories, main first]}) against
    the labelled file (CFPB CSV: the Issue's category, primary scored; NDJSON: labels)."""
    path = Path(tmp) / "answers.ndjson"
    path.write_text("".join(json.dumps({"id": i, "categories": c}) + "\n" for i, c in answers.items()))
    out = subprocess.run([BIN, "-q", "eval", "--json", "--bootstrap", "0", "--input", str(labelled),
                          "--predictions", str(path)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)["macro_f1"]


def dev_rows():
    return [(r["Complaint ID"], r["Consumer complaint narrative"], ISSUE[r["Issue"]])
            for r in csv.DictReader(open(DEV, newline="")) if r["Issue"] in ISSUE]


def tfidf_baseline(tmp):
    rows = dev_rows()
    x = np.array([t for _, t, _ in rows], dtype=object)
    y = np.array([c for _, _, c in rows])
    scores = []
    for seed in range(3):
        pred = np.empty(len(y), dtype=object)
        for tr, te in StratifiedKFold(5, shuffle=True, random_state=seed).split(x, y):
            v = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
            m = LogisticRegression(C=1, class_weight="balanced", max_iter=2000)
            m.fit(v.fit_transform(x[tr]), y[tr])
            pred[te] = m.predict(v.transform(x[te]))
        scores.append(macro_f1(DEV, {i: [p] for (i, _, _), p in zip(rows, pred)}, tmp))
    print(f"TF-IDF + logistic regression, dev split 5-fold CV (Issue, primary): {np.mean(scores):.3f}")


def rules_features(tmp, name, docs):
    """(id, features, gold labels, the rules' labels) of each (id, text, gold) document."""
    path = Path(tmp) / f"{name}.ndjson"
    path.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t, _ in docs))
    out = subprocess.run([BIN, "-q", "classify", "--input", str(path)], check=True,
                         capture_output=True, text=True).stdout
    rows = []
    for line, (i, _, gold) in zip(out.splitlines(), docs):
        r = json.loads(line)
        f = {f"{e['category']}|{d.lower()}": 1.0 for e in r["evidence"] for d in e["detail"]}
        f.update({f"score|{c}": r["scores"][c] for c in CATS})
        rows.append((i, f, gold, r["categories"]))
    return rows


def fit_predict(train, test, c=0.1):
    dv = DictVectorizer()
    x, xt = dv.fit_transform([r[1] for r in train]), dv.transform([r[1] for r in test])
    p = np.zeros((len(test), len(CATS)))
    for k, cat in enumerate(CATS):
        y = np.array([cat in r[2] for r in train])
        if y.any():
            m = LogisticRegression(C=c, class_weight="balanced", max_iter=3000).fit(x, y)
            p[:, k] = m.predict_proba(xt)[:, 1]
    return [[CATS[i] for i in np.argsort(-q) if q[i] >= 0.5] or ["other"] for q in p]


def cross_validated(rows, extra):
    """{id: answer} of each of `rows`, from a fit on the other folds and `extra`."""
    pred = {}
    for tr, te in KFold(5, shuffle=True, random_state=0).split(rows):
        test = [rows[i] for i in te]
        for r, p in zip(test, fit_predict(extra + [rows[i] for i in tr], test)):
            pred[r[0]] = p
    return pred


def labelled(tmp, set_name, extra=()):
    """scripts/labelled.py's file of `set_name`, and its (id, text, labels)."""
    out = Path(tmp) / f"{set_name}.labels.ndjson"
    subprocess.run(["python3", "scripts/labelled.py", set_name, str(out), *extra],
                   check=True, capture_output=True)
    docs = [(d["id"], d["text"], d["labels"]) for d in map(json.loads, out.read_text().splitlines())]
    return out, docs


def learned_weights(tmp):
    dev = rules_features(tmp, "dev", [(i, t, [c]) for i, t, c in dev_rows()])
    narr_file, narr_docs = labelled(tmp, "cfpb-narratives")
    other_file, other_docs = labelled(tmp, "cfpb-dev-other", ["--distinct"])
    narr = rules_features(tmp, "narr", narr_docs)
    other = rules_features(tmp, "other", other_docs)
    rules = lambda rows: {r[0]: r[3] for r in rows}
    learned_other = {r[0]: p for r, p in zip(other, fit_predict(dev + narr, other))}
    print("                                   rules   learned weights")
    print(f"65 dev-split complaints (labelled) {macro_f1(other_file, rules(other), tmp):.3f}   "
          f"{macro_f1(other_file, learned_other, tmp):.3f}")
    print(f"284 narratives, 5-fold CV          {macro_f1(narr_file, rules(narr), tmp):.3f}   "
          f"{macro_f1(narr_file, cross_validated(narr, dev), tmp):.3f}")
    print(f"dev split (Issue, primary), 5-fold {macro_f1(DEV, rules(dev), tmp):.3f}*  "
          f"{macro_f1(DEV, cross_validated(dev, narr), tmp):.3f}")
    print("* in-sample: the lexicons were tuned on the dev split")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        tfidf_baseline(tmp)
        learned_weights(tmp)
