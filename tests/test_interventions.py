"""Ablation and activation patching (notebook 08): each intervention replaces exactly what it says,
with exactly the values it says, edits nothing in place and leaves no hook behind."""
from __future__ import annotations

import math
from contextlib import ExitStack

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mi_helpers.circuits import DECOY_HEADS, INDUCTION_HEAD, PREVIOUS_TOKEN_HEAD, hand_built_induction_model, \
    repeated_pairs
from mi_helpers.hooks import HookPoint, count_hooks, record, run_with_cache
from mi_helpers.interventions import ablate, ablate_heads, induction_loss, logit_difference, normalised, patch
from mi_helpers.models import SmallCNN
from mi_helpers.transformer import AttnOnlyTransformer, TransformerConfig

TINY = TransformerConfig(n_layers=2, n_heads=3, d_model=12, d_head=5, n_ctx=9, d_vocab=11)
LENGTH = 8  # len(A) on the hand-built model (n_ctx=16)


def tiny_model(seed: int = 0, dtype=torch.float32) -> AttnOnlyTransformer:
    torch.manual_seed(seed)
    return AttnOnlyTransformer(TINY).to(dtype).eval()


def tiny_tokens(batch: int, pos: int = 7, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, TINY.d_vocab, (batch, pos), generator=torch.Generator().manual_seed(seed))


def result(layer: int) -> str:
    return f"blocks.{layer}.attn.hook_result"


@pytest.fixture(scope="module")
def hand_built():
    model = hand_built_induction_model()
    tokens = repeated_pairs(32, LENGTH, model.cfg.d_vocab, seed=0)
    with torch.no_grad():
        clean = model(tokens)
    return model, tokens, clean


class Holder(torch.nn.Module):
    """A model that only names its input: lets a test hand any activation to an intervention."""

    def __init__(self):
        super().__init__()
        self.point = HookPoint()

    def forward(self, x):
        return self.point(x)


# --------------------------------------------------------------------------- the induction circuit


def test_ablating_the_induction_circuit_breaks_it_and_ablating_a_decoy_changes_nothing(hand_built):
    model, tokens, clean = hand_built
    assert induction_loss(clean, tokens, LENGTH) < 0.01
    layer, head = INDUCTION_HEAD
    with ablate(model, result(layer), dim=2, index=head):
        no_induction = model(tokens)
    # the prediction block is empty: the logits are uniform, the loss is exactly log(vocab)
    assert induction_loss(no_induction, tokens, LENGTH).item() == pytest.approx(math.log(10), abs=1e-5)
    layer, head = PREVIOUS_TOKEN_HEAD
    with ablate(model, f"blocks.{layer}.attn.hook_z", dim=2, index=head):
        assert induction_loss(model(tokens), tokens, LENGTH) > 2.0  # K-composition needs it
    for layer, head in DECOY_HEADS:  # W_O = 0: their output is zero already
        for name in (result(layer), f"blocks.{layer}.attn.hook_z"):
            with ablate(model, name, dim=2, index=head):
                assert torch.equal(model(tokens), clean), (layer, head, name)
    assert count_hooks(model) == 0


@pytest.mark.parametrize("how", ["zero", "mean", "resample"])
def test_ablate_heads_matches_one_ablate_per_layer(hand_built, how):
    model, tokens, clean = hand_built
    reference = repeated_pairs(20, LENGTH, model.cfg.d_vocab, seed=1)
    options = dict(how=how, reference_tokens=reference, generator=torch.Generator().manual_seed(0))
    with ablate_heads(model, DECOY_HEADS, **options):
        assert count_hooks(model) == 2  # one hook per layer
        assert torch.equal(model(tokens), clean)
    with ablate_heads(model, [INDUCTION_HEAD], **options):
        assert induction_loss(model(tokens), tokens, LENGTH) > 2.0
    assert count_hooks(model) == 0

    model = tiny_model()
    tokens, reference = tiny_tokens(4), tiny_tokens(6, seed=2)
    heads = [(1, 2), (0, 1), (1, 0), (0, 1)]  # any order, repeats allowed
    with ablate_heads(model, heads, how=how, reference_tokens=reference,
                      generator=torch.Generator().manual_seed(5)):
        together = model(tokens)
    _, cache = run_with_cache(model, reference)
    generator = torch.Generator().manual_seed(5)
    with ExitStack() as stack:  # layer 0 first: the order in which the forward pass draws
        for layer, index in ((0, [1]), (1, [0, 2])):
            stack.enter_context(ablate(model, result(layer), dim=2, index=index, how=how,
                                       reference=cache[result(layer)], generator=generator))
        one_by_one = model(tokens)
    assert torch.equal(together, one_by_one)
    assert not torch.allclose(together, model(tokens))


