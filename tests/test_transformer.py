"""The attention-only transformer of notebook 07: hook points, the repeated-sequence task, training, checkpoint."""
from __future__ import annotations

import dataclasses
import math
import shutil
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from mi_helpers.hooks import HookPoint, count_hooks, hooks, record, run_with_cache  # noqa: E402
from mi_helpers.plot import attention_patterns  # noqa: E402
from mi_helpers.transformer import (  # noqa: E402
    CHECKPOINT, CHECKPOINT_SHA256, TRAIN_LENGTHS, AttnOnlyTransformer, ChecksumError, TransformerConfig,
    load_induction_model, repeat_accuracy, repeated_sequences, sha256_of, train_induction,
)

TINY = TransformerConfig(n_layers=2, n_heads=3, d_model=12, d_head=5, n_ctx=9, d_vocab=11)


def tiny_model(cfg: TransformerConfig = TINY, seed: int = 0) -> AttnOnlyTransformer:
    torch.manual_seed(seed)
    return AttnOnlyTransformer(cfg)


def tiny_tokens(batch: int = 2, pos: int = 7, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, TINY.d_vocab, (batch, pos), generator=torch.Generator().manual_seed(seed))


def hook_names(model) -> list[str]:
    return [name for name, module in model.named_modules() if isinstance(module, HookPoint)]


# --------------------------------------------------------------------------- the model


def test_parameter_names_and_shapes():
    model = tiny_model()
    h, m, d, V, N = TINY.n_heads, TINY.d_model, TINY.d_head, TINY.d_vocab, TINY.n_ctx
    expected = {"W_E": (V, m), "W_pos": (N, m), "W_U": (m, V), "b_U": (V,)}
    for layer in range(TINY.n_layers):
        a = f"blocks.{layer}.attn."
        expected.update({a + "W_Q": (h, m, d), a + "W_K": (h, m, d), a + "W_V": (h, m, d),
                         a + "b_Q": (h, d), a + "b_K": (h, d), a + "b_V": (h, d),
                         a + "W_O": (h, d, m), a + "b_O": (m,)})
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == expected
    assert {k for k, _ in model.named_parameters()} == set(expected)
    assert not any(isinstance(mod, torch.nn.LayerNorm) for mod in model.modules())


def test_every_hook_point_has_its_shape_and_no_hook_is_left():
    model = tiny_model()
    tokens = tiny_tokens()
    b, p = tokens.shape
    h, m, d = TINY.n_heads, TINY.d_model, TINY.d_head
    logits, cache = run_with_cache(model, tokens)
    names = hook_names(model)
    assert set(names) <= set(cache)
    shapes = {"hook_embed": (b, p, m), "hook_pos_embed": (b, p, m)}
    for layer in range(TINY.n_layers):
        blk = f"blocks.{layer}."
        shapes.update({blk + "hook_resid_pre": (b, p, m), blk + "hook_attn_out": (b, p, m),
                       blk + "hook_resid_post": (b, p, m),
                       blk + "attn.hook_q": (b, p, h, d), blk + "attn.hook_k": (b, p, h, d),
                       blk + "attn.hook_v": (b, p, h, d), blk + "attn.hook_z": (b, p, h, d),
                       blk + "attn.hook_attn_scores": (b, h, p, p), blk + "attn.hook_pattern": (b, h, p, p),
                       blk + "attn.hook_result": (b, p, h, m)})
    assert sorted(shapes) == sorted(names)
    for name, shape in shapes.items():
        assert tuple(cache[name].shape) == shape, name
    assert logits.shape == (b, p, TINY.d_vocab) and logits.dtype == torch.float32
    assert count_hooks(model) == 0
    # the pieces add up: resid_post = resid_pre + attn_out, attn_out = sum of the heads' results + b_O
    for layer in range(TINY.n_layers):
        blk = f"blocks.{layer}."
        torch.testing.assert_close(cache[blk + "hook_resid_post"],
                                   cache[blk + "hook_resid_pre"] + cache[blk + "hook_attn_out"])
        torch.testing.assert_close(cache[blk + "hook_attn_out"],
                                   cache[blk + "attn.hook_result"].sum(2) + model.blocks[layer].attn.b_O)
    torch.testing.assert_close(cache["blocks.0.hook_resid_pre"], cache["hook_embed"] + cache["hook_pos_embed"])


