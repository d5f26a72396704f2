#!/usr/bin/env python3
"""Joins data/labels/heimao_2020_labels.ndjson (our labels, by line) with the real
黑猫投诉 posts in ../shared/data/heimao/heimao_2020_99.ndjson into the NDJSON that
`walletwatch eval --input` reads (id, title, text, labels).

Usage: scripts/heimao_labelled.py OUT.ndjson [SHARED_DIR]
"""
import json
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)
out = sys.argv[1]
shared = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "..", "shared")
posts_path = os.path.join(shared, "data", "heimao", "heimao_2020_99.ndjson")
labels_path = os.path.join(root, "data", "labels", "heimao_2020_labels.ndjson")

with open(posts_path, encoding="utf-8") as f:
    posts = [json.loads(line) for line in f if line.strip()]
n = 0
with open(labels_path, encoding="utf-8") as f, open(out, "w", encoding="utf-8") as w:
    for k, line in enumerate(f, 1):
        lab = json.loads(line)
        i = lab["line"]
        if not 1 <= i <= len(posts):
            sys.exit(f"{labels_path}:{k}: line {i} is not in {posts_path} ({len(posts)} lines)")
        post = posts[i - 1]
        if post["投诉标题"].strip() != lab["title"]:
            sys.exit(f"{labels_path}:{k}: title {lab['title']!r} is not line {i}'s ({post['投诉标题'].strip()!r})")
        w.write(json.dumps({
            "id": f"heimao-{i}",
            "title": lab["title"],
            "text": post["投诉详情"],
            "labels": lab["labels"],
        }, ensure_ascii=False) + "\n")
        n += 1
print(f"{out}: {n} labelled complaints", file=sys.stderr)
