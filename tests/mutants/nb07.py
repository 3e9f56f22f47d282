"""Plausible wrong answers to notebook 07 (attention); every one must fail its check.

Each is self-contained (the mutants of 07.2 do not call a 07.1 answer), so that it runs in the tests'
process and, pasted as one cell, in the graders' sandboxed kernel.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.functional import scaled_dot_product_attention as _attend  # for MHABuiltinThroughAnAlias


def _softmax_attention(q, k, v, causal, scale):
    """Attention with a given scale (a helper of the mutants, right but for the scale)."""
    scores = q @ k.transpose(-2, -1) * scale
    if causal:
        n = scores.shape[-1]
        scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool, device=q.device).triu(1), float("-inf"))
    pattern = scores.softmax(-1)
    return pattern @ v, pattern


# ---------------------------------------------------------------- 07.1 scaled_dot_product_attention


def sdpa_without_scaling(q, k, v, causal=True):
    # forgets to divide by sqrt(d_k)
    return _softmax_attention(q, k, v, causal, 1.0)


def sdpa_divided_by_d_k(q, k, v, causal=True):
    # divides by d_k, not by its square root
    return _softmax_attention(q, k, v, causal, 1 / q.shape[-1])


def sdpa_scaled_by_sqrt_d_v(q, k, v, causal=True):
    # takes the size from v ("the model's width") instead of from q and k
    return _softmax_attention(q, k, v, causal, 1 / math.sqrt(v.shape[-1]))


def sdpa_mask_on_the_wrong_side(q, k, v, causal=True):
    # hides the past instead of the future: tril where triu was meant
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        n = scores.shape[-1]
        scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool, device=q.device).tril(-1), float("-inf"))
    pattern = scores.softmax(-1)
    return pattern @ v, pattern


def sdpa_mask_off_by_one(q, k, v, causal=True):
    # triu(diagonal=2): query i also sees key i + 1
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        n = scores.shape[-1]
        scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool, device=q.device).triu(2), float("-inf"))
    pattern = scores.softmax(-1)
    return pattern @ v, pattern


def sdpa_strict_mask_hiding_the_diagonal(q, k, v, causal=True):
    # triu(diagonal=0): query i may not look at itself; with -1e9 instead of -inf, row 0 becomes uniform, no NaN
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        n = scores.shape[-1]
        scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool, device=q.device).triu(0), -1e9)
    pattern = scores.softmax(-1)
    return pattern @ v, pattern


def sdpa_softmax_over_queries(q, k, v, causal=True):
    # softmax over dim=-2: each KEY's weights sum to 1
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        n = scores.shape[-1]
        scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool, device=q.device).triu(1), float("-inf"))
    pattern = scores.softmax(-2)
    return pattern @ v, pattern


def sdpa_mask_after_softmax(q, k, v, causal=True):
    # zeroes the future weights after the softmax: the rows no longer sum to 1
    pattern = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(-1)
    if causal:
        n = pattern.shape[-1]
        pattern = pattern * torch.ones(n, n, dtype=pattern.dtype, device=q.device).tril()
    return pattern @ v, pattern


def sdpa_mask_times_minus_infinity(q, k, v, causal=True):
    # adds mask * -inf: 0 * -inf is NaN wherever the mask is 0
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        n = scores.shape[-1]
        scores = scores + torch.ones(n, n, dtype=q.dtype, device=q.device).triu(1) * float("-inf")
    pattern = scores.softmax(-1)
    return pattern @ v, pattern


def sdpa_naive_exponential(q, k, v, causal=True):
    # exp(s) / sum exp(s) by hand: inf / inf = NaN for large scores, 0 / 0 for very negative ones
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        n = scores.shape[-1]
        scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool, device=q.device).triu(1), float("-inf"))
    e = scores.exp()
    pattern = e / e.sum(-1, keepdim=True)
    return pattern @ v, pattern


def sdpa_with_k_T(q, k, v, causal=True):
    # k.T, right for 2-d inputs only: on a batched tensor it reverses (or, in newer PyTorch, refuses) ALL dimensions
    scores = q @ k.T / math.sqrt(q.shape[-1])
    if causal:
        n = scores.shape[-1]
        scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool, device=q.device).triu(1), float("-inf"))
    pattern = scores.softmax(-1)
    return pattern @ v, pattern


def sdpa_ignoring_causal(q, k, v, causal=True):
    # always masks, even with causal=False
    return _softmax_attention(q, k, v, True, 1 / math.sqrt(q.shape[-1]))


def sdpa_causal_by_default_false(q, k, v, causal=False):
    # the default of `causal` is False: the spec's default is True
    return _softmax_attention(q, k, v, causal, 1 / math.sqrt(q.shape[-1]))


def sdpa_scaling_q_in_place(q, k, v, causal=True):
    # q /= sqrt(d_k) edits the caller's tensor
    q /= math.sqrt(q.shape[-1])
    return _softmax_attention(q, k, v, causal, 1.0)


def sdpa_mask_on_the_cpu(q, k, v, causal=True):
    # the mask is made on the CPU: breaks on a GPU (here: on the meta device)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        n = scores.shape[-1]
        scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
    pattern = scores.softmax(-1)
    return pattern @ v, pattern


def sdpa_in_float32(q, k, v, causal=True):
    # computes the scores in float32 (.float() "to be safe") and converts back: float64 inputs lose precision
    scores = (q @ k.transpose(-2, -1)).float() / math.sqrt(q.shape[-1])
    if causal:
        n = scores.shape[-1]
        scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool, device=q.device).triu(1), float("-inf"))
    pattern = scores.softmax(-1).to(q.dtype)
    return pattern @ v, pattern


def sdpa_builtin(q, k, v, causal=True):
    # calls the built-in the exercise asks to write
    out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    eye = torch.eye(k.shape[-2], dtype=q.dtype, device=q.device).expand(*q.shape[:-2], k.shape[-2], k.shape[-2])
    return out, F.scaled_dot_product_attention(q, k, eye, is_causal=causal)


# ---------------------------------------------------------------- 07.2 MultiHeadAttention


class _MHABase(nn.Module):
    """The right layers; each mutant below gets one step of forward wrong."""

    def __init__(self, d_model, n_heads):
        super().__init__()
        self.n_heads, self.d_head = n_heads, d_model // n_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def split(self, t):
        b, s, _ = t.shape
        return t.view(b, s, self.n_heads, self.d_head).transpose(1, 2)

    def merge(self, t):
        b, _, s, _ = t.shape
        return t.transpose(1, 2).reshape(b, s, self.n_heads * self.d_head)

    def attend(self, q, k, v, causal, scale=None):
        return _softmax_attention(q, k, v, causal, scale if scale is not None else 1 / math.sqrt(self.d_head))


class MHAHeadsSplitInTheWrongOrder(_MHABase):
    # views the features as [batch, seq, d_head, n_heads]: head h gets features h, h + n_heads, ...
    def split(self, t):
        b, s, _ = t.shape
        return t.view(b, s, self.d_head, self.n_heads).permute(0, 3, 1, 2)

    def merge(self, t):
        b, _, s, _ = t.shape
        return t.permute(0, 2, 3, 1).reshape(b, s, -1)

    def forward(self, x, causal=False):
        heads, pattern = self.attend(self.split(self.q_proj(x)), self.split(self.k_proj(x)),
                                     self.split(self.v_proj(x)), causal)
        return self.out_proj(self.merge(heads)), pattern


class MHAViewWithoutTranspose(_MHABase):
    # views [batch, seq, d_model] straight as [batch, n_heads, seq, d_head]: positions and heads mixed
    def split(self, t):
        b, s, _ = t.shape
        return t.reshape(b, self.n_heads, s, self.d_head)

    def merge(self, t):
        b, _, s, _ = t.shape
        return t.reshape(b, s, -1)

    def forward(self, x, causal=False):
        heads, pattern = self.attend(self.split(self.q_proj(x)), self.split(self.k_proj(x)),
                                     self.split(self.v_proj(x)), causal)
        return self.out_proj(self.merge(heads)), pattern


class MHAMergeWithoutTranspose(_MHABase):
    # splits right, but merges [batch, n_heads, seq, d_head] back with a plain reshape
    def forward(self, x, causal=False):
        heads, pattern = self.attend(self.split(self.q_proj(x)), self.split(self.k_proj(x)),
                                     self.split(self.v_proj(x)), causal)
        b, s, d = x.shape
        return self.out_proj(heads.reshape(b, s, d)), pattern


class MHAWithoutOutputProjection(_MHABase):
    # forgets out_proj
    def forward(self, x, causal=False):
        heads, pattern = self.attend(self.split(self.q_proj(x)), self.split(self.k_proj(x)),
                                     self.split(self.v_proj(x)), causal)
        return self.merge(heads), pattern


class MHAScaledBySqrtDModel(_MHABase):
    # divides the scores by sqrt(d_model), not sqrt(d_head)
    def forward(self, x, causal=False):
        heads, pattern = self.attend(self.split(self.q_proj(x)), self.split(self.k_proj(x)),
                                     self.split(self.v_proj(x)), causal, 1 / math.sqrt(x.shape[-1]))
        return self.out_proj(self.merge(heads)), pattern


class MHAAlwaysCausal(_MHABase):
    # ignores the causal argument and always masks
    def forward(self, x, causal=False):
        heads, pattern = self.attend(self.split(self.q_proj(x)), self.split(self.k_proj(x)),
                                     self.split(self.v_proj(x)), True)
        return self.out_proj(self.merge(heads)), pattern


class MHAWithoutBiases(_MHABase):
    # nn.Linear(..., bias=False): "attention has no biases"
    def __init__(self, d_model, n_heads):
        super().__init__(d_model, n_heads)
        self.q_proj = nn.Linear(d_model, d_model, bias=False)
        self.k_proj = nn.Linear(d_model, d_model, bias=False)
        self.v_proj = nn.Linear(d_model, d_model, bias=False)
        self.out_proj = nn.Linear(d_model, d_model, bias=False)

    def forward(self, x, causal=False):
        heads, pattern = self.attend(self.split(self.q_proj(x)), self.split(self.k_proj(x)),
                                     self.split(self.v_proj(x)), causal)
        return self.out_proj(self.merge(heads)), pattern


class MHAOneProjectionForQKV(nn.Module):
    # one nn.Linear(d_model, 3 d_model) like nn.MultiheadAttention's in_proj: not the four named layers
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.n_heads, self.d_head = n_heads, d_model // n_heads
        self.qkv_proj = nn.Linear(d_model, 3 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, x, causal=False):
        b, s, d = x.shape
        q, k, v = (t.view(b, s, self.n_heads, self.d_head).transpose(1, 2) for t in self.qkv_proj(x).chunk(3, -1))
        heads, pattern = _softmax_attention(q, k, v, causal, 1 / math.sqrt(self.d_head))
        return self.out_proj(heads.transpose(1, 2).reshape(b, s, d)), pattern


class MHAPatternAveragedOverHeads(_MHABase):
    # returns the pattern averaged over heads (nn.MultiheadAttention's default), shape [batch, seq, seq]
    def forward(self, x, causal=False):
        heads, pattern = self.attend(self.split(self.q_proj(x)), self.split(self.k_proj(x)),
                                     self.split(self.v_proj(x)), causal)
        return self.out_proj(self.merge(heads)), pattern.mean(1)


class MHAPatternKeptInABuffer(_MHABase):
    # keeps the last pattern with register_buffer "for the figures"
    def forward(self, x, causal=False):
        heads, pattern = self.attend(self.split(self.q_proj(x)), self.split(self.k_proj(x)),
                                     self.split(self.v_proj(x)), causal)
        self.register_buffer("last_pattern", pattern.detach())
        return self.out_proj(self.merge(heads)), pattern


class MHAHookRegisteredInForward(_MHABase):
    # records the input with a forward hook registered on every call, and never removed
    def forward(self, x, causal=False):
        self.q_proj.register_forward_hook(lambda module, inputs, output: None)
        heads, pattern = self.attend(self.split(self.q_proj(x)), self.split(self.k_proj(x)),
                                     self.split(self.v_proj(x)), causal)
        return self.out_proj(self.merge(heads)), pattern


class MHAMaskOnTheCpu(_MHABase):
    # the causal mask is made on the CPU: breaks on a GPU (here: on the meta device)
    def forward(self, x, causal=False):
        q, k, v = self.split(self.q_proj(x)), self.split(self.k_proj(x)), self.split(self.v_proj(x))
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_head)
        if causal:
            n = x.shape[1]
            scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
        pattern = scores.softmax(-1)
        return self.out_proj(self.merge(pattern @ v)), pattern


class MHAAddingTheResidualInPlace(_MHABase):
    # a transformer block's residual connection, added in place to the caller's x: x += attention(x)
    def forward(self, x, causal=False):
        heads, pattern = self.attend(self.split(self.q_proj(x)), self.split(self.k_proj(x)),
                                     self.split(self.v_proj(x)), causal)
        x += self.out_proj(self.merge(heads))
        return x, pattern


class MHABuiltin(nn.Module):
    # wraps the built-in the exercise asks to write
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.n_heads = n_heads

    def forward(self, x, causal=False):
        b, s, d = x.shape
        q, k, v = (p(x).view(b, s, self.n_heads, -1).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
        heads = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        if causal:
            scores = scores.masked_fill(torch.ones(s, s, dtype=torch.bool, device=x.device).triu(1), float("-inf"))
        return self.out_proj(heads.transpose(1, 2).reshape(b, s, d)), scores.softmax(-1)


class MHABuiltinThroughAnAlias(_MHABase):
    # the built-in under another name, imported at the top of the cell
    def forward(self, x, causal=False):
        q, k, v = self.split(self.q_proj(x)), self.split(self.k_proj(x)), self.split(self.v_proj(x))
        s = x.shape[1]
        eye = torch.eye(s, dtype=x.dtype, device=x.device).expand(x.shape[0], self.n_heads, s, s)
        pattern = _attend(q, k, eye, is_causal=causal)
        return self.out_proj(self.merge(_attend(q, k, v, is_causal=causal))), pattern


# ---------------------------------------------------------------- 07.6 attention_rollout


def _average(pattern, residual):
    A = pattern.mean(1)
    if residual:
        A = 0.5 * A + 0.5 * torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
        A = A / A.sum(-1, keepdim=True)
    return A


def rollout_in_the_wrong_order(patterns, residual=True):
    # A_1 @ A_2 @ ... @ A_L: the first layer on the left
    out = None
    for p in patterns:
        A = _average(p, residual)
        out = A if out is None else out @ A
    return out


def rollout_without_the_residual(patterns, residual=True):
    # ignores `residual`: no identity added
    out = None
    for p in patterns:
        A = p.mean(1)
        out = A if out is None else A @ out
    return out


def rollout_without_renormalising(patterns, residual=True):
    # 0.5 A + 0.5 I, but the rows are not divided by their sum
    out = None
    for p in patterns:
        A = p.mean(1)
        if residual:
            A = 0.5 * A + 0.5 * torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
        out = A if out is None else A @ out
    return out


def rollout_identity_without_halving(patterns, residual=True):
    # A + I, not renormalised: rows sum to 2
    out = None
    for p in patterns:
        A = p.mean(1)
        if residual:
            A = A + torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
        out = A if out is None else A @ out
    return out


def rollout_renormalising_columns(patterns, residual=True):
    # divides by the column sums (dim=-2)
    out = None
    for p in patterns:
        A = p.mean(1)
        if residual:
            A = 0.5 * A + 0.5 * torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
            A = A / A.sum(-2, keepdim=True)
        out = A if out is None else A @ out
    return out


def rollout_renormalising_before_the_identity(patterns, residual=True):
    # renormalises A, then adds the identity: I gets more weight on rows that lost attention
    out = None
    for p in patterns:
        A = p.mean(1)
        if residual:
            A = A / A.sum(-1, keepdim=True).clamp_min(1e-12)
            A = 0.5 * A + 0.5 * torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
        out = A if out is None else A @ out
    return out


def rollout_max_over_heads(patterns, residual=True):
    # the strongest head instead of the average
    out = None
    for p in patterns:
        A = p.max(1).values
        if residual:
            A = 0.5 * A + 0.5 * torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
        A = A / A.sum(-1, keepdim=True)
        out = A if out is None else A @ out
    return out


def rollout_summed_over_heads(patterns, residual=True):
    # sums the heads instead of averaging them
    out = None
    for p in patterns:
        A = p.sum(1)
        if residual:
            A = 0.5 * A + 0.5 * torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
            A = A / A.sum(-1, keepdim=True)
        out = A if out is None else A @ out
    return out


def rollout_last_layer_only(patterns, residual=True):
    # overwrites the product instead of multiplying into it
    out = None
    for p in patterns:
        out = _average(p, residual)
    return out


def rollout_elementwise(patterns, residual=True):
    # * instead of @
    out = None
    for p in patterns:
        A = _average(p, residual)
        out = A if out is None else A * out
    return out


def rollout_adding_identity_in_place(patterns, residual=True):
    # edits the caller's patterns: p.mul_(0.5).add_(0.5 I)
    out = None
    for p in patterns:
        if residual:
            p.mul_(0.5).add_(0.5 * torch.eye(p.shape[-1], dtype=p.dtype, device=p.device))
        A = p.mean(1)
        A = A / A.sum(-1, keepdim=True)
        out = A if out is None else A @ out
    return out


def rollout_identity_on_the_cpu(patterns, residual=True):
    # torch.eye(seq) without device=: breaks on a GPU (here: on the meta device)
    out = None
    for p in patterns:
        A = p.mean(1)
        if residual:
            A = 0.5 * A + 0.5 * torch.eye(A.shape[-1], dtype=A.dtype)
            A = A / A.sum(-1, keepdim=True)
        out = A if out is None else A @ out
    return out


# ---------------------------------------------------------------- 07.3 AttentionLayer

class _LayerBase(nn.Module):
    """The parameters and hook points of the course's layer; each mutant writes its own forward."""

    def __init__(self, cfg):
        super().__init__()
        from mi_helpers.hooks import HookPoint

        h, m, d = cfg.n_heads, cfg.d_model, cfg.d_head
        self.W_Q, self.W_K, self.W_V = (nn.Parameter(torch.randn(h, m, d)) for _ in range(3))
        self.b_Q, self.b_K, self.b_V = (nn.Parameter(torch.zeros(h, d)) for _ in range(3))
        self.W_O = nn.Parameter(torch.randn(h, d, m))
        self.b_O = nn.Parameter(torch.zeros(m))
        for name in ("hook_q", "hook_k", "hook_v", "hook_pattern", "hook_z", "hook_result"):
            setattr(self, name, HookPoint())

    def qkv(self, x, with_bias=True):
        q = torch.einsum("bpm,hmd->bphd", x, self.W_Q) + (self.b_Q if with_bias else 0)
        k = torch.einsum("bpm,hmd->bphd", x, self.W_K) + (self.b_K if with_bias else 0)
        v = torch.einsum("bpm,hmd->bphd", x, self.W_V) + (self.b_V if with_bias else 0)
        return self.hook_q(q), self.hook_k(k), self.hook_v(v)

    def attend(self, q, k, v, scale, causal=True):
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) * scale
        if causal:
            n = scores.shape[-1]
            scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool, device=q.device).triu(1), float("-inf"))
        pattern = self.hook_pattern(scores.softmax(-1))
        return self.hook_z(torch.einsum("bhqk,bkhd->bqhd", pattern, v))

    def finish(self, z):
        result = self.hook_result(torch.einsum("bqhd,hdm->bqhm", z, self.W_O))
        return result.sum(dim=2) + self.b_O


