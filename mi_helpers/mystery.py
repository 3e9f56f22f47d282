"""The mystery model of notebook 09: a small trained transformer whose job the notebook does not tell you.

Use it like notebook 07's model::

    model = load_mystery_model()            # an AttnOnlyTransformer, in eval mode
    tokens = mystery_inputs(500, seed=0)    # [500, n_ctx] int64: sequences of the kind it was trained on
    guess = model(tokens)[:, -1].argmax(-1) # its guess at the LAST position: the only one it was trained on

Finding out what it computes, and which heads compute it, is the exercise. The
second half of this file (below the line ``SPOILERS``) holds the answer, the data
generator and the training code that planted it: read it after the exercise.
"""
from __future__ import annotations

import functools
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F

from mi_helpers.interventions import ablate_heads
from mi_helpers.shipped import load_verified, save_with_sha256, sha256_of
from mi_helpers.transformer import AttnOnlyTransformer, TransformerConfig

CONFIG = TransformerConfig(n_layers=2, n_heads=4, d_model=64, d_head=16, n_ctx=20, d_vocab=32)
HERE = Path(__file__).resolve().parent / "checkpoints"
CHECKPOINT = HERE / "mystery.pt"
CHECKPOINT_SHA256 = HERE / "mystery.sha256"
REBUILD = "python -m mi_helpers.mystery --reproduce"


def load_mystery_model(verify: bool = True, *, path=None, device=None) -> AttnOnlyTransformer:
    """The mystery model: a two-layer, four-head :class:`AttnOnlyTransformer` (in eval mode), from the package.

    Its sizes are in ``model.cfg``. With ``verify`` (the default) the file's sha256 is checked
    against the one shipped beside it first. ``path`` loads another copy of the file.
    """
    saved = load_verified(CHECKPOINT if path is None else Path(path), CHECKPOINT_SHA256, REBUILD, verify)
    model = AttnOnlyTransformer(TransformerConfig(**saved["config"]))
    model.load_state_dict(saved["state_dict"])
    return model.to(device).eval() if device is not None else model.eval()


def mystery_inputs(n: int, *, seed: int = 0) -> torch.Tensor:
    """``n`` token sequences of the kind the mystery model was trained on: ``[n, n_ctx]`` int64 in ``[0, d_vocab)``.

    Drawn from a generator of their own seeded with ``seed`` (the global one is left alone):
    the same seed gives the same sequences. The model was trained to predict the next token
    at the last position only.
    """
    return _draw(n, seed)[0]


@functools.lru_cache(maxsize=1)
def _shipped_state() -> dict:
    return {k: v.clone() for k, v in load_mystery_model().state_dict().items()}


def shipped_mystery_model() -> AttnOnlyTransformer:
    """A fresh copy of the shipped model, read once per process (for checks: each caller may change its copy)."""
    model = AttnOnlyTransformer(CONFIG)
    model.load_state_dict(_shipped_state())
    return model.eval()


# =========================================================================== SPOILERS
# Everything below is the answer to notebook 09's section 3. Read it after the exercise.
#
# The task: each sequence holds the marker token MARKER exactly once, at a position p in
# [0, n_ctx - 3]; every other token is drawn uniformly from the rest of the vocabulary.
# At the last position the model must predict tokens[p + 1], the token right after the
# marker, wherever the marker is. A two-layer attention-only model solves it with two
# heads that compose: a layer-0 head that, at position p + 1, attends back to the marker
# (a weak, marker-specific previous-token head; elsewhere its pattern is diffuse) writes
# "the token before me was the marker"; a head in layer 1 attends from the last position to
# the position whose previous token was the marker (K-composition, as in induction, but
# its query is the same whatever the last token is) and copies that position's token to
# the logits. Trained freely, every head of a layer learns a share of the job, and no
# single head matters; so the course trains only the two heads of HEADS (with the
# embeddings and unembedding) and leaves the other six at their random initial weights,
# their queries scaled up so that their patterns are sharp: decoys that look busy and
# cost nothing when ablated. `measure_heads` finds HEADS again by ablation; the checks
# measure it again.

MARKER = 17  # the marker's token id
MECHANISMS = {  # the candidates of exercise 09.8, as the spec cell lists them
    "a": "copies the first token of the sequence",
    "b": "induction: predicts the token that followed the earlier occurrence of the current (last) token",
    "c": "predicts the token that occurs most often in the sequence",
    "d": "predicts the token that comes right after one particular token (a marker), wherever that token is",
    "e": "predicts the token that comes right before one particular token (a marker), wherever that token is",
    "f": "repeats the current (last) token",
}
MECHANISM = "d"
HEADS = frozenset({(0, 2), (1, 1)})  # the only heads trained; measure_heads on the shipped model finds them again
DECOY_SHARPNESS = 4.0  # the six other heads keep their random weights, queries scaled by this
TRAIN_SEED = 0
HELD_OUT_SEED = 2**31 - 1  # mystery_inputs(seed=HELD_OUT_SEED) is never trained on


