"""Transformers whose weights are set by hand, so that the course knows what every head does.

:func:`hand_built_induction_model` is a two-layer :class:`~mi_helpers.transformer.AttnOnlyTransformer`
with two heads per layer, built to do induction the way a trained model learns to:

- **L0H0, the previous-token head**: each position attends to the one before it and copies
  that token's identity into a part of the residual stream of its own;
- **L1H0, the induction head**: its query is the current token, its keys are the
  *previous* tokens that L0H0 wrote (K-composition), so it attends to the position
  just after the earlier occurrence of the current token, and writes that position's
  token to the logits: the prediction of the next token;
- **L0H1 and L1H1, decoys**: L0H1 attends to the current position and L1H1 to the first
  one, with sharp patterns that look important, but their output weights are zero:
  they change nothing (attention is not an explanation; notebook 08 proves it by ablation).

The residual stream is split into four blocks of coordinates, one job each::

    [ token (d_vocab) | position (n_ctx) | previous token (d_vocab) | prediction (d_vocab) ]

Every head's pattern is almost exactly one-hot (its scores differ by ``sharpness``), so the
previous-token and induction scores of each head are known in closed form on ``A A``
sequences of distinct tokens: that is what the checks of notebook 07 compare with.
"""
from __future__ import annotations

import math

import torch

from .transformer import AttnOnlyTransformer, TransformerConfig

PREVIOUS_TOKEN_HEAD = (0, 0)  # (layer, head)
INDUCTION_HEAD = (1, 0)
DECOY_HEADS = ((0, 1), (1, 1))


def hand_built_induction_model(d_vocab: int = 10, n_ctx: int = 16, sharpness: float = 30.0,
                               dtype: torch.dtype = torch.float32) -> AttnOnlyTransformer:
    """The two-layer, two-head induction circuit above, with every weight set by hand.

    On ``A A`` (a block of distinct tokens, repeated) it predicts every token of the second
    copy after the first; on anything else it guesses. ``sharpness`` is the gap between the
    score of the attended key and the others, after the 1/sqrt(d_head) scaling.
    """
    V, N = d_vocab, n_ctx
    d_head = max(V, N)
    cfg = TransformerConfig(n_layers=2, n_heads=2, d_model=3 * V + N, d_head=d_head, n_ctx=N, d_vocab=V)
    tok, pos, prev, pred = (slice(0, V), slice(V, V + N), slice(V + N, 2 * V + N), slice(2 * V + N, 3 * V + N))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = AttnOnlyTransformer(cfg)
    scale = sharpness * math.sqrt(d_head)
    eye_v, eye_n = torch.eye(V), torch.eye(N)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
        model.W_E[:, tok] = eye_v  # token t -> e_t in the token block
        model.W_pos[:, pos] = eye_n  # position i -> e_i in the position block
        layer0, layer1 = model.blocks[0].attn, model.blocks[1].attn
        # L0H0: query position i matches key position i - 1; it copies the key's token into `prev`.
        layer0.W_Q[0, pos, :N] = scale * eye_n
        layer0.W_K[0, pos, :N] = torch.eye(N).roll(1, dims=1)  # position j -> e_{j+1}
        layer0.W_V[0, tok, :V] = eye_v
        layer0.W_O[0, :V, prev] = eye_v
        # L0H1 (decoy): position i attends to itself; writes nothing.
        layer0.W_Q[1, pos, :N] = scale * eye_n
        layer0.W_K[1, pos, :N] = eye_n
        layer0.W_V[1, tok, :V] = eye_v
        # L1H0: query = current token, key = previous token (written by L0H0); copies the key's
        # own token into `pred`, which the unembedding reads.
        layer1.W_Q[0, tok, :V] = scale * eye_v
        layer1.W_K[0, prev, :V] = eye_v
        layer1.W_K[0, V, :V] = -1.0  # position 0 had no previous token (L0H0 copied its own): never a match
        layer1.W_V[0, tok, :V] = eye_v
        layer1.W_O[0, :V, pred] = eye_v
        # L1H1 (decoy): every position attends to position 0; writes nothing.
        layer1.b_Q[1, 0] = scale
        layer1.W_K[1, pos, 0] = eye_n[0]
        layer1.W_V[1, tok, :V] = eye_v
        model.W_U[pred, :] = 10.0 * eye_v
    return model.to(dtype).eval()


def repeated_pairs(n: int, length: int, d_vocab: int, *, seed: int = 0) -> torch.Tensor:
    """``[n, 2 * length]`` int64 rows ``A A``: A is ``length`` distinct random tokens, then A again."""
    if not 1 <= length <= d_vocab:
        raise ValueError(f"need 1 <= length <= d_vocab ({d_vocab}), got length={length}")
    g = torch.Generator().manual_seed(seed)
    block = torch.rand(n, d_vocab, generator=g).argsort(dim=1)[:, :length]
    return torch.cat([block, block], dim=1)


def corrupted_pairs(clean: torch.Tensor, d_vocab: int, *, seed: int = 0) -> torch.Tensor:
    """``B A`` for each row ``A A`` of ``clean``: the first copy replaced by other distinct tokens.

    The second copy, and so the tokens to predict there, are the same in both; what the
    corrupted run lacks is the earlier occurrence that induction copies from. Each token of
    ``B`` differs from the token of ``A`` at its position, and from every token of ``A`` where
    ``d_vocab`` leaves room (``d_vocab >= 2 * length``), so no block of ``B`` repeats ``A``.
    """
    n, width = clean.shape
    length = width // 2
    if width != 2 * length or not torch.equal(clean[:, :length], clean[:, length:]):
        raise ValueError("clean must be rows A A: a block repeated once (see repeated_pairs)")
    g = torch.Generator().manual_seed(seed)
    corrupted = clean.clone()
    for row in range(n):
        a = clean[row, :length]
        outside = torch.ones(d_vocab, dtype=torch.bool)
        outside[a] = False
        pool = outside.nonzero().flatten() if int(outside.sum()) >= length else torch.arange(d_vocab)
        while True:
            b = pool[torch.randperm(len(pool), generator=g)[:length]]
            if not bool((b == a).any()):
                break
        corrupted[row, :length] = b
    return corrupted
