import math
import torch
from torch import nn
from mi_helpers.hooks import HookPoint, run_with_cache
from mi_helpers.transformer import TransformerConfig


class AttentionLayer(nn.Module):
    """One layer of causal multi-head self-attention, with hook points, as in the course's transformer."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        ### BEGIN SOLUTION
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
        for name in ("hook_q", "hook_k", "hook_v", "hook_pattern", "hook_z", "hook_result"):
            setattr(self, name, HookPoint())
        ### END SOLUTION

    def forward(self, resid: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        q = self.hook_q(torch.einsum("bpm,hmd->bphd", resid, self.W_Q) + self.b_Q)
        k = self.hook_k(torch.einsum("bpm,hmd->bphd", resid, self.W_K) + self.b_K)
        v = self.hook_v(torch.einsum("bpm,hmd->bphd", resid, self.W_V) + self.b_V)
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(q.shape[-1])
        n = resid.shape[1]
        future = torch.ones(n, n, dtype=torch.bool, device=resid.device).triu(1)
        pattern = self.hook_pattern(scores.masked_fill(future, float("-inf")).softmax(dim=-1))
        z = self.hook_z(torch.einsum("bhqk,bkhd->bqhd", pattern, v))
        result = self.hook_result(torch.einsum("bqhd,hdm->bqhm", z, self.W_O))
        return result.sum(dim=2) + self.b_O
        ### END SOLUTION


def head_scores(model: nn.Module, tokens: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    ### BEGIN SOLUTION
    names = [f"blocks.{layer}.attn.hook_pattern" for layer in range(len(model.blocks))]
    _, cache = run_with_cache(model, tokens, names)
    pattern = torch.stack([cache[name] for name in names])  # [layer, batch, head, query, key]
    previous = pattern.diagonal(offset=-1, dim1=-2, dim2=-1)  # [layer, batch, head, pos - 1]: q attends to q - 1
    induction = pattern.diagonal(offset=-(length - 1), dim1=-2, dim2=-1)[..., -length:]  # q >= length: key q-length+1
    return previous.mean(dim=(1, 3)), induction.mean(dim=(1, 3))
    ### END SOLUTION
