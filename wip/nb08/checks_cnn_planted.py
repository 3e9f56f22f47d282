"""Checks for notebook 08, part "cnn_planted": 08.2 channel_ablation_accuracy, 08.7 ablation_effect and
08.8 which_feature_is_used.

No check needs a trained network. The answers are known by construction, or come from the course's
own intervention, :func:`mi_helpers.interventions.ablate` (which the learner may not call while the
check runs their code: the exercises ask them to write the hook themselves with
:func:`mi_helpers.hooks.hooks`).

- 08.2 tries SmallCNNs with seeded random convolutions whose read-out is planted: one whose ``fc`` reads
  nothing from four channels of ``relu2`` (zeroing one of them cannot move a logit: the drop is exactly
  0), and one whose ``fc`` reads from one channel alone, in float64: once that channel is silent every
  logit is ``fc.bias``, every image gets the class of the largest bias, and the accuracy falls to the share
  of that class among the labels, known in advance. Then it compares with ``ablate`` at ``relu1`` of a
  random SmallCNN, on a model in eval mode that holds a dropout layer (whose results only a learner who
  leaves the mode alone gets) and on a model in train mode (which must come back in train mode). After
  every call: no hook left, the weights and the mode as they were. The hints name a mistake by comparing
  the result with what a typical mistake gives (the accuracy with the channel ablated, the opposite sign,
  a relative drop, counts, percent, mean ablation, channels ablated cumulatively, every channel but one,
  an image zeroed instead of a channel, float32 arithmetic).
- 08.7 tries the planted MLP of :mod:`mi_helpers.planted`: ablating ``UNITS_B``, which feed nothing
  into the output, must cost exactly 0.0; ablating ``UNITS_A`` or unit 0 alone costs about 0.48, as
  ``ablate`` says; then a seeded random MLP of the same class against ``ablate`` for several sets of units
  given as a list, a tuple and a range.
- 08.8 is a finding: the answer must be ``mi_helpers.planted.FEATURE_USED``; a wrong answer is told why
  a probe's accuracy measures what is decodable, not what is used.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from mi_helpers.checks.core import (EdgeCase, call, close_to, describe, exercise, expect, expect_close, expect_tensor,
                                    fail, show, single_number)
from mi_helpers.checks.nb04 import seeded_cnn
from mi_helpers.harness import tensor_bits
from mi_helpers.hooks import count_hooks, hooks, run_with_cache
from mi_helpers.interventions import ablate
from mi_helpers.planted import (FEATURE_UNUSED, FEATURE_USED, UNITS_A, UNITS_B, PlantedMLP, planted_features,
                                planted_model)

INTERVENTIONS = ("mi_helpers.interventions.ablate", "mi_helpers.interventions.ablate_heads",
                 "mi_helpers.interventions.patch")
# The exercises' ids in the notebook (one place to renumber them; the checks' data does not depend on them).
CHANNEL_ID, EFFECT_ID, FINDING_ID = "08.2", "08.7", "08.8"


# ---------------------------------------------------------------- shared: what a call did to the model

def _snapshot(model: nn.Module) -> dict:
    """The model's hooks, mode (per submodule) and weights (as bits), to compare before and after a call."""
    return {"hooks": count_hooks(model),
            "training": {name or "(the model)": m.training for name, m in model.named_modules()},
            "state": {k: tensor_bits(v) for k, v in model.state_dict(keep_vars=True).items()}}


