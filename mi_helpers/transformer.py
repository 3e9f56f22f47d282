"""A small attention-only transformer, the repeated-sequence task it learns, and its checkpoint.

Shapes, in the order a forward pass meets them (``batch`` sequences of ``pos`` tokens)::

    tokens                         [batch, pos]                 integers in [0, d_vocab)
    hook_embed, hook_pos_embed     [batch, pos, d_model]        W_E[tokens], W_pos[:pos]
    blocks.i.hook_resid_pre        [batch, pos, d_model]        the residual stream entering block i
      attn.hook_q / hook_k / hook_v  [batch, pos, head, d_head]   one query, key, value per head
      attn.hook_attn_scores        [batch, head, query_pos, key_pos]   q·k / sqrt(d_head), -inf above the diagonal
      attn.hook_pattern            [batch, head, query_pos, key_pos]   softmax over key_pos: each row sums to 1
      attn.hook_z                  [batch, pos, head, d_head]   the values mixed by the pattern
      attn.hook_result             [batch, pos, head, d_model]  what each head writes: z @ W_O[head]
    blocks.i.hook_attn_out         [batch, pos, d_model]        the heads' results summed, plus b_O
    blocks.i.hook_resid_post       [batch, pos, d_model]        resid_pre + attn_out
    logits                         [batch, pos, d_vocab]        resid @ W_U + b_U: a guess at the NEXT token

There is no MLP and no LayerNorm: the residual stream is only a sum of the
embeddings and of what each head writes, which is what makes every head's
contribution readable (Elhage et al., "A Mathematical Framework for Transformer
Circuits", 2021). Every intermediate value passes *through* its HookPoint, so a
hook that returns a tensor (see :mod:`mi_helpers.hooks`) changes everything
downstream: that is how ablation and patching work later in the course.

The task (:func:`repeated_sequences`) is a block of random tokens ``A`` repeated
once, ``... A A ...``, at a random offset inside random filler. The second copy
can be predicted from the first only by *induction*: find the earlier place where
the current token occurred and copy the token that followed it. That needs two
heads that compose (a previous-token head in layer 0, an induction head in layer
1); a one-layer model cannot do it. (If len(A) were the same in every row, one layer
could cheat by attending a fixed distance back, so the training rows draw their
lengths from ``TRAIN_LENGTHS``.) :func:`train_induction` trains on it in a
few seconds and records the loss curve's phase change; :func:`load_induction_model`
loads the shipped, checksummed two-layer model. ``python -m mi_helpers.transformer
--reproduce`` retrains it and rewrites the checkpoint and its sha256.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .hooks import HookPoint
from .shipped import CHECKPOINT_DIR, ChecksumError, load_verified, save_with_sha256, sha256_of  # noqa: F401


@dataclass(frozen=True)
class TransformerConfig:
    """The sizes of an :class:`AttnOnlyTransformer` (the defaults train in seconds on a CPU)."""

    n_layers: int = 2
    n_heads: int = 2
    d_model: int = 64
    d_head: int = 16
    n_ctx: int = 40
    d_vocab: int = 48
    positional: str = "learned"  # or "sinusoidal": a fixed buffer, not a parameter

    def __post_init__(self):
        if self.positional not in ("learned", "sinusoidal"):
            raise ValueError(f"positional must be 'learned' or 'sinusoidal', not {self.positional!r}")


class Attention(nn.Module):
    """Multi-head causal self-attention: ``[batch, pos, d_model] -> [batch, pos, d_model]``.

    The weights are kept per head (``W_Q[h]`` is head h's ``[d_model, d_head]`` query
    map), not packed into one big matrix, so that one head can be read on its own.
    """

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.cfg = cfg
        h, m, d = cfg.n_heads, cfg.d_model, cfg.d_head
        self.W_Q = nn.Parameter(torch.randn(h, m, d) / math.sqrt(m))
        self.W_K = nn.Parameter(torch.randn(h, m, d) / math.sqrt(m))
        self.W_V = nn.Parameter(torch.randn(h, m, d) / math.sqrt(m))
        self.b_Q = nn.Parameter(torch.zeros(h, d))
        self.b_K = nn.Parameter(torch.zeros(h, d))
        self.b_V = nn.Parameter(torch.zeros(h, d))
        self.W_O = nn.Parameter(torch.randn(h, d, m) / math.sqrt(h * d))
        self.b_O = nn.Parameter(torch.zeros(m))
        self.hook_q = HookPoint()
        self.hook_k = HookPoint()
        self.hook_v = HookPoint()
        self.hook_attn_scores = HookPoint()
        self.hook_pattern = HookPoint()
        self.hook_z = HookPoint()
        self.hook_result = HookPoint()

    def forward(self, resid: torch.Tensor) -> torch.Tensor:
        # b: batch, p/q/k: positions, h: head, m: d_model, d: d_head
        q = self.hook_q(torch.einsum("bpm,hmd->bphd", resid, self.W_Q) + self.b_Q)
        k = self.hook_k(torch.einsum("bpm,hmd->bphd", resid, self.W_K) + self.b_K)
        v = self.hook_v(torch.einsum("bpm,hmd->bphd", resid, self.W_V) + self.b_V)
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(self.cfg.d_head)
        n = resid.shape[1]
        future = torch.ones(n, n, dtype=torch.bool, device=resid.device).triu(1)  # key after query
        scores = self.hook_attn_scores(scores.masked_fill(future, float("-inf")))
        pattern = self.hook_pattern(scores.softmax(dim=-1))
        z = self.hook_z(torch.einsum("bhqk,bkhd->bqhd", pattern, v))
        result = self.hook_result(torch.einsum("bqhd,hdm->bqhm", z, self.W_O))
        return result.sum(dim=2) + self.b_O


class Block(nn.Module):
    """One attention layer that adds what it writes to the residual stream (no MLP, no LayerNorm)."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.hook_resid_pre = HookPoint()
        self.attn = Attention(cfg)
        self.hook_attn_out = HookPoint()
        self.hook_resid_post = HookPoint()

    def forward(self, resid: torch.Tensor) -> torch.Tensor:
        resid_pre = self.hook_resid_pre(resid)
        attn_out = self.hook_attn_out(self.attn(resid_pre))
        return self.hook_resid_post(resid_pre + attn_out)