def test_ablate_heads_refuses_what_it_cannot_do():
    model = tiny_model()
    with pytest.raises(ValueError, match="L2H0"):
        with ablate_heads(model, [(2, 0)]):
            pass
    with pytest.raises(ValueError, match="reference_tokens"):
        with ablate_heads(model, [(0, 0)], how="mean"):
            pass
    with pytest.raises(ValueError, match="generator"):
        with ablate_heads(model, [(0, 0)], how="resample", reference_tokens=tiny_tokens(3)):
            pass
    assert count_hooks(model) == 0


# --------------------------------------------------------------------------- what is replaced, and by what


@pytest.mark.parametrize("index", [1, [0, 2], slice(1, 3)])
def test_zero_ablating_channels_of_a_cnn_zeroes_exactly_those(index):
    torch.manual_seed(0)
    cnn = SmallCNN()
    x = torch.randn(6, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    clean, cache = run_with_cache(cnn, x, ["relu2"])
    picked = torch.zeros(16, dtype=torch.bool)
    picked[index] = True
    assert (cache["relu2"][:, picked] != 0).any()  # there was something to remove
    with ablate(cnn, "relu2", dim=1, index=index), record(cnn, ["relu2"]) as seen:
        ablated = cnn(x)
    assert (seen["relu2"][:, picked] == 0).all()
    assert torch.equal(seen["relu2"][:, ~picked], cache["relu2"][:, ~picked])
    assert not torch.allclose(ablated, clean)
    assert count_hooks(cnn) == 0


def test_mean_ablation_puts_the_reference_batch_mean_in_every_row():
    model = tiny_model()
    tokens, reference_tokens = tiny_tokens(3), tiny_tokens(5, seed=2)
    _, clean = run_with_cache(model, tokens)
    _, reference = run_with_cache(model, reference_tokens)
    name = result(0)
    with ablate(model, name, dim=2, index=1, how="mean", reference=reference[name]), \
            record(model, [name, "blocks.0.hook_attn_out"]) as seen:
        model(tokens)
    expected = clean[name].clone()
    expected[:, :, 1] = reference[name].mean(dim=0)[:, 1]  # [pos, d_model], the same in every row
    assert torch.equal(seen[name], expected)
    # and downstream, the block adds up the ablated results
    assert torch.equal(seen["blocks.0.hook_attn_out"], expected.sum(2) + model.blocks[0].attn.b_O)

    # a position of the residual stream
    name = "blocks.1.hook_resid_pre"
    with ablate(model, name, dim=1, index=4, how="mean", reference=reference[name]), record(model, [name]) as seen:
        logits = model(tokens)
    assert torch.equal(seen[name][:, 4], reference[name].mean(0)[4].expand(3, -1))
    assert torch.equal(seen[name][:, :4], clean[name][:, :4]) and torch.equal(seen[name][:, 5:], clean[name][:, 5:])
    assert torch.equal(logits[:, :4], model(tokens)[:, :4])  # attention is causal: earlier positions do not see it


@pytest.mark.parametrize("n_ref", [5, 9])
def test_resample_ablation_draws_reference_rows_reproducibly(n_ref):
    model = tiny_model()
    tokens = tiny_tokens(5)
    _, clean = run_with_cache(model, tokens)
    _, reference = run_with_cache(model, tiny_tokens(n_ref, seed=2))
    name = "blocks.1.attn.hook_z"
    ref = reference[name]

    def run(seed):
        with ablate(model, name, dim=2, index=[0, 2], how="resample", reference=ref,
                    generator=torch.Generator().manual_seed(seed)), record(model, [name]) as seen:
            logits = model(tokens)
        return logits, seen[name]

    logits, z = run(0)
    again, z_again = run(0)
    assert torch.equal(logits, again) and torch.equal(z, z_again)
    assert torch.equal(z[:, :, 1], clean[name][:, :, 1])  # head 1 untouched
    rows = []
    for i in range(5):  # each row's heads 0 and 2 come together from one reference row
        matches = [r for r in range(n_ref) if torch.equal(z[i][:, [0, 2]], ref[r][:, [0, 2]])]
        assert matches, f"row {i} is no row of the reference"
        rows.append(matches[0])
    if n_ref == 5:
        assert sorted(rows) == list(range(5))  # equal batch sizes: a permutation
    others = [run(seed)[1] for seed in range(1, 6)]
    assert any(not torch.equal(z, other) for other in others)  # the seed decides the draw


# hypothesis: any dim but the batch, any kind of index, on a bare activation


@st.composite
def ablations(draw):
    shape = draw(st.lists(st.integers(1, 4), min_size=2, max_size=4))
    dim = draw(st.integers(1, len(shape) - 1))
    size = shape[dim]
    kind = draw(st.sampled_from(["int", "list", "slice"]))
    if kind == "int":
        index = draw(st.integers(-size, size - 1))
    elif kind == "list":
        index = draw(st.lists(st.integers(0, size - 1), max_size=size, unique=True))
    else:
        index = slice(draw(st.integers(0, size)), draw(st.integers(0, size)))
    n_ref = draw(st.integers(1, 4))
    how = draw(st.sampled_from(["zero", "mean", "resample"]))
    return shape, dim, index, n_ref, how, draw(st.integers(0, 2**16))


@settings(max_examples=60, deadline=None)
@given(ablations())
def test_ablate_replaces_exactly_the_picked_entries(case):
    shape, dim, index, n_ref, how, seed = case
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=torch.float64) + 10  # never 0
    reference = torch.randn([n_ref] + shape[1:], generator=g, dtype=torch.float64) - 10
    x_before, reference_before = x.clone(), reference.clone()
    holder = Holder()
    with ablate(holder, "point", dim=dim, index=index, how=how, reference=reference,
                generator=torch.Generator().manual_seed(seed)):
        out = holder(x)
    assert out.dtype == torch.float64 and out.shape == x.shape
    picked = torch.zeros(shape[dim], dtype=torch.bool)
    picked[index] = True
    picked = picked.view([1] * dim + [-1] + [1] * (len(shape) - dim - 1)).expand(shape)
    assert torch.equal(out[~picked], x[~picked])
    if how == "zero":
        assert (out[picked] == 0).all()
    elif how == "mean":
        assert torch.equal(out[picked], reference.mean(0, keepdim=True).expand(shape)[picked])
    else:
        for i in range(shape[0]):
            assert any(torch.equal(out[i][picked[i]], reference[r][picked[i]]) for r in range(n_ref))
    assert torch.equal(x, x_before) and torch.equal(reference, reference_before)
    assert count_hooks(holder) == 0


