"""Checks for notebook 05, probing: linear probes, control tasks, concept vectors, TCAV and CKA.

Every case is planted, so the right answer is known without a reference
implementation: classes that sit in separate clusters (a probe must read them),
random labels in many dimensions (a probe must NOT beat chance on held-out
examples, however well it memorises), a concept along a known direction,
directional derivatives with known signs, and representations whose CKA is
known on paper (1-d columns give the squared correlation). Then properties:
determinism under a seed, invariances, symmetry.

Each check restores Python's, NumPy's and PyTorch's global random state when it
ends, so running a check never changes what the learner's next cell draws.
"""
from __future__ import annotations

import math

import torch

from .core import (EdgeCase, call, call_on_copies, exercise, expect, expect_number, expect_tensor,
                   fail, generator, show, single_number)






def number_or_fail(value, tried: str, what: str, hint: str) -> float:
    """The value as one finite float (see core.single_number), with this notebook's hints."""
    return single_number(value, tried=tried, expected=what, hint=hint,
                         nonfinite_hint="look for a division by zero: a feature (or a representation) "
                                        "that never changes has standard deviation 0")


def _fraction(value, tried: str, what: str, hint: str) -> float:
    """A single number that must lie in [0, 1]."""
    value = number_or_fail(value, tried, what, hint)
    expect(-1e-6 <= value <= 1 + 1e-6, f"the result should be a fraction between 0 and 1 ({what}).",
           tried=tried, expected="a number in [0, 1]", received=f"{value:.6g}", hint=hint)
    return value


# ---------------------------------------------------------------- 05.1

def _clusters(g: torch.Generator, n: int, d: int, n_classes: int, spread: float = 1.0):
    """n points in d dims around n_classes well-separated centres (6 along the first axes); labels 0..K-1."""
    labels = torch.arange(n) % n_classes
    labels = labels[torch.randperm(n, generator=g)]
    centres = torch.zeros(n_classes, d)
    centres[torch.arange(n_classes), torch.arange(n_classes)] = 6.0
    features = centres[labels] + spread * torch.randn(n, d, generator=g)
    return features, labels


@exercise("05.1", "probe_accuracy", points=3, difficulty=2, minutes=20,
          opt_out={"float64": "it returns an accuracy, a fraction k/n that float32 holds as well",
                   "written by hand": "scikit-learn's LogisticRegression is the intended probe"})