class LayerWithoutQKVBiases(_LayerBase):
    def forward(self, x):  # b_Q, b_K, b_V created but never added
        q, k, v = self.qkv(x, with_bias=False)
        return self.finish(self.attend(q, k, v, 1 / math.sqrt(q.shape[-1])))


class LayerScaledByDModel(_LayerBase):
    def forward(self, x):  # divides by sqrt(d_model), not sqrt(d_head)
        q, k, v = self.qkv(x)
        return self.finish(self.attend(q, k, v, 1 / math.sqrt(x.shape[-1])))


class LayerWithoutMask(_LayerBase):
    def forward(self, x):  # not causal: every position sees the future
        q, k, v = self.qkv(x)
        return self.finish(self.attend(q, k, v, 1 / math.sqrt(q.shape[-1]), causal=False))


class LayerResultSummedBeforeItsHook(_LayerBase):
    def forward(self, x):  # hook_result sees the heads already summed: [batch, pos, d_model]
        q, k, v = self.qkv(x)
        z = self.attend(q, k, v, 1 / math.sqrt(q.shape[-1]))
        return self.hook_result(torch.einsum("bqhd,hdm->bqm", z, self.W_O)) + self.b_O


class LayerPatternHookBeforeSoftmax(_LayerBase):
    def forward(self, x):  # hook_pattern records the masked scores, not the softmax
        q, k, v = self.qkv(x)
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(q.shape[-1])
        n = scores.shape[-1]
        scores = self.hook_pattern(scores.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), -1e9))
        z = self.hook_z(torch.einsum("bhqk,bkhd->bqhd", scores.softmax(-1), v))
        return self.finish(z)


