"""Distillation losses: each a small function of student tensors and (detached) teacher tensors.

Every function detaches its teacher arguments, so gradients reach only the student (and the
student-side projection heads). ``weights`` (per example, e.g. teacher confidence of the true
class) turn a per-example mean into a weighted mean ``sum(w * l) / sum(w)``.

* :func:`logit_kd_loss`: Hinton KD, ``T^2 * KL(p_t^T || p_s^T)``.
* :func:`telme_response_loss`: TelME's response-based loss (DIST): ``T^2 * (inter + intra)`` with
  ``inter = 1 - pearson`` across classes per example and ``intra = 1 - pearson`` across the batch
  per class, on temperature-softened distributions.
* :func:`telme_feature_loss`: TelME's feature-based loss: KL between the teacher-teacher and the
  teacher-student similarity distributions of L2-normalised embeddings, at temperature ``T``.
* :func:`triplet_loss`: anchor = student embedding, positive = teacher embedding of the same clip,
  negatives = teacher embeddings of the other classes in the batch; hinge averaged over each
  anchor's negatives, then over anchors (never summed).
* :func:`dmd_loss`: DMD-style decoupled graph distillation (see its docstring).
* :func:`ccc_loss`: ``1 - CCC`` for valence / arousal regression.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F

from edgeemo.errors import ConfigError

DISTANCES = ("cosine", "euclidean")


def weighted_mean(values: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of ``values`` ``[B]``, or ``sum(w * v) / sum(w)`` (0 when all weights are 0)."""
    if weights is None:
        return values.mean()
    w = weights.detach().to(values.dtype)
    return (w * values).sum() / w.sum().clamp_min(1e-12)


# ---------------------------------------------------------------------- logits
def logit_kd_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 2.0,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """``T^2 * KL(softmax(t / T) || softmax(s / T))``, mean (or weighted mean) over the batch."""
    t = teacher_logits.detach()
    log_ps = F.log_softmax(student_logits / temperature, dim=1)
    log_pt = F.log_softmax(t / temperature, dim=1)
    kl = (log_pt.exp() * (log_pt - log_ps)).sum(dim=1)
    return temperature**2 * weighted_mean(kl, weights)


