"""Checks for notebook 07, attention: scaled dot-product attention, multi-head attention, attention rollout.

Attention is compared with PyTorch's own: ``F.scaled_dot_product_attention``
for the output, and the same built-in with the identity matrix as the values for
the pattern (``pattern @ I`` is the pattern itself), so no copy of the answer is
needed. Scores near ±1000, where ``exp`` overflows or underflows, are tried too.
The learner's ``MultiHeadAttention`` receives the weights of a seeded
``nn.MultiheadAttention`` (inside the kernel, with :func:`~.core.inside`) and
must give its outputs and per-head weights; the hints name a mistake by
comparing with the built-in run on altered weights (an identity output
projection, a query scaled by another factor). Its methods are also searched for
an alias of a forbidden built-in, which the core finds in functions only. Attention rollout is tried on
patterns whose rollout is known on paper (identity heads, a previous-token layer
after a causal-average layer, planted so that the other order gives another
matrix) and on properties every rollout has: rows that sum to 1, the average
over heads, composition layer by layer, and renormalised rows when a head was
ablated to zero.
"""
from __future__ import annotations

import functools
import math
import numbers

import torch
import torch.nn.functional as F
from torch import nn

from ..circuits import hand_built_induction_model, repeated_pairs
from ..hooks import count_hooks, hooks, module_names, run_with_cache
from ..transformer import Attention, TransformerConfig
from .core import (FORBIDDEN_HINT, EdgeCase, call, close_to, describe, exercise, expect, expect_close, expect_tensor, fail,
                   generator, inside, is_instance, show)


def _close(a, b, atol: float = 1e-5) -> bool:
    """True when a and b have one shape and close, finite values (used to name a mistake in a hint)."""
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor) or a.device.type == "meta":
        return False
    a, b = a.detach().cpu().double(), b.detach().cpu().double()
    return a.shape == b.shape and bool(torch.isfinite(a).all()) and bool(torch.allclose(a, b, atol=atol, rtol=1e-4))


def _future(n: int, device="cpu") -> torch.Tensor:
    """[n, n] bool, True above the diagonal: the keys a causal query i must not see (j > i)."""
    return torch.ones(n, n, dtype=torch.bool, device=device).triu(1)


def _pair(out, *, shapes: tuple[tuple, tuple], dtype: torch.dtype, tried: str, names=("out", "pattern"),
          shape_hints=("", "")) -> tuple[torch.Tensor, torch.Tensor]:
    """The result must be a pair of tensors of the given shapes and dtype (NaN allowed: the caller says why)."""
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        fail(f"the result should be a pair ({names[0]}, {names[1]}).", tried=tried,
             expected=f"a tuple of 2 tensors, of shapes {shapes[0]} and {shapes[1]}", received=describe(out),
             hint=f"end with `return {names[0]}, {names[1]}`")
    for value, name, shape, hint in zip(out, names, shapes, shape_hints):
        expect_tensor(value, shape=shape, tried=tried, name=name, allow_nan=True, hint=hint)
        expect_tensor(value, dtype=dtype, tried=tried, name=name, allow_nan=True,
                      hint="keep the inputs' dtype: no .float(), no float32 constant tensors")
    return out[0], out[1]


# ---------------------------------------------------------------- 07.1

OVERFLOW_HINT = ("exp(s) overflows to inf once a score s passes 88 in float32 (and underflows to 0 below "
                 "-103), and inf / inf or 0 / 0 is NaN. Use torch.softmax(scores, dim=-1), which subtracts "
                 "each row's maximum first (softmax(s) = softmax(s - max s), and then every exp is ≤ 1), "
                 "or subtract the maximum yourself")
MASK_NAN_HINT = ("NaN in the pattern. Three usual causes: (1) a row with every key masked (masking the "
                 "diagonal too: query 0 then has no key left, and softmax of all -inf is 0 / 0); (2) a 0/1 mask "
                 "multiplied by -inf (0 × -inf = NaN): use scores.masked_fill(mask, float('-inf')) or "
                 "torch.where instead; (3) exp of a large score by hand: " + OVERFLOW_HINT)
SDPA_SHAPE_HINTS = ("out = pattern @ v: [..., q_len, k_len] @ [..., k_len, d_v] gives [..., q_len, d_v]. With "
                    "causal=False nothing is masked (a mask of another shape broadcasts the result to it)",
                    "one weight per query (row) and key (column): [..., q_len, k_len], with the leading "
                    "dimensions of q")
SDPA_FORBIDDEN = ("torch.nn.functional.scaled_dot_product_attention", "torch.nn.MultiheadAttention",
                  "torch.nn.functional.multi_head_attention_forward")


def reference_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool,
                        scale: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """PyTorch's attention output, and its pattern: the same built-in with the identity matrix as the values."""
    eye = torch.eye(k.shape[-2], dtype=q.dtype, device=q.device).expand(*q.shape[:-2], k.shape[-2], k.shape[-2])
    out = F.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=scale)
    return out, F.scaled_dot_product_attention(q, k, eye, is_causal=causal, scale=scale)


def _pattern_hint(q: torch.Tensor, k: torch.Tensor, causal: bool, pattern: torch.Tensor,
                  v: torch.Tensor | None = None) -> str:
    """Name the mistake from the shape of the pattern, or from the scale that would give it."""
    p = pattern.detach().cpu().double()
    n_q, n_k = p.shape[-2], p.shape[-1]
    if not bool(torch.isfinite(p).all()):
        return MASK_NAN_HINT
    ones = torch.ones(p.shape[:-1], dtype=torch.float64)
    if not bool(torch.allclose(p.sum(-1), ones, atol=1e-5)):
        if bool(torch.allclose(p.sum(-2), torch.ones_like(p.sum(-2)), atol=1e-5)):
            return ("the COLUMNS of your pattern sum to 1, not the rows: you took the softmax over the queries. "
                    "Each query distributes its attention over the keys: softmax(scores, dim=-1)")
        if causal:
            return ("each row must sum to 1. Mask BEFORE the softmax (future scores set to -inf, so that they "
                    "get weight 0 and the others share all of it), not by zeroing weights after it")
        return "each row of the pattern is a probability distribution over the keys: softmax(scores, dim=-1)"
    if causal and n_q > 1:
        above, below = p.triu(1).abs().amax(), p.tril(-1).abs().amax()
        if p.diagonal(dim1=-2, dim2=-1)[..., 1:].abs().amax() < 1e-6:
            return ("your mask also hides the diagonal: query i may look at key i itself (j ≤ i, not j < i), "
                    "so query 0 always has key 0. Hide triu(diagonal=1), not triu(diagonal=0)")
        if above > 1e-6 and below < 1e-6:
            return ("your mask is on the wrong side: query i may look at keys j ≤ i (itself and the PAST), "
                    "so the weights above the diagonal (j > i) must be 0, those below it not")
        if above > 1e-6 and p.triu(2).abs().amax() < 1e-6:
            return ("off by one: query i also sees key i + 1. The keys to hide are j > i: "
                    "torch.ones(n, n).triu(diagonal=1) (or ~tril(diagonal=0)) marks exactly those")
        if above > 1e-6:
            return ("weights above the diagonal are not 0: with causal=True, query i may only look at keys "
                    "j ≤ i. Set the scores with j > i to -inf before the softmax")
    if not causal and n_k > 1 and bool((p.triu(1) == 0).all()):
        return ("with causal=False nothing is masked: every query looks at every key (your weights are 0 exactly "
                "where a causal mask would hide a key)")
    candidates = [(1.0, "not scaled: divide q · k by sqrt(d_k)"),
                  (1 / q.shape[-1], "divided by d_k; divide by its square root, sqrt(d_k)")]
    if v is not None and v.shape[-1] != q.shape[-1]:
        candidates.append((1 / math.sqrt(v.shape[-1]), "divided by sqrt(d_v), the size of the values; the "
                                                       "scale comes from q and k: sqrt(d_k)"))
    if k.shape[-2] != q.shape[-1]:
        candidates.append((1 / math.sqrt(k.shape[-2]), "divided by the square root of the number of keys; the "
                                                       "scale is sqrt(d_k), the size of the last dimension of q and k"))
    for scale, words in candidates:
        if _close(p, reference_attention(q.double(), k.double(), k.double(), causal, scale)[1]):
            return "your scores are " + words
    return ("pattern[..., i, j] = softmax over j of (q_i · k_j) / sqrt(d_k): q @ k.transpose(-2, -1) gives every "
            "q_i · k_j at once, for any leading dimensions (k.T transposes ALL dimensions of a batched tensor)")


