"""What cross-file context buys, measured on a tiny model: the same examples and
splits exported with `--context full` and with `--context none`, the same small
causal transformer trained on each train split for the same steps from the same
seed, on CPU, and each scored on its own test split: the mean loss over the target's
tokens (the labels; context positions are -100 and not scored).

    python bench/ablation.py REPO [--db URL] [--steps 300] [--max-tokens 1024]

Without --db it backfills REPO into a temporary store. A bench, not a test: the
figures are for reading, and a model this small learns mostly the surface of Rust.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from indexer.dataset.loader import IGNORE_INDEX, ExportDataset, collate

CLI = Path(sys.executable).parent / "commit-indexer"


class TinyLM(nn.Module):
    def __init__(self, vocab: int, width: int = 128, layers: int = 2, max_len: int = 2048) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.position = nn.Embedding(max_len, width)
        layer = nn.TransformerEncoderLayer(
            width, nhead=4, dim_feedforward=4 * width, dropout=0.0, batch_first=True
        )
        self.body = nn.TransformerEncoder(layer, layers)
        self.head = nn.Linear(width, vocab)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The hidden states (the head is applied where a loss is taken: `_loss`)."""
        n = ids.shape[1]
        x = self.embed(ids) + self.position(torch.arange(n))
        causal = torch.ones(n, n, dtype=torch.bool).triu(1)  # True: may not attend
        return self.body(x, mask=causal, src_key_padding_mask=mask == 0, is_causal=True)


def _loss(model: TinyLM, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """The summed loss over the target's tokens, and their number. The vocabulary head
    runs only at those positions: context positions are most of an example."""
    hidden = model(batch["input_ids"], batch["attention_mask"])[:, :-1]
    labels = batch["labels"][:, 1:]
    scored = labels != IGNORE_INDEX
    logits = model.head(hidden[scored])
    total = nn.functional.cross_entropy(logits, labels[scored], reduction="sum")
    return total, int(scored.sum())


def run(folder: Path, steps: int, seed: int, batch_size: int) -> dict[str, float]:
    vocab = json.loads((folder / "manifest.json").read_text())["tokenizer"]["vocab_size"]
    torch.manual_seed(seed)
    model = TinyLM(vocab)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    train = ExportDataset(folder, "train")
    order = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    step = 0
    while step < steps:
        for index in torch.randperm(len(train), generator=order).split(batch_size):
            batch = collate([train[int(i)] for i in index])
            total, n = _loss(model, batch)
            (total / max(n, 1)).backward()
            opt.step()
            opt.zero_grad()
            step += 1
            if step == steps:
                break
    trained = time.perf_counter() - start
    model.eval()
    scores = {}
    with torch.no_grad():
        for split in ("validation", "test"):
            data = ExportDataset(folder, split)
            total, n = 0.0, 0
            for at in range(0, len(data), batch_size):
                batch = collate([data[i] for i in range(at, min(len(data), at + batch_size))])
                loss, count = _loss(model, batch)
                total, n = total + float(loss), n + count
            scores[split] = total / max(n, 1)
            scores[f"{split}_tokens"] = n
    scores["train_seconds"] = trained
    return scores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("repo")
    ap.add_argument("--db")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(2)
    tmp = Path(tempfile.mkdtemp(prefix="commit-indexer-ablation-"))
    db = args.db or f"sqlite:///{tmp}/index.db"
    if not args.db:
        subprocess.run([str(CLI), "backfill", "--repo", args.repo, "--db", db], check=True)
    print(
        f"repo: {args.repo}  steps {args.steps}  batch {args.batch_size}"
        f"  max tokens {args.max_tokens}  seed {args.seed}"
    )
    for context in ("full", "none"):
        out = tmp / context
        subprocess.run(
            [
                str(CLI),
                "export",
                str(out),
                "--repo",
                args.repo,
                "--db",
                db,
                "--context",
                context,
                "--max-tokens",
                str(args.max_tokens),
            ],
            check=True,
            capture_output=True,
        )
        s = run(out, args.steps, args.seed, args.batch_size)
        print(
            f"--context {context:<5} test loss {s['test']:.3f} (ppl {math.exp(s['test']):.1f},"
            f" {s['test_tokens']} target tokens)  val loss {s['validation']:.3f}"
            f"  trained in {s['train_seconds']:.0f} s"
        )


if __name__ == "__main__":
    main()