def check_probe_accuracy(probe_accuracy):
    g = generator("05.1")
    fraction_hint = ("return the fraction of held-out examples whose predicted class is right, "
                     "a float such as 0.93 (not a count, not a percentage)")

    X, y = _clusters(g, 200, 12, 4)
    tried = ("200 points in 12 dims, 4 classes, each class a cluster around its own centre "
             "(distance between centres 8.5, noise std 1: linearly separable in practice)")
    accuracy = _fraction(call_on_copies(probe_accuracy, X, y, tried=tried), tried, "the held-out accuracy", fraction_hint)
    expect(accuracy >= 0.95, "the probe fails on planted classes that a linear classifier separates "
           "almost perfectly.", tried=tried, expected="held-out accuracy ≥ 0.95",
           received=f"{accuracy:.3f}",
           hint="check that features and labels are split with the SAME shuffle (train_test_split(X, y, ...) "
                "in one call), that the probe predicts the argmax over classes, and that it is compared "
                "with the test labels")

    dead = torch.cat([X, torch.zeros(len(X), 1)], dim=1)
    tried_dead = tried + ", plus a 13th feature that is always 0 (a dead ReLU)"
    accuracy_dead = _fraction(call_on_copies(probe_accuracy, dead, y, tried=tried_dead), tried_dead, "the held-out accuracy",
                              fraction_hint)
    expect(accuracy_dead >= 0.95, "adding a feature that is always 0 breaks the probe.", tried=tried_dead,
           expected="held-out accuracy ≥ 0.95, as without that feature", received=f"{accuracy_dead:.3f}",
           hint="a feature that never changes has standard deviation 0: if you standardise, divide by "
                "std + 1e-6 (real layers have dead units)")

    # Determinism: a weak signal, so that another split would give another accuracy.
    X = torch.randn(2000, 4, generator=g)
    y = (X[:, 0] + 1.5 * torch.randn(2000, generator=g) > 0).long()
    tried = "2000 points in 4 dims, labels 0/1 that depend weakly on the first feature, seed = 3, three calls"
    results = [_fraction(call_on_copies(probe_accuracy, X, y, seed=3, tried=tried), tried, "the held-out accuracy",
                         fraction_hint) for _ in range(3)]
    expect(results[0] == results[1] == results[2],
           "three calls with the same inputs and the same seed give different accuracies.", tried=tried,
           expected="the same accuracy every time", received=", ".join(f"{a:.4f}" for a in results),
           hint="draw the split (and anything else random) from the `seed` argument, for instance "
                "train_test_split(features, labels, test_fraction=test_fraction, seed=seed), "
                "never from the global random state")
    expect(0.55 <= results[0] <= 0.9, "the held-out accuracy on a weak but real signal is implausible.",
           tried=tried, expected="about 0.7", received=f"{results[0]:.3f}",
           hint="fit on the training part, predict the test part, compare with the test labels")

    # The seed is used: with a weak signal and 40 test points, other splits give other accuracies.
    X, y = X[:160], y[:160]
    tried = "160 of those points, seeds 0 to 5"
    by_seed = {_fraction(call_on_copies(probe_accuracy, X, y, seed=s, tried=tried + f" (seed {s})"), tried,
                         "the held-out accuracy", fraction_hint) for s in range(6)}
    expect(len(by_seed) > 1, "six different seeds give the same accuracy: your function ignores `seed`.",
           tried=tried, expected="different splits, so (on a weak signal) different accuracies",
           received=f"{by_seed.pop():.4f} every time",
           hint="pass the seed on: train_test_split(features, labels, test_fraction=test_fraction, seed=seed)")

    # Features far from 0: the test part must be standardised with the training statistics too.
    X, y = _clusters(g, 200, 4, 2)
    X = X * 0.05 + 300.0
    tried = ("200 points in 4 dims, two clusters, every feature near 300 with a spread of 0.05 (raw "
             "activations are rarely centred)")
    accuracy = _fraction(call_on_copies(probe_accuracy, X, y, tried=tried), tried, "the held-out accuracy", fraction_hint)
    expect(accuracy >= 0.95, "the probe fails on separable classes whose features are far from 0.", tried=tried,
           expected="held-out accuracy ≥ 0.95", received=f"{accuracy:.3f}",
           hint="standardise the test features with the TRAINING mean and standard deviation, the same "
                "transformation the probe was fitted on")

    # Memorisation: more dimensions than examples, labels that mean nothing.
    n, d = 400, 800
    X = torch.randn(n, d, generator=g)
    y = torch.randint(0, 2, (n,), generator=g)
    tried = (f"{n} random points in {d} dims with RANDOM labels 0/1: any linear probe fits the training "
             "examples perfectly, and none can predict new ones")
    accuracy = _fraction(call_on_copies(probe_accuracy, X, y, tried=tried), tried, "the held-out accuracy", fraction_hint)
    expect(accuracy <= 0.72, "on random labels your probe reports far better than chance: it is scored on "
           "examples it was trained on.", tried=tried, expected="about 0.5 (chance) on held-out examples",
           received=f"{accuracy:.3f}",
           hint="fit the probe on the training part only, then score it on the test part only. With more "
                "dimensions than examples a probe memorises any labels, so training accuracy says nothing")
    expect(accuracy >= 0.28, "on random 0/1 labels your probe is far WORSE than chance, which no real probe is.",
           tried=tried, expected="about 0.5 (chance)", received=f"{accuracy:.3f}",
           hint="compare predictions with the labels of the same examples: split features and labels together")