def test_the_model_input_the_reference_and_the_activation_are_never_edited_in_place():
    model = tiny_model()
    tokens = tiny_tokens(4)
    tokens_before = tokens.clone()
    _, cache = run_with_cache(model, tiny_tokens(4, seed=2))
    cache_before = {k: v.clone() for k, v in cache.items()}
    name = result(1)
    interventions = [
        lambda: ablate(model, name, dim=2, index=0),
        lambda: ablate(model, name, dim=2, index=[0, 1], how="mean", reference=cache[name]),
        lambda: ablate(model, name, dim=2, index=slice(1, None), how="resample", reference=cache[name],
                       generator=torch.Generator().manual_seed(0)),
        lambda: patch(model, name, cache[name]),
        lambda: patch(model, name, cache[name], dim=2, index=2),
    ]
    for intervention in interventions:
        # a hook registered first sees the original activation; the intervention must not change it under it
        with record(model, [name]) as original:
            with intervention():
                model(tokens)
        _, plain = run_with_cache(model, tokens, [name])
        assert torch.equal(original[name], plain[name])
    assert torch.equal(tokens, tokens_before)
    assert all(torch.equal(cache[k], cache_before[k]) for k in cache)


def test_float64_is_kept_even_with_a_float32_reference_or_source():
    model = hand_built_induction_model(dtype=torch.float64)
    tokens = repeated_pairs(4, LENGTH, 10, seed=0)
    _, cache = run_with_cache(model, repeated_pairs(6, LENGTH, 10, seed=1))
    for how in ("zero", "mean", "resample"):
        with ablate(model, result(1), dim=2, index=0, how=how, reference=cache[result(1)].float(),
                    generator=torch.Generator().manual_seed(0)), record(model, [result(1)]) as seen:
            logits = model(tokens)
        assert logits.dtype == seen[result(1)].dtype == torch.float64
    with patch(model, result(1), cache[result(1)][:4].float()), record(model, [result(1)]) as seen:
        assert model(tokens).dtype == torch.float64
    assert seen[result(1)].dtype == torch.float64
    with ablate_heads(model, [INDUCTION_HEAD], how="mean", reference_tokens=tokens):
        logits = model(tokens)
    assert logits.dtype == torch.float64
    assert induction_loss(logits, tokens, LENGTH).dtype == torch.float64


# --------------------------------------------------------------------------- patching


