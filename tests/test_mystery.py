"""Tests of mi_helpers.mystery (notebook 09, section 3) and of the checks' own reference computations."""
import shutil

import pytest
import torch

import mi_helpers.mystery as M
from mi_helpers.shipped import ChecksumError


def test_inputs_are_deterministic_shaped_and_hold_one_marker():
    state = torch.get_rng_state()
    a, b = M.mystery_inputs(300, seed=3), M.mystery_inputs(300, seed=3)
    assert torch.equal(torch.get_rng_state(), state)  # the global generator is left alone
    assert torch.equal(a, b) and not torch.equal(a, M.mystery_inputs(300, seed=4))
    assert a.shape == (300, M.CONFIG.n_ctx) and a.dtype == torch.int64
    assert 0 <= a.min() and a.max() < M.CONFIG.d_vocab
    is_marker = a == M.MARKER
    assert (is_marker.sum(dim=1) == 1).all()
    assert not is_marker[:, -2:].any()  # the token after it is never the last one
    assert is_marker[:, 0].any() and is_marker[:, -3].any()  # every allowed position is used


def test_targets_on_a_row_written_by_hand():
    n = M.CONFIG.n_ctx
    row = torch.tensor([[(i % 5) + 1 if (i % 5) + 1 != M.MARKER else 2 for i in range(n)]])
    row[0, 7], row[0, 8] = M.MARKER, 30
    assert M.mystery_targets(row).tolist() == [30]
    assert M.mystery_targets(row.masked_fill(row == M.MARKER, 3)).tolist() == [-1]


def test_corrupted_removes_the_marker_and_nothing_else():
    x = M.mystery_inputs(200, seed=5)
    before = x.clone()
    c = M.mystery_corrupted(x, seed=1)
    assert torch.equal(x, before)
    assert not (c == M.MARKER).any()
    assert torch.equal(c[x != M.MARKER], x[x != M.MARKER])
    assert torch.equal(c, M.mystery_corrupted(x, seed=1))


def test_checkpoint_is_small_verified_and_accurate():
    assert M.CHECKPOINT.stat().st_size < 300_000
    model = M.load_mystery_model()
    assert not model.training and model.cfg == M.CONFIG
    tokens = M.mystery_inputs(1000, seed=77)
    assert M.mystery_accuracy(model, tokens) > 0.95


def test_a_changed_checkpoint_is_refused(tmp_path):
    copy = tmp_path / "mystery.pt"
    shutil.copy(M.CHECKPOINT, copy)
    with open(copy, "ab") as f:
        f.write(b"\0")
    with pytest.raises(ChecksumError):
        M.load_mystery_model(path=copy)


def test_the_shipped_heads_are_the_measured_ones_and_verify():
    model, tokens = M.load_mystery_model(), M.mystery_inputs(1000, seed=78)
    assert M.measure_heads(model, tokens) == M.HEADS
    numbers = M.verify_heads(model, tokens, M.HEADS)
    assert numbers["heads_ablated"] < 0.15  # chance is 1/31
    assert numbers["intact"] - numbers["others_ablated"] < 0.05
    for head in M.HEADS:  # each one is needed on its own
        assert M.mystery_accuracy(model, tokens, [head]) < 0.3


def test_the_rule_is_what_the_model_follows_and_no_other_candidate():
    import mi_helpers.checks.nb09 as C
    agree = C.candidate_agreement()
    assert agree[M.MECHANISM] > 0.95
    assert all(v < 0.2 for k, v in agree.items() if k != M.MECHANISM), agree


def test_candidate_predictions_on_rows_written_by_hand():
    import mi_helpers.checks.nb09 as C
    n = M.CONFIG.n_ctx
    row = torch.arange(1, n + 1) % 16 + 1  # tokens 1..16, never the marker (17)
    row[3], row[4] = M.MARKER, 9
    row[10], row[11], row[-1] = 5, 6, 5  # the last token (5) occurred at 10, then 6
    row[0], row[1] = 3, 3
    p = {k: v.item() for k, v in C.candidate_predictions(row[None]).items()}
    assert p["a"] == 3 and p["b"] == 6 and p["d"] == 9 and p["e"] == int(row[2]) and p["f"] == 5
    assert p["c"] == int(torch.bincount(row).argmax())
    lonely = row.clone()
    lonely[-1] = 31  # occurs nowhere earlier: induction predicts nothing
    assert C.candidate_predictions(lonely[None])["b"].item() == -1


def test_training_is_deterministic():
    def short_run():
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = M.AttnOnlyTransformer(M.CONFIG)
        M.train_mystery(model, steps=3, batch_size=16, progress=False, eval_every=100)
        return model.state_dict()
    a, b = short_run(), short_run()
    assert all(torch.equal(a[k], b[k]) for k in a)