# ---------------------------------------------------------------- 05.2

def _types_consistent(types: torch.Tensor, control: torch.Tensor) -> int:
    """How many distinct types received more than one control label."""
    _, index = torch.unique(types, return_inverse=True)
    k = int(index.max()) + 1
    low = torch.full((k,), torch.iinfo(torch.int64).max).scatter_reduce(0, index, control, "amin")
    high = torch.full((k,), torch.iinfo(torch.int64).min).scatter_reduce(0, index, control, "amax")
    return int((low != high).sum())


def _expect_labels(out, n: int, tried: str) -> torch.Tensor:
    expect_tensor(out, shape=(n,), tried=tried, hint="one control label per example: shape [n], like `types`")
    expect(out.dtype == torch.int64, "the control labels have the wrong dtype.", tried=tried,
           expected="int64 (class indices, like the real labels)", received=str(out.dtype).replace("torch.", ""),
           hint="labels are class indices: torch.int64. torch.multinomial and torch.randint return int64")
    return out


def _hash_like_types():
    types = 2 ** 40 + torch.arange(200)  # 200 different types, ids that float32 cannot tell apart
    return types, torch.arange(200) % 2


@exercise("05.2", "control_labels", points=2, difficulty=2, minutes=15,
          edge_cases=(
              EdgeCase("200 types with hash-like ids 2⁴⁰ + 0 … 2⁴⁰ + 199, labels half 0 and half 1",
                       _hash_like_types,
                       lambda out, args: None if isinstance(out, torch.Tensor) and out.numel() == 200
                       and len(set(out.tolist())) > 1 else "expected 200 independent draws, not one label for all",
                       hint="keep the ids as int64: in float32, ids above 2²⁴ that differ by a little become "
                            "the same number, and different types merge"),
          ),
          opt_out={"float64": "it returns int64 labels",
                   "written by hand": "no built-in makes a control task"})
