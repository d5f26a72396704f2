"""Peer of benches/forum_parse.rs: the same post pages parsed with parsel (Scrapy's selector
library, lxml underneath) and the same CSS selectors as data/sites/heimao.toml.

    python3 bench/forum_peer.py DIR [PAGES]     (DIR written by `cargo bench --bench forum_parse -- --dump DIR`)
"""
import re
import sys
import time
from pathlib import Path

from parsel import Selector

LABELS = {"provider": "投诉对象", "issue": "投诉问题", "demand": "投诉要求", "amount": "涉诉金额", "status": "投诉进度"}
POST_ID = re.compile(r"/complaint/view/(\d+)")


def text(sel):
    lines = (l.strip() for l in "".join(sel.css("::text").getall()).splitlines())
    return [l for l in lines if l]


def parse(url, body):
    doc = Selector(text=body.decode("utf-8"))
    rec = {"url": url, "post_id": POST_ID.search(url).group(1)}
    h1 = doc.css("h1.article")
    if not h1:
        raise ValueError("no title")
    rec["title"] = " ".join(text(h1[0]))
    cont = doc.css(".ts-d-steplist .ts-d-cont")
    if cont:
        rec["body"] = "\n".join(text(cont[0]))
    rec["date"] = " ".join(text(doc.css("span.u-date")[0]))
    items = doc.css("ul.ts-q-list li")
    for field, label in LABELS.items():
        for li in items:
            t = " ".join(text(li)).lstrip()
            if t.startswith(label):
                rec[field] = t[len(label):].lstrip("：: \t")
                break
    return rec


def run(d, pages):
    files = sorted(d.glob("*.html"))
    data = [((f.with_suffix(".url")).read_text(), f.read_bytes()) for f in files]
    t = time.perf_counter()
    for i in range(pages):
        url, body = data[i % len(data)]
        parse(url, body)
    s = time.perf_counter() - t
    size = sum(len(b) for _, b in data) // len(data)
    print(f"parsel {d.name} ({size} bytes): {pages} in {s:.2f} s = {pages / s:.0f} pages/s ({pages * size / s / 1e6:.1f} MB/s)")


if __name__ == "__main__":
    root = Path(sys.argv[1])
    pages = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    run(root / "plain", pages)
    run(root / "chrome", pages // 10)