def _expect_attention(sdpa, q, k, v, causal: bool | None, tried: str, atol: float = 1e-5, rtol: float = 1e-4,
                      nan_hint: str = "") -> None:
    """Call the learner's function (causal left at its default when None) and compare with the built-in."""
    kwargs = {} if causal is None else {"causal": causal}
    causal = True if causal is None else causal
    out = call(sdpa, q.clone(), k.clone(), v.clone(), tried=tried, **kwargs)
    lead = tuple(q.shape[:-2])
    out, pattern = _pair(out, shapes=(lead + (q.shape[-2], v.shape[-1]), lead + (q.shape[-2], k.shape[-2])),
                         dtype=q.dtype, tried=tried, shape_hints=SDPA_SHAPE_HINTS)
    want_out, want_pattern = reference_attention(q, k, v, causal)
    hint = _pattern_hint(q, k, causal, pattern, v)
    if q.dtype == torch.float64 and _close(pattern, want_pattern, atol=1e-5):
        hint = ("the values agree only to about float32's precision (1e-7): somewhere the computation goes through "
                "float32 (.float(), a float32 constant tensor, a mask in float32): keep the input's dtype")
    expect_tensor(pattern, tried=tried, name="pattern", hint=nan_hint or hint)
    if causal:
        above = pattern.detach().triu(1).abs().amax().item() if pattern.shape[-1] > 1 else 0.0
        expect(above == 0.0, "with causal=True, the pattern has weight on future keys (above the diagonal).",
               tried=tried, expected="pattern[..., i, j] == 0 for every j > i",
               received=f"weights up to {above:.3g} above the diagonal", hint=hint)
    sums = pattern.detach().sum(-1)
    expect(bool(torch.allclose(sums, torch.ones_like(sums), atol=1e-5)), "the rows of the pattern do not sum to 1.",
           tried=tried, expected="pattern.sum(dim=-1) == 1 for every query", received=show(sums), hint=hint)
    expect_close(pattern, want_pattern, tried=tried, atol=atol, rtol=rtol, name="pattern", hint=hint,
                 problem="the pattern differs from the softmax of the scaled scores (F.scaled_dot_product_attention).")
    expect_tensor(out, tried=tried, name="out", hint=nan_hint)
    expect_close(out, want_out, tried=tried, atol=atol, rtol=rtol, name="out",
                 problem="out differs from F.scaled_dot_product_attention, although the pattern is right.",
                 hint="out = pattern @ v: each query's output is the average of the values, weighted by its row "
                      "of the pattern")


def _qkv(g, dtype, device="cpu"):
    """Typical inputs: two leading dimensions, d_k = 8 and d_v = 6."""
    return tuple((torch.randn(2, 3, 5, d, generator=g, dtype=dtype)).to(device) for d in (8, 8, 6))


def _far_scores(sign: float) -> tuple:
    """q, k of shape (3, 4) whose scaled scores are all sign × 1000: every query attends uniformly."""
    q = torch.tensor([[1000.0, 0.0, 0.0, 0.0]] * 3)
    k = torch.tensor([[2.0 * sign, 0.0, 0.0, 0.0]] * 3)
    v = torch.tensor([[1.0, 0.0], [0.0, 1.0], [3.0, 3.0]])
    return q, k, v, False


@exercise("07.1", "scaled_dot_product_attention", points=2, difficulty=1, minutes=15,
          example=lambda g, dtype, device="cpu": _qkv(g, dtype, device), meta=True,
          forbidden=SDPA_FORBIDDEN,
          edge_cases=(
              EdgeCase("a sequence of length 1 without leading dimensions: q, k of shape (1, 4), v of shape (1, 3), "
                       "causal=True",
                       lambda: (torch.tensor([[0.5, -1.0, 2.0, 0.0]]), torch.tensor([[1.0, 3.0, -2.0, 4.0]]),
                                torch.tensor([[7.0, -8.0, 9.0]])),
                       close_to(lambda q, k, v: (v, torch.ones(1, 1))),
                       hint="one query and one key: the pattern is [[1.]] and out is v"),
              EdgeCase("every scaled score equal to -1000, causal=False: each query attends uniformly",
                       lambda: _far_scores(-1.0),
                       close_to(lambda q, k, v, causal: (v.mean(0).expand(3, 2), torch.full((3, 3), 1 / 3))),
                       hint=OVERFLOW_HINT),
          ))