def check_control_labels(control_labels):
    types = torch.tensor([7, 3, 7, 7, 3, 11])
    labels = torch.full((6,), 2)
    tried = "types = [7, 3, 7, 7, 3, 11] (3 types), labels = [2, 2, 2, 2, 2, 2] (every real label is 2), seed = 0"
    out = _expect_labels(call_on_copies(control_labels, types, labels, seed=0, tried=tried), 6, tried)
    if not torch.equal(out, labels):
        values = sorted(set(out.tolist()))
        fail("with every real label equal to 2, the control labels must all be 2 as well: they are drawn "
             "from the distribution of the real labels.", tried=tried, expected=show(labels), received=show(out),
             hint=f"you produced the classes {values}. Draw each type's label from the empirical distribution "
                  "of `labels` (torch.bincount(labels) as weights for torch.multinomial), not uniformly "
                  "from a range of classes you guessed")

    g = generator("05.2")
    n_types, n = 600, 1200
    ids = torch.randperm(50_000, generator=g)[:n_types] * 13 + 1000  # arbitrary ids, like hashes
    types = ids.repeat(2)[torch.randperm(n, generator=g)]
    probabilities = torch.tensor([0.6, 0.3, 0.1])
    labels = torch.multinomial(probabilities, n, replacement=True, generator=g)
    share = torch.bincount(labels, minlength=3).float() / n
    tried = (f"{n} examples of {n_types} types with arbitrary ids (each type twice), real labels 0/1/2 "
             f"in proportions {share.numpy().round(2)}, seed = 0")
    state = torch.get_rng_state()
    out = _expect_labels(call_on_copies(control_labels, types, labels, seed=0, tried=tried), n, tried)
    expect(torch.equal(state, torch.get_rng_state()), "your function changed PyTorch's global random state.",
           tried=tried, expected="torch.get_rng_state() unchanged by the call", received="a different state",
           hint="draw from a private generator, torch.Generator().manual_seed(seed), passed as generator=...; "
                "torch.manual_seed(seed) resets everyone's random numbers (notebook 00)")
    mixed = _types_consistent(types, out)
    expect(mixed == 0, "examples of the same type received different control labels.", tried=tried,
           expected="one control label per type, shared by all its examples",
           received=f"{mixed} of {n_types} types have more than one label",
           hint="draw one label per distinct type (torch.unique(types, return_inverse=True) gives the types "
                "and, for each example, the index of its type), then give each example its type's label")
    expect(set(out.tolist()) <= {0, 1, 2}, "some control labels are not classes of the real task.", tried=tried,
           expected="labels among {0, 1, 2}", received=f"labels {sorted(set(out.tolist()))}",
           hint="the control task has the same classes as the real task")
    _, first = torch.unique(types, return_inverse=True)
    per_type = torch.zeros(n_types, dtype=torch.int64).scatter(0, first, out)
    counts = torch.bincount(per_type, minlength=3)[:3].double()
    type_share = counts / n_types
    # Pearson's chi-square against the real labels' shares: with 3 classes it has 2 degrees of freedom,
    # whose tail is exactly exp(-x / 2), so x > -2 ln(1e-6) = 27.6 rejects a correct sampler once in a
    # million seeds (the seed is fixed: a verdict never changes from run to run).
    expected_counts = share.double() * n_types
    chi2 = float(((counts - expected_counts) ** 2 / expected_counts).sum())
    critical = -2 * math.log(1e-6)
    expect(chi2 <= critical,
           "the control labels do not follow the distribution of the real labels.", tried=tried,
           expected=f"about {share.numpy().round(2)} of the types with label 0, 1, 2 (chi-square ≤ {critical:.1f})",
           received=f"{type_share.numpy().round(2)} (chi-square {chi2:.1f})",
           hint="draw each type's label with probabilities proportional to torch.bincount(labels): "
                "a control task must be as easy to guess from the class frequencies as the real one")

    again = call_on_copies(control_labels, types, labels, seed=0, tried=tried + ", a second time")
    expect(isinstance(again, torch.Tensor) and torch.equal(again, out),
           "the same seed gives different control labels on a second call.", tried=tried + ", twice",
           expected="identical labels for the same seed", received="different labels",
           hint="make a generator inside the function, torch.Generator().manual_seed(seed), and pass it "
                "to every random draw (generator=...)")
    other = call_on_copies(control_labels, types, labels, seed=1, tried=tried.replace("seed = 0", "seed = 1"))
    expect(isinstance(other, torch.Tensor) and not torch.equal(other, out),
           "seeds 0 and 1 give the same control labels.", tried=tried + ", then seed = 1",
           expected="a different random assignment for another seed", received="the same labels",
           hint="seed your generator with the `seed` argument, not with a fixed number")


# ---------------------------------------------------------------- 05.3

def _best_threshold_accuracy(scores_concept: torch.Tensor, scores_random: torch.Tensor) -> float:
    """The accuracy of the best rule "concept if score > t" on these scores (any t)."""
    scores = torch.cat([scores_concept, scores_random]).double()
    is_concept = torch.cat([torch.ones(len(scores_concept)), torch.zeros(len(scores_random))])
    is_concept = is_concept[scores.argsort()]
    # cutting after position k: random below, concept above
    random_below = torch.cat([torch.zeros(1), torch.cumsum(1 - is_concept, 0)])
    concept_above = is_concept.sum() - torch.cat([torch.zeros(1), torch.cumsum(is_concept, 0)])
    return float(((random_below + concept_above) / len(scores)).max())


def _expect_cav(out, d: int, tried: str) -> torch.Tensor:
    return expect_tensor(out, shape=(d,), dtype=torch.float32, tried=tried,
                         hint="one direction in activation space: shape [d], float32. If you used "
                              "scikit-learn, coef_ has shape [1, d] and dtype float64")


def _with_constant_feature():
    g = torch.Generator().manual_seed(5303)
    concept = torch.randn(30, 3, generator=g) + torch.tensor([2.0, 0.0, 0.0])
    random_ = torch.randn(30, 3, generator=g)
    concept[:, 2] = random_[:, 2] = 1.0  # a unit that is always on
    return concept, random_


