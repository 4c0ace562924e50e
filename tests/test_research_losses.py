"""The balanced trusted loss is plain cross-entropy when switched off, and each part does what it is for:
class weights favour rare classes, the reverse-CE term caps what a mislabelled clip can cost, the AMCM
margins demand a margin; and the multi-label BCE matches PyTorch's."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from musictagger.research.losses import BalancedTrustedLoss, MultiLabelLoss, class_weights, positive_weights


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These are many tiny tensor ops: on shared cores, thread hand-offs would cost more than the maths."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _batch(n=16, c=5, seed=0, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, generator=g) * scale
    target = torch.randint(0, c, (n,), generator=g)
    return logits, target


def _value_and_grad(loss_fn, logits, target):
    x = logits.clone().requires_grad_(True)
    value = loss_fn(x, target)
    (grad,) = torch.autograd.grad(value, x)
    return value.detach(), grad


def test_switched_off_it_is_cross_entropy_in_value_and_gradient():
    logits, target = _batch()
    ours, our_grad = _value_and_grad(BalancedTrustedLoss(), logits, target)
    uniform = BalancedTrustedLoss(class_weights=class_weights([3, 30, 300, 7, 1], "uniform"))
    ours_uniform, uniform_grad = _value_and_grad(uniform, logits, target)
    ref, ref_grad = _value_and_grad(F.cross_entropy, logits, target)
    for value, grad in ((ours, our_grad), (ours_uniform, uniform_grad)):
        assert abs(value.item() - ref.item()) <= 1e-6
        assert torch.allclose(grad, ref_grad, atol=1e-6, rtol=0)


def test_class_weighted_loss_is_torch_weighted_cross_entropy():
    logits, target = _batch(n=32, seed=1)
    w = class_weights([500, 120, 40, 9, 2], "effective", beta=0.99)
    ours, our_grad = _value_and_grad(BalancedTrustedLoss(class_weights=w), logits, target)
    ref, ref_grad = _value_and_grad(lambda x, y: F.cross_entropy(x, y, weight=w), logits, target)
    assert abs(ours.item() - ref.item()) <= 1e-6
    assert torch.allclose(our_grad, ref_grad, atol=1e-6, rtol=0)
    # and it differs from the unweighted loss: the weights are really applied
    assert abs(ours.item() - F.cross_entropy(logits, target).item()) > 1e-3


def test_symmetric_term_matches_wang_et_al_definition():
    logits, target = _batch(seed=2)
    alpha, beta, log_clip = 0.1, 1.0, -4.0
    ours = BalancedTrustedLoss(alpha=alpha, beta=beta, log_clip=log_clip)(logits, target)
    p = torch.softmax(logits, dim=1)
    q = F.one_hot(target, logits.shape[1]).float().clamp(min=math.exp(log_clip))  # log 0 -> log_clip
    rce = -(p * torch.log(q)).sum(1)
    ref = alpha * F.cross_entropy(logits, target) + beta * rce.mean()
    assert abs(ours.item() - ref.item()) <= 1e-6


@pytest.mark.parametrize("scheme", ["inverse", "effective"])
def test_balanced_weights_favour_rare_classes_and_average_one(scheme):
    counts = [1000, 200, 30, 5]
    w = class_weights(counts, scheme, beta=0.999)
    assert w.shape == (4,) and w.dtype == torch.float32
    assert abs(w.mean().item() - 1.0) < 1e-6
    assert torch.all(w[1:] > w[:-1]), f"rarer classes must weigh more: {w.tolist()}"
    if scheme == "inverse":  # exactly proportional to 1/n
        assert torch.allclose(w * torch.tensor(counts, dtype=torch.float32), (w[0] * counts[0]).expand(4))


def test_effective_number_lies_between_uniform_and_inverse():
    counts = [1000, 200, 30, 5]
    inverse = class_weights(counts, "inverse")
    effective = class_weights(counts, "effective", beta=0.999)
    assert torch.equal(class_weights(counts, "uniform"), torch.ones(4))
    assert torch.allclose(class_weights(counts, "effective", beta=0.0), torch.ones(4))
    assert effective[-1] < inverse[-1] and effective[0] > inverse[0]  # less extreme than 1/n
    assert torch.allclose(class_weights(counts, "effective", beta=1 - 1e-9), inverse, rtol=1e-3)


def test_class_weights_reject_bad_input_and_survive_an_empty_class():
    w = class_weights([10, 0, 5], "inverse")
    assert torch.isfinite(w).all()
    with pytest.raises(ValueError, match="unknown class-weight scheme"):
        class_weights([1, 2], "sqrt")
    with pytest.raises(ValueError, match="negative"):
        class_weights([1, -2], "inverse")


def test_reverse_term_is_bounded_while_cross_entropy_grows_on_a_confidently_wrong_label():
    """A clip labelled 0 that the net is ever more sure is class 1 — a likely mislabel."""
    target = torch.tensor([0])
    ce = BalancedTrustedLoss(alpha=1.0, beta=0.0)
    rce = BalancedTrustedLoss(alpha=0.0, beta=1.0, log_clip=-4.0)
    ce_values, rce_values, rce_grads = [], [], []
    for confidence in (2.0, 8.0, 32.0):
        logits = torch.tensor([[0.0, confidence, 0.0]])
        ce_values.append(ce(logits, target).item())
        value, grad = _value_and_grad(rce, logits, target)
        rce_values.append(value.item())
        rce_grads.append(grad.norm().item())
    assert ce_values[-1] > 30 and ce_values == sorted(ce_values)  # CE: −log p_y, unbounded
    assert all(v <= 4.0 for v in rce_values)  # RCE = −log_clip·(1 − p_y) ≤ −log_clip = 4
    assert rce_values[-1] == pytest.approx(4.0, abs=1e-6)
    # and the mislabelled clip stops pulling the weights: its RCE gradient vanishes, CE's does not
    assert rce_grads[-1] < 1e-6 < rce_grads[0]
    _, ce_grad = _value_and_grad(ce, torch.tensor([[0.0, 32.0, 0.0]]), target)
    assert ce_grad.norm().item() > 1.4


def _cosine_logits(n=12, c=4, s=16.0, seed=3):
    g = torch.Generator().manual_seed(seed)
    features = F.normalize(torch.randn(n, 8, generator=g), dim=1)
    weights = F.normalize(torch.randn(c, 8, generator=g), dim=1)
    return s * features @ weights.T, torch.randint(0, c, (n,), generator=g)


def test_amcm_margins_apply_the_formula_and_make_the_loss_larger():
    s = 16.0
    logits, target = _cosine_logits(s=s)
    plain = F.cross_entropy(logits, target)
    zero = BalancedTrustedLoss(margin_angle=0.0, margin_cos=0.0, scale=s)(logits, target)
    assert abs(zero.item() - plain.item()) <= 1e-6
    m1, m2 = 0.2, 0.1
    loss = BalancedTrustedLoss(margin_angle=m1, margin_cos=m2, scale=s)
    theta = torch.acos(logits.gather(1, target[:, None]) / s)
    expected = logits.scatter(1, target[:, None], s * (torch.cos(theta + m1) - m2))
    assert torch.allclose(loss.margin_logits(logits, target), expected, atol=1e-4)
    assert abs(loss(logits, target).item() - F.cross_entropy(expected, target).item()) <= 1e-4
    for margins in ((m1, 0.0), (0.0, m2), (m1, m2)):
        with_margin = BalancedTrustedLoss(margin_angle=margins[0], margin_cos=margins[1], scale=s)
        assert with_margin(logits, target).item() > plain.item() + 1e-3, margins
    # only the target logit moves
    moved = loss.margin_logits(logits, target) != logits
    assert torch.equal(moved, F.one_hot(target, logits.shape[1]).bool())


def test_angular_margin_never_helps_the_worst_clips():
    """θ_y + m1 is clamped at π: past it cos would rise and the margin would lower the loss."""
    s, m1 = 10.0, 0.5
    logits = torch.tensor([[s * math.cos(math.pi - 0.1), 0.0, 0.0]])  # target almost opposite its class
    adjusted = BalancedTrustedLoss(margin_angle=m1, scale=s).margin_logits(logits, torch.tensor([0]))
    assert adjusted[0, 0].item() == pytest.approx(-s, abs=1e-4)
    assert adjusted[0, 0] <= logits[0, 0]


def test_margins_need_the_cosine_scale_and_gradients_stay_finite():
    with pytest.raises(ValueError, match="scale"):
        BalancedTrustedLoss(margin_angle=0.3)
    s = 8.0
    # cosines of ±1, one rounded past 1 (acos would be NaN there): the classifier's float rounding does that
    logits = torch.tensor([[s * (1 + 1e-6), -s, 0.0], [-s, s, 0.0]])
    value, grad = _value_and_grad(
        BalancedTrustedLoss(margin_angle=0.3, margin_cos=0.1, scale=s), logits, torch.tensor([0, 0])
    )
    assert torch.isfinite(value) and torch.isfinite(grad).all()


def test_bad_targets_are_reported():
    logits = torch.zeros(2, 3)
    loss = BalancedTrustedLoss()
    with pytest.raises(ValueError, match="int64"):
        loss(logits, torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="out of range"):
        loss(logits, torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="class weights for"):
        BalancedTrustedLoss(class_weights=[1.0, 1.0])(logits, torch.tensor([0, 1]))


def _imbalanced_blobs(n_major, n_minor, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.cat([torch.randn(n_major, 2, generator=g), torch.randn(n_minor, 2, generator=g) + 2.0])
    y = torch.cat([torch.zeros(n_major, dtype=torch.int64), torch.ones(n_minor, dtype=torch.int64)])
    return x, y


def _train_linear(loss_fn, x, y, steps=300):
    torch.manual_seed(0)
    model = torch.nn.Linear(x.shape[1], 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    return model


def test_training_with_balanced_weights_recovers_the_rare_class():
    """Trained on 40 × more of class 0, plain CE mostly says class 0; the balanced loss finds class 1."""
    x, y = _imbalanced_blobs(800, 20, seed=0)
    x_test, y_test = _imbalanced_blobs(500, 500, seed=1)
    counts = torch.bincount(y).tolist()
    recall = {}
    for scheme in ("uniform", "inverse", "effective"):
        loss = BalancedTrustedLoss(class_weights=class_weights(counts, scheme, beta=0.999))
        model = _train_linear(loss, x, y)
        with torch.no_grad():
            predicted = model(x_test).argmax(1)
        recall[scheme] = (predicted[y_test == 1] == 1).float().mean().item()
    assert recall["uniform"] < 0.5 and recall["inverse"] > recall["uniform"] + 0.4, recall
    assert recall["inverse"] > 0.8 and recall["effective"] > 0.7, recall


def test_multilabel_loss_is_bce_with_logits_and_pos_weight_counts_positives():
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(6, 3, generator=g)
    targets = (torch.rand(6, 3, generator=g) > 0.5).float()
    assert MultiLabelLoss()(logits, targets).item() == pytest.approx(
        F.binary_cross_entropy_with_logits(logits, targets).item(), abs=1e-6
    )
    train_targets = np.array([[1, 0, 0], [0, 0, 1], [0, 0, 1], [0, 0, 1]])
    pw = positive_weights(train_targets)
    assert torch.allclose(pw, torch.tensor([3.0, 1.0, 1 / 3]))  # negatives / positives; no positives -> 1
    weighted = MultiLabelLoss(pos_weight=pw)(logits, targets)
    ref = F.binary_cross_entropy_with_logits(logits, targets, pos_weight=pw)
    assert weighted.item() == pytest.approx(ref.item(), abs=1e-6)
    # a missed rare tag costs more with its positive weight
    missed = torch.tensor([[-3.0, 0.0, 0.0]])
    hit = torch.tensor([[1.0, 0.0, 0.0]])
    assert MultiLabelLoss(pw)(missed, hit) > MultiLabelLoss()(missed, hit) * 2
    with pytest.raises(ValueError, match="same"):
        MultiLabelLoss()(logits, targets[:, :2])
