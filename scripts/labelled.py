#!/usr/bin/env python3
"""Joins a labels file of data/labels/ (our labels, keyed by position) with the real
complaints it labels in ../shared/data into the NDJSON `walletwatch eval --input` and
`walletwatch train --input` read (id, title, text, labels). Only the labels live in
this repository; the complaints stay in ../shared.

Usage: scripts/labelled.py SET OUT.ndjson [SHARED_DIR] [--distinct] [--as-predictions]
  SET  heimao           data/labels/heimao_2020_labels.ndjson: the 99 黑猫投诉 posts of
                        heimao/heimao_2020_99.ndjson, by line (`line`, checked by `title`)
       heimao-homepage  data/labels/heimao_homepage_labels.ndjson: the 38 complaint cards of
                        heimao/homepage_2020.html that are not among the 99 (title and the
                        text's opening), by 投诉编号 (`complaint_id`, checked by `title`)
       cfpb-narratives  data/labels/cfpb_narratives_labels.ndjson: the 284 money-transfer
                        narratives of cfpb/narratives_by_product_10k.csv, by data row
                        (`row`, checked by the text's first 60 characters, `start`)
       cfpb-dev-other   data/labels/cfpb_dev_other_labels.ndjson: the 251 complaints of
                        cfpb/wallet_dev.csv whose Issue is "Other transaction problem",
                        by `complaint_id` (checked by `start`); `--distinct` keeps only
                        the 65 that are not one of the two form letters (`template`)
       cfpb-dev-mapped  data/labels/cfpb_dev_mapped_labels.ndjson: the 247 complaints of
                        cfpb/wallet_dev.csv whose Issue DESIGN.md maps to a category,
                        labelled from the narrative alone, by `complaint_id`
  --as-predictions  write the labels as a classifier's answers instead (`id` = the source's
                    own id, `categories`, `classifier`), for
                    `walletwatch eval --input SOURCE --predictions OUT`: e.g. how well our
                    reading of cfpb-dev-mapped agrees with the Issue of wallet_dev.csv
"""
import csv
import html
import json
import os
import re
import sys


def heimao(shared):
    """(key, check, title, text) for each post, keyed by its 1-based line."""
    path = os.path.join(shared, "data", "heimao", "heimao_2020_99.ndjson")
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                post = json.loads(line)
                title = post["投诉标题"].strip()
                yield n, title, title, post["投诉详情"]


def heimao_homepage(shared):
    """(key, check, title, text) for each complaint card of the saved 黑猫投诉 home page
    (its title, <h1>, and the opening of its text, <p>, cut by the site), keyed by
    投诉编号 from the card's link."""
    path = os.path.join(shared, "data", "heimao", "homepage_2020.html")
    with open(path, encoding="utf-8") as f:
        page = f.read()
    seen = set()
    for m in re.finditer(r'<a href="[^"]*/complaint/view/(\d+)">(.*?)</a>', page, re.S):
        key, card = m.group(1), m.group(2)
        title = re.search(r"<h1>(.*?)</h1>", card, re.S)
        text = re.search(r"<p>(.*?)</p>", card, re.S)
        if key in seen or not title or not text:
            continue
        seen.add(key)
        clean = lambda x: html.unescape(re.sub(r"<[^>]+>", " ", x)).strip()
        yield key, clean(title.group(1)), clean(title.group(1)), clean(text.group(1))


def cfpb_narratives(shared):
    """(key, check, title, text) for each narrative, keyed by its 1-based data row."""
    path = os.path.join(shared, "data", "cfpb", "narratives_by_product_10k.csv")
    with open(path, encoding="utf-8", newline="") as f:
        for n, row in enumerate(csv.DictReader(f), 1):
            text = row["Consumer complaint narrative"]
            yield n, " ".join(text.split())[:60], None, text


def dev_rows(shared):
    """The rows of the CFPB dev split."""
    path = os.path.join(shared, "data", "cfpb", "wallet_dev.csv")
    with open(path, encoding="utf-8", newline="") as f:
        yield from csv.DictReader(f)


def cfpb_dev_other(shared):
    """(key, check, title, text) for each dev-split complaint whose Issue is "Other
    transaction problem" (DESIGN.md maps it to no category), keyed by Complaint ID."""
    for row in dev_rows(shared):
        if row["Issue"] == "Other transaction problem":
            text = row["Consumer complaint narrative"]
            yield row["Complaint ID"], " ".join(text.split())[:60], None, text


def cfpb_dev(shared):
    """(key, check, title, text) for every dev-split complaint, keyed by Complaint ID
    (checked by the narrative's first 60 characters as they stand)."""
    for row in dev_rows(shared):
        text = row["Consumer complaint narrative"]
        yield row["Complaint ID"], text[:60], None, text


SETS = {
    "heimao": ("heimao_2020_labels.ndjson", "line", "title", heimao),
    "heimao-homepage": ("heimao_homepage_labels.ndjson", "complaint_id", "title", heimao_homepage),
    "cfpb-narratives": ("cfpb_narratives_labels.ndjson", "row", "start", cfpb_narratives),
    "cfpb-dev-other": ("cfpb_dev_other_labels.ndjson", "complaint_id", "start", cfpb_dev_other),
    "cfpb-dev-mapped": ("cfpb_dev_mapped_labels.ndjson", "complaint_id", "start", cfpb_dev),
}


def main():
    flags = {"--distinct", "--as-predictions"}
    args = [a for a in sys.argv[1:] if a not in flags]
    distinct = "--distinct" in sys.argv[1:]
    as_predictions = "--as-predictions" in sys.argv[1:]
    if len(args) not in (2, 3) or args[0] not in SETS:
        sys.exit(__doc__)
    name, out = args[0], args[1]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    shared = args[2] if len(args) > 2 else os.path.join(root, "..", "shared")
    labels_file, key, check, read = SETS[name]
    source = {k: (c, t, x) for k, c, t, x in read(shared)}
    labels_path = os.path.join(root, "data", "labels", labels_file)
    if os.path.dirname(out):
        os.makedirs(os.path.dirname(out), exist_ok=True)  # data/labels/joined/ is not committed
    n = 0
    with open(labels_path, encoding="utf-8") as f, open(out, "w", encoding="utf-8") as w:
        for lineno, line in enumerate(f, 1):
            lab = json.loads(line)
            if lab[key] not in source:
                sys.exit(f"{labels_path}:{lineno}: {key} {lab[key]} is not in the {name} source ({len(source)} complaints)")
            want, title, text = source[lab[key]]
            if distinct and lab.get("template"):
                continue
            if lab[check] != want:
                sys.exit(f"{labels_path}:{lineno}: {check} {lab[check]!r} is not {key} {lab[key]}'s ({want!r})")
            if as_predictions:
                doc = {"id": str(lab[key]), "categories": lab["labels"], "classifier": f"reader ({labels_file})"}
            else:
                doc = {"id": f"{name}-{lab[key]}", "text": text, "labels": lab["labels"]}
                if title is not None:
                    doc["title"] = title
            w.write(json.dumps(doc, ensure_ascii=False) + "\n")
            n += 1
    print(f"{out}: {n} labelled complaints ({name})", file=sys.stderr)


if __name__ == "__main__":
    main()