def check_scaled_dot_product_attention(scaled_dot_product_attention):
    sdpa = scaled_dot_product_attention
    # A case worked out on paper: d_k = 4, so the scores are divided by 2; they are ln 3 and 0.
    ln3 = math.log(3.0)
    q, k = torch.tensor([[[1.0, 0.0, 0.0, 0.0]]]), torch.tensor([[[2 * ln3, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]])
    v = torch.tensor([[[4.0, 0.0, 1.0], [0.0, 8.0, 1.0]]])
    tried = ("one query q = [1, 0, 0, 0] and two keys k = [2 ln 3, 0, 0, 0], [0, 0, 0, 0] (d_k = 4), "
             "v = [[4, 0, 1], [0, 8, 1]], causal=False: the scaled scores are ln 3 and 0")
    out, pattern = _pair(call(sdpa, q.clone(), k.clone(), v.clone(), causal=False, tried=tried),
                         shapes=((1, 1, 3), (1, 1, 2)), dtype=torch.float32, tried=tried,
                         shape_hints=SDPA_SHAPE_HINTS)
    expect_close(pattern, torch.tensor([[[0.75, 0.25]]]), tried=tried, name="pattern", atol=1e-6,
                 problem="the pattern is wrong on a case worked out by hand.",
                 hint=_pattern_hint(q, k, False, pattern, v) + ". Here softmax([ln 3, 0]) = [3/4, 1/4]")
    expect_close(out, torch.tensor([[[3.0, 2.0, 1.0]]]), tried=tried, name="out", atol=1e-5,
                 problem="out is wrong on a case worked out by hand.",
                 hint="out = pattern @ v = 3/4 [4, 0, 1] + 1/4 [0, 8, 1] = [3, 2, 1]")

    # The mask, on paper: with every score 0, query i spreads its attention evenly over keys 0..i.
    q = k = torch.zeros(3, 2)
    v = torch.tensor([[3.0, 0.0], [0.0, 6.0], [9.0, 3.0]])
    tried = "q = k = zeros of shape (3, 2) (every score 0), v = [[3, 0], [0, 6], [9, 3]], causal left at its default"
    out, pattern = _pair(call(sdpa, q.clone(), k.clone(), v.clone(), tried=tried),
                         shapes=((3, 2), (3, 3)), dtype=torch.float32, tried=tried,
                         shape_hints=SDPA_SHAPE_HINTS)
    expected = torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    expect_close(pattern, expected, tried=tried, name="pattern", atol=1e-6,
                 problem="the causal pattern is wrong on a case worked out by hand.",
                 hint=_pattern_hint(q, k, True, pattern) + ". causal defaults to True: query i attends "
                                                           "evenly to keys 0..i")
    expect_close(out, torch.tensor([[3.0, 0.0], [1.5, 3.0], [4.0, 3.0]]), tried=tried, name="out",
                 problem="out is wrong on a case worked out by hand.",
                 hint="out = pattern @ v: row i is the mean of v[0..i]")

    # Against the built-in: two leading dimensions, d_k != d_v, with and without the mask.
    g = generator("07.1")
    q, k, v = (torch.randn(2, 3, 5, d, generator=g) for d in (8, 8, 6))
    for causal in (True, False):
        tried = (f"random q, k of shape (2, 3, 5, 8) and v of shape (2, 3, 5, 6), float32, causal={causal}, "
                 "compared with F.scaled_dot_product_attention")
        _expect_attention(sdpa, q, k, v, causal, tried)

    # More keys than queries (no mask), and three leading dimensions in float64.
    q, k, v = torch.randn(3, 2, 8, generator=g), torch.randn(3, 7, 8, generator=g), torch.randn(3, 7, 5, generator=g)
    tried = "q of shape (3, 2, 8), k of shape (3, 7, 8), v of shape (3, 7, 5): 2 queries, 7 keys, causal=False"
    _expect_attention(sdpa, q, k, v, False, tried)
    q, k, v = (torch.randn(2, 2, 2, 4, d, generator=g, dtype=torch.float64) for d in (6, 6, 3))
    tried = "random q, k of shape (2, 2, 2, 4, 6) and v of shape (2, 2, 2, 4, 3), float64, causal=True"
    _expect_attention(sdpa, q, k, v, True, tried, atol=1e-12, rtol=1e-10)

    # Scores of about ±1000: exp overflows in float32, softmax must not.
    q, k = 20 * torch.randn(2, 6, 4, generator=g), 20 * torch.randn(2, 6, 4, generator=g)
    v = torch.randn(2, 6, 3, generator=g)
    for causal in (True, False):
        tried = (f"q, k of shape (2, 6, 4) with entries of about ±20, so that the scaled scores reach about ±1000, "
                 f"float32, causal={causal}")
        _expect_attention(sdpa, q, k, v, causal, tried, atol=1e-4, nan_hint=OVERFLOW_HINT)


# ---------------------------------------------------------------- 07.2

# What the check of 07.2 asks of the learner's module runs where the module lives (see core.inside): these
# functions take the module and return plain data.

PROJECTIONS = ("q_proj", "k_proj", "v_proj", "out_proj")


def seeded_build(cls, seed: int, args: tuple, kwargs: dict):
    """cls(*args, **kwargs) with initial weights drawn from ``seed``; the global random state is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(*args, **kwargs)


def projection_layers(model) -> dict:
    """For each of q_proj, k_proj, v_proj, out_proj: (in_features, out_features, has a bias) if an nn.Linear."""
    out = {}
    for name in PROJECTIONS:
        layer = getattr(model, name, None)
        if isinstance(layer, nn.Linear):
            out[name] = (layer.in_features, layer.out_features, layer.bias is not None)
        else:
            out[name] = "no attribute of that name" if layer is None else describe(layer)
    return out


def module_state(model) -> dict:
    """The module's hooks, buffers and parameters (detached copies), to compare before and after a forward pass."""
    return {"hooks": count_hooks(model), "buffers": sorted(name for name, _ in model.named_buffers()),
            "parameters": {name: p.detach().clone() for name, p in model.named_parameters()}}


def load_projections(model, weights: dict) -> bool:
    """Copy (weight, bias) pairs into the module's four nn.Linear projections."""
    with torch.no_grad():
        for name, (weight, bias) in weights.items():
            layer = getattr(model, name)
            layer.weight.copy_(weight)
            layer.bias.copy_(bias)
    return True


def convert(model, dtype: torch.dtype | None = None, device: str | None = None) -> bool:
    """model.to(dtype) or model.to(device), in place."""
    model.to(device=device, dtype=dtype)
    return True


def _torch_mha(d_model: int, n_heads: int, g: torch.Generator, dtype=torch.float32) -> nn.MultiheadAttention:
    """nn.MultiheadAttention with random weights and biases from ``g``; the global random state is left as it was."""
    with torch.random.fork_rng(devices=[]):
        mha = nn.MultiheadAttention(d_model, n_heads, batch_first=True, dtype=dtype)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.randn(3 * d_model, d_model, generator=g, dtype=dtype) / math.sqrt(d_model) * 2)
        mha.in_proj_bias.copy_(0.3 * torch.randn(3 * d_model, generator=g, dtype=dtype))
        mha.out_proj.weight.copy_(torch.randn(d_model, d_model, generator=g, dtype=dtype) / math.sqrt(d_model))
        mha.out_proj.bias.copy_(0.3 * torch.randn(d_model, generator=g, dtype=dtype))
    return mha.eval()


def _weights(mha: nn.MultiheadAttention) -> dict:
    """The torch module's weights as the four projections of the exercise: in_proj is [W_q; W_k; W_v]."""
    w, b = mha.in_proj_weight.detach().clone(), mha.in_proj_bias.detach().clone()
    (wq, wk, wv), (bq, bk, bv) = w.chunk(3), b.chunk(3)
    return {"q_proj": (wq, bq), "k_proj": (wk, bk), "v_proj": (wv, bv),
            "out_proj": (mha.out_proj.weight.detach().clone(), mha.out_proj.bias.detach().clone())}


def _torch_forward(mha: nn.MultiheadAttention, x: torch.Tensor, causal: bool) -> tuple[torch.Tensor, torch.Tensor]:
    mask = _future(x.shape[1]) if causal else None
    with torch.no_grad():
        out, weights = mha(x, x, x, need_weights=True, average_attn_weights=False, attn_mask=mask)
    return out, weights


def _altered(mha: nn.MultiheadAttention, *, query_factor: float = 1.0, identity_output: bool = False):
    """A copy of the torch module with its queries scaled, or its output projection replaced by the identity."""
    other = _torch_mha(mha.embed_dim, mha.num_heads, torch.Generator().manual_seed(0), mha.in_proj_weight.dtype)
    other.load_state_dict(mha.state_dict())
    d = mha.embed_dim
    with torch.no_grad():
        other.in_proj_weight[:d] *= query_factor
        other.in_proj_bias[:d] *= query_factor
        if identity_output:
            other.out_proj.weight.copy_(torch.eye(d, dtype=other.out_proj.weight.dtype))
            other.out_proj.bias.zero_()
    return other


def _build_mha(MultiHeadAttention, d_model: int, n_heads: int, tried: str):
    """The learner's module, checked to be an nn.Module with the four projections of the right sizes."""
    model = call(inside, seeded_build, MultiHeadAttention, 0, (d_model, n_heads), {}, tried=tried,
                 hint_if_raised="__init__(self, d_model, n_heads) calls super().__init__() first, then creates "
                                "the four nn.Linear(d_model, d_model) layers")
    expect(is_instance(model, nn.Module), f"{tried} should build a torch.nn.Module.", tried=tried,
           expected="an nn.Module", received=describe(model),
           hint="write `class MultiHeadAttention(nn.Module):` and call super().__init__() first in __init__")
    layers = call(inside, projection_layers, model, tried=tried)
    for name in PROJECTIONS:
        found = layers.get(name) if isinstance(layers, dict) else None
        expect(isinstance(found, (tuple, list)) and len(found) == 3, f"the module has no nn.Linear named `{name}`.",
               tried=tried, expected=f"self.{name} = nn.Linear({d_model}, {d_model})", received=str(found),
               hint="name the four layers self.q_proj, self.k_proj, self.v_proj and self.out_proj: the check "
                    "copies nn.MultiheadAttention's weights into them, and later sections hook them by name")
        expect(tuple(found[:2]) == (d_model, d_model), f"self.{name} has the wrong size.", tried=tried,
               expected=f"nn.Linear({d_model}, {d_model})", received=f"nn.Linear({found[0]}, {found[1]})",
               hint="each projection maps d_model features to d_model features: all heads at once, "
                    "n_heads × d_head = d_model")
        expect(bool(found[2]), f"self.{name} has no bias.", tried=tried,
               expected=f"nn.Linear({d_model}, {d_model}) with its bias (the default)",
               received=f"nn.Linear({d_model}, {d_model}, bias=False)",
               hint="leave bias=True (the default): nn.MultiheadAttention has biases, and the check copies them")
    state = call(inside, module_state, model, tried=tried)
    names = sorted(state["parameters"]) if isinstance(state, dict) and isinstance(state.get("parameters"), dict) else []
    wanted = sorted(f"{layer}.{part}" for layer in PROJECTIONS for part in ("weight", "bias"))
    expect(names == wanted, "the module has parameters besides the four projections.", tried=tried,
           expected=", ".join(wanted), received=", ".join(names) or describe(state),
           hint="the four nn.Linear layers are the only parameters: no extra scale, no nn.MultiheadAttention, "
                "no layer made twice under another name")
    return model