def _expect_model_as_before(model: nn.Module, before: dict, tried: str, *, eval_hint: str = "") -> None:
    """After a call of the learner's code: no hook left, the same mode everywhere, the same weights."""
    after = _snapshot(model)
    left = after["hooks"] - before["hooks"]
    expect(left <= 0, f"{left} hook{'s are' if left != 1 else ' is'} still attached to the model after your "
           "function returned.", tried=tried, expected=f"count_hooks(model) == {before['hooks']}, as before",
           received=f"count_hooks(model) == {after['hooks']}",
           hint="attach every hook with `with hooks(model, [(name, fn)]):` and run the forward pass inside the "
                "`with` block: the hook is removed when the block ends, even if the forward pass raises. A hook "
                "registered with register_forward_hook and never removed fires on every later forward pass")
    switched = [name for name, flag in before["training"].items() if after["training"].get(name) != flag]
    if switched:
        was = before["training"]["(the model)"]
        fail(f"your function left the model in {'eval' if was else 'train'} mode; it came in "
             f"{'train' if was else 'eval'} mode.", tried=tried,
             expected=f"model.training == {was} afterwards, as before", received=f"model.training == {not was}",
             hint=eval_hint or "evaluate the model in the mode the caller gave it: do not call model.train() or "
                               "model.eval(); if you must switch, save `was = model.training` first and call "
                               "model.train(was) before returning")
    changed = [k for k, bits in before["state"].items()
               if k not in after["state"] or not torch.equal(bits, after["state"][k])]
    expect(not changed, "your function changed the model's weights.", tried=tried,
           expected="every parameter and buffer left as it was", received="changed: " + ", ".join(changed),
           hint="ablate the activation with a hook that returns an edited copy of it; do not zero weights "
                "(model.conv2.weight[c] = 0, .zero_(), .mul_(0)) in place: the caller's model keeps the change")


