"""Cross-validated head numbers as a person reads them: one text for ``train-head`` and the app's dialog."""

from __future__ import annotations


def format_head_report(metrics: dict, labels: tuple[str, ...]) -> str:
    """The cross-validated numbers as a person reads them."""
    lines = [metrics.get("protocol", ""), f"tracks: {metrics.get('n_tracks')}"]
    if "accuracy" in metrics:
        lo, hi = metrics["accuracy_ci"]
        lines.append(f"accuracy   {metrics['accuracy']:.3f}  (95% CI {lo:.3f}-{hi:.3f})")
        lo, hi = metrics["macro_f1_ci"]
        lines.append(f"macro-F1   {metrics['macro_f1']:.3f}  (95% CI {lo:.3f}-{hi:.3f})")
    else:
        for key in ("macro_roc_auc", "macro_pr_auc", "macro_f1"):
            if metrics.get(key) is not None:
                lines.append(f"{key:<14} {metrics[key]:.3f}")
        lines.extend(f"note: {note}" for note in metrics.get("notes", []))
    errors = metrics.get("calibration_error")
    if errors:  # how far a stated probability is from how often it is right, before and after calibration
        lines.append(f"calibration error (ECE) {errors['before']:.3f} -> {errors['after']:.3f} calibrated")
    per = metrics.get("per_class") or metrics.get("per_tag") or {}
    if per:
        lines.append(f"{'label':<24} {'precision':>9} {'recall':>7} {'f1':>6} {'tracks':>6}")
        for label in labels:
            row = {"precision": float("nan"), "recall": float("nan"), "f1": float("nan"), "support": 0}
            row.update(per.get(label, {}))
            numbers = f"{row['precision']:>9.3f} {row['recall']:>7.3f} {row['f1']:>6.3f} {row['support']:>6}"
            lines.append(f"{label:<24} {numbers}")
    return "\n".join(lines)