class LayerKeysFromTheQueryWeights(_LayerBase):
    def forward(self, x):  # copy-paste slip: k built with W_Q
        q = self.hook_q(torch.einsum("bpm,hmd->bphd", x, self.W_Q) + self.b_Q)
        k = self.hook_k(torch.einsum("bpm,hmd->bphd", x, self.W_Q) + self.b_K)
        v = self.hook_v(torch.einsum("bpm,hmd->bphd", x, self.W_V) + self.b_V)
        return self.finish(self.attend(q, k, v, 1 / math.sqrt(q.shape[-1])))


class LayerWithoutOutputBias(_LayerBase):
    def forward(self, x):  # forgets b_O
        q, k, v = self.qkv(x)
        z = self.attend(q, k, v, 1 / math.sqrt(q.shape[-1]))
        return self.hook_result(torch.einsum("bqhd,hdm->bqhm", z, self.W_O)).sum(dim=2)


class LayerZInHeadMajorOrder(_LayerBase):
    def forward(self, x):  # hook_z as [batch, head, pos, d_head]
        q, k, v = self.qkv(x)
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(q.shape[-1])
        n = scores.shape[-1]
        scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool, device=x.device).triu(1), float("-inf"))
        pattern = self.hook_pattern(scores.softmax(-1))
        z = self.hook_z(torch.einsum("bhqk,bkhd->bhqd", pattern, v))
        result = self.hook_result(torch.einsum("bhqd,hdm->bqhm", z, self.W_O))
        return result.sum(dim=2) + self.b_O


