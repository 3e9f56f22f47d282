"""Solutions of 08.1, 08.3, 08.4, 08.5 (scratch: they go into the notebook's answer cells)."""
import torch
from torch import nn

from mi_helpers.hooks import hooks, run_with_cache
from mi_helpers.interventions import induction_loss
from mi_helpers.circuits import repeated_pairs
from mi_helpers.transformer import load_induction_model


def head_ablation_losses(model: nn.Module, tokens: torch.Tensor, length: int, how: str = "zero",
                         reference: torch.Tensor | None = None) -> torch.Tensor:
    ### BEGIN SOLUTION
    reference = tokens if reference is None else reference
    n_layers, n_heads = len(model.blocks), model.blocks[0].attn.W_Q.shape[0]
    names = [f"blocks.{layer}.attn.hook_result" for layer in range(n_layers)]
    with torch.no_grad():
        base = induction_loss(model(tokens), tokens, length)
        means = {}
        if how == "mean":
            _, cache = run_with_cache(model, reference, names)
            means = {name: cache[name].mean(dim=0) for name in names}  # [pos, head, d_model]
        costs = torch.zeros(n_layers, n_heads, dtype=base.dtype, device=base.device)
        for layer, name in enumerate(names):
            for head in range(n_heads):
                def ablate(act, _name, head=head):
                    act = act.clone()
                    act[:, :, head] = 0.0 if how == "zero" else means[_name][:, head]
                    return act
                with hooks(model, [(name, ablate)]):
                    costs[layer, head] = induction_loss(model(tokens), tokens, length) - base
    return costs
    ### END SOLUTION


def activation_patching(model: nn.Module, clean: torch.Tensor, corrupted: torch.Tensor, length: int,
                        by: str = "head") -> torch.Tensor:
    ### BEGIN SOLUTION
    n_layers = len(model.blocks)
    if by == "head":
        names = [f"blocks.{layer}.attn.hook_result" for layer in range(n_layers)]
        width = model.blocks[0].attn.W_Q.shape[0]
    else:
        names = [f"blocks.{layer}.hook_resid_pre" for layer in range(n_layers)] + [f"blocks.{n_layers - 1}.hook_resid_post"]
        width = clean.shape[1]
    with torch.no_grad():
        clean_logits, clean_cache = run_with_cache(model, clean, names)
        clean_loss = induction_loss(clean_logits, clean, length)
        corrupted_loss = induction_loss(model(corrupted), corrupted, length)
        out = torch.zeros(len(names), width, dtype=clean_loss.dtype, device=clean_loss.device)
        for row, name in enumerate(names):
            for i in range(width):
                def put_back(act, _name, i=i):
                    act = act.clone()
                    if by == "head":
                        act[:, :, i] = clean_cache[_name][:, :, i]
                    else:
                        act[:, i] = clean_cache[_name][:, i]
                    return act
                with hooks(model, [(name, put_back)]):
                    loss = induction_loss(model(corrupted), corrupted, length)
                out[row, i] = (corrupted_loss - loss) / (corrupted_loss - clean_loss)
    return out
    ### END SOLUTION


def path_patching(model: nn.Module, tokens: torch.Tensor, length: int, sender: tuple, receivers: list,
                  into: str) -> float:
    ### BEGIN SOLUTION
    s_layer, s_head = sender
    sent = f"blocks.{s_layer}.attn.hook_result"
    layers = sorted({layer for layer, _ in receivers})
    with torch.no_grad():
        logits, cache = run_with_cache(model, tokens, [sent] + [f"blocks.{l}.hook_resid_pre" for l in layers])
        intact_loss = induction_loss(logits, tokens, length)
        mean = cache[sent][:, :, s_head].mean(dim=0)  # [pos, d_model]

        def mean_ablate(act, _name):
            act = act.clone()
            act[:, :, s_head] = mean
            return act

        with hooks(model, [(sent, mean_ablate)]):
            ablated_loss = induction_loss(model(tokens), tokens, length)
        # each receiver's input as if the sender were intact: in this model, the intact residual stream
        fwd = [(sent, mean_ablate)]
        for layer, head in receivers:
            attn = model.blocks[layer].attn
            W, b = {"q": (attn.W_Q, attn.b_Q), "k": (attn.W_K, attn.b_K), "v": (attn.W_V, attn.b_V)}[into]
            new = torch.einsum("bpm,md->bpd", cache[f"blocks.{layer}.hook_resid_pre"], W[head]) + b[head]

            def put(act, _name, head=head, new=new):
                act = act.clone()
                act[:, :, head] = new
                return act

            fwd.append((f"blocks.{layer}.attn.hook_{into}", put))
        with hooks(model, fwd):
            loss = induction_loss(model(tokens), tokens, length)
    return float((ablated_loss - loss) / (ablated_loss - intact_loss))
    ### END SOLUTION


def name_the_circuit() -> dict:
    ### BEGIN SOLUTION
    model = load_induction_model()
    tokens = repeated_pairs(64, 8, model.cfg.d_vocab, seed=5)
    head = int(head_ablation_losses(model, tokens, 8, how="mean")[0].argmax())  # the layer-0 head that matters
    layer1 = [(1, h) for h in range(model.cfg.n_heads)]
    restored = {into: path_patching(model, tokens, 8, (0, head), layer1, into) for into in "qkv"}
    into = max(restored, key=restored.get)
    receivers = [r for r in layer1 if path_patching(model, tokens, 8, (0, head), [r], into) > 0.5]
    return {"sender": (0, head), "receivers": receivers, "input": into}
    ### END SOLUTION
