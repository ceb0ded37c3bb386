"""Build corpus.jsonl for the news-bi question set, deterministically.

    python benchmarks/sets/news-bi/make_corpus.py            # from the repository root
    python benchmarks/sets/news-bi/make_corpus.py --indosum PATH --out PATH

Contents: the 5 sample articles in data/articles/*.txt (id = file name without extension, text = file content
exactly, title = first non-empty line) followed by 150 IndoSum records, copied unchanged, chosen with
random.Random(17).sample over the records in file order (written in their original file order).
The questions in questions.jsonl refer to these ids; the script fails if any gold/near article is missing.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
SEED = 17
N_INDOSUM = 150

# Only what the sample article itself states plainly (dateline / byline); everything else is left empty.
SAMPLE_META = {
    "000_b6d17de1e838a30c": {"source": "Liputan6.com"},
    "002_e8bda2d6a24d6eac": {"source": "Metrotvnews.com", "published": "2024-11-12"},
}


def sample_docs(articles_dir: Path) -> list[dict]:
    docs = []
    for path in sorted(articles_dir.glob("*.txt")):
        text = path.read_bytes().decode("utf-8")
        title = next((line.strip() for line in text.splitlines() if line.strip()), "")
        meta = SAMPLE_META.get(path.stem, {})
        docs.append(
            {
                "id": path.stem,
                "title": title,
                "text": text,
                "source": meta.get("source", ""),
                "url": "",
                "published": meta.get("published", ""),
            }
        )
    return docs


def indosum_docs(indosum: Path) -> list[dict]:
    with indosum.open(encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    chosen = set(random.Random(SEED).sample(range(len(records)), N_INDOSUM))
    return [records[i] for i in sorted(chosen)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=Path, default=ROOT / "data" / "articles")
    parser.add_argument("--indosum", type=Path, default=ROOT / "data" / "indosum-news" / "articles.jsonl")
    parser.add_argument("--out", type=Path, default=HERE / "corpus.jsonl")
    args = parser.parse_args()

    docs = sample_docs(args.articles) + indosum_docs(args.indosum)
    ids = [d["id"] for d in docs]
    assert len(ids) == len(set(ids)), "duplicate document ids"
    assert len(docs) == 5 + N_INDOSUM, len(docs)

    questions = HERE / "questions.jsonl"
    if questions.exists():
        known = set(ids)
        for line in questions.read_text(encoding="utf-8").splitlines():
            if line.strip():
                q = json.loads(line)
                refs = list(q.get("gold_articles", []))
                if q.get("near_article"):
                    refs.append(q["near_article"])
                for doc_id in refs:
                    assert doc_id in known, f"{q['id']}: article {doc_id} not in the corpus"

    with args.out.open("w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
    print(f"wrote {len(docs)} documents to {args.out}")


if __name__ == "__main__":
    main()