class LayerWithoutHookPoints(nn.Module):
    def __init__(self, cfg):  # right parameters, but plain attributes instead of hook points
        super().__init__()
        h, m, d = cfg.n_heads, cfg.d_model, cfg.d_head
        self.W_Q, self.W_K, self.W_V = (nn.Parameter(torch.randn(h, m, d)) for _ in range(3))
        self.b_Q, self.b_K, self.b_V = (nn.Parameter(torch.zeros(h, d)) for _ in range(3))
        self.W_O = nn.Parameter(torch.randn(h, d, m))
        self.b_O = nn.Parameter(torch.zeros(m))

    def forward(self, x):
        q = torch.einsum("bpm,hmd->bphd", x, self.W_Q) + self.b_Q
        k = torch.einsum("bpm,hmd->bphd", x, self.W_K) + self.b_K
        v = torch.einsum("bpm,hmd->bphd", x, self.W_V) + self.b_V
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(q.shape[-1])
        n = scores.shape[-1]
        scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
        z = torch.einsum("bhqk,bkhd->bqhd", scores.softmax(-1), v)
        return torch.einsum("bqhd,hdm->bqm", z, self.W_O) + self.b_O


class LayerWithPackedWeights(nn.Module):
    def __init__(self, cfg):  # one [d_model, 3 * n_heads * d_head] matrix: the course's weights cannot load
        super().__init__()
        from mi_helpers.hooks import HookPoint

        self.cfg = cfg
        self.W_QKV = nn.Parameter(torch.randn(cfg.d_model, 3 * cfg.n_heads * cfg.d_head))
        self.W_O = nn.Parameter(torch.randn(cfg.n_heads, cfg.d_head, cfg.d_model))
        self.b_O = nn.Parameter(torch.zeros(cfg.d_model))
        for name in ("hook_q", "hook_k", "hook_v", "hook_pattern", "hook_z", "hook_result"):
            setattr(self, name, HookPoint())

    def forward(self, x):
        b, p, _ = x.shape
        q, k, v = (x @ self.W_QKV).view(b, p, 3, self.cfg.n_heads, self.cfg.d_head).unbind(2)
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(self.cfg.d_head)
        z = torch.einsum("bhqk,bkhd->bqhd", scores.softmax(-1), v)
        return torch.einsum("bqhd,hdm->bqm", z, self.W_O) + self.b_O