def _near(a, b, atol: float = 1e-6) -> bool:
    """True when a and b are tensors (or numbers) of one shape with close, finite values (to name a mistake)."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isfinite(a) and abs(a - b) <= atol
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor) or a.device.type == "meta":
        return False
    a, b = a.detach().cpu().double(), b.detach().cpu().double()
    return a.shape == b.shape and bool(torch.isfinite(a).all()) and bool(torch.allclose(a, b, atol=atol, rtol=0))


def _correct(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """[n] bool: the rows of X whose highest logit is y (no hooks but those already on)."""
    with torch.no_grad():
        return model(X).argmax(dim=-1) == y


def mixed_labels(model: nn.Module, X: torch.Tensor, g: torch.Generator, n_classes: int,
                 share: float = 0.3) -> torch.Tensor:
    """The model's own predictions on X, with about ``share`` of them replaced by labels drawn at random:
    an accuracy well below 1, so that a drop can be either sign and a relative drop differs from it."""
    with torch.no_grad():
        y = model(X).argmax(dim=-1)
    redraw = torch.rand(len(y), generator=g) < share
    y[redraw] = torch.randint(n_classes, (int(redraw.sum()),), generator=g)
    return y


# ---------------------------------------------------------------- 08.2 channel_ablation_accuracy

CHANNELS_OF = {"relu1": 8, "relu2": 16}
DEAD = (2, 5, 11, 13)  # channels of relu2 that the first planted CNN's fc reads nothing from
ALONE = 6  # the second planted CNN's fc reads channel 6 only
CHANNEL_HINT = ("for each channel c: a hook on `layer` that returns a copy of the activation with [:, c] set to 0 "
                "(dim 1 is the channel; dim 0 the batch), a forward pass with that hook on, and the accuracy "
                "without any hook minus the accuracy with it")


def reference_drops(model: nn.Module, X: torch.Tensor, y: torch.Tensor, layer: str = "relu2", *,
                    how: str = "zero", cumulative: bool = False, all_but: bool = False) -> torch.Tensor:
    """[channels] accuracy lost per channel, in X's dtype, with the course's ``ablate``. The keyword
    arguments give the typical mistakes a hint names (mean ablation, channels 0..c together, all but c)."""
    with torch.no_grad():
        logits, cache = run_with_cache(model, X, [layer])
    acts = cache[layer]
    n = acts.shape[1]
    clean = (logits.argmax(dim=-1) == y).to(X.dtype).mean()
    drops = []
    for c in range(n):
        index = list(range(c + 1)) if cumulative else [i for i in range(n) if i != c] if all_but else c
        with ablate(model, layer, dim=1, index=index, how=how, reference=acts if how == "mean" else None):
            drops.append(clean - _correct(model, X, y).to(X.dtype).mean())
    return torch.stack(drops)


def _image_zeroed(model: nn.Module, X: torch.Tensor, y: torch.Tensor, layer: str) -> torch.Tensor:
    """A typical mistake, to name it: for each c, image c (dim 0) zeroed instead of channel c."""
    with torch.no_grad():
        logits, cache = run_with_cache(model, X, [layer])
    clean = (logits.argmax(dim=-1) == y).to(X.dtype).mean()
    drops = []
    for c in range(min(cache[layer].shape[1], X.shape[0])):
        def zero(activation, name, c=c):
            activation = activation.clone()
            activation[c] = 0
            return activation
        with hooks(model, [(layer, zero)]):
            drops.append(clean - _correct(model, X, y).to(X.dtype).mean())
    return torch.stack(drops)


def _drop_hint(out: torch.Tensor, model: nn.Module, X: torch.Tensor, y: torch.Tensor, layer: str,
               want: torch.Tensor) -> str:
    """Name the mistake by comparing the result with what the typical ones give on these inputs."""
    base = _correct(model, X, y).to(torch.float64).mean().item()
    want = want.detach().cpu().double()
    n = X.shape[0]
    if out.dtype == torch.float64 and want.dtype == torch.float64 and not _near(out, want, 1e-12) \
            and _near(out, want, 1e-6):
        return ("the values agree only to about float32's precision: somewhere the accuracy goes through float32 "
                "((pred == y).float(), torch.tensor(list_of_floats), .item() then torch.tensor, mi_helpers.train."
                "accuracy). Turn the booleans into X's dtype: (pred == y).to(X.dtype).mean()")
    candidates = [
        (base - want, "you returned the accuracy WITH each channel ablated. The exercise asks for the accuracy "
                      "the model LOSES: the clean accuracy (no hook) minus the ablated one"),
        (-want, "the sign is flipped: the drop is the clean accuracy minus the ablated accuracy, positive when "
                "the model gets worse"),
        (want / base if base else want, "you divided by the clean accuracy: return the difference of the two "
                                        "accuracies itself, not a relative drop"),
        (want * n, "these are counts of images: divide by the number of images, so that the drop is a fraction "
                   "between -1 and 1"),
        (want * 100, "these are percentages: return fractions (0.05, not 5)"),
        (reference_drops(model, X, y, layer, how="mean").double(),
         "this is MEAN ablation (each channel replaced by its average over the batch). Set the channel to 0"),
        (reference_drops(model, X, y, layer, cumulative=True).double(),
         "channel c was ablated together with every channel before it: ablate one channel at a time (a hook "
         "that captures a list you keep appending to, or an activation edited in place and reused, "
         "accumulates the ablations)"),
        (reference_drops(model, X, y, layer, all_but=True).double(),
         "you zeroed every channel EXCEPT c: zero channel c alone, activation[:, c] = 0"),
        (_image_zeroed(model, X, y, layer).double(),
         "activation[c] = 0 zeroes IMAGE c (dim 0 is the batch): the channel is dim 1, activation[:, c] = 0"),
    ]
    for value, hint in candidates:
        if _near(out, value):
            return hint
    if bool((want != 0).any()) and _near(out, torch.zeros_like(want)):
        return ("every drop is 0, as if the ablation changed nothing. Two usual causes: the hook edits a copy of "
                "the activation but does not RETURN it (a hook replaces the activation only with what it "
                "returns), or the clean accuracy was measured with the ablation hook already attached")
    return CHANNEL_HINT


def _expect_drops(out, model, X, y, layer: str, tried: str, n_channels: int, *, atol: float,
                  problem: str = "the accuracy drops differ from the course's zero ablation (mi_helpers.interventions."
                                 "ablate) of each channel.") -> torch.Tensor:
    """The result must be [n_channels] in X's dtype, equal to the course's ablation."""
    expect_tensor(out, tried=tried, allow_nan=True,
                  hint="build the result with torch.stack(list_of_0d_tensors) or torch.zeros(n, dtype=X.dtype, "
                       "device=X.device) filled channel by channel")
    expect_tensor(out, shape=(n_channels,), tried=tried, allow_nan=True,
                  hint=f"one drop per channel of {layer!r}: its activation is [batch, channel, height, width], so "
                       f"there are activation.shape[1] = {n_channels} of them (read the number of channels from "
                       "the activation, not from a constant: `layer` may be another layer)")
    expect_tensor(out, dtype=X.dtype, tried=tried,
                  hint="keep X's dtype: turn the booleans pred == y into X's dtype with .to(X.dtype) before the "
                       "mean (.float() gives float32; the mean of a bool or int tensor needs a float dtype)")
    want = reference_drops(model, X, y, layer)
    expect_close(out, want, tried=tried, atol=atol, rtol=0, problem=problem,
                 hint=_drop_hint(out, model, X, y, layer, want))
    return out


def dead_channel_cnn(seed: int, dead=DEAD) -> nn.Module:
    """A SmallCNN with seeded random weights whose fc reads nothing from the relu2 channels ``dead``:
    flatten lays relu2's pooled maps out channel after channel, 4 features each (2 × 2 after pool2)."""
    model = seeded_cnn(seed)
    with torch.no_grad():
        for c in dead:
            model.fc.weight[:, 4 * c:4 * (c + 1)] = 0.0
    return model


