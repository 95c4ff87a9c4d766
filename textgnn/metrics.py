"""Classification metrics, computed by scikit-learn from label names."""

from __future__ import annotations

from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, matthews_corrcoef


def summarize(metrics: dict) -> dict:
    """The scalar part of :func:`classification_metrics`."""
    return {k: metrics[k] for k in ("n", "accuracy", "macro_f1", "mcc")}


def classification_metrics(gold: list[str], pred: list[str], labels: list[str]) -> dict:
    """Accuracy, macro-F1 and Matthews correlation as fractions, plus the confusion matrix
    (rows = gold, columns = predicted, both in ``labels`` order)."""
    return {
        "n": len(gold),
        "accuracy": float(accuracy_score(gold, pred)),
        "macro_f1": float(f1_score(gold, pred, labels=labels, average="macro", zero_division=0)),
        "mcc": float(matthews_corrcoef(gold, pred)),
        "labels": list(labels),
        "confusion_matrix": confusion_matrix(gold, pred, labels=labels).tolist(),
    }