@exercise("05.3", "concept_activation_vector", points=2, difficulty=2, minutes=15,
          edge_cases=(
              EdgeCase("a feature that is 1.0 for every example, concept shifted along the first feature",
                       _with_constant_feature,
                       lambda out, args: None if isinstance(out, torch.Tensor) and out.shape == (3,)
                       and float(out[0]) > 0.5 else "expected a unit vector mostly along the first feature",
                       hint="a constant feature has standard deviation 0: standardise with std + 1e-6, or fit "
                            "on the raw activations"),
          ),
          opt_out={"float64": "its inputs and result are float32 by the spec",
                   "written by hand": "scikit-learn's LogisticRegression is the intended classifier"})
def check_concept_activation_vector(concept_activation_vector):
    g = generator("05.3")
    d, n = 20, 100
    direction = torch.randn(d, generator=g)
    direction = direction / direction.norm()
    acts_concept = torch.randn(n, d, generator=g) + 2.0 * direction
    acts_random = torch.randn(n, d, generator=g)
    tried = (f"{n} concept and {n} random activations in {d} dims: the concept ones are shifted by 2 "
             "along a planted unit direction u")
    cav = _expect_cav(call_on_copies(concept_activation_vector, acts_concept, acts_random, tried=tried), d, tried)
    norm = float(cav.norm())
    expect(abs(norm - 1) <= 1e-4, "the CAV is not a unit vector.", tried=tried, expected="norm 1",
           received=f"norm {norm:.4g}",
           hint="divide the classifier's weight vector by its norm: only the direction matters, and TCAV "
                "and projections compare directions")
    cosine = float(cav @ direction)
    expect(cosine > -0.8, "the CAV points AWAY from the concept.", tried=tried,
           expected="cos(CAV, u) close to +1", received=f"cos(CAV, u) = {cosine:.3f}",
           hint="label the concept examples 1 and the random ones 0, so that the classifier's normal points "
                "towards the concept; check the order of the arguments")
    expect(cosine >= 0.8, "the CAV does not find the planted concept direction.", tried=tried,
           expected="cos(CAV, u) ≥ 0.8", received=f"cos(CAV, u) = {cosine:.3f}",
           hint="fit a linear classifier (logistic regression) on the concept examples (label 1) against the "
                "random ones (label 0) and return its weight vector, normalised")

    tried_swap = tried + "; then the two sets swapped"
    swapped = _expect_cav(call_on_copies(concept_activation_vector, acts_random, acts_concept, tried=tried_swap), d,
                          tried_swap)
    expect(float(swapped @ cav) <= -0.95, "swapping the concept and random examples should reverse the CAV.",
           tried=tried_swap, expected="about −CAV (cosine −1)", received=f"cosine {float(swapped @ cav):.3f}",
           hint="the first argument is always the concept (label 1), the second the counterexamples (label 0)")

    # Correlated noise: the mean difference points the wrong way, a classifier's normal does not.
    wide = torch.tensor([1.0, 1.0]) / math.sqrt(2)
    narrow = torch.tensor([1.0, -1.0]) / math.sqrt(2)

    def cloud(m: int) -> torch.Tensor:
        return (3.0 * torch.randn(m, 1, generator=g) * wide + 0.15 * torch.randn(m, 1, generator=g) * narrow)

    acts_concept, acts_random = cloud(n) + torch.tensor([1.0, 0.0]), cloud(n)
    tried = (f"{n} concept and {n} random activations in 2 dims, a long thin cloud along (1, 1) "
             "(std 3, and 0.15 across it); the concept cloud is shifted by (1, 0)")
    cav = _expect_cav(call_on_copies(concept_activation_vector, acts_concept, acts_random, tried=tried), 2, tried)
    expect(abs(float(cav.norm()) - 1) <= 1e-4, "the CAV is not a unit vector.", tried=tried, expected="norm 1",
           received=f"norm {float(cav.norm()):.4g}", hint="divide the weight vector by its norm")
    separated = _best_threshold_accuracy(acts_concept @ cav, acts_random @ cav)
    expect(separated >= 0.85, "projected on your CAV, concept and random examples overlap, though a line "
           "separates them almost perfectly.", tried=tried,
           expected="a threshold on the projection classifies ≥ 85 % of the examples (a linear classifier: 99 %)",
           received=f"at best {separated:.0%}",
           hint="the difference of the class means, (1, 0) here, is not the best separating direction when the "
                "noise is correlated: the classifier's normal, about (1, −1), is. Fit a logistic regression, "
                "without regularising it heavily, and use its weight vector")

    # Features on different scales: the CAV lives in the activations' own axes, not in standardised ones.
    scale = torch.tensor([3.0, 0.3])
    acts_concept = torch.randn(500, 2, generator=g) * scale + 2.0 * scale
    acts_random = torch.randn(500, 2, generator=g) * scale
    best = (2.0 / scale) / (2.0 / scale).norm()  # the separating normal: shift / variance, per feature
    tried = ("500 concept and 500 random activations in 2 dims with stds 3 and 0.3; the concept ones are "
             "shifted by 2 stds along each feature (by 6 and by 0.6)")
    cav = _expect_cav(call_on_copies(concept_activation_vector, acts_concept, acts_random, tried=tried), 2, tried)
    cosine = float(cav @ best) / max(float(cav.norm()), 1e-12)
    expect(cosine >= 0.93, "the CAV does not point along the best separating direction in the activations' "
           "own axes.", tried=tried, expected=f"cos(CAV, {show(best)}) ≥ 0.93 (a logistic regression: 0.99)",
           received=f"cos = {cosine:.3f}, CAV = {show(cav)}",
           hint="if you standardise the features to fit the classifier, its weights live in standardised "
                "units: divide them by the features' standard deviations to bring them back (or fit on the "
                "raw activations)")