def pearson_rows(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Pearson correlation of each row of ``a`` with the same row of ``b`` -> ``[rows]``."""
    a = a - a.mean(dim=1, keepdim=True)
    b = b - b.mean(dim=1, keepdim=True)
    return (a * b).sum(dim=1) / (a.norm(dim=1) * b.norm(dim=1) + eps)


def telme_response_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 4.0,
    inter_weight: float = 1.0, intra_weight: float = 1.0, weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """TelME / DIST: ``T^2 * (inter_weight * inter + intra_weight * intra)``.

    ``inter``: mean over examples of ``1 - pearson(p_s[i, :], p_t[i, :])`` (weighted by ``weights``);
    ``intra``: mean over classes of ``1 - pearson(p_s[:, c], p_t[:, c])``, with
    ``p = softmax(logits / T)``.
    """
    p_s = F.softmax(student_logits / temperature, dim=1)
    p_t = F.softmax(teacher_logits.detach() / temperature, dim=1)
    inter = weighted_mean(1 - pearson_rows(p_s, p_t), weights)
    intra = (1 - pearson_rows(p_s.t(), p_t.t())).mean()
    return temperature**2 * (inter_weight * inter + intra_weight * intra)


# ---------------------------------------------------------------------- embeddings
def telme_feature_loss(
    student_emb: torch.Tensor, teacher_emb: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """TelME feature loss: ``KL(softmax(t t^T / T) || softmax(t s^T / T))`` row-wise, batch mean.

    ``t`` and ``s`` are the L2-normalised teacher and (projected) student embeddings ``[B, D]``.
    """
    t = F.normalize(teacher_emb.detach(), p=2, dim=1)
    s = F.normalize(student_emb, p=2, dim=1)
    p = F.softmax(t @ t.t() / temperature, dim=1)
    log_q = F.log_softmax(t @ s.t() / temperature, dim=1)
    return F.kl_div(log_q, p, reduction="batchmean")


def pairwise_distance(a: torch.Tensor, b: torch.Tensor, distance: str = "cosine") -> torch.Tensor:
    """``[len(a), len(b)]`` distances: ``1 - cos`` or Euclidean."""
    if distance == "cosine":
        return 1 - F.normalize(a, dim=1) @ F.normalize(b, dim=1).t()
    if distance == "euclidean":
        return torch.cdist(a, b, p=2)
    raise ConfigError(f"unknown distance {distance!r}; choose one of {DISTANCES}")


def triplet_loss(
    student_emb: torch.Tensor, teacher_emb: torch.Tensor, labels: torch.Tensor, margin: float = 0.2,
    distance: str = "cosine", weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Cross-model triplet loss, averaged over anchors.

    For anchor ``i`` (student embedding), positive ``t_i`` (teacher embedding of the same clip) and
    every negative ``t_j`` with ``labels[j] != labels[i]``:
    ``l_i = mean_j max(0, d(s_i, t_i) - d(s_i, t_j) + margin)``. The loss is the (weighted) mean of
    ``l_i`` over anchors that have at least one negative (0 if none has).
    """
    d = pairwise_distance(student_emb, teacher_emb.detach(), distance)
    pos = d.diagonal()
    neg_mask = (labels[:, None] != labels[None, :]).to(d.dtype)
    hinge = F.relu(pos[:, None] - d + margin) * neg_mask
    n_neg = neg_mask.sum(dim=1)
    valid = n_neg > 0
    if not bool(valid.any()):
        return student_emb.sum() * 0.0
    per_anchor = hinge.sum(dim=1)[valid] / n_neg[valid]
    return weighted_mean(per_anchor, weights[valid] if weights is not None else None)


# ---------------------------------------------------------------------- DMD-style
def decouple_modalities(
    modal_embs: Mapping[str, torch.Tensor],
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Teacher modality vectors (in the fusion space) -> (shared = their mean, specific = residuals)."""
    if not modal_embs:
        raise ConfigError("DMD decoupling needs at least one teacher modality embedding")
    stacked = torch.stack([e.detach() for e in modal_embs.values()])  # [M, B, D]
    shared = stacked.mean(dim=0)
    return shared, {m: e.detach() - shared for m, e in modal_embs.items()}


def graph_edge_weights(
    modal_logits: Mapping[str, torch.Tensor], labels: torch.Tensor, tau: float = 0.5
) -> torch.Tensor:
    """``[B, M]`` edge weights teacher-modality -> student: ``softmax_m(conf_m / tau)``.

    ``conf_m`` = teacher modality ``m``'s probability of the true class, so a modality that knows
    the answer for this clip distils more (a fixed rule instead of DMD's learned edges, which with
    a frozen teacher would collapse onto the edge that is easiest to match).
    """
    conf = torch.stack(
        [F.softmax(z.detach(), dim=1).gather(1, labels[:, None])[:, 0] for z in modal_logits.values()], dim=1
    )
    return F.softmax(conf / tau, dim=1)


def dmd_loss(
    student_shared: torch.Tensor,
    student_specific: torch.Tensor,
    student_logits: torch.Tensor,
    teacher_modal_embs: Mapping[str, torch.Tensor],
    teacher_modal_logits: Mapping[str, torch.Tensor],
    labels: torch.Tensor,
    temperature: float = 2.0,
    tau: float = 0.5,
) -> torch.Tensor:
    """DMD-style decoupled distillation into a single-modality student (kept deliberately small).

    1. Decouple the teacher's modality vectors (same space: the fusion space) into a
       modality-*shared* part (their mean) and modality-*specific* residuals
       (:func:`decouple_modalities`).
    2. Homogeneous term: the student's shared projection regresses the shared part (MSE).
    3. Heterogeneous graph term: edges from each teacher modality to the student, weighted by
       :func:`graph_edge_weights` ``w[b, m]``; the student's specific projection regresses each
       modality's residual and the student logits match each modality's softened distribution:
       ``sum_m w[b, m] * (MSE(spec_s, spec_m) + T^2 KL(p_m^T || p_s^T))``.

    Returns ``shared + heterogeneous``, each a batch mean. Modalities must be the same keys in
    ``teacher_modal_embs`` and ``teacher_modal_logits``.
    """
    if set(teacher_modal_embs) != set(teacher_modal_logits):
        raise ConfigError("DMD: the teacher modality embeddings and logits name different modalities")
    shared, specific = decouple_modalities(teacher_modal_embs)
    names = list(teacher_modal_embs)
    w = graph_edge_weights({m: teacher_modal_logits[m] for m in names}, labels, tau)
    homo = ((student_shared - shared) ** 2).mean(dim=1).mean()
    log_ps = F.log_softmax(student_logits / temperature, dim=1)
    hetero = student_logits.new_zeros(student_logits.shape[0])
    for k, m in enumerate(names):
        spec_err = ((student_specific - specific[m]) ** 2).mean(dim=1)
        log_pm = F.log_softmax(teacher_modal_logits[m].detach() / temperature, dim=1)
        kl = (log_pm.exp() * (log_pm - log_ps)).sum(dim=1)
        hetero = hetero + w[:, k] * (spec_err + temperature**2 * kl)
    return homo + hetero.mean()


# ---------------------------------------------------------------------- regression
def ccc(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Concordance correlation per column of ``[B, K]``: ``2 cov / (var_p + var_t + (mu_p - mu_t)^2)``."""
    target = target.detach()
    mp, mt = pred.mean(dim=0), target.mean(dim=0)
    vp, vt = pred.var(dim=0, unbiased=False), target.var(dim=0, unbiased=False)
    cov = ((pred - mp) * (target - mt)).mean(dim=0)
    return 2 * cov / (vp + vt + (mp - mt) ** 2 + eps)


def ccc_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``1 - mean CCC`` over the columns (e.g. valence and arousal)."""
    return 1 - ccc(pred, target).mean()