def lone_channel_cnn(seed: int, X: torch.Tensor, g: torch.Generator, channel: int = ALONE) -> tuple[nn.Module, int]:
    """A SmallCNN whose fc reads relu2's ``channel`` and nothing else, and the class it predicts once that
    channel is 0: then every logit is its bias, so every image gets the class of the largest bias. The
    weights into fc are random, scaled to the channel's spread on X, and the bias centres the logits on X,
    so that the model's predictions vary from image to image while the channel is on."""
    model = seeded_cnn(seed)
    with torch.no_grad():
        pooled = run_with_cache(model, X, ["pool2"])[1]["pool2"][:, channel].flatten(1)  # [n, 4]
        weight = torch.randn(10, 4, generator=g) / pooled.std(dim=0).mean()
        model.fc.weight.zero_()
        model.fc.weight[:, 4 * channel:4 * (channel + 1)] = weight
        model.fc.bias.copy_(-weight @ pooled.mean(dim=0))
    return model, int(model.fc.bias.argmax())


def dropout_cnn(seed: int) -> nn.Module:
    """A SmallCNN in eval mode with a dropout layer after relu2 (pool2 becomes Dropout then MaxPool):
    in eval mode the dropout does nothing; in train mode it zeroes half the values at random."""
    model = seeded_cnn(seed)
    model.pool2 = nn.Sequential(nn.Dropout(0.5), nn.MaxPool2d(2))
    return model.eval()


def _cnn_example(_g, dtype, device="cpu"):
    g = torch.Generator().manual_seed(8029)  # not the contract's generator: the same data whatever the id
    model = seeded_cnn(8029)
    X = torch.rand(60, 1, 8, 8, generator=g)
    y = mixed_labels(model, X, g, 10)
    return model.to(dtype).to(device), X.to(dtype).to(device), y.to(device)


def _one_image():
    model = seeded_cnn(8027)
    X = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(8027))
    with torch.no_grad():
        y = model(X).argmax(dim=-1)  # the model's own prediction: the clean accuracy is 1
    return model, X, y


def _one_channel():
    g = torch.Generator().manual_seed(8028)
    model = seeded_cnn(8028, channels=(4, 1))  # relu2 has a single channel
    X = torch.rand(40, 1, 8, 8, generator=g)
    return model, X, mixed_labels(model, X, g, 10)


