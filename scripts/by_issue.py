#!/usr/bin/env python3
"""Cross-tabulates answers (the NDJSON `walletwatch classify --input` writes, or
`scripts/labelled.py SET OUT --as-predictions`) by the CFPB Issue of each complaint: how
each Issue's complaints were answered (main category), as `eval`'s confusion table does
by the Issue's mapped category. Complaints are matched by Complaint ID = the answer's `id`.

Usage: scripts/by_issue.py CFPB.csv ANSWERS.ndjson
"""
import collections
import csv
import json
import sys

CATS = ["failed_transaction", "fund_security", "account_takeover", "data_leak", "fraud", "service", "other"]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    answers = {}
    with open(sys.argv[2], encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                a = json.loads(line)
                answers[str(a["id"])] = a.get("primary_category") or a["categories"][0]
    table = collections.defaultdict(collections.Counter)
    with open(sys.argv[1], encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if row["Complaint ID"] in answers:
                table[row["Issue"]][answers[row["Complaint ID"]]] += 1
    print("| Issue | n | " + " | ".join(CATS) + " |")
    print("|---|---:|" + "---:|" * len(CATS))
    for issue, c in sorted(table.items(), key=lambda kv: -sum(kv[1].values())):
        print(f"| {issue} | {sum(c.values())} | " + " | ".join(str(c[k]) for k in CATS) + " |")


if __name__ == "__main__":
    main()
