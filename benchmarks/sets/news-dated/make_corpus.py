"""Build corpus.jsonl for the news-dated question set, deterministically (stdlib only).

    python benchmarks/sets/news-dated/make_corpus.py            # from the repository root
    python benchmarks/sets/news-dated/make_corpus.py --indosum PATH --out PATH

Why: the news-dated questions test date handling (absolute dates, periods, relative dates, timelines, and
refusals when the asked date is not covered). That only works if every document carries a trustworthy
publication date and if the corpus holds several articles on the same people and stories on different days.

Contents:
- the 5 sample articles in data/articles/*.txt (id = file name without extension, text = file content exactly,
  title = first non-empty line); `source`/`published` only where the article states them plainly, otherwise
  no `published` key at all (never a guessed date);
- 300 IndoSum records (other fields copied unchanged, `category` kept) with `published` = the Unix timestamp
  at the start of the id, as a date in Asia/Jakarta time. They are, in the original file order:
  every article the questions use (QUESTION_ARTICLES), every article whose title or text matches TOPIC_RE
  (the same people and stories on other dates: the distractors that make the date matter), and a
  random.Random(SEED).sample of the remaining records to fill up to N_INDOSUM.
The script fails if any gold, timeline or near article of questions.jsonl is missing from the output.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
SEED = 20241130
N_INDOSUM = 300
JAKARTA = ZoneInfo("Asia/Jakarta")

# Only what the sample article itself states plainly (dateline / byline).
SAMPLE_META: dict[str, dict[str, str]] = {
    "000_b6d17de1e838a30c": {"source": "Liputan6.com", "published": "2024-11-30"},
    "002_e8bda2d6a24d6eac": {"source": "Metrotvnews.com", "published": "2024-11-12"},
}

# IndoSum articles used by questions.jsonl (gold, timeline and near articles).
QUESTION_ARTICLES: tuple[str, ...] = (
    "1472925641-tidur-di-rapat-kim-jong-un-hukum-mati-2-pejabat-pa",
    "1473986756-korea-utara-ancam-jadikan-washington-tumpukan-debu",
    "1491785144-alasan-polda-metro-jaya-minta-sidang-ahok-ditunda",
    "1492739392-ahok-dituntut-1-tahun-bui",
    "1493749800-kpk-akan-jerat-pihak-yang-sembunyikan-miryam",
    "1494467560-fahmi-darmawansyah-dituntut-hukuman-4-tahun-penjar",
    "1494618006-vonis-ahok-dinilai-setara-institute-bermotif-polit",
    "1494716505-penahanan-ahok-yang-terus-dipertanyakan",
    "1495570020-kpk-berharap-hakim-tolak-praperadilan-miryam",
    "1495842420-kpai-usut-di-balik-aksi-anak-teriak-bunuh-ahok",
    "1496478600-dovizioso-tercepat-rossi-terpuruk-di-posisi-15",
    "1496796300-pan-siapkan-3-nama-di-pansus-hak-angket-kpk",
    "1497508200-pansus-kpk-panggil-miryam-senin-pekan-depan",
    "1498188600-jaksa-minta-hakim-tolak-pencabutan-bap-miryam",
    "1499019300-marquez-bicara-8-kali-pole-position-di-gp-jerman",
    "1500322140-pejabat-bakamla-hadapi-vonis-suap-pemantauan-satel",
    "1502646000-marquez-rebut-pole-rossi-tak-di-grid-depan",
    "1502865488-india-berniat-usir-pengungsi-rohingya",
    "1503380307-kasus-e-ktp-pengacara-miryam-sempat-pengaruhi-saks",
    "1503908072-bangladesh-paksa-puluhan-rohingya-pulang-ke-myanma",
    "1504733400-bangladesh-berencana-tempatkan-rohingya-di-pulau-t",
    "1504827000-myanmar-lobi-china-rusia-blokir-kritik-dk-pbb-soal",
    "1504976700-marquez-pebalap-tercepat-fp1-gp-san-marino",
    "1505169310-korea-utara-peringatkan-as-soal-resolusi-sanksi-uj",
    "1505213213-pbb-sebut-rohingya-jadi-korban-pemusnahan-etnis",
    "1505343834-presiden-lepas-bantuan-untuk-pengungsi-rohingya-di",
    "1505770590-giliran-kuwait-usir-dubes-korea-utara",
    "1505859818-penjelasan-bnpb-soal-kabar-gunung-agung-meletus",
    "1507073400-perpanjangan-kerja-pansus-hak-angket-kpk-dinilai-p",
    "1508034746-bnpb-darurat-gunung-agung-diperpanjang",
    "1508122968-djarot-akan-besuk-ahok-di-penjara-setelah-pensiun",
    "1508233130-ngaku-masih-pemulihan-novanto-janji-datang-ke-kpk",
    "1508564432-pvmbg-evaluasi-status-awas-gunung-agung",
    "1508643877-lebarkan-sungai-anies-enggan-terburu-buru-menggusu",
    "1508644120-marc-marquez-kunci-pole-position-pada-balapan-gp-a",
    "1510015773-setnov-mangkir-lagi-alasannya-tak-ada-izin-preside",
    "1510129464-pengacara-setya-novanto-ancam-pidanakan-kpk",
    "1510391999-anies-jamin-akan-tunaikan-kontrak-politik-dengan-b",
    "1510778961-kpk-minta-setnov-penuhi-panggilan-sebagai-tersangk",
    "1510792166-setnov-tak-akan-penuhi-panggilan-kpk-sampai-ada-pu",
    "1510968407-wartawan-sopir-setya-novanto-jadi-tersangka",
    "1511057036-anies-resmikan-44-posko-pengaduan-untuk-warga-jaka",
    "1511061484-tak-ada-bercak-darah-di-mobil-yang-ditumpangi-nova",
    "1511250981-novanto-siap-lepas-ketua-dpr-dan-golkar-asal",
    "1511572043-putri-setya-novanto-mangkir-dari-panggilan-kpk",
    "1511589600-ini-alasan-jaksa-agung-tolak-lindungi-setya-novant",
    "1512521100-gunung-agung-erupsi-ojk-belum-waspadai-kredit-berm",
    "1512651600-polisi-sebut-setnov-ingin-kasus-kecelakaannya-dihe",
    "1513160004-anies-soal-banjir-jakarta-kami-disumpah-untuk-mela",
    "1513214722-kpk-disebut-paksa-hakim-putuskan-praperadilan-hari",
    "1513295866-hakim-tetapkan-praperadilan-setya-novanto-gugur",
    "1514586266-kpk-bawa-setnov-cek-kesehatan-ke-rspad-gatot-subro",
    "1517910078-pansus-angket-kpk-awalnya-galak-sekarang",
)

# Same stories and people as the questions, on other dates.
TOPIC_RE = re.compile(
    r"setya novanto|setnov|e ?- ?ktp|ktp ?- ?e|ktp el|miryam|ahok|basuki tjahaja|gunung agung|rohingya"
    r"|marquez|valentino rossi|dovizioso|motogp|korea utara|korut|kim jong|pyongyang|anies|pansus"
    r"|hak angket|bakamla|djarot"
)


def published_date(doc_id: str) -> str:
    """IndoSum ids start with the article's Unix timestamp; return its Asia/Jakarta calendar date."""
    stamp = int(doc_id.split("-", 1)[0])
    return datetime.fromtimestamp(stamp, JAKARTA).date().isoformat()