def _mha_hint(mha: nn.MultiheadAttention, x: torch.Tensor, causal: bool, out: torch.Tensor,
              pattern: torch.Tensor, pattern_right: bool) -> str:
    """Name a mistake by running the built-in on altered weights."""
    d, h = mha.embed_dim, mha.num_heads
    d_head = d // h
    if not pattern_right:
        if not causal and x.shape[1] > 1 and bool((pattern.detach().triu(1) == 0).all()):
            return "causal=False (the default) masks nothing: every position attends to every position"
        if h > 1 and _close(pattern, _torch_forward(_altered(mha, query_factor=math.sqrt(d_head / d)), x, causal)[1]):
            return ("your scores are divided by sqrt(d_model); each head works in d_head = d_model // n_heads "
                    "dimensions, so divide by sqrt(d_head)")
        if _close(pattern, _torch_forward(_altered(mha, query_factor=math.sqrt(d_head)), x, causal)[1]):
            return "your scores are not scaled: divide q · k by sqrt(d_head)"
        if h > 1:
            return ("head h uses features h*d_head:(h+1)*d_head of the projected q, k and v: view them as "
                    "[batch, seq, n_heads, d_head], then .transpose(1, 2) to [batch, n_heads, seq, d_head]. "
                    "Viewing as [batch, seq, d_head, n_heads] mixes the heads' features; viewing straight "
                    "as [batch, n_heads, seq, d_head] mixes positions")
        return ("with one head this is scaled dot-product attention of q_proj(x) and k_proj(x); if you reuse "
                "your scaled_dot_product_attention, make sure 07.1 passes first, and pass causal on")
    if _close(out, _torch_forward(_altered(mha, identity_output=True), x, causal)[0]):
        return "the heads are right but out_proj is missing: apply self.out_proj to the merged heads"
    return ("the pattern is right, so the values or the merge are not: out = out_proj(merge(pattern @ v_heads)), "
            "where merge turns [batch, n_heads, seq, d_head] back into [batch, seq, d_model] with "
            ".transpose(1, 2).reshape(batch, seq, d_model) (a reshape without the transpose mixes positions)")


def _compare_mha(model, mha: nn.MultiheadAttention, x: torch.Tensor, causal: bool | None, tried: str,
                 atol: float = 1e-5) -> None:
    """Run the learner's module (causal left at its default when None) and compare with nn.MultiheadAttention."""
    kwargs = {} if causal is None else {"causal": causal}
    causal = bool(causal)
    b, s, d = x.shape
    h = mha.num_heads
    out = call(model, x, tried=tried, hint_if_raised="forward(self, x, causal=False) returns (out, pattern)",
               **kwargs)
    out, pattern = _pair(out, shapes=((b, s, d), (b, h, s, s)), dtype=x.dtype, tried=tried,
                         shape_hints=("out has the shape of x: [batch, seq, d_model]",
                                      "one pattern per head: [batch, n_heads, seq, seq]"))
    want_out, want_pattern = _torch_forward(mha, x, causal)
    right = _close(pattern, want_pattern, atol=atol)
    expect_tensor(pattern, tried=tried, name="pattern", hint=MASK_NAN_HINT)
    expect_close(pattern, want_pattern, tried=tried, atol=atol, name="pattern",
                 problem="the per-head patterns differ from nn.MultiheadAttention's (need_weights=True, "
                         "average_attn_weights=False) with the same weights.",
                 hint=_mha_hint(mha, x, causal, out, pattern, right))
    expect_tensor(out, tried=tried, name="out")
    expect_close(out, want_out, tried=tried, atol=atol, name="out",
                 problem="out differs from nn.MultiheadAttention's with the same weights, although the patterns "
                         "are right.", hint=_mha_hint(mha, x, causal, out, pattern, True))


def _loaded(MultiHeadAttention, d_model: int, n_heads: int, g: torch.Generator, tried: str,
            dtype=torch.float32):
    """The learner's module and a torch module with the same (random) weights."""
    model = _build_mha(MultiHeadAttention, d_model, n_heads, f"MultiHeadAttention({d_model}, {n_heads})")
    mha = _torch_mha(d_model, n_heads, g, dtype)
    if dtype != torch.float32:
        call(inside, convert, model, dtype, tried=tried + f": your module converted with .to({dtype})")
    call(inside, load_projections, model, _weights(mha), tried=tried)
    return model, mha


def _expect_clean(model, before: dict, tried: str) -> None:
    """A forward pass leaves no hook, no new buffer and the parameters as they were."""
    after = call(inside, module_state, model, tried=tried)
    left = after["hooks"] - before["hooks"]
    expect(left <= 0, f"forward left {left} hook{'s' if left != 1 else ''} attached to the module.", tried=tried,
           expected=f"count_hooks(module) == {before['hooks']}, as before forward",
           received=f"count_hooks(module) == {after['hooks']}",
           hint="forward should compute and return; a hook registered in forward fires again (and piles up) "
                "on every later call. Return the pattern instead of recording it")
    expect(after["buffers"] == before["buffers"], "forward left new buffers on the module.", tried=tried,
           expected=f"buffers {before['buffers']}", received=f"buffers {after['buffers']}",
           hint="return the pattern; storing it with register_buffer (or as an attribute tensor) keeps the "
                "last batch alive in the module and in its state_dict")
    changed = [n for n, p in before["parameters"].items()
               if n not in after["parameters"] or not torch.equal(p, after["parameters"][n])]
    expect(not changed, "forward changed the module's parameters.", tried=tried,
           expected="parameters left as they were", received="changed: " + ", ".join(changed),
           hint="forward only reads the weights; an in-place operation on layer.weight or on a view of it "
                "(w.mul_(...), w /= ...) edits the parameter itself")


@exercise("07.2", "MultiHeadAttention", points=3, difficulty=2, minutes=25,
          forbidden=SDPA_FORBIDDEN,
          opt_out={"float64": "the answer is a class: the check itself converts the module to float64 and "
                              "compares it with nn.MultiheadAttention in float64",
                   "edge cases": "its arguments are sizes: the check itself tries one head, d_head = 1 and a "
                                 "sequence of length 1"})
def check_MultiHeadAttention(MultiHeadAttention):
    g = generator("07.2")
    # One head: scaled dot-product attention between projections, then the output projection.
    tried = "MultiHeadAttention(8, 1) with nn.MultiheadAttention(8, 1)'s weights, x of shape (2, 5, 8), causal=False"
    model, mha = _loaded(MultiHeadAttention, 8, 1, g, tried)
    x = torch.randn(2, 5, 8, generator=g)
    before = call(inside, module_state, model, tried=tried)
    _compare_mha(model, mha, x, False, tried)
    _expect_clean(model, before, tried)

    # Three heads of 4 features, with and without the mask; causal left at its default (False).
    tried = "MultiHeadAttention(12, 3) with nn.MultiheadAttention(12, 3)'s weights, x of shape (2, 6, 12)"
    model, mha = _loaded(MultiHeadAttention, 12, 3, g, tried)
    x = torch.randn(2, 6, 12, generator=g)
    before = call(inside, module_state, model, tried=tried)
    _compare_mha(model, mha, x, True, tried + ", causal=True (the mask as attn_mask)")
    _compare_mha(model, mha, x, None, tried + ", causal left at its default (False)")
    _expect_clean(model, before, tried + ", after three forward passes")

    # d_head = 1, and a sequence of one position.
    tried = "MultiHeadAttention(4, 4): four heads of one feature each, x of shape (1, 7, 4), causal=True"
    model, mha = _loaded(MultiHeadAttention, 4, 4, g, tried)
    _compare_mha(model, mha, torch.randn(1, 7, 4, generator=g), True, tried)
    tried = "MultiHeadAttention(12, 3) on a sequence of length 1: x of shape (3, 1, 12), causal=True"
    model, mha = _loaded(MultiHeadAttention, 12, 3, g, tried)
    _compare_mha(model, mha, torch.randn(3, 1, 12, generator=g), True, tried)

    # float64 throughout.
    tried = ("MultiHeadAttention(6, 2) converted to float64 (module.to(torch.float64)) with "
             "nn.MultiheadAttention(6, 2)'s float64 weights, x of shape (2, 4, 6), float64, causal=True")
    model, mha = _loaded(MultiHeadAttention, 6, 2, g, tried, dtype=torch.float64)
    _compare_mha(model, mha, torch.randn(2, 4, 6, generator=g, dtype=torch.float64), True, tried, atol=1e-10)

    # The meta device stands in for a GPU: the mask must be made on x's device.
    tried = ("MultiHeadAttention(8, 2) moved to PyTorch's meta device (module.to('meta'): shapes and dtypes, no "
             "data, a stand-in for a GPU), x of shape (2, 5, 8) on meta, causal=True")
    model = _build_mha(MultiHeadAttention, 8, 2, "MultiHeadAttention(8, 2)")
    call(inside, convert, model, None, "meta", tried=tried)
    out = call(model, torch.empty(2, 5, 8, device="meta"), causal=True, tried=tried,
               hint_if_raised="your code mixes devices: create the mask on x's device "
                              "(torch.ones(seq, seq, device=x.device)), and keep .item() and numpy out of forward")
    out, pattern = _pair(out, shapes=((2, 5, 8), (2, 2, 5, 5)), dtype=torch.float32, tried=tried)
    elsewhere = [name for name, t in (("out", out), ("pattern", pattern)) if t.device.type != "meta"]
    expect(not elsewhere, "on the meta device, the result left the input's device.", tried=tried,
           expected="out and pattern on meta", received=", ".join(f"{n} on {t.device}" for n, t in
                                                                 (("out", out), ("pattern", pattern))),
           hint="create new tensors (the mask) with device=x.device")