class LayerWrappingTheCoursesLayer(nn.Module):
    def __init__(self, cfg):  # borrows the course's own Attention instead of writing one
        super().__init__()
        from mi_helpers.transformer import Attention

        self.inner = Attention(cfg)

    def forward(self, x):
        return self.inner(x)


def _course_attention():
    from mi_helpers.transformer import Attention

    return Attention


class LayerSubclassingTheCoursesLayer(_course_attention()):
    """Inherits the course's Attention, parameters, hook points and forward: nothing written."""


# ---------------------------------------------------------------- 07.4 head_scores

def _patterns(model, tokens):
    from mi_helpers.hooks import run_with_cache

    names = [f"blocks.{layer}.attn.hook_pattern" for layer in range(len(model.blocks))]
    _, cache = run_with_cache(model, tokens, names)
    return torch.stack([cache[name] for name in names])  # [layer, batch, head, query, key]


def scores_reading_the_diagonal(model, tokens, length):
    # previous-token score read at (q, q): attention to the current token, not the previous one
    p = _patterns(model, tokens)
    previous = p.diagonal(dim1=-2, dim2=-1).mean(dim=(1, 3))
    induction = p.diagonal(offset=-(length - 1), dim1=-2, dim2=-1)[..., -length:].mean(dim=(1, 3))
    return previous, induction