def test_patching_a_whole_layer_from_the_clean_run_gives_the_clean_output():
    model = tiny_model()
    clean_tokens, corrupted_tokens = tiny_tokens(3, seed=1), tiny_tokens(3, seed=2)
    clean_logits, clean = run_with_cache(model, clean_tokens)
    corrupted_logits = model(corrupted_tokens)
    assert not torch.allclose(clean_logits, corrupted_logits)
    for layer in range(TINY.n_layers):
        names = [n for n, m in model.named_modules() if n.startswith(f"blocks.{layer}.") and isinstance(m, HookPoint)]
        assert len(names) == 10
        with ExitStack() as stack:
            for name in names:
                stack.enter_context(patch(model, name, clean[name]))
            assert count_hooks(model) == 10
            patched = model(corrupted_tokens)
        assert torch.equal(patched, clean_logits)
    with patch(model, "blocks.1.hook_resid_post", clean["blocks.1.hook_resid_post"]):
        assert torch.equal(model(corrupted_tokens), clean_logits)  # the last residual stream decides all
    assert count_hooks(model) == 0


def test_patching_one_head_or_one_position_leaves_the_rest_as_in_the_corrupted_run():
    model = tiny_model()
    clean_tokens, corrupted_tokens = tiny_tokens(3, seed=1), tiny_tokens(3, seed=2)
    clean_logits, clean = run_with_cache(model, clean_tokens)
    corrupted_logits, corrupted = run_with_cache(model, corrupted_tokens)
    name = result(0)
    with patch(model, name, clean[name], dim=2, index=1), record(model, [name]) as seen:
        patched = model(corrupted_tokens)
    assert torch.equal(seen[name][:, :, 1], clean[name][:, :, 1])
    assert torch.equal(seen[name][:, :, [0, 2]], corrupted[name][:, :, [0, 2]])
    assert not torch.allclose(patched, corrupted_logits) and not torch.allclose(patched, clean_logits)

    name = "blocks.0.hook_resid_pre"
    with patch(model, name, clean[name], dim=1, index=[5]), record(model, [name]) as seen:
        patched = model(corrupted_tokens)
    assert torch.equal(seen[name][:, 5], clean[name][:, 5])
    assert torch.equal(seen[name][:, :5], corrupted[name][:, :5]) and torch.equal(seen[name][:, 6:],
                                                                                   corrupted[name][:, 6:])
    assert torch.equal(patched[:, :5], corrupted_logits[:, :5])  # causal: earlier positions are unchanged
    assert not torch.allclose(patched[:, 5:], corrupted_logits[:, 5:])


# --------------------------------------------------------------------------- no hook left, clear errors


def test_no_hook_is_left_behind_even_when_the_block_or_the_forward_pass_raises():
    model = tiny_model()
    tokens = tiny_tokens(2)
    clean = model(tokens)
    _, cache = run_with_cache(model, tokens)
    name = result(0)
    interventions = [
        lambda: ablate(model, name, dim=2, index=0),
        lambda: ablate(model, name, dim=2, index=0, how="mean", reference=cache[name]),
        lambda: ablate_heads(model, [(0, 0), (1, 1)], how="resample", reference_tokens=tokens,
                             generator=torch.Generator().manual_seed(0)),
        lambda: patch(model, name, cache[name], dim=2, index=0),
    ]
    for intervention in interventions:
        with intervention():
            assert count_hooks(model) >= 1
        assert count_hooks(model) == 0
        with pytest.raises(KeyboardInterrupt):
            with intervention():
                raise KeyboardInterrupt  # anything raised inside the block
        assert count_hooks(model) == 0
        with pytest.raises(ValueError, match="n_ctx"):
            with intervention():
                model(torch.zeros(2, TINY.n_ctx + 1, dtype=torch.long))  # the forward pass raises
        assert count_hooks(model) == 0
    # an error raised by the hook itself, in the middle of the forward pass
    with pytest.raises(ValueError, match=r"any batch, 7, 3, 12"):
        with ablate(model, name, dim=2, index=0, how="mean", reference=cache[name][:, :5]):
            model(tokens)
    with pytest.raises(ValueError, match=r"shape \[2, 7, 3, 12\]"):
        with patch(model, name, cache[name][:1]):
            model(tokens)
    assert count_hooks(model) == 0
    assert torch.equal(model(tokens), clean)