@exercise(CHANNEL_ID, "channel_ablation_accuracy", points=3, difficulty=2, minutes=20,
          example=_cnn_example, meta=True, forbidden=INTERVENTIONS,
          edge_cases=(
              EdgeCase("a single image, X of shape (1, 1, 8, 8): each drop is -1, 0 or 1",
                       _one_image, close_to(lambda model, X, y: reference_drops(model, X, y))),
              EdgeCase("SmallCNN(channels=(4, 1)), whose relu2 has one channel: a result of shape (1,)",
                       _one_channel, close_to(lambda model, X, y: reference_drops(model, X, y)),
                       hint="read the number of channels from the activation (activation.shape[1]), not from a "
                            "constant"),
          ))
def check_channel_ablation_accuracy(channel_ablation_accuracy):
    fn = channel_ablation_accuracy
    g = torch.Generator().manual_seed(80200)

    # 1. fc reads nothing from four channels: zeroing one of them cannot change a logit.
    model = dead_channel_cnn(8021)
    X = torch.rand(120, 1, 8, 8, generator=g)
    y = mixed_labels(model, X, g, 10)
    tried = (f"a SmallCNN with random convolutions whose fc reads nothing from relu2's channels {list(DEAD)} (their "
             "weights into fc are 0), X of shape (120, 1, 8, 8), float32, y of shape (120,), layer left at its "
             "default ('relu2')")
    before = _snapshot(model)
    out = call(fn, model, X, y, tried=tried)
    _expect_model_as_before(model, before, tried)
    expect_tensor(out, shape=(16,), tried=tried, allow_nan=True,
                  hint="one drop per channel of relu2 (16 channels): activation.shape[1], a tensor of shape (16,)")
    dead = out.detach()[list(DEAD)]
    if not bool((dead == 0).all()):
        fail(f"the drop of channels {list(DEAD)} should be exactly 0: fc reads nothing from them, so zeroing one "
             "cannot move any logit.", tried=tried, expected=str([0.0] * len(DEAD)), received=show(dead),
             hint=_drop_hint(out, model, X, y, "relu2", reference_drops(model, X, y)))
    _expect_drops(out, model, X, y, "relu2", tried, 16, atol=1e-6)

    # 2. fc reads one channel alone: with it at 0 every logit is fc.bias, and one class wins everywhere. float64.
    X = torch.rand(130, 1, 8, 8, generator=g)
    model, winner = lone_channel_cnn(8022, X, g)
    model, X = model.double(), X.double()
    with torch.no_grad():
        predicted = model(X).argmax(dim=-1)
    y = predicted.clone()
    y[:30] = (y[:30] + 1) % 10  # 30 labels made wrong: the clean accuracy is 100 / 130
    clean = _correct(model, X, y).double().mean().item()
    falls_to = (y == winner).double().mean().item()
    if len(predicted.unique()) < 4 or not 0 < falls_to < 0.5:  # pragma: no cover - a model the course would not ship
        raise RuntimeError("the lone-channel CNN is degenerate: its channel hardly moves the predictions")
    tried = (f"a SmallCNN in float64 whose fc reads relu2's channel {ALONE} and nothing else (fc.bias is largest for "
             f"class {winner}); X of shape (130, 1, 8, 8), float64; y: the model's own predictions with 30 of them "
             f"changed, so the clean accuracy is 100/130")
    before = _snapshot(model)
    out = call(fn, model, X, y, "relu2", tried=tried)
    _expect_model_as_before(model, before, tried)
    expect_tensor(out, shape=(16,), tried=tried, allow_nan=True)
    expect_tensor(out, dtype=torch.float64, tried=tried,
                  hint="with float64 inputs the result is float64: turn pred == y into X's dtype with "
                       ".to(X.dtype) before the mean, and build the result with torch.stack or "
                       "torch.zeros(n, dtype=X.dtype, device=X.device)")
    want = torch.zeros(16, dtype=torch.float64)
    want[ALONE] = clean - falls_to
    expect_close(out, want, tried=tried, atol=1e-12, rtol=0,
                 problem=f"the drops are not the ones the planted read-out gives: 0 for every channel but {ALONE}, and "
                         f"{clean:.4f} - {falls_to:.4f} = {clean - falls_to:.4f} for channel {ALONE} (with it at 0 "
                         f"every logit is fc.bias, so every image is predicted {winner}, and {falls_to:.1%} of the "
                         f"labels are {winner}).",
                 hint=_drop_hint(out, model, X, y, "relu2", want))

    # 3. Another layer, against the course's ablate on a random SmallCNN.
    model = seeded_cnn(8023)
    X = torch.rand(150, 1, 8, 8, generator=g)
    y = mixed_labels(model, X, g, 10)
    tried = "a SmallCNN with seeded random weights, X of shape (150, 1, 8, 8), y of shape (150,), layer='relu1'"
    before = _snapshot(model)
    out = call(fn, model, X, y, layer="relu1", tried=tried,
               hint_if_raised="relu1 has 8 channels, relu2 16: hook the module named by `layer`, and read the "
                              "number of channels from its activation (activation.shape[1])")
    _expect_model_as_before(model, before, tried)
    _expect_drops(out, model, X, y, "relu1", tried, 8, atol=1e-6)

    # 4. A model in eval mode with a dropout layer: evaluated as given, it is deterministic.
    model = dropout_cnn(8024)
    X = torch.rand(150, 1, 8, 8, generator=g)
    y = mixed_labels(model, X, g, 10)
    tried = ("a SmallCNN in eval mode with a dropout layer after relu2 (pool2 = Sequential(Dropout(0.5), "
             "MaxPool2d(2))), X of shape (150, 1, 8, 8), y of shape (150,)")
    before = _snapshot(model)
    out = call(fn, model, X, y, tried=tried)
    _expect_model_as_before(model, before, tried,
                           eval_hint="do not call model.train(): it switches dropout on, and the accuracies "
                                     "become random. Evaluate the model in the mode the caller gave")
    _expect_drops(out, model, X, y, "relu2", tried, 16, atol=1e-6,
                  problem="the drops differ from the course's zero ablation of each channel with the model in eval "
                          "mode.")

    # 5. A model in train mode comes back in train mode.
    model = seeded_cnn(8025).train()
    X = torch.rand(50, 1, 8, 8, generator=g)
    y = mixed_labels(model, X, g, 10)
    tried = "a SmallCNN (no dropout) in train mode, X of shape (50, 1, 8, 8), y of shape (50,)"
    before = _snapshot(model)
    out = call(fn, model, X, y, tried=tried)
    _expect_model_as_before(model, before, tried)
    _expect_drops(out, model, X, y, "relu2", tried, 16, atol=1e-6)