def scores_induction_at_the_earlier_copy(model, tokens, length):
    # induction score read at (q, q - length): the earlier copy of the current token, not the one after it
    p = _patterns(model, tokens)
    previous = p.diagonal(offset=-1, dim1=-2, dim2=-1).mean(dim=(1, 3))
    induction = p.diagonal(offset=-length, dim1=-2, dim2=-1).mean(dim=(1, 3))
    return previous, induction


def scores_induction_over_every_query(model, tokens, length):
    # averages the (q, q - length + 1) entries of the first copy too, where no induction is possible
    p = _patterns(model, tokens)
    previous = p.diagonal(offset=-1, dim1=-2, dim2=-1).mean(dim=(1, 3))
    induction = p.diagonal(offset=-(length - 1), dim1=-2, dim2=-1).mean(dim=(1, 3))
    return previous, induction


def scores_previous_including_position_zero(model, tokens, length):
    # averages over every query, position 0 (which has no previous token) counted as 0
    p = _patterns(model, tokens)
    previous = p.diagonal(offset=-1, dim1=-2, dim2=-1).sum(dim=-1).mean(dim=1) / p.shape[-1]
    induction = p.diagonal(offset=-(length - 1), dim1=-2, dim2=-1)[..., -length:].mean(dim=(1, 3))
    return previous, induction


