"""Blind mutants for notebook 07 (attention): plausible wrong answers written from the learner's notebook
only. Each mutant carries a one-line comment saying what is wrong. The classes of 07.2 and 07.3 share small
private bases (`_MHAParts`, `_LayerParts`) that build the layers and parameters the spec asks for, as a
learner's copy-pasted __init__ would; the mistake of each mutant is in the code it adds.

Exercises: 07.1 scaled_dot_product_attention, 07.2 MultiHeadAttention, 07.3 AttentionLayer, 07.4 head_scores,
07.5 name_the_heads, 07.6 attention_rollout.
"""
import functools
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.functional import multi_head_attention_forward as _mha_forward
from torch.nn.functional import scaled_dot_product_attention as _fused_attention

from mi_helpers.circuits import hand_built_induction_model, repeated_pairs
from mi_helpers.hooks import HookPoint, run_with_cache
from mi_helpers.transformer import Attention as _CourseAttention
from mi_helpers.transformer import load_induction_model


def _attend(q, k, v, causal):
    """A correct scaled dot-product attention, as a learner's 07.1 would be: (out, pattern)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        n = q.shape[-2]
        future = torch.ones(n, n, dtype=torch.bool, device=q.device).triu(diagonal=1)
        scores = scores.masked_fill(future, float("-inf"))
    pattern = torch.softmax(scores, dim=-1)
    return pattern @ v, pattern


# ----------------------------------------------------------------------------- 07.1 scaled_dot_product_attention


def blind_sdpa_scale_query_inplace(q, k, v, causal=True):
    # WRONG (inplace): scales the queries in place (q /= sqrt(d_k)): right values, the caller's q is changed.
    q /= math.sqrt(q.shape[-1])
    scores = q @ k.transpose(-2, -1)
    if causal:
        n = q.shape[-2]
        scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool, device=q.device).triu(1), float("-inf"))
    pattern = torch.softmax(scores, dim=-1)
    return pattern @ v, pattern


def blind_sdpa_float32(q, k, v, causal=True):
    # WRONG (dtype): casts everything to float32 "for the softmax"; float64 inputs give float32 results.
    q, k, v = q.float(), k.float(), v.float()
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        n = q.shape[-2]
        scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool, device=q.device).triu(1), float("-inf"))
    pattern = torch.softmax(scores, dim=-1)
    return pattern @ v, pattern


def blind_sdpa_naive_softmax(q, k, v, causal=True):
    # WRONG (edge): softmax written by hand as exp(s) / sum exp(s): scores of about +1000 overflow to inf/inf = NaN.
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        n = q.shape[-2]
        scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool, device=q.device).triu(1), float("-inf"))
    e = scores.exp()
    pattern = e / e.sum(dim=-1, keepdim=True)
    return pattern @ v, pattern


def blind_sdpa_mask_on_cpu(q, k, v, causal=True):
    # WRONG (edge): builds the causal mask without device=q.device: fails on a GPU or the meta device.
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        n = q.shape[-2]
        scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
    pattern = torch.softmax(scores, dim=-1)
    return pattern @ v, pattern


def blind_sdpa_fused_builtin(q, k, v, causal=True):
    # WRONG (builtin): calls F.scaled_dot_product_attention (through an alias import) for out, and for the
    # pattern with the identity as v, exactly the way the notebook says the check does.
    out = _fused_attention(q, k, v, is_causal=causal)
    k_len = k.shape[-2]
    eye = torch.eye(k_len, dtype=q.dtype, device=q.device).expand(*k.shape[:-1], k_len)
    pattern = _fused_attention(q, k, eye, is_causal=causal)
    return out, pattern


def blind_sdpa_dropout(q, k, v, causal=True):
    # WRONG (random): attention dropout "as in the paper": F.dropout(p=0.1) trains by default, so random
    # weights are zeroed and the rest scaled by 1/0.9 on every call.
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        n = q.shape[-2]
        scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool, device=q.device).triu(1), float("-inf"))
    pattern = F.dropout(torch.softmax(scores, dim=-1), p=0.1)
    return pattern @ v, pattern


def blind_sdpa_scale_by_d_v(q, k, v, causal=True):
    # WRONG: divides by sqrt(d_v) (v.shape[-1]) instead of sqrt(d_k): wrong whenever d_v != d_k.
    scores = q @ k.transpose(-2, -1) / math.sqrt(v.shape[-1])
    if causal:
        n = q.shape[-2]
        scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool, device=q.device).triu(1), float("-inf"))
    pattern = torch.softmax(scores, dim=-1)
    return pattern @ v, pattern


def blind_sdpa_scale_by_d_k(q, k, v, causal=True):
    # WRONG: divides the scores by d_k instead of sqrt(d_k): patterns too flat.
    scores = q @ k.transpose(-2, -1) / q.shape[-1]
    if causal:
        n = q.shape[-2]
        scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool, device=q.device).triu(1), float("-inf"))
    pattern = torch.softmax(scores, dim=-1)
    return pattern @ v, pattern


def blind_sdpa_mask_diagonal(q, k, v, causal=True):
    # WRONG: mask off by one: triu() with the default diagonal=0 also masks j == i, so query 0 sees nothing
    # (a row of -inf gives NaN) and every other query misses itself.
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        n = q.shape[-2]
        scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool, device=q.device).triu(), float("-inf"))
    pattern = torch.softmax(scores, dim=-1)
    return pattern @ v, pattern


def blind_sdpa_mask_after_softmax(q, k, v, causal=True):
    # WRONG: zeroes the future weights AFTER the softmax, without renormalising: rows sum to less than 1.
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    pattern = torch.softmax(scores, dim=-1)
    if causal:
        n = q.shape[-2]
        pattern = pattern.masked_fill(torch.ones(n, n, dtype=torch.bool, device=q.device).triu(1), 0.0)
    return pattern @ v, pattern


def blind_sdpa_mask_times_inf(q, k, v, causal=True):
    # WRONG: adds a 0/1 mask multiplied by -inf: 0 * -inf is NaN, so every allowed score becomes NaN.
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        n = q.shape[-2]
        mask = torch.ones(n, n, dtype=q.dtype, device=q.device).triu(1)
        scores = scores + mask * float("-inf")
    pattern = torch.softmax(scores, dim=-1)
    return pattern @ v, pattern


def blind_sdpa_softmax_over_queries(q, k, v, causal=True):
    # WRONG: softmax over dim=-2 (the queries): columns sum to 1 instead of rows.
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        n = q.shape[-2]
        scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool, device=q.device).triu(1), float("-inf"))
    pattern = torch.softmax(scores, dim=-2)
    return pattern @ v, pattern


# ----------------------------------------------------------------------------- 07.2 MultiHeadAttention


class _MHAParts(nn.Module):
    """The four projections the spec asks for, and the split into heads (correct)."""

    def __init__(self, d_model, n_heads):
        super().__init__()
        self.n_heads = n_heads
        self.d_head = d_model // n_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def _split(self, t):
        b, s, _ = t.shape
        return t.view(b, s, self.n_heads, self.d_head).transpose(1, 2)

    def _merge(self, heads):
        b, _, s, _ = heads.shape
        return heads.transpose(1, 2).reshape(b, s, self.n_heads * self.d_head)


class BlindMHAStoresPattern(_MHAParts):
    # WRONG (inplace): keeps the last pattern as a buffer "to plot it later": forward changes the module.
    def forward(self, x, causal=False):
        q, k, v = self._split(self.q_proj(x)), self._split(self.k_proj(x)), self._split(self.v_proj(x))
        heads, pattern = _attend(q, k, v, causal)
        self.register_buffer("last_pattern", pattern.detach())
        return self.out_proj(self._merge(heads)), pattern


class BlindMHASoftmaxFloat32(_MHAParts):
    # WRONG (dtype): softmax with dtype=torch.float32 "for stability": a float64 module returns a float32
    # pattern, and its output goes through float32 weights.
    def forward(self, x, causal=False):
        q, k, v = self._split(self.q_proj(x)), self._split(self.k_proj(x)), self._split(self.v_proj(x))
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_head)
        if causal:
            n = x.shape[1]
            scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool, device=x.device).triu(1), float("-inf"))
        pattern = torch.softmax(scores, dim=-1, dtype=torch.float32)
        heads = pattern.to(v.dtype) @ v
        return self.out_proj(self._merge(heads)), pattern


class BlindMHAMaskOnCPU(_MHAParts):
    # WRONG (edge): the causal mask is made without device=x.device: the module fails on a GPU or on meta.
    def forward(self, x, causal=False):
        q, k, v = self._split(self.q_proj(x)), self._split(self.k_proj(x)), self._split(self.v_proj(x))
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_head)
        if causal:
            n = x.shape[1]
            scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
        pattern = torch.softmax(scores, dim=-1)
        return self.out_proj(self._merge(pattern @ v)), pattern


class BlindMHASqueezed(_MHAParts):
    # WRONG (edge): a stray .squeeze() "to tidy the shapes": one head (or a batch of one) loses its axis.
    def forward(self, x, causal=False):
        q, k, v = self._split(self.q_proj(x)), self._split(self.k_proj(x)), self._split(self.v_proj(x))
        heads, pattern = _attend(q, k, v, causal)
        return self.out_proj(self._merge(heads)), pattern.squeeze()


class BlindMHAFunctionalBuiltin(_MHAParts):
    # WRONG (builtin): packs the projections and calls F.multi_head_attention_forward (via an alias import).
    def forward(self, x, causal=False):
        n = x.shape[1]
        mask = torch.ones(n, n, dtype=torch.bool, device=x.device).triu(1) if causal else None
        xt = x.transpose(0, 1)
        out, pattern = _mha_forward(
            xt, xt, xt, x.shape[-1], self.n_heads,
            torch.cat([self.q_proj.weight, self.k_proj.weight, self.v_proj.weight]),
            torch.cat([self.q_proj.bias, self.k_proj.bias, self.v_proj.bias]),
            None, None, False, 0.0, self.out_proj.weight, self.out_proj.bias,
            training=False, need_weights=True, attn_mask=mask, average_attn_weights=False)
        return out.transpose(0, 1), pattern


class BlindMHAFusedHeads(_MHAParts):
    # WRONG (builtin): the heads' outputs come from F.scaled_dot_product_attention (alias import); only the
    # pattern is computed by hand.
    def forward(self, x, causal=False):
        q, k, v = self._split(self.q_proj(x)), self._split(self.k_proj(x)), self._split(self.v_proj(x))
        heads = _fused_attention(q, k, v, is_causal=causal)
        _, pattern = _attend(q, k, v, causal)
        return self.out_proj(self._merge(heads)), pattern


class BlindMHADropout(_MHAParts):
    # WRONG (random): F.dropout(pattern, 0.1) as nn.MultiheadAttention has dropout: training=True by default,
    # so weights are dropped at random on every call.
    def forward(self, x, causal=False):
        q, k, v = self._split(self.q_proj(x)), self._split(self.k_proj(x)), self._split(self.v_proj(x))
        _, pattern = _attend(q, k, v, causal)
        pattern = F.dropout(pattern, 0.1)
        return self.out_proj(self._merge(pattern @ v)), pattern


class BlindMHAScaleDModel(_MHAParts):
    # WRONG: divides every head's scores by sqrt(d_model) instead of sqrt(d_head) (right only for one head).
    def forward(self, x, causal=False):
        q, k, v = self._split(self.q_proj(x)), self._split(self.k_proj(x)), self._split(self.v_proj(x))
        scores = q @ k.transpose(-2, -1) / math.sqrt(x.shape[-1])
        if causal:
            n = x.shape[1]
            scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool, device=x.device).triu(1), float("-inf"))
        pattern = torch.softmax(scores, dim=-1)
        return self.out_proj(self._merge(pattern @ v)), pattern


class BlindMHAStridedHeads(_MHAParts):
    # WRONG: splits as [batch, seq, d_head, n_heads]: head h gets features h, h + n_heads, ... (and merges
    # back the same way), not the block h*d_head:(h+1)*d_head.
    def forward(self, x, causal=False):
        b, s, d = x.shape

        def split(t):
            return t.view(b, s, self.d_head, self.n_heads).permute(0, 3, 1, 2)

        heads, pattern = _attend(split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x)), causal)
        merged = heads.permute(0, 2, 3, 1).reshape(b, s, d)
        return self.out_proj(merged), pattern


class BlindMHAViewMixesPositions(_MHAParts):
    # WRONG: views straight as [batch, n_heads, seq, d_head] without the transpose: positions and heads mix.
    def forward(self, x, causal=False):
        b, s, d = x.shape

        def split(t):
            return t.reshape(b, self.n_heads, s, self.d_head)

        heads, pattern = _attend(split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x)), causal)
        return self.out_proj(heads.reshape(b, s, d)), pattern


class BlindMHAMergeNoTranspose(_MHAParts):
    # WRONG: merges the heads with reshape(batch, seq, d_model) straight from [batch, head, seq, d_head],
    # without transposing back: the heads' outputs are scrambled across positions.
    def forward(self, x, causal=False):
        b, s, d = x.shape
        q, k, v = self._split(self.q_proj(x)), self._split(self.k_proj(x)), self._split(self.v_proj(x))
        heads, pattern = _attend(q, k, v, causal)
        return self.out_proj(heads.reshape(b, s, d)), pattern


class BlindMHAAlwaysCausal(_MHAParts):
    # WRONG: reuses 07.1 without passing causal=causal: its default True masks the future even when
    # the module is called with causal=False.
    def forward(self, x, causal=False):
        q, k, v = self._split(self.q_proj(x)), self._split(self.k_proj(x)), self._split(self.v_proj(x))
        heads, pattern = _attend(q, k, v, True)
        return self.out_proj(self._merge(heads)), pattern


class BlindMHAAveragedPattern(_MHAParts):
    # WRONG: returns the pattern averaged over the heads ([batch, seq, seq]), nn.MultiheadAttention's default.
    def forward(self, x, causal=False):
        q, k, v = self._split(self.q_proj(x)), self._split(self.k_proj(x)), self._split(self.v_proj(x))
        heads, pattern = _attend(q, k, v, causal)
        return self.out_proj(self._merge(heads)), pattern.mean(dim=1)


class BlindMHANoOutProj(_MHAParts):
    # WRONG: forgets out_proj: returns the heads' outputs side by side, unmixed.
    def forward(self, x, causal=False):
        q, k, v = self._split(self.q_proj(x)), self._split(self.k_proj(x)), self._split(self.v_proj(x))
        heads, pattern = _attend(q, k, v, causal)
        return self._merge(heads), pattern


# ----------------------------------------------------------------------------- 07.3 AttentionLayer


class _LayerParts(nn.Module):
    """The parameters and hook points the spec asks for (correct)."""

    def __init__(self, cfg):
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
        self.hook_pattern = HookPoint()
        self.hook_z = HookPoint()
        self.hook_result = HookPoint()

    def _qkv(self, resid):
        q = self.hook_q(torch.einsum("bpm,hmd->bphd", resid, self.W_Q) + self.b_Q)
        k = self.hook_k(torch.einsum("bpm,hmd->bphd", resid, self.W_K) + self.b_K)
        v = self.hook_v(torch.einsum("bpm,hmd->bphd", resid, self.W_V) + self.b_V)
        return q, k, v

    def _future(self, resid):
        n = resid.shape[1]
        return torch.ones(n, n, dtype=torch.bool, device=resid.device).triu(1)

    def _finish(self, pattern, v):
        z = self.hook_z(torch.einsum("bhqk,bkhd->bqhd", pattern, v))
        result = self.hook_result(torch.einsum("bqhd,hdm->bqhm", z, self.W_O))
        return result.sum(dim=2) + self.b_O


class BlindLayerScaleHookedQInplace(_LayerParts):
    # WRONG (inplace): divides q by sqrt(d_head) IN PLACE after hook_q: the cached hook_q (and whatever a hook
    # returned) is changed behind the hook's back.
    def forward(self, resid):
        q, k, v = self._qkv(resid)
        q /= math.sqrt(self.cfg.d_head)
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k).masked_fill(self._future(resid), float("-inf"))
        pattern = self.hook_pattern(scores.softmax(dim=-1))
        return self._finish(pattern, v)


class BlindLayerSoftmaxFloat32(_LayerParts):
    # WRONG (dtype): softmax(dtype=torch.float32) "for stability": in a float64 layer hook_pattern is float32
    # and the rest of the layer loses precision.
    def forward(self, resid):
        q, k, v = self._qkv(resid)
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(self.cfg.d_head)
        scores = scores.masked_fill(self._future(resid), float("-inf"))
        pattern = self.hook_pattern(scores.softmax(dim=-1, dtype=torch.float32))
        return self._finish(pattern.to(v.dtype), v)


class BlindLayerMaskOnCPU(_LayerParts):
    # WRONG (edge): the mask is made without device=resid.device: fails on a GPU or the meta device.
    def forward(self, resid):
        q, k, v = self._qkv(resid)
        n = resid.shape[1]
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(self.cfg.d_head)
        scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
        pattern = self.hook_pattern(scores.softmax(dim=-1))
        return self._finish(pattern, v)


class BlindLayerBiasPerHead(_LayerParts):
    # WRONG: adds b_O to every head's result before hook_result: the sum carries n_heads * b_O
    # (right only with one head, and hook_result is wrong even then).
    def forward(self, resid):
        q, k, v = self._qkv(resid)
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(self.cfg.d_head)
        pattern = self.hook_pattern(scores.masked_fill(self._future(resid), float("-inf")).softmax(dim=-1))
        z = self.hook_z(torch.einsum("bhqk,bkhd->bqhd", pattern, v))
        result = self.hook_result(torch.einsum("bqhd,hdm->bqhm", z, self.W_O) + self.b_O)
        return result.sum(dim=2)


class BlindLayerSubclassCourse(_CourseAttention):
    # WRONG (builtin): subclasses the course's own Attention (through an alias import) and reuses its forward.
    def __init__(self, cfg):
        super().__init__(cfg)


class BlindLayerFusedZ(_LayerParts):
    # WRONG (builtin): z comes from F.scaled_dot_product_attention (alias import); the pattern is by hand.
    def forward(self, resid):
        q, k, v = self._qkv(resid)
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(self.cfg.d_head)
        pattern = self.hook_pattern(scores.masked_fill(self._future(resid), float("-inf")).softmax(dim=-1))
        z = _fused_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True)
        z = self.hook_z(z.transpose(1, 2))
        result = self.hook_result(torch.einsum("bqhd,hdm->bqhm", z, self.W_O))
        return result.sum(dim=2) + self.b_O


class BlindLayerHookDiscarded(_LayerParts):
    # WRONG: calls self.hook_q(q), self.hook_k(k), self.hook_v(v) but keeps using the values from before the
    # hooks: a hook that returns a replacement changes nothing downstream.
    def forward(self, resid):
        q = torch.einsum("bpm,hmd->bphd", resid, self.W_Q) + self.b_Q
        k = torch.einsum("bpm,hmd->bphd", resid, self.W_K) + self.b_K
        v = torch.einsum("bpm,hmd->bphd", resid, self.W_V) + self.b_V
        self.hook_q(q)
        self.hook_k(k)
        self.hook_v(v)
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(self.cfg.d_head)
        pattern = scores.masked_fill(self._future(resid), float("-inf")).softmax(dim=-1)
        self.hook_pattern(pattern)
        return self._finish(pattern, v)


class BlindLayerScaleDModel(_LayerParts):
    # WRONG: scales the scores by sqrt(d_model) instead of sqrt(d_head).
    def forward(self, resid):
        q, k, v = self._qkv(resid)
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(self.cfg.d_model)
        pattern = self.hook_pattern(scores.masked_fill(self._future(resid), float("-inf")).softmax(dim=-1))
        return self._finish(pattern, v)


class BlindLayerMaskNextKey(_LayerParts):
    # WRONG: mask off by one: triu(2) masks only keys two or more ahead, so each query also reads the next token.
    def forward(self, resid):
        q, k, v = self._qkv(resid)
        n = resid.shape[1]
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(self.cfg.d_head)
        future = torch.ones(n, n, dtype=torch.bool, device=resid.device).triu(2)
        pattern = self.hook_pattern(scores.masked_fill(future, float("-inf")).softmax(dim=-1))
        return self._finish(pattern, v)


class BlindLayerPatternTransposed(_LayerParts):
    # WRONG: mixes the values with the pattern's keys and queries swapped ("bhqk,bqhd->bkhd").
    def forward(self, resid):
        q, k, v = self._qkv(resid)
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(self.cfg.d_head)
        pattern = self.hook_pattern(scores.masked_fill(self._future(resid), float("-inf")).softmax(dim=-1))
        z = self.hook_z(torch.einsum("bhqk,bqhd->bkhd", pattern, v))
        result = self.hook_result(torch.einsum("bqhd,hdm->bqhm", z, self.W_O))
        return result.sum(dim=2) + self.b_O


class BlindLayerResultSummedFirst(_LayerParts):
    # WRONG: sums over the heads inside the einsum and passes the [batch, pos, d_model] sum through
    # hook_result, so no per-head result is ever exposed.
    def forward(self, resid):
        q, k, v = self._qkv(resid)
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(self.cfg.d_head)
        pattern = self.hook_pattern(scores.masked_fill(self._future(resid), float("-inf")).softmax(dim=-1))
        z = self.hook_z(torch.einsum("bhqk,bkhd->bqhd", pattern, v))
        result = self.hook_result(torch.einsum("bqhd,hdm->bqm", z, self.W_O))
        return result + self.b_O


# ----------------------------------------------------------------------------- 07.4 head_scores


def _stacked_patterns(model, tokens):
    names = [f"blocks.{l}.attn.hook_pattern" for l in range(len(model.blocks))]
    _, cache = run_with_cache(model, tokens, names)
    return torch.stack([cache[name] for name in names])  # [layer, batch, head, query, key]


def blind_head_scores_model_to_double(model, tokens, length):
    # WRONG (inplace): model.double() "for precise means" converts the caller's model in place (and the
    # scores come back float64 for a float32 model).
    model = model.double()
    P = _stacked_patterns(model, tokens)
    previous = P.diagonal(offset=-1, dim1=-2, dim2=-1).mean(dim=(1, 3))
    induction = P.diagonal(offset=-(length - 1), dim1=-2, dim2=-1)[..., -length:].mean(dim=(1, 3))
    return previous, induction


def blind_head_scores_hooks_left(model, tokens, length):
    # WRONG (inplace): records the patterns with register_forward_hook and never removes the hooks.
    store = {}
    for l, block in enumerate(model.blocks):
        def keep(module, inputs, output, l=l):
            store[l] = output.detach()
        block.attn.hook_pattern.register_forward_hook(keep)
    model(tokens)
    P = torch.stack([store[l] for l in range(len(model.blocks))])
    previous = P.diagonal(offset=-1, dim1=-2, dim2=-1).mean(dim=(1, 3))
    induction = P.diagonal(offset=-(length - 1), dim1=-2, dim2=-1)[..., -length:].mean(dim=(1, 3))
    return previous, induction


def blind_head_scores_zeros_float32(model, tokens, length):
    # WRONG (dtype): fills preallocated torch.zeros(n_layers, n_heads) (float32 by default) head by head:
    # a float64 model's scores are rounded to float32.
    P = _stacked_patterns(model, tokens)
    n_layers, n_heads = P.shape[0], P.shape[2]
    previous = torch.zeros(n_layers, n_heads, device=P.device)
    induction = torch.zeros(n_layers, n_heads, device=P.device)
    for l in range(n_layers):
        for h in range(n_heads):
            p = P[l, :, h]
            previous[l, h] = p.diagonal(offset=-1, dim1=-2, dim2=-1).mean()
            induction[l, h] = p.diagonal(offset=-(length - 1), dim1=-2, dim2=-1)[..., -length:].mean()
    return previous, induction


def blind_head_scores_includes_query0(model, tokens, length):
    # WRONG (edge): reads the weight on q - 1 with a shifted identity and averages over ALL 2L queries: query 0
    # (which has no previous token) counts as a 0, so the previous score is (2L-1)/2L of the truth.
    P = _stacked_patterns(model, tokens)
    n = P.shape[-1]
    shift = torch.eye(n, dtype=P.dtype, device=P.device).roll(1, dims=0)  # row q: a 1 at key q - 1
    shift[0, :] = 0  # query 0 has no previous token
    previous = (P * shift).sum(dim=-1).mean(dim=(1, 3))
    induction = P.diagonal(offset=-(length - 1), dim1=-2, dim2=-1)[..., -length:].mean(dim=(1, 3))
    return previous, induction


def blind_head_scores_duplicate_key(model, tokens, length):
    # WRONG: induction weight on key q - length (the earlier occurrence of the current token itself, a
    # duplicate-token head) instead of q - length + 1 (the token after it).
    P = _stacked_patterns(model, tokens)
    previous = P.diagonal(offset=-1, dim1=-2, dim2=-1).mean(dim=(1, 3))
    induction = P.diagonal(offset=-length, dim1=-2, dim2=-1).mean(dim=(1, 3))
    return previous, induction


def blind_head_scores_first_slice(model, tokens, length):
    # WRONG: keeps the FIRST `length` entries of the offset diagonal (queries length-1 .. 2L-2) instead of the
    # last: the last query is dropped and query length - 1 (first copy, key 0) is counted.
    P = _stacked_patterns(model, tokens)
    previous = P.diagonal(offset=-1, dim1=-2, dim2=-1).mean(dim=(1, 3))
    induction = P.diagonal(offset=-(length - 1), dim1=-2, dim2=-1)[..., :length].mean(dim=(1, 3))
    return previous, induction


def blind_head_scores_whole_diagonal(model, tokens, length):
    # WRONG: averages the whole offset diagonal (length + 1 queries from q = length - 1), not only the second copy.
    P = _stacked_patterns(model, tokens)
    previous = P.diagonal(offset=-1, dim1=-2, dim2=-1).mean(dim=(1, 3))
    induction = P.diagonal(offset=-(length - 1), dim1=-2, dim2=-1).mean(dim=(1, 3))
    return previous, induction


def blind_head_scores_keys_as_rows(model, tokens, length):
    # WRONG: reads the pattern as [key, query]: takes the diagonals ABOVE the main one (offsets +1 and
    # +(length - 1)), the weights of queries on later keys, which the causal mask makes 0.
    P = _stacked_patterns(model, tokens)
    previous = P.diagonal(offset=1, dim1=-2, dim2=-1).mean(dim=(1, 3))
    induction = P.diagonal(offset=length - 1, dim1=-2, dim2=-1)[..., :length].mean(dim=(1, 3))
    return previous, induction


def blind_head_scores_second_copy_previous(model, tokens, length):
    # WRONG: averages the previous-token weight over the second copy only (q >= length), not every q >= 1.
    P = _stacked_patterns(model, tokens)
    previous = P.diagonal(offset=-1, dim1=-2, dim2=-1)[..., -length:].mean(dim=(1, 3))
    induction = P.diagonal(offset=-(length - 1), dim1=-2, dim2=-1)[..., -length:].mean(dim=(1, 3))
    return previous, induction


# ----------------------------------------------------------------------------- 07.5 name_the_heads


@functools.lru_cache(maxsize=None)
def _course_scores(which="course", length=10, whole_sequence=False, largest=False):
    """(previous, induction) [layer, head] scores of a model on 200 repeated pairs, as lists of lists.

    By default the spec's means. whole_sequence: the induction weight averaged over all 2L queries (0 where
    the key does not exist) instead of the second copy. largest: the largest weight over batch and queries
    instead of the mean.
    """
    model = load_induction_model() if which == "course" else hand_built_induction_model()
    length = min(length, model.cfg.d_vocab, model.cfg.n_ctx // 2)
    tokens = repeated_pairs(200, length, model.cfg.d_vocab, seed=5)
    with torch.no_grad():
        P = _stacked_patterns(model, tokens)
    previous = P.diagonal(offset=-1, dim1=-2, dim2=-1)
    diag = P.diagonal(offset=-(length - 1), dim1=-2, dim2=-1)
    if largest:
        return previous.amax(dim=(1, 3)).tolist(), diag[..., -length:].amax(dim=(1, 3)).tolist()
    previous = previous.mean(dim=(1, 3))
    if whole_sequence:
        induction = diag[..., -length:].sum(dim=-1).mean(dim=1) / (2 * length)
    else:
        induction = diag[..., -length:].mean(dim=(1, 3))
    return previous.tolist(), induction.tolist()


def _above(scores, threshold):
    return [(l, h) for l, row in enumerate(scores) for h, s in enumerate(row) if s > threshold]


def _top(scores):
    best = max((s, l, h) for l, row in enumerate(scores) for h, s in enumerate(row))
    return [(best[1], best[2])]


def blind_name_the_heads_top_only():
    # WRONG: keeps only the single best-scoring head of each role: a second head doing the same job is missed.
    previous, induction = _course_scores()
    return {"previous_token": _top(previous), "induction": _top(induction)}


def blind_name_the_heads_low_threshold():
    # WRONG: threshold 0.3 on the scores: a head that only partly looks at the previous token counts as one.
    previous, induction = _course_scores()
    return {"previous_token": _above(previous, 0.3), "induction": _above(induction, 0.3)}


def blind_name_the_heads_counted_from_one():
    # WRONG: layers and heads counted from 1, as "layer 1, head 1" reads aloud.
    previous, induction = _course_scores()
    return {"previous_token": [(l + 1, h + 1) for l, h in _above(previous, 0.5)],
            "induction": [(l + 1, h + 1) for l, h in _above(induction, 0.5)]}


def blind_name_the_heads_head_layer_swapped():
    # WRONG: reads the heatmap's row as the head and its column as the layer: pairs come out (head, layer).
    previous, induction = _course_scores()
    return {"previous_token": [(h, l) for l, h in _above(previous, 0.5)],
            "induction": [(h, l) for l, h in _above(induction, 0.5)]}


def blind_name_the_heads_tensor_ints():
    # WRONG (edge): iterates over (scores > 0.5).nonzero(): the pairs hold 0-dim tensors, not Python ints.
    previous, induction = (torch.tensor(s) for s in _course_scores())
    return {"previous_token": [(l, h) for l, h in (previous > 0.5).nonzero()],
            "induction": [(l, h) for l, h in (induction > 0.5).nonzero()]}


def blind_name_the_heads_single_tuple():
    # WRONG (edge): a role with one head is returned as the bare pair (0, 0), not as the list [(0, 0)].
    previous, induction = _course_scores()
    heads = {"previous_token": _above(previous, 0.5), "induction": _above(induction, 0.5)}
    return {role: found[0] if len(found) == 1 else found for role, found in heads.items()}


def blind_name_the_heads_hand_built_model():
    # WRONG: scores the hand-built model of the checks (hand_built_induction_model()) instead of the course's.
    previous, induction = _course_scores("hand_built", length=5)
    return {"previous_token": _above(previous, 0.5), "induction": _above(induction, 0.5)}


def blind_name_the_heads_whole_sequence_induction():
    # WRONG: the induction score averaged over all 2L queries (the first copy counted as 0), then the same 0.5
    # threshold: every induction score is halved and no induction head is found.
    previous, induction = _course_scores(whole_sequence=True)
    return {"previous_token": _above(previous, 0.5), "induction": _above(induction, 0.5)}


def blind_name_the_heads_largest_weight():
    # WRONG: scores each head by its LARGEST weight on the role's key over all sequences and queries instead of
    # the mean: a head that looks at the previous token once in a while counts as a previous-token head.
    previous, induction = _course_scores(largest=True)
    return {"previous_token": _above(previous, 0.5), "induction": _above(induction, 0.5)}


# ----------------------------------------------------------------------------- 07.6 attention_rollout


def blind_attention_rollout_reverse_list(patterns, residual=True):
    # WRONG (inplace): patterns.reverse() to put the last layer first: the caller's list is reversed.
    patterns.reverse()
    rollout = None
    for p in patterns:
        A = p.mean(dim=1)
        if residual:
            A = 0.5 * A + 0.5 * torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
            A = A / A.sum(dim=-1, keepdim=True)
        rollout = A if rollout is None else rollout @ A
    return rollout


def blind_attention_rollout_residual_per_head_inplace(patterns, residual=True):
    # WRONG (inplace): mixes in the identity head by head IN PLACE (p.mul_(0.5).add_(0.5 I)) before averaging:
    # the same numbers, but the caller's patterns are changed.
    rollout = None
    for p in patterns:
        if residual:
            p.mul_(0.5).add_(0.5 * torch.eye(p.shape[-1], dtype=p.dtype, device=p.device))
        A = p.mean(dim=1)
        if residual:
            A = A / A.sum(dim=-1, keepdim=True)
        rollout = A if rollout is None else A @ rollout
    return rollout


def blind_attention_rollout_float32(patterns, residual=True):
    # WRONG (dtype): .float() on every pattern "to match torch.eye": float64 patterns give a float32 rollout.
    rollout = None
    for p in patterns:
        A = p.float().mean(dim=1)
        if residual:
            A = 0.5 * A + 0.5 * torch.eye(A.shape[-1], device=A.device)
            A = A / A.sum(dim=-1, keepdim=True)
        rollout = A if rollout is None else A @ rollout
    return rollout


def blind_attention_rollout_eye_on_cpu(patterns, residual=True):
    # WRONG (edge): torch.eye(seq, dtype=...) without device=: fails on a GPU or the meta device.
    rollout = None
    for p in patterns:
        A = p.mean(dim=1)
        if residual:
            A = 0.5 * A + 0.5 * torch.eye(A.shape[-1], dtype=A.dtype)
            A = A / A.sum(dim=-1, keepdim=True)
        rollout = A if rollout is None else A @ rollout
    return rollout


def blind_attention_rollout_normalise_first(patterns, residual=True):
    # WRONG (edge): renormalises the head average BEFORE mixing in the identity: an ablated (all-zero) row
    # becomes 0/0 = NaN, and partly ablated rows are scaled back up.
    rollout = None
    for p in patterns:
        A = p.mean(dim=1)
        if residual:
            A = A / A.sum(dim=-1, keepdim=True)
            A = 0.5 * A + 0.5 * torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
        rollout = A if rollout is None else A @ rollout
    return rollout


def blind_attention_rollout_no_renormalise(patterns, residual=True):
    # WRONG (edge): 0.5 A + 0.5 I without dividing by the row sums: rows of an ablated pattern sum to less than 1.
    rollout = None
    for p in patterns:
        A = p.mean(dim=1)
        if residual:
            A = 0.5 * A + 0.5 * torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
        rollout = A if rollout is None else A @ rollout
    return rollout


def blind_attention_rollout_always_renormalise(patterns, residual=True):
    # WRONG (edge): divides every row by its sum even when residual=False, where A must be used as it is.
    rollout = None
    for p in patterns:
        A = p.mean(dim=1)
        if residual:
            A = 0.5 * A + 0.5 * torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
        A = A / A.sum(dim=-1, keepdim=True)
        rollout = A if rollout is None else A @ rollout
    return rollout


def blind_attention_rollout_first_layer_left(patterns, residual=True):
    # WRONG: multiplies in the wrong order, rollout = rollout @ A: the FIRST layer ends up on the left.
    rollout = None
    for p in patterns:
        A = p.mean(dim=1)
        if residual:
            A = 0.5 * A + 0.5 * torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
            A = A / A.sum(dim=-1, keepdim=True)
        rollout = A if rollout is None else rollout @ A
    return rollout


def blind_attention_rollout_no_identity(patterns, residual=True):
    # WRONG: renormalises the rows but never mixes in the identity (the residual stream is left out).
    rollout = None
    for p in patterns:
        A = p.mean(dim=1)
        if residual:
            A = A / A.sum(dim=-1, keepdim=True)
        rollout = A if rollout is None else A @ rollout
    return rollout


def blind_attention_rollout_normalise_columns(patterns, residual=True):
    # WRONG: renormalises with A.sum(dim=-2, keepdim=True): the columns (keys) sum to 1 instead of the rows.
    rollout = None
    for p in patterns:
        A = p.mean(dim=1)
        if residual:
            A = 0.5 * A + 0.5 * torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
            A = A / A.sum(dim=-2, keepdim=True)
        rollout = A if rollout is None else A @ rollout
    return rollout


def blind_attention_rollout_mean_over_batch(patterns, residual=True):
    # WRONG: averages over dim=0 (the batch) instead of the heads: returns [head, seq, seq].
    rollout = None
    for p in patterns:
        A = p.mean(dim=0)
        if residual:
            A = 0.5 * A + 0.5 * torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
            A = A / A.sum(dim=-1, keepdim=True)
        rollout = A if rollout is None else A @ rollout
    return rollout


MUTANTS = {
    "07.1": [
        (blind_sdpa_scale_query_inplace, "inplace"),
        (blind_sdpa_float32, "dtype"),
        (blind_sdpa_naive_softmax, "edge"),
        (blind_sdpa_mask_on_cpu, "edge"),
        (blind_sdpa_fused_builtin, "builtin"),
        (blind_sdpa_dropout, "random"),
        (blind_sdpa_scale_by_d_v, "subtle"),
        (blind_sdpa_scale_by_d_k, "subtle"),
        (blind_sdpa_mask_diagonal, "subtle"),
        (blind_sdpa_mask_after_softmax, "subtle"),
        (blind_sdpa_mask_times_inf, "subtle"),
        (blind_sdpa_softmax_over_queries, "subtle"),
    ],
    "07.2": [
        (BlindMHAStoresPattern, "inplace"),
        (BlindMHASoftmaxFloat32, "dtype"),
        (BlindMHAMaskOnCPU, "edge"),
        (BlindMHASqueezed, "edge"),
        (BlindMHAFunctionalBuiltin, "builtin"),
        (BlindMHAFusedHeads, "builtin"),
        (BlindMHADropout, "random"),
        (BlindMHAScaleDModel, "subtle"),
        (BlindMHAStridedHeads, "subtle"),
        (BlindMHAViewMixesPositions, "subtle"),
        (BlindMHAMergeNoTranspose, "subtle"),
        (BlindMHAAlwaysCausal, "subtle"),
        (BlindMHAAveragedPattern, "subtle"),
        (BlindMHANoOutProj, "subtle"),
    ],
    "07.3": [
        (BlindLayerScaleHookedQInplace, "inplace"),
        (BlindLayerSoftmaxFloat32, "dtype"),
        (BlindLayerMaskOnCPU, "edge"),
        (BlindLayerBiasPerHead, "subtle"),
        (BlindLayerSubclassCourse, "builtin"),
        (BlindLayerFusedZ, "builtin"),
        (BlindLayerHookDiscarded, "subtle"),
        (BlindLayerScaleDModel, "subtle"),
        (BlindLayerMaskNextKey, "subtle"),
        (BlindLayerPatternTransposed, "subtle"),
        (BlindLayerResultSummedFirst, "subtle"),
    ],
    "07.4": [
        (blind_head_scores_model_to_double, "inplace"),
        (blind_head_scores_hooks_left, "inplace"),
        (blind_head_scores_zeros_float32, "dtype"),
        (blind_head_scores_includes_query0, "edge"),
        (blind_head_scores_duplicate_key, "subtle"),
        (blind_head_scores_first_slice, "subtle"),
        (blind_head_scores_whole_diagonal, "subtle"),
        (blind_head_scores_keys_as_rows, "subtle"),
        (blind_head_scores_second_copy_previous, "subtle"),
    ],
    "07.5": [
        (blind_name_the_heads_top_only, "subtle"),
        (blind_name_the_heads_low_threshold, "subtle"),
        (blind_name_the_heads_counted_from_one, "subtle"),
        (blind_name_the_heads_head_layer_swapped, "subtle"),
        (blind_name_the_heads_tensor_ints, "edge"),
        (blind_name_the_heads_single_tuple, "edge"),
        (blind_name_the_heads_hand_built_model, "subtle"),
        (blind_name_the_heads_whole_sequence_induction, "subtle"),
        (blind_name_the_heads_largest_weight, "subtle"),
    ],
    "07.6": [
        (blind_attention_rollout_reverse_list, "inplace"),
        (blind_attention_rollout_residual_per_head_inplace, "inplace"),
        (blind_attention_rollout_float32, "dtype"),
        (blind_attention_rollout_eye_on_cpu, "edge"),
        (blind_attention_rollout_normalise_first, "edge"),
        (blind_attention_rollout_no_renormalise, "edge"),
        (blind_attention_rollout_always_renormalise, "edge"),
        (blind_attention_rollout_first_layer_left, "subtle"),
        (blind_attention_rollout_no_identity, "subtle"),
        (blind_attention_rollout_normalise_columns, "subtle"),
        (blind_attention_rollout_mean_over_batch, "subtle"),
    ],
}
