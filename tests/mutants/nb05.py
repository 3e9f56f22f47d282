"""Plausible wrong answers to notebook 05 (probing); every one must fail its check."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from mi_helpers.data import train_test_split


def _fit_logistic(X, y, n_classes):
    """A plain logistic-regression fit (full-batch L-BFGS), the part every probe mutant shares."""
    W = torch.zeros(X.shape[1], n_classes, requires_grad=True)
    b = torch.zeros(n_classes, requires_grad=True)
    opt = torch.optim.LBFGS([W, b], max_iter=30, line_search_fn="strong_wolfe")

    def loss():
        opt.zero_grad()
        value = F.cross_entropy(X @ W + b, y) + 1e-2 * W.pow(2).sum() / 2
        value.backward()
        return value

    opt.step(loss)
    return W.detach(), b.detach()


def _standardise(X_train, X_test, eps=1e-6):
    mean, std = X_train.mean(dim=0), X_train.std(dim=0) + eps
    return (X_train - mean) / std, (X_test - mean) / std


# ---------------------------------------------------------------- 05.1 probe_accuracy


def probe_scored_on_its_training_examples(features, labels, *, test_fraction=0.25, seed=0):
    X_train, y_train, X_test, y_test = train_test_split(features, labels, test_fraction=test_fraction, seed=seed)
    X_train, X_test = _standardise(X_train, X_test)
    W, b = _fit_logistic(X_train, y_train, int(labels.max()) + 1)
    return ((X_train @ W + b).argmax(dim=1) == y_train).float().mean().item()


def probe_fit_on_all_examples_then_scored_on_the_test_part(features, labels, *, test_fraction=0.25, seed=0):
    X_train, y_train, X_test, y_test = train_test_split(features, labels, test_fraction=test_fraction, seed=seed)
    mean, std = features.mean(dim=0), features.std(dim=0) + 1e-6
    W, b = _fit_logistic((features - mean) / std, labels, int(labels.max()) + 1)
    return ((((X_test - mean) / std) @ W + b).argmax(dim=1) == y_test).float().mean().item()


def probe_returning_a_count(features, labels, *, test_fraction=0.25, seed=0):
    X_train, y_train, X_test, y_test = train_test_split(features, labels, test_fraction=test_fraction, seed=seed)
    X_train, X_test = _standardise(X_train, X_test)
    W, b = _fit_logistic(X_train, y_train, int(labels.max()) + 1)
    return ((X_test @ W + b).argmax(dim=1) == y_test).sum().item()


def probe_standardising_without_epsilon(features, labels, *, test_fraction=0.25, seed=0):
    X_train, y_train, X_test, y_test = train_test_split(features, labels, test_fraction=test_fraction, seed=seed)
    X_train, X_test = _standardise(X_train, X_test, eps=0.0)
    W, b = _fit_logistic(X_train, y_train, int(labels.max()) + 1)
    return ((X_test @ W + b).argmax(dim=1) == y_test).float().mean().item()


def probe_splitting_features_and_labels_separately(features, labels, *, test_fraction=0.25, seed=0):
    X_train, X_test = train_test_split(features, test_fraction=test_fraction, seed=seed)
    y_train, y_test = train_test_split(labels, test_fraction=test_fraction, seed=seed + 1)
    X_train, X_test = _standardise(X_train, X_test)
    W, b = _fit_logistic(X_train, y_train, int(labels.max()) + 1)
    return ((X_test @ W + b).argmax(dim=1) == y_test).float().mean().item()


def probe_with_an_unseeded_split(features, labels, *, test_fraction=0.25, seed=0):
    order = torch.randperm(len(features))  # the global random state: a new split on every call
    cut = len(features) - int(round(test_fraction * len(features)))
    train, test = order[:cut], order[cut:]
    X_train, X_test = _standardise(features[train], features[test])
    W, b = _fit_logistic(X_train, labels[train], int(labels.max()) + 1)
    return ((X_test @ W + b).argmax(dim=1) == labels[test]).float().mean().item()


# ---------------------------------------------------------------- 05.2 control_labels


def control_label_per_example(types, labels, seed=0):
    g = torch.Generator().manual_seed(seed)
    weights = torch.bincount(labels).float()
    return torch.multinomial(weights, len(types), replacement=True, generator=g)


def control_labels_from_the_global_random_state(types, labels, seed=0):
    unique, index = torch.unique(types, return_inverse=True)
    weights = torch.bincount(labels).float()
    return torch.multinomial(weights, len(unique), replacement=True)[index]


def control_labels_from_numpys_global_random_state(types, labels, seed=0):
    unique, index = torch.unique(types, return_inverse=True)
    per_type = np.random.choice(labels.numpy(), size=len(unique))  # ignores seed: new labels on every call
    return torch.as_tensor(per_type)[index]


def control_labels_seeding_the_global_generator(types, labels, seed=0):
    torch.manual_seed(seed)
    unique, index = torch.unique(types, return_inverse=True)
    weights = torch.bincount(labels).float()
    return torch.multinomial(weights, len(unique), replacement=True)[index]


def control_labels_with_one_class_too_few(types, labels, seed=0):
    g = torch.Generator().manual_seed(seed)
    unique, index = torch.unique(types, return_inverse=True)
    return torch.randint(0, int(labels.max()), (len(unique),), generator=g)[index]


def control_labels_uniform_over_classes(types, labels, seed=0):
    g = torch.Generator().manual_seed(seed)
    unique, index = torch.unique(types, return_inverse=True)
    return torch.randint(0, int(labels.max()) + 1, (len(unique),), generator=g)[index]


# ---------------------------------------------------------------- 05.3 concept_activation_vector


def _logistic_normal(acts_positive, acts_negative):
    X = torch.cat([acts_positive, acts_negative])
    y = torch.cat([torch.ones(len(acts_positive)), torch.zeros(len(acts_negative))])
    w = torch.zeros(X.shape[1], requires_grad=True)
    b = torch.zeros((), requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=50, line_search_fn="strong_wolfe")

    def loss():
        opt.zero_grad()
        value = F.binary_cross_entropy_with_logits(X @ w + b, y) + 1e-2 * w.pow(2).sum() / 2
        value.backward()
        return value

    opt.step(loss)
    return w.detach()


def cav_pointing_to_the_random_examples(acts_concept, acts_random):
    w = _logistic_normal(acts_random, acts_concept)
    return w / w.norm()


def cav_not_normalised(acts_concept, acts_random):
    return _logistic_normal(acts_concept, acts_random)


def cav_as_difference_of_means(acts_concept, acts_random):
    w = acts_concept.mean(dim=0) - acts_random.mean(dim=0)
    return w / w.norm()


def cav_normalised_by_its_largest_entry(acts_concept, acts_random):
    w = _logistic_normal(acts_concept, acts_random)
    return w / w.abs().max()


# ---------------------------------------------------------------- 05.4 tcav_score


def tcav_counting_negative_derivatives(gradients, cav):
    return (gradients @ cav < 0).float().mean().item()


def tcav_as_mean_directional_derivative(gradients, cav):
    return (gradients @ cav).mean().item()


def tcav_counting_zero_as_positive(gradients, cav):
    return (gradients @ cav >= 0).float().mean().item()


def tcav_as_a_count(gradients, cav):
    return int((gradients @ cav > 0).sum())


def tcav_over_every_entry(gradients, cav):
    return (gradients * cav > 0).float().mean().item()


# ---------------------------------------------------------------- 05.5 linear_cka


def cka_without_centring(X, Y):
    return ((Y.T @ X).pow(2).sum() / ((X.T @ X).norm() * (Y.T @ Y).norm())).item()


def cka_as_hsic_only(X, Y):
    X, Y = X - X.mean(dim=0), Y - Y.mean(dim=0)
    return (Y.T @ X).pow(2).sum().item()


def cka_as_correlation_of_flattened_activations(X, Y):
    return torch.corrcoef(torch.stack([X.flatten(), Y.flatten()]))[0, 1].item()


def cka_normalised_by_the_norms_of_the_activations(X, Y):
    X, Y = X - X.mean(dim=0), Y - Y.mean(dim=0)
    return ((Y.T @ X).pow(2).sum() / (X.norm() ** 2 * Y.norm() ** 2)).item()


def cka_without_the_square(X, Y):
    X, Y = X - X.mean(dim=0), Y - Y.mean(dim=0)
    return ((Y.T @ X).norm() / ((X.T @ X).norm() * (Y.T @ Y).norm()).sqrt()).item()


def cka_standardising_the_columns(X, Y):
    X = (X - X.mean(dim=0)) / X.std(dim=0)
    Y = (Y - Y.mean(dim=0)) / Y.std(dim=0)
    return ((Y.T @ X).pow(2).sum() / ((X.T @ X).norm() * (Y.T @ Y).norm())).item()


MUTANTS = {
    "05.1": [probe_scored_on_its_training_examples, probe_fit_on_all_examples_then_scored_on_the_test_part,
             probe_returning_a_count, probe_standardising_without_epsilon,
             probe_splitting_features_and_labels_separately, probe_with_an_unseeded_split],
    "05.2": [control_label_per_example, control_labels_from_the_global_random_state,
             control_labels_from_numpys_global_random_state, control_labels_seeding_the_global_generator, control_labels_with_one_class_too_few,
             control_labels_uniform_over_classes],
    "05.3": [cav_pointing_to_the_random_examples, cav_not_normalised, cav_as_difference_of_means,
             cav_normalised_by_its_largest_entry],
    "05.4": [tcav_counting_negative_derivatives, tcav_as_mean_directional_derivative,
             tcav_counting_zero_as_positive, tcav_as_a_count, tcav_over_every_entry],
    "05.5": [cka_without_centring, cka_as_hsic_only, cka_as_correlation_of_flattened_activations,
             cka_normalised_by_the_norms_of_the_activations, cka_without_the_square,
             cka_standardising_the_columns],
}