# ---------------------------------------------------------------- 05.4

@exercise("05.4", "tcav_score", points=1, difficulty=1, minutes=5,
          example=lambda g, dtype, device="cpu": (torch.randn(7, 3, generator=g, dtype=dtype).to(device),
                                                  torch.randn(3, generator=g, dtype=dtype).to(device)),
          opt_out={"float64": "it returns a fraction of rows; float32 counts the same rows but at exact ties",
                   "written by hand": "a sign count needs no built-in"})
def check_tcav_score(tcav_score):
    cav = torch.tensor([0.6, 0.8])
    gradients = torch.tensor([[1.0, 0.0], [0.0, -1.0], [-1.0, 1.0], [0.0, 0.0], [-2.0, 1.0], [3.0, 1.0]])
    tried = ("cav = [0.6, 0.8], gradients = [[1, 0], [0, -1], [-1, 1], [0, 0], [-2, 1], [3, 1]]: "
             "directional derivatives 0.6, -0.8, 0.2, 0, -0.4, 2.6")
    hint = "the score is the FRACTION of examples whose directional derivative gradient · cav is > 0"
    score = _fraction(call_on_copies(tcav_score, gradients, cav, tried=tried), tried, "a fraction of examples", hint)
    known = {2 / 6: "you counted the NEGATIVE derivatives: the sign is flipped",
             4 / 6: "you counted the zero derivative as positive: 0 is not > 0 (a dead unit does not push "
                    "towards the concept)",
             0.3667: "you averaged the derivatives themselves: TCAV counts how many are positive"}
    mistake = next((why for value, why in known.items() if abs(score - value) < 1e-3), hint)
    expect_number(score, 0.5, tried=tried, tol=1e-6, problem="the TCAV score is wrong: 3 of the 6 "
                  "directional derivatives (0.6, 0.2, 2.6) are positive.", hint=mistake)

    g = generator("05.4")
    n, d = 40, 7
    unit = torch.randn(d, generator=g)
    unit = unit / unit.norm()
    along = torch.rand(n, generator=g) + 0.1  # the size of each derivative, never 0
    sign = torch.ones(n)
    sign[torch.randperm(n, generator=g)[:27]] = -1.0  # 13 of 40 positive
    sideways = torch.randn(n, d, generator=g)
    sideways = sideways - (sideways @ unit)[:, None] * unit  # orthogonal to the CAV: no effect on the sign
    gradients = (sign * along)[:, None] * unit + 3.0 * sideways
    for scale, words in ((1.0, "a unit CAV"), (5.0, "the same CAV times 5 (not normalised)")):
        tried = f"{n} gradients in {d} dims, 13 with a positive derivative along {words}"
        score = _fraction(call_on_copies(tcav_score, gradients, scale * unit, tried=tried), tried, "a fraction", hint)
        expect_number(score, 13 / 40, tried=tried, tol=1e-6, problem="the TCAV score is wrong.",
                      hint=hint + "; the length of the CAV must not matter, only its direction")
    tried = f"the same {n} gradients, with the CAV reversed (-cav)"
    score = _fraction(call_on_copies(tcav_score, gradients, -unit, tried=tried), tried, "a fraction", hint)
    expect_number(score, 27 / 40, tried=tried, tol=1e-6,
                  problem="reversing the CAV should turn the score s into 1 − s (no derivative is 0 here).",
                  hint=hint)