# ---------------------------------------------------------------- 07.6

def _valid_patterns(g, batch: int, heads: int, seq: int, dtype=torch.float32, causal: bool = True) -> torch.Tensor:
    """Random attention patterns [batch, heads, seq, seq]: softmax of random scores, causal if asked."""
    scores = 2 * torch.randn(batch, heads, seq, seq, generator=g, dtype=dtype)
    if causal:
        scores = scores.masked_fill(_future(seq), float("-inf"))
    return scores.softmax(-1)


def _rollout_example(g, dtype, device="cpu"):
    return ([_valid_patterns(g, 2, 2, 4, dtype).to(device) for _ in range(2)],)


def rollout_and_inputs(fn, job: tuple):
    """fn(patterns, residual=residual) for job = (patterns, residual): its result, and the patterns afterwards.

    Under the graders this runs in the kernel (core.inside), where an in-place edit of a tensor INSIDE the list
    argument shows; the channel reports edits of tensors passed as arguments themselves.
    """
    patterns, residual = job
    return fn(patterns, residual=residual), list(patterns)


def _expect_patterns_unchanged(attention_rollout, g: torch.Generator) -> None:
    """The learner's rollout leaves the list of patterns and every tensor in it as they were."""
    for residual in (True, False):
        patterns = [_valid_patterns(g, 2, 3, 5) for _ in range(2)]
        before = [p.clone() for p in patterns]
        tried = f"2 layers of random causal patterns, 3 heads, batch 2, seq 5, residual={residual}"
        result = call(inside, rollout_and_inputs, attention_rollout, (patterns, residual), tried=tried)
        after = result[1] if isinstance(result, (tuple, list)) and len(result) == 2 else []
        for i, old in enumerate(before):
            new = after[i] if isinstance(after, list) and i < len(after) else None
            same = isinstance(new, torch.Tensor) and new.shape == old.shape and new.dtype == old.dtype \
                and torch.equal(new, old)
            expect(same, f"your function changed its input in place (item {i} of argument 1, {describe(old)}).",
                   tried=tried, expected="every input left exactly as it was",
                   hint="an in-place operation (p.mul_(...), p += ..., p[...] = ..., patterns[i] = ...) edits the "
                        "caller's tensors; build new ones instead (A = 0.5 * A + ...)")


def _expect_rollout(out, batch: int, seq: int, dtype: torch.dtype, tried: str) -> torch.Tensor:
    if isinstance(out, torch.Tensor) and out.dim() == 4 and tuple(out.shape[-2:]) == (seq, seq):
        hint = "average over the heads (dim=1) first: the rollout has no head dimension"
    else:
        hint = "one [seq, seq] matrix per batch item: [batch, seq, seq]"
    expect_tensor(out, shape=(batch, seq, seq), tried=tried, name="the rollout", hint=hint, allow_nan=True)
    expect_tensor(out, dtype=dtype, tried=tried, name="the rollout")
    return out.detach()


def _rows_sum_to_one(out: torch.Tensor, tried: str, hint: str) -> None:
    sums = out.sum(-1)
    expect(bool(torch.allclose(sums, torch.ones_like(sums), atol=1e-5)), "the rows of the rollout do not sum to 1.",
           tried=tried, expected="rollout.sum(dim=-1) == 1 for every row", received=show(sums), hint=hint)


RENORMALISE_HINT = ("after A = 0.5 A + 0.5 I, divide each row by its sum (A / A.sum(dim=-1, keepdim=True)); "
                    "rows over the keys, dim=-1, not columns")
ORDER_HINT = ("the product runs from the last layer on the left to the first on the right: rollout = A_L @ ... @ "
              "A_2 @ A_1, so that row i says how much output position i draws, through all layers, from input "
              "position j. Starting from R = A_1, each next layer multiplies from the LEFT: R = A @ R")


@exercise("07.6", "attention_rollout", points=2, difficulty=2, minutes=15,
          example=_rollout_example, meta=True,
          edge_cases=(
              EdgeCase("one layer, one head, a sequence of length 1: patterns = [tensor of shape (1, 1, 1, 1)]",
                       lambda: ([torch.ones(1, 1, 1, 1)],), close_to(lambda patterns: torch.ones(1, 1, 1))),
              EdgeCase("one layer whose only head was ablated to 0, a sequence of length 1 (residual=True): "
                       "only the residual stream carries the position",
                       lambda: ([torch.zeros(1, 1, 1, 1)],), close_to(lambda patterns: torch.ones(1, 1, 1)),
                       hint=RENORMALISE_HINT),
          ),
          opt_out={"written by hand": "no built-in computes attention rollout"})