# ---------------------------------------------------------------- 08.7 ablation_effect

UNITS_HINT = ("a hook on 'hidden' that returns a copy of the activation [batch, hidden] with the columns `units` set "
              "to 0 (h = h.clone(); h[:, list(units)] = 0), the accuracy with it on, and the accuracy without any "
              "hook minus that")


def reference_effect(model: nn.Module, X: torch.Tensor, y: torch.Tensor, units, how: str = "zero") -> float:
    """The accuracy lost when ``units`` of the hook point ``hidden`` are ablated, with the course's ``ablate``."""
    units = list(units)
    clean = _correct(model, X, y).double().mean().item()
    if not units:
        return 0.0
    reference = run_with_cache(model, X, ["hidden"])[1]["hidden"] if how == "mean" else None
    with ablate(model, "hidden", dim=1, index=units, how=how, reference=reference):
        return clean - _correct(model, X, y).double().mean().item()


def random_mlp(seed: int, d_in: int = 16, hidden: int = 10) -> PlantedMLP:
    """The planted model's class with PyTorch's default random initialisation, drawn from ``seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = PlantedMLP(d_in, hidden)
        with torch.no_grad():  # a larger fc2 and bias so that more units matter, and differently
            model.fc2.weight.mul_(3.0)
            model.fc1.bias.add_(0.3)
    return model.eval()


def _rows_zeroed(model: nn.Module, X: torch.Tensor, y: torch.Tensor, units) -> float:
    """A typical mistake, to name it: the rows (examples) numbered ``units`` zeroed instead of the columns."""
    rows = [u for u in units if u < X.shape[0]]

    def zero(hidden, name):
        hidden = hidden.clone()
        hidden[rows] = 0
        return hidden
    clean = _correct(model, X, y).double().mean().item()
    with hooks(model, [("hidden", zero)]):
        return clean - _correct(model, X, y).double().mean().item()


def _effect_hint(value: float, model, X, y, units, want: float) -> str:
    base = _correct(model, X, y).double().mean().item()
    n = X.shape[0]
    units = list(units)
    candidates = [
        (base - want, "you returned the accuracy WITH the units ablated. The exercise asks for the accuracy the "
                      "model LOSES: the clean accuracy (no hook) minus the ablated one"),
        (-want, "the sign is flipped: the drop is the clean accuracy minus the ablated accuracy"),
        (want * 100, "this is a percentage: return a fraction (0.05, not 5)"),
        (want * n, "this is a count of examples: divide by the number of examples"),
    ]
    if units:
        candidates += [
            (reference_effect(model, X, y, units[:1]), "only the first unit was ablated: zero every unit in "
                                                       "`units` (h[:, list(units)] = 0)"),
            (reference_effect(model, X, y, range(len(units))),
             f"you zeroed units 0 .. {len(units) - 1} (range(len(units))), not the units listed in `units`"),
            (_rows_zeroed(model, X, y, units), "hidden[units] = 0 zeroes the EXAMPLES (rows) numbered `units`: dim 0 "
                                               "is the batch. The units are the columns: hidden[:, list(units)] = 0"),
            (reference_effect(model, X, y, units, how="mean"),
             "this is MEAN ablation (the units replaced by their average over the batch). Set them to 0"),
        ]
    for other, hint in candidates:
        if _near(value, other, 1e-6):
            return hint
    if want != 0 and value == 0:
        return ("the ablation changed nothing. Two usual causes: the hook edits a copy of the activation but does "
                "not RETURN it (a hook replaces the activation only with what it returns), or the clean accuracy "
                "was measured with the hook already attached")
    return UNITS_HINT


def _expect_effect(fn, model, X, y, units, tried: str, *, exact_zero: bool = False, problem: str = "") -> float:
    before = _snapshot(model)
    out = call(fn, model, X, y, units, tried=tried)
    _expect_model_as_before(model, before, tried)
    value = single_number(out, tried=tried, name="the accuracy drop",
                          expected="one number: a Python float (a 0-d tensor is accepted)",
                          hint="return clean_accuracy - ablated_accuracy, one number (.item() turns a 0-d tensor "
                               "into a Python float)")
    want = 0.0 if exact_zero else reference_effect(model, X, y, units)
    if exact_zero:
        expect(value == 0.0, problem or "the drop should be exactly 0.", tried=tried, expected="0.0",
               received=f"{value:.6g}", hint=_effect_hint(value, model, X, y, units, 0.0))
    else:
        expect(abs(value - want) <= 1e-6, problem or "the accuracy drop differs from the course's zero ablation of "
               "these units (mi_helpers.interventions.ablate).", tried=tried, expected=f"{want:.6g}",
               received=f"{value:.6g}", hint=_effect_hint(value, model, X, y, units, want))
    return value


def _planted_example():
    data = planted_features(200, seed=8069)
    return planted_model(), data.X, data.y


@exercise(EFFECT_ID, "ablation_effect", points=2, difficulty=1, minutes=10, forbidden=INTERVENTIONS,
          edge_cases=(
              EdgeCase("units = [] (nothing ablated): the drop is 0",
                       lambda: (*_planted_example(), []), close_to(lambda model, X, y, units: 0.0, atol=0.0),
                       hint="with no unit to ablate, the ablated run is the clean run: h[:, []] = 0 changes nothing"),
              EdgeCase("a single example (X of shape (1, 16)): the drop is -1, 0 or 1",
                       lambda: (planted_model(), *(lambda d: (d.X[:1], d.y[:1]))(planted_features(5, seed=8068)),
                                UNITS_A),
                       close_to(lambda model, X, y, units: reference_effect(model, X, y, units))),
          ),
          opt_out={"float64": "it returns one Python float, a difference of two fractions of the examples, which "
                              "float32 holds to 1e-7 (the planted model is float32, like its data)",
                   "meta device": "it returns a Python float: .item() needs the values, which the meta device "
                                  "does not have"})
def check_ablation_effect(ablation_effect):
    fn = ablation_effect
    g = torch.Generator().manual_seed(80600)
    model = planted_model()
    data = planted_features(1000, seed=8061)
    X, y = data.X, data.y
    what = "the planted model (planted_model()), 1000 examples of planted_features, y = a"
    _expect_effect(fn, model, X, y, UNITS_B, f"{what}, units = UNITS_B = {UNITS_B}", exact_zero=True,
                   problem="ablating UNITS_B should cost exactly 0.0: their weights into the output are 0, so "
                           "zeroing them cannot move a logit.")
    _expect_effect(fn, model, X, y, UNITS_A, f"{what}, units = UNITS_A = {UNITS_A} (a tuple)",
                   problem="ablating UNITS_A should cost about half the accuracy: with both at 0 every logit is 0, "
                           "and every example gets class 0.")
    _expect_effect(fn, model, X, y, [0], f"{what}, units = [0] (one unit)")

    # A random MLP of the same class, against the course's ablate.
    model = random_mlp(8062)
    X = torch.randn(400, 16, generator=g)
    y = mixed_labels(model, X, g, 2)
    what = "a PlantedMLP(16, 10) with seeded random weights, X of shape (400, 16), y of shape (400,)"
    for units in ([3], (0, 4, 7), range(2, 9)):
        _expect_effect(fn, model, X, y, units, f"{what}, units = {units!r}")


# ---------------------------------------------------------------- 08.8 which_feature_is_used

@exercise(FINDING_ID, "which_feature_is_used", points=2, difficulty=1, minutes=10,
          opt_out={"inputs unchanged": "it takes no input", "float64": "it returns a letter",
                   "edge cases": "it takes no input",
                   "written by hand": "a finding: the check grades the answer, whatever method found it"})
def check_which_feature_is_used(which_feature_is_used):
    tried = "which_feature_is_used(), about the planted model (planted_model()) and planted_features"
    out = call(which_feature_is_used, tried=tried)
    answer = out.strip().lower() if isinstance(out, str) else None
    expect(answer in ("a", "b"), "the answer should be the letter of one feature.", tried=tried,
           expected='"a" or "b"', received=describe(out),
           hint='return the string "a" or the string "b" (not a tuple of units, not a sentence)')
    if answer != FEATURE_USED:
        fail(f"the planted model does not use feature {answer}.", tried=tried, expected="the feature whose ablation "
             "costs the model its accuracy", received=f'"{answer}"',
             hint=f"a probe's accuracy measures what is DECODABLE from the hidden layer, not what the model USES: "
                  f"{FEATURE_UNUSED} is written louder, so a probe reads it best, but a model may compute something "
                  "and never read it. Decide with an intervention: compare ablation_effect(...) for UNITS_A and for "
                  "UNITS_B (or ablate each probe's direction) and pick the feature whose removal hurts")