def sample_docs(articles_dir: Path) -> list[dict]:
    docs = []
    for path in sorted(articles_dir.glob("*.txt")):
        text = path.read_bytes().decode("utf-8")
        title = next((line.strip() for line in text.splitlines() if line.strip()), "")
        meta = SAMPLE_META.get(path.stem, {})
        doc = {"id": path.stem, "title": title, "text": text, "source": meta.get("source", ""), "url": ""}
        if "published" in meta:
            doc["published"] = meta["published"]
        docs.append(doc)
    return docs


def indosum_docs(indosum: Path) -> list[dict]:
    with indosum.open(encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    position = {r["id"]: i for i, r in enumerate(records)}
    missing = [doc_id for doc_id in QUESTION_ARTICLES if doc_id not in position]
    assert not missing, f"question articles not in IndoSum: {missing}"
    chosen = {position[doc_id] for doc_id in QUESTION_ARTICLES}
    chosen |= {i for i, r in enumerate(records) if TOPIC_RE.search((r["title"] + " " + r["text"]).lower())}
    assert len(chosen) <= N_INDOSUM, len(chosen)
    rest = [i for i in range(len(records)) if i not in chosen]
    chosen |= set(random.Random(SEED).sample(rest, N_INDOSUM - len(chosen)))
    docs = []
    for i in sorted(chosen):
        r = records[i]
        doc = {
            "id": r["id"],
            "title": r["title"],
            "text": r["text"],
            "source": r.get("source", ""),
            "url": r.get("url", ""),
            "published": published_date(r["id"]),
        }
        if "category" in r:
            doc["category"] = r["category"]
        docs.append(doc)
    return docs


def check_questions(known: set[str]) -> None:
    questions = HERE / "questions.jsonl"
    if not questions.exists():
        return
    for line in questions.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        q = json.loads(line)
        refs = list(q.get("gold_articles", []))
        refs += [event["article"] for event in q.get("timeline", [])]
        if q.get("near_article"):
            refs.append(q["near_article"])
        for doc_id in refs:
            assert doc_id in known, f"{q['id']}: article {doc_id} not in the corpus"


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
    check_questions(set(ids))

    with args.out.open("w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
    print(f"wrote {len(docs)} documents to {args.out}")


if __name__ == "__main__":
    main()
