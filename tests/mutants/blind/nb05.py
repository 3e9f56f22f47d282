"""Blind mutants for notebook 05 (probing): plausible wrong answers written from the learner's notebook
only. Each mutant carries a one-line comment saying what is wrong.

Exercises: 05.1 probe_accuracy, 05.2 control_labels, 05.3 concept_activation_vector, 05.4 tcav_score,
05.5 linear_cka.
"""
import torch
import torch.nn.functional as F

from mi_helpers.data import train_test_split


def _fit_softmax_probe(X_train, y_train, n_classes):
    d = X_train.shape[1]
    W = torch.zeros(d, n_classes, dtype=X_train.dtype, requires_grad=True)
    b = torch.zeros(n_classes, dtype=X_train.dtype, requires_grad=True)
    opt = torch.optim.LBFGS([W, b], max_iter=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(X_train @ W + b, y_train) + 1e-2 * (W ** 2).sum() / 2
        loss.backward()
        return loss

    opt.step(closure)
    return W.detach(), b.detach()


def _accuracy(W, b, X, y):
    with torch.no_grad():
        return ((X @ W + b).argmax(dim=1) == y).float().mean().item()


def _fit_logistic(X, y, penalty=1e-2):
    d = X.shape[1]
    w = torch.zeros(d, dtype=X.dtype, requires_grad=True)
    b = torch.zeros((), dtype=X.dtype, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=50, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(X @ w + b, y) + penalty * (w ** 2).sum() / 2
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach()


# ----------------------------------------------------------------------------- 05.1 probe_accuracy


def probe_accuracy_global_split(features, labels, *, test_fraction=0.25, seed=0):
    # WRONG (random): shuffles with torch.randperm from the GLOBAL generator: results change between calls
    # and the global random state moves; the seed is never used.
    n = features.shape[0]
    order = torch.randperm(n)
    cut = n - int(round(test_fraction * n))
    tr, te = order[:cut], order[cut:]
    X_train, y_train, X_test, y_test = features[tr], labels[tr], features[te], labels[te]
    mean, std = X_train.mean(dim=0), X_train.std(dim=0) + 1e-6
    W, b = _fit_softmax_probe((X_train - mean) / std, y_train, int(labels.max()) + 1)
    return _accuracy(W, b, (X_test - mean) / std, y_test)


def probe_accuracy_seed_ignored(features, labels, *, test_fraction=0.25, seed=0):
    # WRONG (random): always splits with seed=0, whatever seed the caller passes.
    X_train, y_train, X_test, y_test = train_test_split(features, labels, test_fraction=test_fraction, seed=0)
    mean, std = X_train.mean(dim=0), X_train.std(dim=0) + 1e-6
    W, b = _fit_softmax_probe((X_train - mean) / std, y_train, int(labels.max()) + 1)
    return _accuracy(W, b, (X_test - mean) / std, y_test)


def probe_accuracy_centre_inplace(features, labels, *, test_fraction=0.25, seed=0):
    # WRONG: centres the caller's features IN PLACE first (features -= mean); the result is unchanged
    # because the training-set standardisation follows, but the input is modified.
    features -= features.mean(dim=0)
    X_train, y_train, X_test, y_test = train_test_split(features, labels, test_fraction=test_fraction, seed=seed)
    mean, std = X_train.mean(dim=0), X_train.std(dim=0) + 1e-6
    W, b = _fit_softmax_probe((X_train - mean) / std, y_train, int(labels.max()) + 1)
    return _accuracy(W, b, (X_test - mean) / std, y_test)


def probe_accuracy_no_eps(features, labels, *, test_fraction=0.25, seed=0):
    # WRONG (edge): no 1e-6 on the standard deviation: a dead (constant) feature becomes 0/0 = NaN.
    X_train, y_train, X_test, y_test = train_test_split(features, labels, test_fraction=test_fraction, seed=seed)
    mean, std = X_train.mean(dim=0), X_train.std(dim=0)
    W, b = _fit_softmax_probe((X_train - mean) / std, y_train, int(labels.max()) + 1)
    return _accuracy(W, b, (X_test - mean) / std, y_test)


def probe_accuracy_classes_from_train(features, labels, *, test_fraction=0.25, seed=0):
    # WRONG (edge): counts the classes from the training labels only: a class missing from the training
    # part shrinks the probe's output, so that class can never be predicted.
    X_train, y_train, X_test, y_test = train_test_split(features, labels, test_fraction=test_fraction, seed=seed)
    mean, std = X_train.mean(dim=0), X_train.std(dim=0) + 1e-6
    W, b = _fit_softmax_probe((X_train - mean) / std, y_train, int(y_train.max()) + 1)
    return _accuracy(W, b, (X_test - mean) / std, y_test)


def probe_accuracy_full_standardise(features, labels, *, test_fraction=0.25, seed=0):
    # WRONG: standardises with the mean and std of ALL examples (test ones included) before splitting.
    mean, std = features.mean(dim=0), features.std(dim=0) + 1e-6
    X_train, y_train, X_test, y_test = train_test_split((features - mean) / std, labels,
                                                        test_fraction=test_fraction, seed=seed)
    W, b = _fit_softmax_probe(X_train, y_train, int(labels.max()) + 1)
    return _accuracy(W, b, X_test, y_test)


def probe_accuracy_train_accuracy(features, labels, *, test_fraction=0.25, seed=0):
    # WRONG: reports the accuracy on the TRAINING part.
    X_train, y_train, X_test, y_test = train_test_split(features, labels, test_fraction=test_fraction, seed=seed)
    mean, std = X_train.mean(dim=0), X_train.std(dim=0) + 1e-6
    W, b = _fit_softmax_probe((X_train - mean) / std, y_train, int(labels.max()) + 1)
    return _accuracy(W, b, (X_train - mean) / std, y_train)


def probe_accuracy_test_unstandardised(features, labels, *, test_fraction=0.25, seed=0):
    # WRONG: standardises the training part but evaluates on the raw test features.
    X_train, y_train, X_test, y_test = train_test_split(features, labels, test_fraction=test_fraction, seed=seed)
    mean, std = X_train.mean(dim=0), X_train.std(dim=0) + 1e-6
    W, b = _fit_softmax_probe((X_train - mean) / std, y_train, int(labels.max()) + 1)
    return _accuracy(W, b, X_test, y_test)


# ----------------------------------------------------------------------------- 05.2 control_labels


def control_labels_global_seed(types, labels, seed=0):
    # WRONG (random): torch.manual_seed(seed) and the global generator: reproducible, but it resets
    # everyone's random state.
    torch.manual_seed(seed)
    unique, inverse = torch.unique(types, return_inverse=True)
    weights = torch.bincount(labels).float()
    return torch.multinomial(weights, unique.numel(), replacement=True)[inverse]


def control_labels_uniform(types, labels, seed=0):
    # WRONG (random): each type's label uniform over 0 .. K-1, ignoring the class frequencies (and giving
    # classes that never occur a chance).
    g = torch.Generator().manual_seed(seed)
    unique, inverse = torch.unique(types, return_inverse=True)
    K = int(labels.max()) + 1
    return torch.randint(0, K, (unique.numel(),), generator=g)[inverse]


def control_labels_seed_zero_random(types, labels, seed=0):
    # WRONG (random): "seed 0 means no seed": g.seed() draws a fresh seed, so seed=0 is not reproducible.
    g = torch.Generator()
    if seed:
        g.manual_seed(seed)
    else:
        g.seed()
    unique, inverse = torch.unique(types, return_inverse=True)
    weights = torch.bincount(labels).float()
    return torch.multinomial(weights, unique.numel(), replacement=True, generator=g)[inverse]


def control_labels_per_example(types, labels, seed=0):
    # WRONG: draws one label per EXAMPLE, not per type: examples of a type disagree.
    g = torch.Generator().manual_seed(seed)
    weights = torch.bincount(labels).float()
    return torch.multinomial(weights, labels.numel(), replacement=True, generator=g)


def control_labels_float_ids(types, labels, seed=0):
    # WRONG (edge): runs torch.unique on types.float(): hash-like ids above 2**24 that differ by a little
    # collapse into one type (fine for small ids).
    g = torch.Generator().manual_seed(seed)
    unique, inverse = torch.unique(types.float(), return_inverse=True)
    weights = torch.bincount(labels).float()
    return torch.multinomial(weights, unique.numel(), replacement=True, generator=g)[inverse]


def control_labels_int32(types, labels, seed=0):
    # WRONG (dtype): returns int32 labels instead of int64.
    g = torch.Generator().manual_seed(seed)
    unique, inverse = torch.unique(types, return_inverse=True)
    weights = torch.bincount(labels).float()
    return torch.multinomial(weights, unique.numel(), replacement=True, generator=g)[inverse].to(torch.int32)


def control_labels_permute_types(types, labels, seed=0):
    # WRONG (random): gives each type the label of a shuffled type-majority ("a permutation"), so the labels
    # are not drawn independently: each class is used by a fixed number of types.
    g = torch.Generator().manual_seed(seed)
    unique, inverse = torch.unique(types, return_inverse=True)
    T = unique.numel()
    majority = torch.zeros(T, dtype=torch.int64)
    for t in range(T):
        majority[t] = torch.bincount(labels[inverse == t]).argmax()
    return majority[torch.randperm(T, generator=g)][inverse]


# ----------------------------------------------------------------------------- 05.3 concept_activation_vector


def concept_activation_vector_centre_inplace(acts_concept, acts_random):
    # WRONG: centres both inputs IN PLACE on their pooled mean ("for L-BFGS"): same direction, inputs changed.
    mu = torch.cat([acts_concept, acts_random]).mean(dim=0)
    acts_concept -= mu
    acts_random -= mu
    X = torch.cat([acts_concept, acts_random])
    y = torch.cat([torch.ones(len(acts_concept)), torch.zeros(len(acts_random))]).to(X.dtype)
    w = _fit_logistic(X, y)
    return w / w.norm()


def concept_activation_vector_float64(acts_concept, acts_random):
    # WRONG (dtype): fits in float64 and returns the float64 weights (no conversion back to float32).
    X = torch.cat([acts_concept, acts_random]).double()
    y = torch.cat([torch.ones(len(acts_concept)), torch.zeros(len(acts_random))]).double()
    w = _fit_logistic(X, y)
    return w / w.norm()


def concept_activation_vector_standardise_no_eps(acts_concept, acts_random):
    # WRONG (edge): standardises without an epsilon (fit with Adam) and divides back by std: a constant
    # feature gives 0/0 = NaN, and the NaN spreads to every weight.
    X = torch.cat([acts_concept, acts_random])
    y = torch.cat([torch.ones(len(acts_concept)), torch.zeros(len(acts_random))]).to(X.dtype)
    mean, std = X.mean(dim=0), X.std(dim=0)
    Z = (X - mean) / std
    w = torch.zeros(X.shape[1], dtype=X.dtype, requires_grad=True)
    b = torch.zeros((), dtype=X.dtype, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=0.05)
    for _ in range(300):  # Adam for a few hundred full-batch steps, as the hint allows
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(Z @ w + b, y) + 1e-2 * (w ** 2).sum() / 2
        loss.backward()
        opt.step()
    w = w.detach() / std
    return w / w.norm()


def concept_activation_vector_mean_difference(acts_concept, acts_random):
    # WRONG: the difference of the class means, not the logistic regression's normal.
    w = acts_concept.mean(dim=0) - acts_random.mean(dim=0)
    return w / w.norm()


def concept_activation_vector_flipped(acts_concept, acts_random):
    # WRONG: labels the random examples 1 and the concept 0: the vector points away from the concept.
    X = torch.cat([acts_concept, acts_random])
    y = torch.cat([torch.zeros(len(acts_concept)), torch.ones(len(acts_random))]).to(X.dtype)
    w = _fit_logistic(X, y)
    return w / w.norm()


def concept_activation_vector_standardised_weights(acts_concept, acts_random):
    # WRONG: fits on standardised features and returns their weights without dividing by the stds.
    X = torch.cat([acts_concept, acts_random])
    y = torch.cat([torch.ones(len(acts_concept)), torch.zeros(len(acts_random))]).to(X.dtype)
    mean, std = X.mean(dim=0), X.std(dim=0) + 1e-6
    w = _fit_logistic((X - mean) / std, y)
    return w / w.norm()


def concept_activation_vector_unnormalised(acts_concept, acts_random):
    # WRONG: returns the raw weight vector, not scaled to length 1.
    X = torch.cat([acts_concept, acts_random])
    y = torch.cat([torch.ones(len(acts_concept)), torch.zeros(len(acts_random))]).to(X.dtype)
    return _fit_logistic(X, y)


# ----------------------------------------------------------------------------- 05.4 tcav_score


def tcav_score_normalise_inplace(gradients, cav):
    # WRONG: normalises the caller's cav IN PLACE (cav /= |cav|): same score, input changed.
    cav /= cav.norm()
    return ((gradients @ cav) > 0).float().mean().item()


def tcav_score_float32(gradients, cav):
    # WRONG (dtype): directional derivatives in float32: tiny float64 products can change sign or round to 0.
    return ((gradients.float() @ cav.float()) > 0).float().mean().item()


def tcav_score_greater_equal(gradients, cav):
    # WRONG (edge): >= 0 counts zero derivatives (dead units) as pushes towards the concept.
    return ((gradients @ cav) >= 0).float().mean().item()


def tcav_score_sign_mean(gradients, cav):
    # WRONG (edge): (mean(sign) + 1) / 2 counts a zero derivative as half a positive.
    return ((torch.sign(gradients @ cav).mean() + 1) / 2).item()


def tcav_score_entries(gradients, cav):
    # WRONG: fraction of positive ENTRIES of gradients * cav, not of the rows' dot products.
    return ((gradients * cav) > 0).float().mean().item()


def tcav_score_wrong_axis(gradients, cav):
    # WRONG: sums over the inputs (dim=0) and counts positive coordinates instead of positive rows.
    return (((gradients * cav).sum(dim=0)) > 0).float().mean().item()


def tcav_score_mean_derivative(gradients, cav):
    # WRONG: sigmoid of the mean directional derivative instead of the fraction of positive ones.
    return torch.sigmoid((gradients @ (cav / cav.norm())).mean()).item()


# ----------------------------------------------------------------------------- 05.5 linear_cka


def linear_cka_centre_inplace(X, Y):
    # WRONG: centres X and Y IN PLACE (X -= mean), which the spec forbids; the value is right.
    X -= X.mean(dim=0)
    Y -= Y.mean(dim=0)
    return ((Y.T @ X).norm() ** 2 / ((X.T @ X).norm() * (Y.T @ Y).norm())).item()


def linear_cka_float32(X, Y):
    # WRONG (dtype): computed in float32 (.float()), losing precision on float64 input.
    Xc = (X - X.mean(dim=0)).float()
    Yc = (Y - Y.mean(dim=0)).float()
    return ((Yc.T @ Xc).norm() ** 2 / ((Xc.T @ Xc).norm() * (Yc.T @ Yc).norm())).item()


def linear_cka_standardised(X, Y):
    # WRONG (edge): standardises the columns (z-scores) instead of only centring them: NaN for a constant
    # column, and the value changes with the columns' scales.
    Xc = (X - X.mean(dim=0)) / X.std(dim=0)
    Yc = (Y - Y.mean(dim=0)) / Y.std(dim=0)
    return ((Yc.T @ Xc).norm() ** 2 / ((Xc.T @ Xc).norm() * (Yc.T @ Yc).norm())).item()


def linear_cka_not_centred(X, Y):
    # WRONG: forgets to centre (right only for columns that already have mean 0).
    return ((Y.T @ X).norm() ** 2 / ((X.T @ X).norm() * (Y.T @ Y).norm())).item()


def linear_cka_squared_denominator(X, Y):
    # WRONG: divides by the product of the SQUARED norms (and takes no square root anywhere).
    Xc, Yc = X - X.mean(dim=0), Y - Y.mean(dim=0)
    return ((Yc.T @ Xc).norm() ** 2 / ((Xc.T @ Xc).norm() ** 2 * (Yc.T @ Yc).norm() ** 2)).item()


def linear_cka_rows_centred(X, Y):
    # WRONG: centres each row (dim=1) instead of each column.
    Xc = X - X.mean(dim=1, keepdim=True)
    Yc = Y - Y.mean(dim=1, keepdim=True)
    return ((Yc.T @ Xc).norm() ** 2 / ((Xc.T @ Xc).norm() * (Yc.T @ Yc).norm())).item()


def linear_cka_unsquared_numerator(X, Y):
    # WRONG: forgets to square the numerator's Frobenius norm.
    Xc, Yc = X - X.mean(dim=0), Y - Y.mean(dim=0)
    return ((Yc.T @ Xc).norm() / ((Xc.T @ Xc).norm() * (Yc.T @ Yc).norm()).sqrt()).item()


MUTANTS = {
    "05.1": [
        (probe_accuracy_global_split, "random"),
        (probe_accuracy_seed_ignored, "random"),
        (probe_accuracy_centre_inplace, "inplace"),
        (probe_accuracy_no_eps, "edge"),
        (probe_accuracy_classes_from_train, "edge"),
        (probe_accuracy_full_standardise, "subtle"),
        (probe_accuracy_train_accuracy, "subtle"),
        (probe_accuracy_test_unstandardised, "subtle"),
    ],
    "05.2": [
        (control_labels_global_seed, "random"),
        (control_labels_uniform, "random"),
        (control_labels_seed_zero_random, "random"),
        (control_labels_permute_types, "random"),
        (control_labels_int32, "dtype"),
        (control_labels_float_ids, "edge"),
        (control_labels_per_example, "subtle"),
    ],
    "05.3": [
        (concept_activation_vector_centre_inplace, "inplace"),
        (concept_activation_vector_float64, "dtype"),
        (concept_activation_vector_standardise_no_eps, "edge"),
        (concept_activation_vector_mean_difference, "subtle"),
        (concept_activation_vector_flipped, "subtle"),
        (concept_activation_vector_standardised_weights, "subtle"),
        (concept_activation_vector_unnormalised, "subtle"),
    ],
    "05.4": [
        (tcav_score_normalise_inplace, "inplace"),
        (tcav_score_float32, "dtype"),
        (tcav_score_greater_equal, "edge"),
        (tcav_score_sign_mean, "edge"),
        (tcav_score_entries, "subtle"),
        (tcav_score_wrong_axis, "subtle"),
        (tcav_score_mean_derivative, "subtle"),
    ],
    "05.5": [
        (linear_cka_centre_inplace, "inplace"),
        (linear_cka_float32, "dtype"),
        (linear_cka_standardised, "edge"),
        (linear_cka_not_centred, "subtle"),
        (linear_cka_squared_denominator, "subtle"),
        (linear_cka_rows_centred, "subtle"),
        (linear_cka_unsquared_numerator, "subtle"),
    ],
}