def test_patterns_are_causal_distributions():
    model = tiny_model()
    _, cache = run_with_cache(model, tiny_tokens(3, 9))
    above = torch.ones(9, 9, dtype=torch.bool).triu(1)
    for layer in range(TINY.n_layers):
        pattern = cache[f"blocks.{layer}.attn.hook_pattern"]
        scores = cache[f"blocks.{layer}.attn.hook_attn_scores"]
        torch.testing.assert_close(pattern.sum(-1), torch.ones(pattern.shape[:-1]))
        assert (pattern[..., above] == 0).all() and (pattern >= 0).all()
        assert torch.isneginf(scores[..., above]).all() and torch.isfinite(scores[..., ~above]).all()
        q, k = cache[f"blocks.{layer}.attn.hook_q"], cache[f"blocks.{layer}.attn.hook_k"]
        expected = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(TINY.d_head)
        torch.testing.assert_close(scores[..., ~above], expected[..., ~above])


def test_a_hook_that_returns_a_tensor_replaces_the_activation():
    model = tiny_model()
    tokens = tiny_tokens()
    clean, cache = run_with_cache(model, tokens)
    with hooks(model, [("blocks.0.attn.hook_z", lambda z, name: torch.zeros_like(z))]):
        ablated = model(tokens)
    assert count_hooks(model) == 0
    assert not torch.allclose(clean, ablated)
    torch.testing.assert_close(model(tokens), clean)  # and nothing is left behind

    def uniform(pattern, name):  # every query spreads evenly over the keys it may see
        causal = torch.ones_like(pattern).tril()
        return causal / causal.sum(-1, keepdim=True)

    with hooks(model, [("blocks.0.attn.hook_pattern", uniform)]), record(model, ["blocks.0.attn.hook_z"]) as seen:
        model(tokens)
    z = seen["blocks.0.attn.hook_z"]
    assert not torch.allclose(z, cache["blocks.0.attn.hook_z"])
    v = cache["blocks.0.attn.hook_v"]
    expected = torch.cumsum(v, dim=1) / torch.arange(1, v.shape[1] + 1)[None, :, None, None]
    torch.testing.assert_close(z, expected)
    assert count_hooks(model) == 0


def test_forward_equals_a_plain_recomputation_from_the_parameters():
    model = tiny_model().double()
    tokens = tiny_tokens(4, 9)
    P = {k: v.detach() for k, v in model.state_dict().items()}
    n = tokens.shape[1]
    x = P["W_E"][tokens] + P["W_pos"][:n]
    mask = torch.triu(torch.full((n, n), float("-inf"), dtype=torch.float64), diagonal=1)
    for layer in range(TINY.n_layers):
        W = {k: P[f"blocks.{layer}.attn.{k}"] for k in ("W_Q", "W_K", "W_V", "W_O", "b_Q", "b_K", "b_V", "b_O")}
        out = W["b_O"].clone()
        for head in range(TINY.n_heads):  # one head at a time, with plain matrix products
            q = x @ W["W_Q"][head] + W["b_Q"][head]
            k = x @ W["W_K"][head] + W["b_K"][head]
            v = x @ W["W_V"][head] + W["b_V"][head]
            weights = torch.softmax(q @ k.transpose(-1, -2) / TINY.d_head ** 0.5 + mask, dim=-1)
            out = out + weights @ v @ W["W_O"][head]
        x = x + out
    expected = x @ P["W_U"] + P["b_U"]
    torch.testing.assert_close(model(tokens), expected, rtol=1e-12, atol=1e-12)


def test_float64_and_sinusoidal_variants_run():
    model = tiny_model().double()
    logits = model(tiny_tokens())
    assert logits.dtype == torch.float64 and torch.isfinite(logits).all()
    sin = tiny_model(dataclasses.replace(TINY, positional="sinusoidal"))
    assert "W_pos" not in dict(sin.named_parameters()) and "W_pos" in dict(sin.named_buffers())
    assert sin(tiny_tokens()).shape == (2, 7, TINY.d_vocab)
    assert sin.double()(tiny_tokens()).dtype == torch.float64
    with pytest.raises(ValueError):
        TransformerConfig(positional="rotary")
    with pytest.raises(ValueError, match="n_ctx"):
        model(torch.zeros(1, TINY.n_ctx + 1, dtype=torch.long))


def test_the_global_generator_decides_the_initialisation():
    a, b, c = tiny_model(seed=3), tiny_model(seed=3), tiny_model(seed=4)
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    assert not torch.equal(a.W_E, c.W_E)