def sinusoidal_positions(n_ctx: int, d_model: int) -> torch.Tensor:
    """The fixed positional embeddings of Vaswani et al. (2017): ``[n_ctx, d_model]``."""
    position = torch.arange(n_ctx, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    table = torch.zeros(n_ctx, d_model)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)[:, : d_model // 2]
    return table


class AttnOnlyTransformer(nn.Module):
    """Tokens ``[batch, pos]`` (pos <= n_ctx) -> next-token logits ``[batch, pos, d_vocab]``.

    The parameters are drawn from torch's global generator: seed it first
    (``mi_helpers.utils.seed_everything``) to get the same model every time.
    """

    def __init__(self, cfg: TransformerConfig | None = None):
        super().__init__()
        cfg = TransformerConfig() if cfg is None else cfg
        self.cfg = cfg
        self.W_E = nn.Parameter(torch.randn(cfg.d_vocab, cfg.d_model) / math.sqrt(cfg.d_model))
        if cfg.positional == "learned":
            self.W_pos = nn.Parameter(torch.randn(cfg.n_ctx, cfg.d_model) / math.sqrt(cfg.d_model))
        else:
            self.register_buffer("W_pos", sinusoidal_positions(cfg.n_ctx, cfg.d_model) / math.sqrt(cfg.d_model))
        self.hook_embed = HookPoint()
        self.hook_pos_embed = HookPoint()
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.W_U = nn.Parameter(torch.randn(cfg.d_model, cfg.d_vocab) / math.sqrt(cfg.d_model))
        self.b_U = nn.Parameter(torch.zeros(cfg.d_vocab))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.dim() != 2 or tokens.shape[1] > self.cfg.n_ctx:
            raise ValueError(f"tokens must be [batch, pos] with pos <= n_ctx={self.cfg.n_ctx}, "
                             f"got shape {tuple(tokens.shape)}")
        tokens = tokens.to(self.W_E.device)
        # W_E[tokens], written as F.embedding because its gradient is summed in a fixed order (repeatable runs)
        embed = self.hook_embed(F.embedding(tokens, self.W_E))  # [batch, pos, d_model]
        pos_embed = self.hook_pos_embed(self.W_pos[: tokens.shape[1]].to(embed.dtype).expand_as(embed))
        resid = embed + pos_embed
        for block in self.blocks:
            resid = block(resid)
        return resid @ self.W_U + self.b_U


# --------------------------------------------------------------------------- the task


@dataclass
class RepeatedBatch:
    """Sequences with one repeated block, and where the repeat is.

    tokens    [n, n_ctx] int64   random filler, a block A at ``offset``, A again right after it
    repeated  [n, n_ctx] bool    True at the second copy's tokens 1..len(A)-1: the tokens that
                                 induction can predict (the copy's first token cannot be)
    offset    [n] int64          where the first copy starts
    length    int or None        len(A) when every row has the same; None when the rows differ
    lengths   [n] int64          len(A) for each row
    """

    tokens: torch.Tensor
    repeated: torch.Tensor
    offset: torch.Tensor
    length: int | None
    lengths: torch.Tensor


def repeated_sequences(n: int, cfg: TransformerConfig | None = None, *, length: int | tuple[int, int] = 8,
                       seed: int = 0, n_ctx: int | None = None, d_vocab: int | None = None,
                       device=None) -> RepeatedBatch:
    """``n`` rows of ``... A A ...``: random filler with a random block A repeated once, at a random offset.

    ``length`` is len(A): one int for every row, or a range ``(lo, hi)`` (both included)
    from which each row draws its own (L with probability proportional to 1/(L-1), so that
    every length contributes equally many predictable tokens). The sizes come from ``cfg`` (default
    :class:`TransformerConfig`) unless ``n_ctx`` or ``d_vocab`` is given. A's tokens are
    distinct and the filler never uses them, so the second copy is predictable from
    the first and from nothing else. Each row's offset is uniform in
    ``[0, n_ctx - 2 len(A)]``, so position alone cannot tell where the repeat is.
    Draws from its own generator seeded with ``seed`` (the global one is left alone).
    """
    cfg = TransformerConfig() if cfg is None else cfg
    n_ctx = cfg.n_ctx if n_ctx is None else n_ctx
    d_vocab = cfg.d_vocab if d_vocab is None else d_vocab
    lo, hi = (length, length) if isinstance(length, int) else (int(length[0]), int(length[1]))
    if not (2 <= lo <= hi and 2 * hi <= n_ctx and hi < d_vocab):
        raise ValueError(f"need 2 <= length, 2 * length <= n_ctx ({n_ctx}) and length < d_vocab ({d_vocab}); "
                         f"got length={length}")
    g = torch.Generator().manual_seed(seed)
    # len(A) = L with probability proportional to 1 / (L - 1): each length then gives as many
    # predictable tokens (L - 1 per row) as any other, so no single length dominates the accuracy.
    weights = 1.0 / (torch.arange(lo, hi + 1, dtype=torch.float64) - 1)
    lengths = lo + torch.multinomial(weights, n, replacement=True, generator=g)
    # A random order of the vocabulary per row: A takes the first len(A) tokens, the filler the rest.
    shuffled = torch.rand(n, d_vocab, generator=g).argsort(dim=1)
    rest = torch.rand(n, n_ctx, generator=g) * (d_vocab - lengths[:, None])  # uniform in [0, d_vocab - len(A))
    tokens = shuffled.gather(1, lengths[:, None] + rest.long())
    offset = (torch.rand(n, generator=g) * (n_ctx - 2 * lengths + 1)).long()
    position = torch.arange(n_ctx)
    inside = position - offset[:, None]  # where each position lies relative to the first copy
    first = (inside >= 0) & (inside < lengths[:, None])
    second = (inside >= lengths[:, None]) & (inside < 2 * lengths[:, None])
    index = torch.where(second, inside - lengths[:, None], inside).clamp(min=0)  # index into A
    tokens = torch.where(first | second, shuffled.gather(1, index.clamp(max=d_vocab - 1)), tokens)
    repeated = second & (inside > lengths[:, None])
    if device is not None:
        tokens, repeated, offset, lengths = (t.to(device) for t in (tokens, repeated, offset, lengths))
    return RepeatedBatch(tokens, repeated, offset, lo if lo == hi else None, lengths)


@torch.no_grad()
def repeat_accuracy(model: nn.Module, batch: RepeatedBatch) -> float:
    """The fraction of repeated positions t whose token the model predicts at t-1 (argmax of its logits)."""
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        tokens = batch.tokens.to(device)
        guess = model(tokens)[:, :-1].argmax(dim=-1)  # the guess for position t sits at t-1
        hits = (guess == tokens[:, 1:])[batch.repeated[:, 1:].to(device)]
        return hits.float().mean().item()
    finally:
        model.train(was_training)


# --------------------------------------------------------------------------- training

TRAIN_LENGTHS = (4, 16)  # len(A) of the training data: each row draws its own


def train_induction(model: nn.Module, *, steps: int = 600, batch_size: int = 64, lr: float = 5e-3,
                    lengths: tuple[int, int] = TRAIN_LENGTHS, seed: int = 0, eval_every: int = 25,
                    eval_size: int = 512, progress: bool = True, desc: str = "training") -> dict:
    """Train ``model`` on fresh :func:`repeated_sequences` each step (Adam) and return its history.

    Each step draws ``batch_size`` new rows, each with its own len(A) in ``lengths``
    (so no fixed distance between the copies can be learned: only induction works),
    from a seed derived from ``seed``. The loss is the cross-entropy of the next-token
    prediction at the repeated positions only (``batch.repeated``): the filler is
    unpredictable noise that would bury the curve under a constant ln(d_vocab).

    Returns a dict:

    - ``"loss"``: one float per step (plot it to see the phase change: a plateau, then a drop)
    - ``"eval_steps"``, ``"accuracy"``: :func:`repeat_accuracy` on one fixed held-out batch of
      ``eval_size`` rows (never trained on), measured before step 0, every ``eval_every``
      steps and after the last one (``eval_steps[-1] == steps``)
    - ``"seconds"``: the wall-clock time of the whole call, evaluations included
    - ``"settings"``: the arguments, to print next to a plot

    The defaults (600 steps of 64 rows, Adam at 5e-3) take about 6 s on two CPU cores: a
    two-layer :class:`TransformerConfig` model ends near 99 % repeat accuracy, after a
    plateau and a sudden drop of the loss around step 200; a one-layer one stays near 10 %.
    The model is left in eval mode.
    """
    from tqdm.auto import tqdm

    start = time.perf_counter()
    cfg = model.cfg
    device = next(model.parameters()).device
    held_out = repeated_sequences(eval_size, cfg, length=lengths, seed=2**31 - 1 - seed, device=device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = {"loss": [], "eval_steps": [0], "accuracy": [repeat_accuracy(model, held_out)], "seconds": 0.0,
               "settings": dict(steps=steps, batch_size=batch_size, lr=lr, lengths=tuple(lengths), seed=seed)}
    model.train()
    bar = tqdm(range(steps), desc=desc, disable=not progress, leave=False)
    for step in bar:
        batch = repeated_sequences(batch_size, cfg, length=lengths, seed=seed * 1_000_003 + step, device=device)
        logits = model(batch.tokens)[:, :-1]  # the prediction for position t sits at t-1
        where = batch.repeated[:, 1:]
        loss = F.cross_entropy(logits[where], batch.tokens[:, 1:][where])
        opt.zero_grad()
        loss.backward()
        opt.step()
        history["loss"].append(loss.item())
        if (step + 1) % eval_every == 0 or step + 1 == steps:
            history["eval_steps"].append(step + 1)
            history["accuracy"].append(repeat_accuracy(model, held_out))
            bar.set_postfix(loss=f"{history['loss'][-1]:.3f}", acc=f"{history['accuracy'][-1]:.2f}")
    model.eval()
    history["seconds"] = time.perf_counter() - start
    return history


# --------------------------------------------------------------------------- the shipped checkpoint

CHECKPOINT = CHECKPOINT_DIR / "induction_2l.pt"
CHECKPOINT_SHA256 = CHECKPOINT_DIR / "induction_2l.sha256"  # "<hex>  induction_2l.pt", as sha256sum writes it
CHECKPOINT_SEED = 2  # seeds both the model's initialisation and train_induction's data


def load_induction_model(verify: bool = True, *, path=None, device=None) -> AttnOnlyTransformer:
    """The course's trained two-layer :class:`AttnOnlyTransformer` (in eval mode), from the package.

    With ``verify`` (the default) the file's sha256 is checked against the one shipped
    in ``checkpoints/induction_2l.sha256`` first, and a :class:`ChecksumError` says so
    if they differ. ``path`` loads another copy of the file (checked against the same
    sha256). ``python -m mi_helpers.transformer --reproduce`` rebuilds the checkpoint.
    """
    path = CHECKPOINT if path is None else Path(path)
    saved = load_verified(path, CHECKPOINT_SHA256, "python -m mi_helpers.transformer --reproduce", verify)
    model = AttnOnlyTransformer(TransformerConfig(**saved["config"]))
    model.load_state_dict(saved["state_dict"])
    return model.to(device).eval() if device is not None else model.eval()


def reproduce_checkpoint(seed: int = CHECKPOINT_SEED, path=None) -> dict:
    """Train the shipped model again from scratch and write it, and its sha256, to the package.

    Everything is seeded, so on the same torch version and CPU the file comes out the same;
    elsewhere the weights can differ in the last bits, and so does the sha256 (which this
    rewrites). Returns the training history.
    """
    path = CHECKPOINT if path is None else Path(path)
    torch.set_num_threads(2)
    torch.manual_seed(seed)
    model = AttnOnlyTransformer(TransformerConfig())
    history = train_induction(model, seed=seed, desc="induction_2l")
    state = {name: value.detach().cpu().float().contiguous() for name, value in model.state_dict().items()}
    meta = {"seed": seed, "torch": str(torch.__version__), "accuracy": history["accuracy"][-1],
            "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in history["settings"].items()}}
    save_with_sha256({"config": asdict(model.cfg), "state_dict": state, "meta": meta}, path,
                     CHECKPOINT_SHA256 if path == CHECKPOINT else None)
    return history


def _main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mi_helpers.transformer",
                                     description="Rebuild or check the course's trained two-layer induction model.")
    parser.add_argument("--reproduce", action="store_true",
                        help=f"train it again (seed {CHECKPOINT_SEED}, 2 threads, a few seconds) and rewrite "
                             f"{CHECKPOINT.name} and {CHECKPOINT_SHA256.name}")
    parser.add_argument("--verify", action="store_true", help="check the shipped file's sha256 and its accuracy")
    args = parser.parse_args(argv)
    if not (args.reproduce or args.verify):
        parser.print_help()
        return 2
    if args.reproduce:
        history = reproduce_checkpoint()
        print(f"trained in {history['seconds']:.1f} s, held-out repeat accuracy {history['accuracy'][-1]:.3f}")
        print(f"wrote {CHECKPOINT} ({CHECKPOINT.stat().st_size} bytes), sha256 {sha256_of(CHECKPOINT)}")
    model = load_induction_model()
    batch = repeated_sequences(1000, model.cfg, length=TRAIN_LENGTHS, seed=2024)
    print(f"{CHECKPOINT.name}: sha256 ok, repeat accuracy {repeat_accuracy(model, batch):.3f} on 1000 new sequences")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