# ---------------------------------------------------------------- 05.5

def _cka_hint(value: float) -> str:
    """Name the mistake on the 1-d case x = [1, 2, 3, 4], y = [1, 3, 2, 4] from the number it gave."""
    known = {0.8: "0.8 is the correlation itself: linear CKA of two single columns is its SQUARE. "
                  "Did you forget to square ‖YᵀX‖_F, or take a correlation of the raw values?",
             0.9344: "this is what you get without centring: subtract each column's mean from X and Y first",
             16.0: "this is HSIC alone, ‖YᵀX‖_F² without normalisation: divide by ‖XᵀX‖_F ‖YᵀY‖_F"}
    for value_known, why in known.items():
        if abs(value - value_known) < 2e-3:
            return why
    return ("for single columns, CKA(x, y) = corr(x, y)²; in general, after centring, "
            "‖YᵀX‖_F² / (‖XᵀX‖_F ‖YᵀY‖_F)")


@exercise("05.5", "linear_cka", points=3, difficulty=2, minutes=20,
          example=lambda g, dtype, device="cpu": (torch.randn(10, 3, generator=g, dtype=dtype).to(device),
                                                  torch.randn(10, 4, generator=g, dtype=dtype).to(device)),
          opt_out={"written by hand": "no built-in computes CKA"})