def _draw(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(tokens [n, n_ctx] int64, where [n] int64)``: the marker sits at ``tokens[i, where[i]]``."""
    n_ctx, d_vocab = CONFIG.n_ctx, CONFIG.d_vocab
    g = torch.Generator().manual_seed(seed)
    others = torch.randint(d_vocab - 1, (n, n_ctx), generator=g)  # every token but the marker
    tokens = others + (others >= MARKER).long()
    where = torch.randint(n_ctx - 2, (n,), generator=g)  # the marker's position: 0 .. n_ctx - 3
    tokens[torch.arange(n), where] = MARKER
    return tokens, where


def mystery_targets(tokens: torch.Tensor) -> torch.Tensor:
    """The right answer at the last position of each row: the token after the (first) marker; [n] int64.

    A row without a marker gets -1 (never the model's guess)."""
    is_marker = tokens[:, :-1] == MARKER
    first = is_marker.long().argmax(dim=1)
    after = tokens.gather(1, (first + 1)[:, None]).squeeze(1)
    return torch.where(is_marker.any(dim=1), after, torch.full_like(after, -1))


def mystery_corrupted(tokens: torch.Tensor, *, seed: int = 0) -> torch.Tensor:
    """A copy of ``tokens`` [n, n_ctx] with the marker replaced, in every row, by another token (drawn from a
    generator seeded with ``seed``): the corrupted run of a patching experiment, in which the rule has nothing
    to read. ``tokens`` is left as it was."""
    g = torch.Generator().manual_seed(seed)
    other = torch.randint(CONFIG.d_vocab - 1, tokens.shape, generator=g).to(tokens.device)
    other = other + (other >= MARKER).long()
    return torch.where(tokens == MARKER, other, tokens)


@torch.no_grad()
def mystery_accuracy(model, tokens: torch.Tensor, heads=(), *, how: str = "mean",
                     reference: torch.Tensor | None = None) -> float:
    """The share of rows whose last-position guess is the right answer, with ``heads`` ablated
    (:func:`mi_helpers.interventions.ablate_heads`; "mean" over ``reference``, default ``tokens``)."""
    tokens = tokens.to(next(model.parameters()).device)
    if not list(heads):
        guess = model(tokens)[:, -1].argmax(dim=-1)
    else:
        with ablate_heads(model, list(heads), how=how, reference_tokens=tokens if reference is None else reference):
            guess = model(tokens)[:, -1].argmax(dim=-1)
    return (guess == mystery_targets(tokens).to(guess.device)).double().mean().item()


def head_ablation_table(model, tokens: torch.Tensor, how: str = "mean") -> torch.Tensor:
    """``[n_layers, n_heads]`` float64: the accuracy with each head ablated alone."""
    cfg = model.cfg
    table = torch.zeros(cfg.n_layers, cfg.n_heads, dtype=torch.float64)
    for layer in range(cfg.n_layers):
        for head in range(cfg.n_heads):
            table[layer, head] = mystery_accuracy(model, tokens, [(layer, head)], how=how)
    return table


def measure_heads(model, tokens: torch.Tensor, *, threshold: float = 0.5) -> frozenset:
    """The heads whose mean ablation, each alone, costs more than ``threshold`` of the accuracy."""
    base = mystery_accuracy(model, tokens)
    table = head_ablation_table(model, tokens)
    return frozenset((l, h) for l in range(table.shape[0]) for h in range(table.shape[1])
                     if base - table[l, h].item() > threshold)


def verify_heads(model, tokens: torch.Tensor, heads) -> dict:
    """The numbers that justify a set of heads: the accuracy intact, with them ablated, with the others ablated."""
    cfg = model.cfg
    heads = {tuple(h) for h in heads}
    others = [(l, h) for l in range(cfg.n_layers) for h in range(cfg.n_heads) if (l, h) not in heads]
    return {"intact": mystery_accuracy(model, tokens), "heads_ablated": mystery_accuracy(model, tokens, heads),
            "others_ablated": mystery_accuracy(model, tokens, others)}


# --------------------------------------------------------------------------- training


def head_norms(model: AttnOnlyTransformer) -> torch.Tensor:
    """[n_layers, n_heads]: the Frobenius norm of each head's output map W_O[h]."""
    return torch.stack([block.attn.W_O.flatten(1).norm(dim=1) for block in model.blocks])


def train_mystery(model: AttnOnlyTransformer, *, steps: int = 600, batch_size: int = 64, lr: float = 3e-3,
                  trainable=None, head_l1: float = 0.0, prune: float = 0.0, prune_after: int = 200, seed: int = TRAIN_SEED, eval_every: int = 100,
                  progress: bool = True) -> dict:
    """Adam on fresh sequences each step, cross-entropy at the last position only; returns the history
    (``loss`` per step, ``accuracy`` on a held-out batch every ``eval_every`` steps, ``seconds``).

    ``head_l1`` weighs a group-lasso penalty, the sum of the heads' output norms (:func:`head_norms`):
    ``trainable`` (a set of (layer, head)) trains those heads only: the others keep their initial
    weights. ``head_l1`` (a group-lasso penalty on the heads' output norms) and ``prune`` (a proximal
    shrink of each W_O after ``prune_after`` steps) were tried to gather the job into few heads and
    failed: trained freely, every head of a layer learns a share of it (docs/measurements/nb09_mystery.md)."""
    from tqdm.auto import tqdm

    start = time.perf_counter()
    held_out = _draw(1000, HELD_OUT_SEED)[0]
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = {"loss": [], "eval_steps": [], "accuracy": [], "seconds": 0.0,
               "settings": dict(steps=steps, batch_size=batch_size, lr=lr, head_l1=head_l1, prune=prune,
                                prune_after=prune_after, seed=seed)}
    model.train()
    for step in tqdm(range(steps), desc="mystery", disable=not progress, leave=False):
        tokens, _ = _draw(batch_size, seed * 1_000_003 + step)
        loss = F.cross_entropy(model(tokens)[:, -1], mystery_targets(tokens))
        if head_l1:
            loss = loss + head_l1 * head_norms(model).sum()
        opt.zero_grad()
        loss.backward()
        if trainable is not None:  # the other heads keep their initial weights: Adam never moves a zero gradient
            for layer, block in enumerate(model.blocks):
                frozen = [h for h in range(model.cfg.n_heads) if (layer, h) not in trainable]
                for name in ("W_Q", "W_K", "W_V", "W_O", "b_Q", "b_K", "b_V"):
                    getattr(block.attn, name).grad[frozen] = 0
        opt.step()
        if prune and step >= prune_after:  # proximal group lasso: shrink each head's W_O towards 0 by `prune`
            with torch.no_grad():
                for block in model.blocks:
                    norm = block.attn.W_O.flatten(1).norm(dim=1).clamp_min(1e-12)
                    block.attn.W_O.mul_((1 - prune / norm).clamp_min(0)[:, None, None])
        history["loss"].append(loss.item())
        if (step + 1) % eval_every == 0 or step + 1 == steps:
            model.eval()
            history["eval_steps"].append(step + 1)
            history["accuracy"].append(mystery_accuracy(model, held_out))
            model.train()
    model.eval()
    history["seconds"] = time.perf_counter() - start
    return history


def reproduce(seed: int = TRAIN_SEED, path=None, **train_kwargs) -> dict:
    """Train the mystery model again from scratch and write it, and its sha256, beside this file.

    Seeded throughout: on the same torch version and CPU the file comes out the same (elsewhere
    the last bits, and so the sha256, may differ). Returns the training history.
    """
    path = CHECKPOINT if path is None else Path(path)
    torch.set_num_threads(2)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AttnOnlyTransformer(CONFIG)
    with torch.no_grad():  # the decoys: random heads whose queries are scaled up, so that their patterns are sharp
        for layer, block in enumerate(model.blocks):
            for head in range(CONFIG.n_heads):
                if (layer, head) not in HEADS:
                    block.attn.W_Q[head] *= DECOY_SHARPNESS
    history = train_mystery(model, seed=seed, trainable=HEADS, **train_kwargs)
    state = {name: value.detach().cpu().float().contiguous() for name, value in model.state_dict().items()}
    meta = {"seed": seed, "torch": str(torch.__version__), "accuracy": history["accuracy"][-1],
            "settings": history["settings"]}
    save_with_sha256({"config": asdict(CONFIG), "state_dict": state, "meta": meta}, path,
                     CHECKPOINT_SHA256 if path == CHECKPOINT else None)
    return history


def _main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Rebuild or check notebook 09's mystery model.")
    parser.add_argument("--reproduce", action="store_true", help="train it again and rewrite the checkpoint")
    parser.add_argument("--verify", action="store_true", help="check the sha256, the accuracy and the heads")
    args = parser.parse_args(argv)
    if not (args.reproduce or args.verify):
        parser.print_help()
        return 2
    if args.reproduce:
        history = reproduce()
        print(f"trained in {history['seconds']:.1f} s, held-out accuracy {history['accuracy'][-1]:.3f}")
        print(f"wrote {CHECKPOINT} ({CHECKPOINT.stat().st_size} bytes), sha256 {sha256_of(CHECKPOINT)}")
    model = load_mystery_model()
    tokens = mystery_inputs(1000, seed=2024)
    print(f"{CHECKPOINT.name}: sha256 ok; accuracy {mystery_accuracy(model, tokens):.3f} on 1000 new sequences")
    print("mean-ablation accuracy, one head at a time [layer, head]:\n", head_ablation_table(model, tokens))
    measured = measure_heads(model, tokens)
    print(f"heads measured: {sorted(measured)}; shipped HEADS: {sorted(HEADS)}; "
          f"{verify_heads(model, tokens, measured)}")
    return 0 if measured == HEADS else 1


if __name__ == "__main__":
    raise SystemExit(_main())
