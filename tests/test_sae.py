"""Tests of mi_helpers.sae (notebook 09, section 2): planted activations, the training loop, the residual-stream helpers."""

import pytest
import torch
from torch import nn


import mi_helpers.sae as lib_sae
from mi_helpers.sae import synthetic_activations, token_roles, top_activations, train_sae


def test_synthetic_activations_shapes_and_ground_truth():
    data = synthetic_activations(3000, d=8, n_true=20, density=0.1, noise=0.0, seed=3)
    assert data.activations.shape == (3000, 8) and data.activations.dtype == torch.float32
    assert data.features.shape == (20, 8) and data.coefficients.shape == (3000, 20)
    assert torch.allclose(data.features.norm(dim=1), torch.ones(20), atol=1e-6)
    assert (data.coefficients >= 0).all() and (data.coefficients < 1).all()
    assert abs((data.coefficients > 0).float().mean().item() - 0.1) < 0.01
    # without noise the activations are exactly the planted mix
    assert torch.allclose(data.activations, data.coefficients @ data.features, atol=1e-6)


def test_synthetic_activations_seeded_and_leaves_global_state():
    state = torch.get_rng_state()
    a = synthetic_activations(100, seed=1)
    b = synthetic_activations(100, seed=1)
    c = synthetic_activations(500, seed=1)
    d = synthetic_activations(100, seed=2)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a.activations, b.activations)
    assert torch.equal(a.features, c.features)  # features depend on the seed only, not on n
    assert not torch.equal(a.features, d.features)
    noisy = synthetic_activations(100, noise=0.5, seed=1)
    assert (noisy.activations - noisy.coefficients @ noisy.features).std() > 0.3


def test_synthetic_activations_features_are_not_an_sae_seeded_alike():
    """An SAE drawing randn(n, d) from a generator seeded like the data must not start on the answer."""
    data = synthetic_activations(10, d=16, n_true=32, seed=0)
    w = torch.randn(64, 16, generator=torch.Generator().manual_seed(0))
    w = w / w.norm(dim=1, keepdim=True)
    assert (data.features @ w.T).max(dim=1).values.mean() < 0.8


def test_synthetic_activations_rejects_bad_arguments():
    with pytest.raises(ValueError):
        synthetic_activations(10, density=1.5)
    with pytest.raises(ValueError):
        synthetic_activations(0)


class _SAE(nn.Module):
    """A small SAE for the loop's tests (the learner writes the real one in 09.5)."""

    def __init__(self, d, m, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        w = torch.randn(m, d, generator=g)
        w = w / w.norm(dim=1, keepdim=True)
        self.W_enc, self.W_dec = nn.Parameter(w.T.clone()), nn.Parameter(w)
        self.b_enc, self.b_dec = nn.Parameter(torch.zeros(m)), nn.Parameter(torch.zeros(d))
        self.normalised = 0

    def forward(self, x):
        z = torch.relu((x - self.b_dec) @ self.W_enc + self.b_enc)
        return z @ self.W_dec + self.b_dec, z

    @torch.no_grad()
    def normalise_decoder(self):
        self.normalised += 1
        self.W_dec /= self.W_dec.norm(dim=1, keepdim=True)


def _loss(x, x_hat, z, c):
    return ((x - x_hat) ** 2).sum(-1).mean() + c * z.abs().sum(-1).mean()


def test_train_sae_calls_the_pieces_and_logs():
    data = synthetic_activations(2000, d=8, n_true=12, seed=0)
    sae = _SAE(8, 24)
    with torch.no_grad():
        sae.b_enc[:4] = -100.0  # four latents dead from the start
    calls = []

    def resample(s, x, dead, *, seed=0):
        calls.append((x.shape, dead.clone(), seed))
        with torch.no_grad():
            s.b_enc[dead] = 0.0
        return torch.zeros(int(dead.sum()), dtype=torch.long)

    def score(learned, true):
        return float((torch.nn.functional.normalize(true, dim=1) @ torch.nn.functional.normalize(learned, dim=1).T)
                     .max(1).values.mean())

    state = torch.get_rng_state()
    h = train_sae(sae, data.activations, loss_fn=_loss, l1_coeff=0.1, steps=60, batch_size=64, resample_fn=resample,
                  resample_every=20, resample_until=0.5, true_features=data.features, score_fn=score, log_every=10,
                  progress=False)
    assert torch.equal(torch.get_rng_state(), state)
    assert sae.normalised == 60
    assert h["step"] == [0, 10, 20, 30, 40, 50, 60] and len(h["mmcs"]) == len(h["dead"]) == len(h["loss"]) == 7
    assert len(calls) == 1 and calls[0][0] == (2000, 8)  # steps 20 only (step 40 > 0.5 * 60)
    assert calls[0][1][:4].all()
    assert h["resampled"][0] == int(calls[0][1].sum())
    assert h["dead"][-1] < 4 / 24 and h["seconds"] > 0
    assert torch.allclose(sae.W_dec.norm(dim=1), torch.ones(24), atol=1e-5)


def test_train_sae_is_deterministic():
    data = synthetic_activations(1000, d=6, n_true=8, seed=4)
    out = []
    for _ in range(2):
        sae = _SAE(6, 12, seed=1)
        train_sae(sae, data.activations, loss_fn=_loss, l1_coeff=0.1, steps=30, batch_size=32, progress=False)
        out.append(sae.W_dec.detach().clone())
    assert torch.equal(out[0], out[1])


def test_adam_moments_of_resampled_latents_reset():
    sae = _SAE(4, 6)
    opt = torch.optim.Adam(sae.parameters(), lr=1e-2)
    x = torch.randn(16, 4)
    loss = _loss(x, *sae(x), 0.1)
    loss.backward()
    opt.step()
    dead = torch.tensor([True, False, False, True, False, False])
    lib_sae._reset_adam_moments(opt, sae, dead)
    for p, where in ((sae.W_dec, (dead,)), (sae.b_enc, (dead,)), (sae.W_enc, (slice(None), dead))):
        assert (opt.state[p]["exp_avg"][where] == 0).all() and (opt.state[p]["exp_avg_sq"][where] == 0).all()
    assert opt.state[sae.W_dec]["exp_avg"][~dead].abs().sum() > 0


def test_token_roles_and_top_activations():
    from mi_helpers.transformer import repeated_sequences
    batch = repeated_sequences(50, length=(4, 10), seed=3)
    roles = token_roles(batch)
    assert torch.equal(roles == 3, batch.repeated)
    assert ((roles == 1).sum(1) == batch.lengths).all() and ((roles == 2).sum(1) == 1).all()
    z = torch.zeros(3, 5, 2)
    z[1, 4, 0], z[2, 0, 0], z[0, 2, 1] = 5.0, 3.0, 9.0
    values, where = top_activations(z, 0, k=2)
    assert values.tolist() == [5.0, 3.0] and where.tolist() == [[1, 4], [2, 0]]


def test_residual_activations_match_the_cache():
    from mi_helpers.hooks import count_hooks, run_with_cache
    from mi_helpers.transformer import load_induction_model, repeated_sequences
    model = load_induction_model()
    tokens = repeated_sequences(4, model.cfg, seed=0).tokens
    resid = lib_sae.residual_activations(model, tokens, "blocks.1.hook_resid_post")
    _, cache = run_with_cache(model, tokens, ["blocks.1.hook_resid_post"])
    assert resid.shape == (4, model.cfg.n_ctx, model.cfg.d_model) and torch.equal(resid, cache["blocks.1.hook_resid_post"])
    assert count_hooks(model) == 0 and not resid.requires_grad