def test_clear_errors_for_a_bad_how_a_missing_reference_or_generator():
    model = tiny_model()
    name = result(0)
    reference = run_with_cache(model, tiny_tokens(2), [name])[1][name]
    with pytest.raises(ValueError, match="'zero', 'mean', 'resample'"):
        with ablate(model, name, dim=2, index=0, how="average", reference=reference):
            pass
    for how in ("mean", "resample"):
        with pytest.raises(ValueError, match="reference="):
            with ablate(model, name, dim=2, index=0, how=how, generator=torch.Generator()):
                pass
    with pytest.raises(ValueError, match="generator"):
        with ablate(model, name, dim=2, index=0, how="resample", reference=reference):
            pass
    with pytest.raises(ValueError, match="batch"):
        with ablate(model, name, dim=0, index=0):
            pass
    with pytest.raises(ValueError, match="both dim and index"):
        with patch(model, name, reference, dim=2):
            pass
    with pytest.raises(AttributeError):
        with ablate(model, "blocks.0.attn.hook_nothing", dim=2, index=0):
            pass
    assert count_hooks(model) == 0


# --------------------------------------------------------------------------- metrics


def test_logit_difference_on_a_hand_made_tensor():
    logits = torch.tensor([[[1.0, 5.0, -2.0], [0.0, 3.0, 7.0]],
                           [[4.0, 4.0, 0.5], [-1.0, 2.0, 2.5]]])  # [batch 2, pos 2, vocab 3]
    correct = torch.tensor([[1, 2], [0, 2]])
    wrong = torch.tensor([[0, 1], [2, 1]])
    diff = logit_difference(logits, correct, wrong)
    assert diff.shape == () and diff.item() == pytest.approx(((5 - 1) + (7 - 3) + (4 - 0.5) + (2.5 - 2)) / 4)
    flat = logit_difference(logits[:, 1], correct[:, 1], wrong[:, 1])  # [batch, vocab]
    assert flat.item() == pytest.approx(((7 - 3) + (2.5 - 2)) / 2)
    assert logit_difference(logits, wrong, correct).item() == pytest.approx(-diff.item())
    with pytest.raises(ValueError, match="leading shape"):
        logit_difference(logits, correct[:, 0], wrong[:, 0])  # [batch] against [batch, pos, vocab]
    with pytest.raises(ValueError, match="integers"):
        logit_difference(logits, correct.float(), wrong)


@settings(max_examples=100, deadline=None)
@given(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6), st.floats(0, 1))
def test_normalised_is_1_at_clean_and_0_at_corrupted(clean, corrupted, t):
    if clean == corrupted:
        with pytest.raises(ValueError, match="clean"):
            normalised(0.5, clean, corrupted)
        return
    assert normalised(clean, clean, corrupted) == 1.0
    assert normalised(corrupted, clean, corrupted) == 0.0
    between = corrupted + t * (clean - corrupted)
    assert normalised(between, clean, corrupted) == pytest.approx(t, abs=1e-6)


def test_normalised_on_tensors_and_equal_runs():
    value = torch.tensor([1.0, 2.0, 3.0])
    out = normalised(value, torch.tensor(3.0), torch.tensor(1.0))
    assert torch.equal(out, torch.tensor([0.0, 0.5, 1.0]))
    assert normalised(2.0, 3.0, 1.0) == 0.5 and isinstance(normalised(2.0, 3.0, 1.0), float)
    with pytest.raises(ValueError, match="clean"):
        normalised(1.0, 2.0, 2.0)
    with pytest.raises(ValueError, match="clean"):
        normalised(value, torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.0, 2.0, 0.0]))


def test_induction_loss_counts_exactly_the_second_copy_after_its_first_token():
    length, vocab = 4, 6
    tokens = torch.tensor([[0, 1, 2, 3, 0, 1, 2, 3], [5, 4, 3, 2, 5, 4, 3, 2]])
    # logits that put 1 on the right next token, except: wrong everywhere outside the counted positions
    logits = torch.zeros(2, 8, vocab)
    g = torch.Generator().manual_seed(0)
    for b in range(2):
        for t in range(7):
            logits[b, t, tokens[b, t + 1]] = 1.0
    for t in (0, 1, 2, 3, 7):  # not counted: the first copy, the second copy's first token, the last position
        logits[:, t] = torch.randn(2, vocab, generator=g) * 100
    per_token = -torch.log_softmax(torch.tensor([1.0] + [0.0] * (vocab - 1)), 0)[0]
    assert induction_loss(logits, tokens, length).item() == pytest.approx(per_token.item())
    logits[1, 6] = 0.0  # uniform at one counted position: one of 2 * 3 predictions now costs log(vocab)
    expected = (5 * per_token + math.log(vocab)) / 6
    assert induction_loss(logits, tokens, length).item() == pytest.approx(expected.item())
    with pytest.raises(ValueError, match="2 \\* length"):
        induction_loss(logits, tokens, 3)
    with pytest.raises(ValueError, match="at least 2"):
        induction_loss(logits[:, :2], tokens[:, :2], 1)
