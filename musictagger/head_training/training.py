"""Fitting a head, and the cross-validated numbers reported before one is saved.

Heads are fitted full-batch: a class-balanced logistic regression by scikit-learn's L-BFGS (or, with
``hidden``, a one-hidden-layer net with Adam). With a few hundred tracks a fit takes a fraction of a
second and is deterministic. The L2 strength is
chosen by an inner cross-validation on the training part only, so the outer folds' numbers stay honest
(nested cross-validation): no number we report was tuned on the tracks it is measured on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.model_selection import KFold, StratifiedKFold

from musictagger.heads.model import EmbeddingHead

__all__ = ["L2_GRID", "CrossValidation", "cross_validate", "fit_head", "select_l2"]

# Candidate L2 strengths (on standardised features): wide, because 40 and 4,000 tracks want different ones.
L2_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)


@contextmanager
def _one_thread():
    """Heads are tiny: with several threads, thread start-up costs 30x the maths on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _seed(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))


def fit_head(
    features: np.ndarray,
    targets: np.ndarray,
    *,
    multilabel: bool = False,
    hidden: int = 0,
    l2: float = 1e-2,
    seed: int = 0,
    steps: int = 300,  # Adam steps, for heads with a hidden layer
    n_labels: int | None = None,
) -> EmbeddingHead:
    """Fit a head on ``features (n, d)`` and ``targets``: class indices ``(n,)``, or 0/1 ``(n, c)``.

    Classes are weighted by inverse frequency (single-label) so a head does not learn "always Q2" from a
    set with more Q2 tracks; macro-F1 is what a user of a mood browser feels.
    """
    with _one_thread():
        return _fit(features, targets, multilabel, hidden, l2, seed, steps, n_labels)


def _fit(features, targets, multilabel, hidden, l2, seed, steps, n_labels) -> EmbeddingHead:
    _seed(seed)
    x = torch.as_tensor(features, dtype=torch.float32)
    if n_labels is None:
        n_labels = targets.shape[1] if multilabel else int(targets.max()) + 1
    head = EmbeddingHead(x.shape[1], n_labels, hidden)
    mean = x.mean(dim=0)
    std = x.std(dim=0, unbiased=False)
    head.feature_mean.copy_(mean)
    head.feature_std.copy_(torch.where(std > 1e-6, std, torch.ones_like(std)))
    if multilabel:
        y = torch.as_tensor(targets, dtype=torch.float32)
        pos = y.sum(dim=0).clamp(min=1.0)
        pos_weight = ((len(y) - pos) / pos).clamp(max=10.0)
        criterion = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    else:
        y = torch.as_tensor(targets, dtype=torch.int64)
        counts = torch.bincount(y, minlength=n_labels).float().clamp(min=1.0)
        criterion = torch.nn.CrossEntropyLoss(weight=counts.sum() / (n_labels * counts))
    weights = [p for name, p in head.named_parameters() if name.endswith("weight")]

    def objective() -> torch.Tensor:
        penalty = sum((w**2).sum() for w in weights)
        return criterion(head(x), y) + 0.5 * l2 * penalty

    if hidden:
        head.train()
        optimiser = torch.optim.Adam(head.parameters(), lr=1e-3)
        for _ in range(steps):
            optimiser.zero_grad()
            loss = objective()
            loss.backward()
            optimiser.step()
    else:
        _fit_linear(head, ((x - mean) / head.feature_std).numpy(), targets, multilabel, l2, n_labels)
    return head.eval()


def _fit_linear(
    head: EmbeddingHead, x: np.ndarray, targets: np.ndarray, multilabel: bool, l2: float, n_labels: int
) -> None:
    """Logistic regression by scikit-learn's L-BFGS into the head's linear layer.

    Same objective as the torch loss above (class-balanced mean loss + l2/2 ||W||^2, so C = 1/(l2 n)),
    but thread-safe: a torch optimiser imports torch._dynamo on first use, which races with the other
    threads of the app when it happens on a worker thread.
    """
    from sklearn.linear_model import LogisticRegression

    c = 1.0 / (l2 * len(x))
    weight = np.zeros((n_labels, x.shape[1]), dtype=np.float32)
    bias = np.full(n_labels, -30.0, dtype=np.float32)  # a class with no training track is never chosen
    columns = range(n_labels) if multilabel else [None]
    for column in columns:
        y = targets[:, column] if multilabel else targets
        present = np.unique(y)
        if len(present) < 2:  # one label on every track (or none): a constant answer
            if multilabel:
                bias[column] = 30.0 if present[0] else -30.0
            else:
                bias[int(present[0])] = 0.0
            continue
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=500, tol=1e-4)
        model.fit(x, y)
        if multilabel:
            weight[column], bias[column] = model.coef_[0], model.intercept_[0]
        elif len(present) == 2:  # scikit-learn keeps one row for two classes: logits (0, w.x + b)
            weight[present[1]], bias[present[1]] = model.coef_[0], model.intercept_[0]
            bias[present[0]] = 0.0
        else:
            weight[present], bias[present] = model.coef_, model.intercept_
    linear = head.classifier[-1]
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(weight))
        linear.bias.copy_(torch.from_numpy(bias))