# --------------------------------------------------------------------------- the task


def test_repeated_sequences_marks_exactly_the_predictable_second_copy():
    state = torch.random.get_rng_state()
    batch = repeated_sequences(300, n_ctx=30, d_vocab=20, length=6, seed=5)
    assert torch.equal(torch.random.get_rng_state(), state)  # its own generator
    assert batch.tokens.shape == batch.repeated.shape == (300, 30)
    assert batch.tokens.dtype == torch.int64 and batch.repeated.dtype == torch.bool
    assert batch.offset.shape == (300,) and batch.length == 6 and (batch.lengths == 6).all()
    assert batch.offset.min() == 0 and batch.offset.max() == 30 - 12 and len(batch.offset.unique()) == 19
    for row in range(300):
        t, o = batch.tokens[row], int(batch.offset[row])
        block = t[o:o + 6]
        assert torch.equal(t[o + 6:o + 12], block) and len(block.unique()) == 6
        filler = torch.cat([t[:o], t[o + 12:]])
        assert not torch.isin(filler, block).any()
        expected = torch.zeros(30, dtype=torch.bool)
        expected[o + 7:o + 12] = True
        assert torch.equal(batch.repeated[row], expected)
    assert (batch.tokens >= 0).all() and (batch.tokens < 20).all()
    again = repeated_sequences(300, n_ctx=30, d_vocab=20, length=6, seed=5)
    assert torch.equal(again.tokens, batch.tokens) and torch.equal(again.offset, batch.offset)
    other = repeated_sequences(300, n_ctx=30, d_vocab=20, length=6, seed=6)
    assert not torch.equal(other.tokens, batch.tokens)


def test_repeated_sequences_with_a_range_of_lengths():
    lo, hi = TRAIN_LENGTHS
    batch = repeated_sequences(20000, length=(lo, hi), seed=0)
    assert batch.length is None and batch.tokens.shape == (20000, TransformerConfig().n_ctx)
    assert set(batch.lengths.tolist()) == set(range(lo, hi + 1))
    assert torch.equal(batch.repeated.sum(1), batch.lengths - 1)
    # every length brings about as many predictable tokens as any other
    per_length = torch.bincount(batch.lengths, weights=(batch.lengths - 1).double())[lo:]
    assert per_length.max() / per_length.min() < 1.2
    position = torch.arange(batch.tokens.shape[1])
    t = torch.where(batch.repeated)
    L = batch.lengths[t[0]]
    assert torch.equal(batch.tokens[t], batch.tokens[t[0], t[1] - L])
    assert ((position[t[1]] - batch.offset[t[0]]) > L).all()
    with pytest.raises(ValueError, match="length"):
        repeated_sequences(2, n_ctx=10, length=6)


def test_repeat_accuracy_of_a_perfect_and_a_constant_model():
    batch = repeated_sequences(50, TINY, length=3, seed=0)

    class Oracle(torch.nn.Module):  # looks the next token up, where it is known
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, tokens):
            nxt = torch.roll(batch.tokens, -1, dims=1)
            return torch.nn.functional.one_hot(nxt, TINY.d_vocab).float() + self.w

    assert repeat_accuracy(Oracle(), batch) == 1.0
    model = tiny_model()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.b_U[0] = 1.0  # always guesses token 0
    expected = (batch.tokens[batch.repeated] == 0).float().mean().item()
    assert repeat_accuracy(model, batch) == pytest.approx(expected)


# --------------------------------------------------------------------------- the shipped checkpoint


def previous_token_and_induction_scores(model, length: int = 8, n: int = 500):
    """[layer, head] mean attention from q to q-1, and from a second-copy query q to q-length+1."""
    batch = repeated_sequences(n, model.cfg, length=length, seed=77)
    names = [f"blocks.{i}.attn.hook_pattern" for i in range(model.cfg.n_layers)]
    _, cache = run_with_cache(model, batch.tokens, names)
    pattern = torch.stack([cache[name] for name in names])  # [layer, batch, head, q, k]
    q = torch.arange(1, model.cfg.n_ctx)
    previous = pattern[..., q, q - 1].mean(dim=(1, 3))
    queries = batch.repeated[:, 1:]  # queries whose next token the first copy predicts
    qq = torch.arange(model.cfg.n_ctx - 1)
    at_key = pattern[..., qq, (qq - length + 1).clamp(min=0)]  # [layer, batch, head, q]
    induction = (at_key * queries[None, :, None, :]).sum(dim=(1, 3)) / queries.sum()
    return previous, induction