def check_attention_rollout(attention_rollout):
    g = generator("07.6")
    _expect_patterns_unchanged(attention_rollout, g)

    # Heads that only attend to themselves mix nothing: the rollout is the identity.
    eye = torch.eye(4).expand(2, 3, 4, 4)
    for residual in (True, False):
        tried = f"3 layers whose 3 heads all attend to their own position (identity patterns), batch 2, seq 4, " \
                f"residual={residual}"
        out = _expect_rollout(call(attention_rollout, [eye.clone() for _ in range(3)], residual=residual,
                                   tried=tried), 2, 4, torch.float32, tried)
        hint = "if no head moves information, every position draws only from itself"
        if not _close(out.sum(-1), torch.ones(2, 4)):
            hint += f"; your rows sum to {show(out.sum(-1)[0])}: average the heads (.mean(dim=1)), and " \
                    "renormalise the rows after adding the identity"
        expect_close(out, torch.eye(4).expand(2, 4, 4), tried=tried, name="the rollout",
                     problem="identity patterns should give the identity.", hint=hint)

    # Two layers worked out on paper, planted so that the other order gives another matrix.
    prev = torch.tensor([[1.0, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]])  # i attends to i - 1
    mean = torch.tensor([[1.0, 0, 0, 0], [1 / 2, 1 / 2, 0, 0], [1 / 3, 1 / 3, 1 / 3, 0], [1 / 4, 1 / 4, 1 / 4, 1 / 4]])
    tried = ("layer 1: one head attending to the previous position (position 0 to itself); layer 2: one head "
             "averaging over positions 0..i; batch 1, seq 4, residual=False")
    out = _expect_rollout(call(attention_rollout, [prev[None, None].clone(), mean[None, None].clone()], residual=False,
                               tried=tried), 1, 4, torch.float32, tried)
    right = mean @ prev  # worked out: row 3 = (e0 + e0 + e1 + e2) / 4
    hint = ORDER_HINT if _close(out[0], prev @ mean) else \
        "row i averages, over the positions j ≤ i that layer 2 reads, the position that layer 1 put there (j - 1)"
    expect_close(out, right[None], tried=tried, name="the rollout", hint=hint,
                 problem="wrong on two layers worked out by hand.")
    expect(bool((out.triu(1) == 0).all()), "the rollout of causal patterns is not lower-triangular.", tried=tried,
           expected="0 above the diagonal: no position draws from the future",
           received=show(out[0]), hint=ORDER_HINT)

    # One layer with the residual stream, residual left at its default (True): 0.5 A + 0.5 I.
    patterns = _valid_patterns(g, 2, 3, 5)
    tried = "one layer of random causal patterns, 3 heads, batch 2, seq 5, residual left at its default (True)"
    out = _expect_rollout(call(attention_rollout, [patterns.clone()], tried=tried), 2, 5, torch.float32, tried)
    average = patterns.mean(1)
    hint = "with the residual stream, one layer's rollout is 0.5 × (the head average) + 0.5 × I"
    if _close(out, average):
        hint = "this is the head average alone: residual defaults to True, which adds the identity (0.5 A + 0.5 I)"
    elif _close(out, average + torch.eye(5)):
        hint = "this is A + I, whose rows sum to 2: " + RENORMALISE_HINT
    elif _close(out.sum(-2), torch.ones(2, 5)):
        hint = "your COLUMNS sum to 1: " + RENORMALISE_HINT
    expect_close(out, 0.5 * average + 0.5 * torch.eye(5), tried=tried, name="the rollout", hint=hint,
                 problem="the rollout of one layer with the residual stream is wrong.")

    # Properties on random patterns: the average over heads, rows summing to 1, composition layer by layer.
    layers = [_valid_patterns(g, 2, 4, 5) for _ in range(3)]
    for residual in (True, False):
        tried = f"3 layers of random causal patterns, 4 heads, batch 2, seq 5, residual={residual}"
        out = _expect_rollout(call(attention_rollout, [p.clone() for p in layers], residual=residual, tried=tried),
                              2, 5, torch.float32, tried)
        _rows_sum_to_one(out, tried, RENORMALISE_HINT if residual else "a product of matrices whose rows sum to 1 "
                         "has rows that sum to 1: average (not sum) the heads")
        expect(bool((out.triu(1).abs() < 1e-6).all()), "the rollout of causal patterns is not lower-triangular.",
               tried=tried, expected="0 above the diagonal", received=show(out[0]),
               hint="multiply the layers' matrices (@), do not add them or multiply them entry by entry")
        averaged = _expect_rollout(call(attention_rollout, [p.mean(1, keepdim=True) for p in layers],
                                        residual=residual, tried=tried + ", each layer's heads averaged into one"),
                                   2, 5, torch.float32, tried)
        expect_close(out, averaged, tried=tried + ": against the same with each layer's heads averaged beforehand",
                     name="the rollout", problem="the rollout changes when each layer's heads are averaged first.",
                     hint="average over the heads (dim=1) with .mean: not the sum, the maximum or one head")
        last = _expect_rollout(call(attention_rollout, [layers[2].clone()], residual=residual, tried=tried),
                               2, 5, torch.float32, tried)
        first = _expect_rollout(call(attention_rollout, [p.clone() for p in layers[:2]], residual=residual,
                                     tried=tried), 2, 5, torch.float32, tried)
        expect_close(out, last @ first, tried=tried + ": rollout of layers 1-3 against rollout(layer 3) @ "
                                                      "rollout(layers 1-2)",
                     name="the rollout", problem="the rollout does not compose layer by layer.", hint=ORDER_HINT)

    # A head ablated to 0 (as in notebook 08): the rows no longer sum to 1 until renormalised.
    ablated = _valid_patterns(g, 2, 2, 5)
    ablated[:, 1] = 0.0
    tried = ("one layer, batch 2, seq 5, 2 heads of which head 1 is ablated to 0 (so each row of the head average "
             "sums to 1/2), residual=True")
    out = _expect_rollout(call(attention_rollout, [ablated.clone()], residual=True, tried=tried),
                          2, 5, torch.float32, tried)
    _rows_sum_to_one(out, tried, RENORMALISE_HINT)
    mixed = ablated.mean(1) + torch.eye(5)  # each row of the answer must be proportional to this row
    cross = out[..., :, None] * mixed[..., None, :]  # [b, i, j, k] = out[i, j] mixed[i, k]
    expect(bool(torch.allclose(cross, cross.transpose(-2, -1), atol=1e-6)),
           "the rollout's rows are not proportional to the rows of (head average + I).", tried=tried,
           expected="row i of the rollout = row i of (0.5 A + 0.5 I) divided by its sum",
           received=show(out[0]),
           hint="add the identity first, then renormalise: normalising A before adding I gives I a different weight")

    # Without the residual stream, A is used as it is: an ablated head's rows keep summing to 1/2.
    tried = ("one layer, batch 2, seq 5, 2 heads of which head 1 is ablated to 0 (so each row of the head average "
             "sums to 1/2), residual=False")
    out = _expect_rollout(call(attention_rollout, [ablated.clone()], residual=False, tried=tried),
                          2, 5, torch.float32, tried)
    hint = "with residual=False the head average is used as it is: no identity, no renormalising"
    if _close(out.sum(-1), torch.ones(2, 5)):
        hint = "your rows sum to 1: renormalise only when residual=True (with residual=False, A is used as it is)"
    expect_close(out, ablated.mean(1), tried=tried, name="the rollout", hint=hint,
                 problem="with residual=False, the rollout of one layer should be its head average.")


# ---------------------------------------------------------------- 07.3 AttentionLayer

LAYER_HOOKS = ("hook_q", "hook_k", "hook_v", "hook_pattern", "hook_z", "hook_result")
LAYER_SHAPES = {"hook_q": "[batch, pos, head, d_head]", "hook_k": "[batch, pos, head, d_head]",
                "hook_v": "[batch, pos, head, d_head]", "hook_pattern": "[batch, head, query_pos, key_pos]",
                "hook_z": "[batch, pos, head, d_head]", "hook_result": "[batch, pos, head, d_model]"}


def seeded_attention(cfg: TransformerConfig, seed: int, dtype: torch.dtype = torch.float32) -> Attention:
    """The course's attention layer with every parameter, biases included, drawn from ``seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layer = Attention(cfg)
        with torch.no_grad():
            for parameter in layer.parameters():
                parameter.copy_(torch.randn(parameter.shape) * 0.5)
    return layer.to(dtype).eval()


def load_and_record(AttentionLayer, cfg: TransformerConfig, state: dict, x: torch.Tensor) -> dict:
    """Where the learner's class lives: build it, load the course's weights, run x, record its hook points.

    Returns plain data: {"problem": ...} when it cannot be done, else the output, the recorded
    activations and the hooks left on the layer."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        layer = AttentionLayer(cfg)
    if not isinstance(layer, nn.Module):
        return {"problem": "not a module", "received": describe(layer)}
    own = {name: tuple(value.shape) for name, value in layer.state_dict().items()}
    wanted = {name: tuple(value.shape) for name, value in state.items()}
    if own != wanted:
        return {"problem": "parameters", "received": own, "expected": wanted}
    layer.load_state_dict(state)
    layer.to(x.dtype).eval()
    names = set(module_names(layer))
    missing = [name for name in LAYER_HOOKS if name not in names]
    if missing:
        return {"problem": "hooks", "missing": missing}
    output, cache = run_with_cache(layer, x, LAYER_HOOKS)
    return {"output": output, "cache": dict(cache), "left": count_hooks(layer)}


def _replacement(name: str):
    """A hook that replaces hook point ``name``'s activation with a known other one (notebook 08's ablations)."""
    def replace(act, _name):
        if name == "hook_pattern":  # every query reads its own position only
            return torch.eye(act.shape[-1], dtype=act.dtype, device=act.device).expand_as(act).clone()
        return 0.5 * act + 0.25
    return replace