def _predict(head: EmbeddingHead, features: np.ndarray, multilabel: bool) -> np.ndarray:
    with torch.inference_mode():
        logits = head(torch.as_tensor(features, dtype=torch.float32))
        return (torch.sigmoid(logits) if multilabel else torch.softmax(logits, dim=-1)).numpy()


def _score(probs: np.ndarray, targets: np.ndarray, multilabel: bool) -> float:
    """Inner-CV criterion: mean log-likelihood (smooth, works with a few tracks per class)."""
    eps = 1e-7
    if multilabel:
        return float(np.mean(targets * np.log(probs + eps) + (1 - targets) * np.log(1 - probs + eps)))
    return float(np.mean(np.log(probs[np.arange(len(targets)), targets] + eps)))


def _inner_folds(
    targets: np.ndarray, multilabel: bool, k: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    n = len(targets)
    if not multilabel:
        smallest = int(np.bincount(targets).min()) if n else 0
        if smallest >= 2:
            splitter = StratifiedKFold(n_splits=min(k, smallest), shuffle=True, random_state=seed)
            return list(splitter.split(np.zeros(n), targets))
    splitter = KFold(n_splits=min(k, max(2, n // 2)), shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(n)))


def select_l2(
    features: np.ndarray,
    targets: np.ndarray,
    *,
    multilabel: bool = False,
    hidden: int = 0,
    seed: int = 0,
    grid: Sequence[float] = L2_GRID,
    k: int = 3,
) -> float:
    """The L2 strength of ``grid`` with the best inner-cross-validated log-likelihood."""
    folds = _inner_folds(targets, multilabel, k, seed)
    n_labels = targets.shape[1] if multilabel else int(targets.max()) + 1
    best, best_score = grid[0], -np.inf
    for l2 in grid:
        scores = []
        for train, test in folds:
            head = fit_head(
                features[train],
                targets[train],
                multilabel=multilabel,
                hidden=hidden,
                l2=l2,
                seed=seed,
                n_labels=n_labels,
            )
            scores.append(_score(_predict(head, features[test], multilabel), targets[test], multilabel))
        score = float(np.mean(scores)) if scores else -np.inf
        if score > best_score:
            best, best_score = l2, score
    return best


@dataclass
class CrossValidation:
    """Out-of-fold predictions: every track predicted by a head that never saw it."""

    probs: np.ndarray  # (n, n_labels)
    fold_of: np.ndarray  # (n,) which outer fold predicted each track
    l2_per_fold: list[float] = field(default_factory=list)


def cross_validate(
    features: np.ndarray,
    targets: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    multilabel: bool = False,
    hidden: int = 0,
    seed: int = 0,
    on_fold: Callable[[int, int], None] | None = None,
) -> CrossValidation:
    """Nested cross-validation: per outer fold, choose L2 on its training part, fit, predict its test part."""
    n_labels = targets.shape[1] if multilabel else int(targets.max()) + 1
    probs = np.full((len(features), n_labels), np.nan, dtype=np.float32)
    fold_of = np.full(len(features), -1, dtype=np.int64)
    chosen = []
    for i, (train, test) in enumerate(folds):
        l2 = select_l2(features[train], targets[train], multilabel=multilabel, hidden=hidden, seed=seed)
        chosen.append(l2)
        head = fit_head(
            features[train],
            targets[train],
            multilabel=multilabel,
            hidden=hidden,
            l2=l2,
            seed=seed,
            n_labels=n_labels,
        )
        probs[test] = _predict(head, features[test], multilabel)
        fold_of[test] = i
        if on_fold is not None:
            on_fold(i + 1, len(folds))
    return CrossValidation(probs=probs, fold_of=fold_of, l2_per_fold=chosen)