def test_the_shipped_checkpoint_matches_its_sha256_and_does_induction():
    expected = CHECKPOINT_SHA256.read_text().split()[0]
    assert sha256_of(CHECKPOINT) == expected
    assert CHECKPOINT.stat().st_size < 1_000_000
    model = load_induction_model()
    assert not model.training and model.cfg == TransformerConfig()
    batch = repeated_sequences(1000, model.cfg, length=TRAIN_LENGTHS, seed=2024)
    assert repeat_accuracy(model, batch) >= 0.90
    previous, induction = previous_token_and_induction_scores(model)
    for what, table in (("previous-token", previous), ("induction", induction)):
        rows = "; ".join(f"L{layer}: " + " ".join(f"H{h}={v:.2f}" for h, v in enumerate(row.tolist()))
                         for layer, row in enumerate(table))
        print(f"\n{what} scores: {rows}", end="")
    assert previous[0].max() > 0.6 and previous[1].max() < 0.2  # a previous-token head in layer 0
    assert induction[1].min() > 0.8 and induction[0].max() < 0.1  # induction heads in layer 1


def test_a_changed_checkpoint_is_refused(tmp_path):
    copy = tmp_path / "induction_2l.pt"
    shutil.copyfile(CHECKPOINT, copy)
    assert load_induction_model(path=copy).cfg == TransformerConfig()  # an exact copy loads
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="sha256"):
        load_induction_model(path=copy)


# --------------------------------------------------------------------------- the plot


def test_attention_patterns_draws_one_labelled_map_per_head():
    model = load_induction_model()
    batch = repeated_sequences(1, model.cfg, length=6, seed=0)
    _, cache = run_with_cache(model, batch.tokens, ["blocks.1.attn.hook_pattern"])
    pattern = cache["blocks.1.attn.hook_pattern"][0]
    axes = attention_patterns(pattern, tokens=batch.tokens[0], layer=1)
    assert len(axes) == model.cfg.n_heads
    assert [ax.get_title() for ax in axes] == [f"L1H{h}" for h in range(model.cfg.n_heads)]
    for ax in axes:
        assert ax.get_xlabel() == "key position (attended to)" and ax.get_ylabel() == "query position"
        assert [t.get_text() for t in ax.get_xticklabels()] == [str(t) for t in batch.tokens[0].tolist()]
    assert axes[0].figure._suptitle.get_text() == "attention patterns, layer 1"
    plt.close("all")
    one = attention_patterns(pattern[0], tokens=[f"t{i}" for i in range(model.cfg.n_ctx)], title="one head")
    assert len(one) == 1 and one[0].get_title() == "head 0" and one[0].figure._suptitle.get_text() == "one head"
    plt.close("all")


# --------------------------------------------------------------------------- training


TRAINED: list[str] = []  # for the summary at the end of the run


def test_two_layers_learn_induction_within_30_s_and_one_layer_cannot():
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        results = {}
        for n_layers in (2, 1):
            torch.manual_seed(0)
            model = AttnOnlyTransformer(TransformerConfig(n_layers=n_layers))
            start = time.perf_counter()
            history = train_induction(model, progress=False)
            seconds = time.perf_counter() - start
            held_out = repeated_sequences(1000, model.cfg, length=TRAIN_LENGTHS, seed=12345)
            results[n_layers] = (repeat_accuracy(model, held_out), seconds, history)
            TRAINED.append(f"{n_layers}-layer transformer: repeat accuracy {results[n_layers][0]:.1%} on 1000 "
                           f"held-out sequences after {seconds:.1f} s of training on 2 threads")
    finally:
        torch.set_num_threads(threads)
    acc2, seconds2, history2 = results[2]
    acc1, _, _ = results[1]
    assert acc2 >= 0.90 and seconds2 <= 30
    assert acc1 <= 0.20
    assert len(history2["loss"]) == history2["settings"]["steps"] and history2["eval_steps"][-1] == len(history2["loss"])
    # the phase change: a long plateau near the start, then a drop of more than half within 100 steps
    loss = torch.tensor(history2["loss"])
    smooth = torch.nn.functional.avg_pool1d(loss[None, None], 10, stride=1)[0, 0]
    assert smooth[:100].max() - smooth[:100].min() < 0.25
    assert (smooth[:-100] - smooth[100:]).max() > smooth[0] / 2