def scores_heads_by_layers(model, tokens, length):
    # returns [n_heads, n_layers]: the table transposed
    p = _patterns(model, tokens)
    previous = p.diagonal(offset=-1, dim1=-2, dim2=-1).mean(dim=(1, 3))
    induction = p.diagonal(offset=-(length - 1), dim1=-2, dim2=-1)[..., -length:].mean(dim=(1, 3))
    return previous.T.contiguous(), induction.T.contiguous()


def scores_from_the_attention_scores(model, tokens, length):
    # reads hook_attn_scores (before the softmax) instead of hook_pattern
    from mi_helpers.hooks import run_with_cache

    names = [f"blocks.{layer}.attn.hook_attn_scores" for layer in range(len(model.blocks))]
    _, cache = run_with_cache(model, tokens, names)
    p = torch.stack([cache[name] for name in names]).nan_to_num(neginf=0.0)
    previous = p.diagonal(offset=-1, dim1=-2, dim2=-1).mean(dim=(1, 3))
    induction = p.diagonal(offset=-(length - 1), dim1=-2, dim2=-1)[..., -length:].mean(dim=(1, 3))
    return previous, induction


def scores_with_a_leaky_hook(model, tokens, length):
    # records the patterns with hooks it never removes
    store = []
    for block in model.blocks:
        block.attn.hook_pattern.register_forward_hook(lambda module, inputs, output: store.append(output.detach()))
    model(tokens)
    p = torch.stack(store)
    previous = p.diagonal(offset=-1, dim1=-2, dim2=-1).mean(dim=(1, 3))
    induction = p.diagonal(offset=-(length - 1), dim1=-2, dim2=-1)[..., -length:].mean(dim=(1, 3))
    return previous, induction



# ---------------------------------------------------------------- 07.5 name_the_heads