def check_linear_cka(linear_cka):
    number_hint = "return one number, e.g. with .item()"
    x = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
    y = torch.tensor([[1.0], [3.0], [2.0], [4.0]])
    tried = "X = [1, 2, 3, 4] and Y = [1, 3, 2, 4] as single columns (shape [4, 1]); their correlation is 0.8"
    value = number_or_fail(call_on_copies(linear_cka, x, y, tried=tried), tried, "the CKA", number_hint)
    expect_number(value, 0.64, tried=tried, tol=1e-4,
                  problem="for two single columns, linear CKA is their squared correlation, 0.8² = 0.64.",
                  hint=_cka_hint(value))

    X = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    tried = ("X = [[1, 0], [-1, 0], [0, 1], [0, -1]] (two uncorrelated directions of equal variance), "
             "Y = the first column of X only")
    value = number_or_fail(call_on_copies(linear_cka, X, X[:, :1], tried=tried), tried, "the CKA", number_hint)
    expect_number(value, 1 / math.sqrt(2), tried=tried, tol=1e-4,
                  problem="Y holds one of X's two equally strong directions: CKA = ‖YᵀX‖² / (‖XᵀX‖ ‖YᵀY‖) = 1/√2.",
                  hint="normalise HSIC by the Frobenius norms of XᵀX and YᵀY (the d × d matrices), "
                       "not by ‖X‖² ‖Y‖²: with that wrong norm, CKA(X, X) is not 1")

    g = generator("05.5")
    n = 60
    X = torch.randn(n, 8, generator=g) @ torch.randn(8, 8, generator=g) + 3.0 * torch.randn(8, generator=g)
    Y = X[:, :5] @ torch.randn(5, 5, generator=g) + 0.5 * torch.randn(n, 5, generator=g) + 2.0
    tried = f"X of shape ({n}, 8) and Y of shape ({n}, 5), float32, related but not equal, not centred"
    base = _fraction(call_on_copies(linear_cka, X, Y, tried=tried), tried, "CKA lies in [0, 1]", _cka_hint(-1))
    expect(0.05 < base < 0.98, "the CKA of two related, different representations should lie strictly "
           "between 0 and 1.", tried=tried, expected="a value between 0 and 1", received=f"{base:.4f}",
           hint=_cka_hint(-1))
    same = number_or_fail(call_on_copies(linear_cka, X, X, tried=f"X with itself, X of shape ({n}, 8)"),
                   tried, "the CKA", number_hint)
    expect_number(same, 1.0, tried=f"X with itself, X of shape ({n}, 8)", tol=1e-4,
                  problem="a representation compared with itself must have CKA 1.",
                  hint="normalise: ‖XᵀX‖_F² / (‖XᵀX‖_F ‖XᵀX‖_F) = 1")

    Q8 = torch.linalg.qr(torch.randn(8, 8, generator=g)).Q
    Q5 = torch.linalg.qr(torch.randn(5, 5, generator=g)).Q
    cases = [
        ("Y and X swapped", (Y, X), "CKA must be symmetric: CKA(X, Y) = CKA(Y, X)"),
        ("X rotated by a random orthogonal matrix (X @ Q)", (X @ Q8, Y),
         "CKA must not change under a rotation of either representation: centre the columns, but do not "
         "rescale them one by one (standardising each feature is not rotation-invariant)"),
        ("Y rotated by a random orthogonal matrix (Y @ Q)", (X, Y @ Q5),
         "CKA must not change under a rotation of either representation: centre the columns, but do not "
         "rescale them one by one (standardising each feature is not rotation-invariant)"),
        ("X times 7.5 and Y times 0.2", (7.5 * X, 0.2 * Y),
         "CKA must not change when a representation is scaled: the normalisation cancels the scale"),
        ("X and Y shifted by constants (X + 10, Y - 4)", (X + 10.0, Y - 4.0),
         "CKA compares the spread of the examples, not their mean: centre each column first"),
    ]
    for words, args, why in cases:
        tried_case = f"{tried}; then {words}"
        value = number_or_fail(call_on_copies(linear_cka, *args, tried=tried_case), tried_case, "the CKA", number_hint)
        expect_number(value, base, tried=tried_case, tol=2e-4, problem=f"the CKA changed: {why.split(':')[0]}.",
                      hint=why)

    # Not invariant to every invertible map: stretching some directions 100 times more than others changes it.
    Z = torch.randn(n, 8, generator=g)
    stretch = torch.diag(torch.logspace(-1, 1, 8))
    tried = (f"Z of shape ({n}, 8), standard normal, against Z @ A with A = diag(0.1 … 10): the same "
             "information, with some directions stretched 100 times more than others")
    value = _fraction(call_on_copies(linear_cka, Z, Z @ stretch, tried=tried), tried, "CKA lies in [0, 1]", _cka_hint(-1))
    expect(value < 0.9, "your CKA ignores an invertible stretch of the features, which linear CKA does not.",
           tried=tried, expected="a value well below 1 (about 0.5)", received=f"{value:.4f}",
           hint="do not standardise or whiten the columns: linear CKA weighs directions by their variance, "
                "so it is invariant to rotations and overall scale only")