def load_and_intervene(AttentionLayer, cfg: TransformerConfig, state: dict, x: torch.Tensor) -> dict:
    """Where the learner's class lives: its output with each hook point's activation replaced in turn."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        layer = AttentionLayer(cfg)
    layer.load_state_dict(state)
    layer.to(x.dtype).eval()
    outputs = {}
    for name in LAYER_HOOKS:
        with hooks(layer, [(name, _replacement(name))]):
            outputs[name] = layer(x).detach()
    return outputs


def meta_forward(AttentionLayer, cfg: TransformerConfig, shape: tuple):
    """Where the learner's class lives: the layer moved to the meta device, run on a meta tensor."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        layer = AttentionLayer(cfg)
    layer.to("meta")
    return layer(torch.empty(shape, device="meta"))


@exercise("07.3", "AttentionLayer", points=3, difficulty=2, minutes=30,
          forbidden=("mi_helpers.transformer.Attention.forward", "torch.nn.functional.scaled_dot_product_attention",
                     "torch.nn.MultiheadAttention.forward", "torch.nn.functional.multi_head_attention_forward"),
          opt_out={"edge cases": "the check runs a one-token sequence and one head among its configurations",
                   "float64": "the check loads float64 weights itself and compares every activation"})
def check_AttentionLayer(AttentionLayer):
    g = generator("07.3")
    for cfg, batch, pos, dtype in ((TransformerConfig(n_heads=3, d_model=12, d_head=4, n_ctx=8, d_vocab=5), 2, 6,
                                    torch.float32),
                                   (TransformerConfig(n_heads=1, d_model=6, d_head=5, n_ctx=8, d_vocab=5), 3, 1,
                                    torch.float32),
                                   (TransformerConfig(n_heads=2, d_model=8, d_head=3, n_ctx=8, d_vocab=5), 2, 5,
                                    torch.float64)):
        reference = seeded_attention(cfg, 7003 + cfg.n_heads, dtype)
        x = torch.randn(batch, pos, cfg.d_model, generator=g, dtype=dtype)
        tried = (f"AttentionLayer(cfg) with n_heads={cfg.n_heads}, d_model={cfg.d_model}, d_head={cfg.d_head}, "
                 f"the course's weights loaded (biases non-zero), x of shape {tuple(x.shape)}, {str(dtype)[6:]}")
        found = call(inside, load_and_record, AttentionLayer, cfg, reference.state_dict(), x, tried=tried)
        problem = found.get("problem") if isinstance(found, dict) else "no dict"
        if problem == "not a module":
            fail("AttentionLayer(cfg) should build a torch.nn.Module.", tried=tried, expected="an nn.Module",
                 received=found["received"], hint="write `class AttentionLayer(nn.Module):` and call "
                                                 "super().__init__() first in __init__")
        if problem == "parameters":
            own, wanted = found["received"], found["expected"]
            fail("the layer's parameters do not match the course's, so its weights cannot be loaded.", tried=tried,
                 expected=", ".join(f"{k} {list(v)}" for k, v in wanted.items()),
                 received=", ".join(f"{k} {list(v)}" for k, v in own.items()) or "no parameters",
                 hint="create exactly W_Q, W_K, W_V [n_heads, d_model, d_head], b_Q, b_K, b_V [n_heads, d_head], "
                      "W_O [n_heads, d_head, d_model] and b_O [d_model] as nn.Parameter, with these names")
        if problem == "hooks":
            fail("the layer lacks hook points.", tried=tried, expected=", ".join(LAYER_HOOKS),
                 received="missing: " + ", ".join(found["missing"]),
                 hint="create each as a HookPoint() in __init__ (self.hook_q = HookPoint(), ...) and pass the "
                      "value through it in forward: q = self.hook_q(q)")
        expect(found.get("left") == 0, f"{found.get('left')} hooks are still attached to your layer after a "
               "recorded forward pass.", tried=tried, hint="do not register hooks in forward")
        _, expected = run_with_cache(reference, x, LAYER_HOOKS)
        for name in LAYER_HOOKS:  # in the order a forward pass meets them: the first wrong one is the mistake
            value = found["cache"].get(name)
            expect_tensor(value, shape=tuple(expected[name].shape), dtype=dtype, tried=tried,
                          name=f"{name} {LAYER_SHAPES[name]}",
                          hint=f"{name} is {LAYER_SHAPES[name]}: einsum with named indices keeps the axes straight")
            expect_close(value, expected[name], tried=tried, name=name, atol=1e-5 if dtype == torch.float32 else 1e-10,
                         problem=f"{name} differs from the course's layer with the same weights.",
                         hint=LAYER_HINTS[name])
        expect_tensor(found["output"], shape=(batch, pos, cfg.d_model), dtype=dtype, tried=tried, name="the output")
        expect_close(found["output"], reference(x).detach(), tried=tried, name="the output",
                     atol=1e-5 if dtype == torch.float32 else 1e-10,
                     problem="every hook point matches, but the output does not.",
                     hint="the output is the heads' results summed over the head axis, plus b_O")

        # A hook that returns a tensor replaces the activation: notebook 08's ablations stand on it.
        changed = call(inside, load_and_intervene, AttentionLayer, cfg, reference.state_dict(), x, tried=tried)
        for name in LAYER_HOOKS:
            with hooks(reference, [(name, _replacement(name))]):
                want = reference(x).detach()
            what = "the identity pattern" if name == "hook_pattern" else "0.5 × activation + 0.25"
            expect_close(changed.get(name) if isinstance(changed, dict) else None, want,
                         tried=tried + f", a hook on {name} returning {what}", name="the output",
                         atol=1e-5 if dtype == torch.float32 else 1e-10,
                         problem=f"a hook that replaces {name} does not change the output as it should.",
                         hint=f"go on with what the hook point returns: {name.split('_')[1]} = self.{name}(...), "
                              "then use that value; calling the hook point and keeping the old tensor makes "
                              "ablation and patching (notebook 08) silently do nothing")

    # The meta device stands in for a GPU: the mask must be made on the input's device.
    cfg = TransformerConfig(n_heads=2, d_model=8, d_head=3, n_ctx=8, d_vocab=5)
    tried = ("AttentionLayer(cfg) with n_heads=2, d_model=8, d_head=3, moved to PyTorch's meta device (.to('meta'): "
             "shapes and dtypes, no data, a stand-in for a GPU), resid of shape (2, 5, 8) on meta")
    out = call(inside, meta_forward, AttentionLayer, cfg, (2, 5, 8), tried=tried,
               hint_if_raised="your code mixes devices: create the mask on resid's device "
                              "(torch.ones(n, n, device=resid.device)), and keep .item() and numpy out of forward")
    expect_tensor(out, shape=(2, 5, 8), tried=tried, name="the output", allow_nan=True)
    expect(out.device.type == "meta", "on the meta device, the output left the input's device.", tried=tried,
           expected="the output on meta", received=f"on {out.device}",
           hint="create new tensors (the mask) with device=resid.device")


LAYER_HINTS = {
    "hook_q": "q = resid @ W_Q[h] + b_Q[h] for every head h at once: einsum('bpm,hmd->bphd', resid, W_Q) + b_Q",
    "hook_k": "k is built like q, from W_K and b_K",
    "hook_v": "v is built like q, from W_V and b_V",
    "hook_pattern": "scores q·k / sqrt(d_head) as [batch, head, query, key], -inf where key > query (the future), "
                    "then softmax over the KEY axis (the last)",
    "hook_z": "z mixes the values by the pattern: einsum('bhqk,bkhd->bqhd', pattern, v)",
    "hook_result": "each head's result is its z times its own W_O[h]: einsum('bqhd,hdm->bqhm', z, W_O), "
                   "kept per head (do not sum over heads yet)",
}


# ---------------------------------------------------------------- 07.4 head_scores

def _hand_built_example(g, dtype, device="cpu"):
    return hand_built_induction_model(dtype=dtype).to(device), repeated_pairs(3, 6, 10, seed=7004).to(device), 6