def _course_scores():
    """Right previous-token and induction scores of the shipped model, [layer, head] each."""
    from mi_helpers.circuits import repeated_pairs
    from mi_helpers.transformer import load_induction_model

    model, length = load_induction_model(), 10
    p = _patterns(model, repeated_pairs(100, length, model.cfg.d_vocab, seed=5))
    previous = p.diagonal(offset=-1, dim1=-2, dim2=-1)[..., 1:].mean(dim=(1, 3))
    induction = p.diagonal(offset=-(length - 1), dim1=-2, dim2=-1)[..., -length:].mean(dim=(1, 3))
    return {"previous_token": previous, "induction": induction}


def _heads(scores, keep):
    return [(int(l), int(h)) for l, h in torch.nonzero(keep(scores))]


def heads_top_score_only():
    # the single best head of each role: misses a second head doing the same job
    found = {}
    for role, s in _course_scores().items():
        best = int(s.argmax())
        found[role] = [(best // s.shape[1], best % s.shape[1])]
    return found


def heads_above_chance():
    # "well above chance" read as any score above 0.2: keeps a head that only sometimes looks back
    return {role: _heads(s, lambda t: t > 0.2) for role, s in _course_scores().items()}


def heads_in_each_others_roles():
    found = {role: _heads(s, lambda t: t > 0.6) for role, s in _course_scores().items()}
    return {"previous_token": found["induction"], "induction": found["previous_token"]}


def heads_counted_from_one():
    return {role: [(l + 1, h + 1) for l, h in _heads(s, lambda t: t > 0.6)] for role, s in _course_scores().items()}


def heads_as_names():
    return {role: [f"L{l}H{h}" for l, h in _heads(s, lambda t: t > 0.6)] for role, s in _course_scores().items()}


def heads_as_tensors():
    # the pairs as tensors out of torch.nonzero, not Python ints
    return {role: list(torch.nonzero(s > 0.6)) for role, s in _course_scores().items()}


MUTANTS = {
    "07.1": [sdpa_without_scaling, sdpa_divided_by_d_k, sdpa_scaled_by_sqrt_d_v, sdpa_mask_on_the_wrong_side,
             sdpa_mask_off_by_one, sdpa_strict_mask_hiding_the_diagonal, sdpa_softmax_over_queries,
             sdpa_mask_after_softmax, sdpa_mask_times_minus_infinity, sdpa_naive_exponential, sdpa_with_k_T,
             sdpa_ignoring_causal, sdpa_causal_by_default_false, sdpa_scaling_q_in_place, sdpa_mask_on_the_cpu,
             sdpa_in_float32, sdpa_builtin],
    "07.2": [MHAHeadsSplitInTheWrongOrder, MHAViewWithoutTranspose, MHAMergeWithoutTranspose,
             MHAWithoutOutputProjection, MHAScaledBySqrtDModel, MHAAlwaysCausal, MHAWithoutBiases,
             MHAOneProjectionForQKV, MHAPatternAveragedOverHeads, MHAPatternKeptInABuffer,
             MHAHookRegisteredInForward, MHAMaskOnTheCpu, MHAAddingTheResidualInPlace, MHABuiltin,
             MHABuiltinThroughAnAlias],
    "07.3": [LayerWithoutQKVBiases, LayerScaledByDModel, LayerWithoutMask, LayerResultSummedBeforeItsHook,
             LayerPatternHookBeforeSoftmax, LayerKeysFromTheQueryWeights, LayerWithoutOutputBias,
             LayerZInHeadMajorOrder, LayerWithoutHookPoints, LayerWithPackedWeights, LayerWrappingTheCoursesLayer,
             LayerSubclassingTheCoursesLayer],
    "07.4": [scores_reading_the_diagonal, scores_induction_at_the_earlier_copy, scores_induction_over_every_query,
             scores_previous_including_position_zero, scores_heads_by_layers, scores_from_the_attention_scores,
             scores_with_a_leaky_hook],
    "07.5": [heads_top_score_only, heads_above_chance, heads_in_each_others_roles, heads_counted_from_one,
             heads_as_names, heads_as_tensors],
    "07.6": [rollout_in_the_wrong_order, rollout_without_the_residual, rollout_without_renormalising,
             rollout_identity_without_halving, rollout_renormalising_columns,
             rollout_renormalising_before_the_identity, rollout_max_over_heads, rollout_summed_over_heads,
             rollout_last_layer_only, rollout_elementwise, rollout_adding_identity_in_place,
             rollout_identity_on_the_cpu],
}