def _expected_scores(length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The hand-built model's scores on A A rows of distinct tokens, in closed form (see mi_helpers.circuits).

    L1H0, the induction head, attends on the first copy uniformly over keys 1..q (no earlier match;
    key 0 is pushed away), so its previous-token score is the sum of 1/q for q = 2..length-1 over
    the 2·length - 1 queries that have a previous token."""
    queries = 2 * length - 1
    previous = torch.tensor([[1.0, 0.0],
                             [sum(1.0 / q for q in range(2, length)) / queries, 1.0 / queries]])
    induction = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    return previous, induction


@exercise("07.4", "head_scores", points=3, difficulty=2, minutes=25,
          example=_hand_built_example, meta=True,
          edge_cases=(EdgeCase("one sequence of A A with length 4",
                               lambda: (hand_built_induction_model(), repeated_pairs(1, 4, 10, seed=7040), 4),
                               lambda out, args: None if _scores_match(out, 4) else
                               "expected the hand-built model's known scores for length 4"),),
          opt_out={"written by hand": "it reads patterns with the course's run_with_cache, as intended"})
def check_head_scores(head_scores):
    for n, length in ((5, 6), (4, 8)):
        model = hand_built_induction_model()
        tokens = repeated_pairs(n, length, 10, seed=7004 + length)
        tried = (f"the hand-built 2-layer, 2-head induction model (mi_helpers.circuits), tokens = {n} rows of "
                 f"A A with length = {length} (shape {tuple(tokens.shape)})")
        out = call(head_scores, model, tokens, length, tried=tried)
        expect(isinstance(out, tuple) and len(out) == 2, "head_scores should return two tensors.", tried=tried,
               expected="(previous_token_scores, induction_scores), each [n_layers, n_heads]", received=describe(out),
               hint="return previous, induction")
        left = count_hooks(model)
        expect(left == 0, f"{left} hooks are still attached to the model after your function returned.",
               tried=tried, hint="record the patterns with run_with_cache (or record), which removes its hooks")
        previous, induction = out
        expect_tensor(previous, shape=(2, 2), tried=tried, name="the previous-token scores",
                      hint="one score per head: [n_layers, n_heads], averaged over the batch and the positions")
        expect_tensor(induction, shape=(2, 2), tried=tried, name="the induction scores",
                      hint="one score per head: [n_layers, n_heads], averaged over the batch and the positions")
        want_previous, want_induction = _expected_scores(length)
        expect_close(previous, want_previous, tried=tried, name="the previous-token scores", atol=1e-4,
                     problem="the previous-token scores are not the hand-built heads' known ones.",
                     hint="for every query position q ≥ 1, read pattern[..., q, q - 1] (the key just before it), "
                          "then average over the batch and those positions. L0H0 looks at the previous "
                          "token, so its score is 1; L0H1 looks at the current token, so its score is 0")
        expect_close(induction, want_induction, tried=tried, name="the induction scores", atol=1e-4,
                     problem="the induction scores are not the hand-built heads' known ones.",
                     hint="for query positions q in the second copy (length ≤ q < 2·length), read "
                          "pattern[..., q, q - length + 1]: the token AFTER the earlier occurrence of the current "
                          "token. L1H0 is an induction head, so its score is 1")


def _scores_match(out, length: int) -> bool:
    if not (isinstance(out, tuple) and len(out) == 2 and all(isinstance(t, torch.Tensor) for t in out)):
        return False
    want_previous, want_induction = _expected_scores(length)
    return all(t.shape == (2, 2) and torch.allclose(t.detach().cpu().double(), w.double(), atol=1e-4)
               for t, w in zip(out, (want_previous, want_induction)))


# ---------------------------------------------------------------- 07.5 name_the_heads

ROLES = ("previous_token", "induction")
ROLE_LAYER = {"previous_token": 0, "induction": 1}


def accuracy_with_heads_zeroed(model, batch, zeroed: dict) -> float:
    """Repeat accuracy with the outputs (hook_z) of some heads set to 0: ``zeroed`` maps layer -> heads."""
    from ..transformer import repeat_accuracy

    def zero(heads):
        def hook(z, name):
            z = z.clone()
            z[:, :, list(heads)] = 0.0
            return z
        return hook

    with hooks(model, [(f"blocks.{layer}.attn.hook_z", zero(heads)) for layer, heads in zeroed.items() if heads]):
        return repeat_accuracy(model, batch)


@functools.lru_cache(maxsize=1)
def measured_roles() -> dict:
    """Every head of the shipped model that does its layer's job of the circuit on its own.

    For each head of layer 0 (1), the other heads of that layer are zeroed: if the model still
    predicts the repeated tokens (≥ 80 %), that head alone is a previous-token (induction) head; if
    it falls below 50 %, it is not. A measurement by intervention (notebook 08's method), not by
    where heads look: the truth does not come from attention scores, the learner's method."""
    from ..transformer import TRAIN_LENGTHS, load_induction_model, repeated_sequences

    model = load_induction_model()
    batch = repeated_sequences(500, model.cfg, length=TRAIN_LENGTHS, seed=7005)
    heads = range(model.cfg.n_heads)
    roles = {}
    for role, layer in ROLE_LAYER.items():
        found = []
        for head in heads:
            alone = accuracy_with_heads_zeroed(model, batch, {layer: [h for h in heads if h != head]})
            if 0.5 <= alone < 0.8:  # pragma: no cover - a checkpoint the course would not ship
                raise RuntimeError(f"L{layer}H{head} alone gives {alone:.0%}: neither clearly a {role} head nor not")
            if alone >= 0.8:
                found.append((layer, head))
        roles[role] = tuple(found)
    return roles


def _pairs(value) -> list | None:
    """A list of (layer, head) pairs of Python ints, or None if value is not one."""
    if not isinstance(value, (list, tuple, set)) or not value:
        return None
    pairs = []
    for pair in value:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2
                and all(isinstance(i, numbers.Integral) and not isinstance(i, bool) for i in pair)):
            return None
        pairs.append((int(pair[0]), int(pair[1])))
    return pairs


@exercise("07.5", "name_the_heads", points=2, difficulty=2, minutes=15,
          opt_out={"inputs unchanged": "it takes no input", "float64": "it returns (layer, head) pairs",
                   "edge cases": "it takes no input", "written by hand": "a finding: any method may find it"})
def check_name_the_heads(name_the_heads):
    tried = "name_the_heads(), about the course's trained model (load_induction_model())"
    out = call(name_the_heads, tried=tried)
    expect(isinstance(out, dict) and set(out) == set(ROLES), "the answer should be a dict with two entries.",
           tried=tried, expected="{'previous_token': [(layer, head), ...], 'induction': [(layer, head), ...]}",
           received=describe(out), hint="return a dict with exactly these two keys, each a list of pairs")
    cfg = TransformerConfig()
    answer = {}
    for role in ROLES:
        pairs = _pairs(out[role])
        expect(pairs is not None and all(0 <= l < cfg.n_layers and 0 <= h < cfg.n_heads for l, h in pairs),
               f"out['{role}'] should be a non-empty list of (layer, head) pairs of the model.", tried=tried,
               expected=f"e.g. [(0, 1)]: layer in 0..{cfg.n_layers - 1}, head in 0..{cfg.n_heads - 1}, Python ints",
               received=describe(out[role]),
               hint="counting starts at 0: the first head of the first layer is (0, 0); a single head is [(l, h)]")
        answer[role] = set(pairs)
    truth = {role: set(pairs) for role, pairs in measured_roles().items()}
    if answer == {"previous_token": truth["induction"], "induction": truth["previous_token"]}:
        fail("you named the right heads, in each other's roles.", tried=tried,
             hint="the induction head's keys read what the previous-token head wrote: which of the two must "
                  "sit in the later layer?")
    for role in ROLES:
        words = role.replace("_", "-")
        wrong, missing = sorted(answer[role] - truth[role]), sorted(truth[role] - answer[role])
        expect(not wrong, f"{', '.join(map(str, wrong))} {'is not a' if len(wrong) == 1 else 'are not'} "
               f"{words} head{'s' if len(wrong) > 1 else ''} of the course's model.", tried=tried,
               expected=f"every {words} head, and no other", received=str(sorted(answer[role])),
               hint=f"compute head_scores on the course's model and keep the heads whose {words} score is high "
                    "(well above the others, not merely above chance). Which layer can a previous-token head be "
                    "in, if an induction head reads what it writes?")
        expect(not missing, f"the course's model has {len(missing)} more {words} "
               f"head{'s' if len(missing) > 1 else ''} than you named.", tried=tried,
               expected=f"every {words} head", received=str(sorted(answer[role])),
               hint="a model can have several heads doing the same job, side by side (redundancy): look at "
                    "every head's score, not only at the highest one")
