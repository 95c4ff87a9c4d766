"""Classification metrics, computed by scikit-learn from label names, and the dev metrics
that can choose a run's kept epoch (``train.select``)."""

from __future__ import annotations


def study_metric(dataset: str) -> str:
    """The metric a study reports and picks cells by on ``dataset``: Matthews correlation for
    CoLA (GLUE's metric for it; a quarter of its sentences are unacceptable, so accuracy
    rewards the majority class), accuracy elsewhere."""
    return "mcc" if dataset == "cola" else "accuracy"


def summarize(metrics: dict) -> dict:
    """The scalar part of :func:`classification_metrics`."""
    return {k: metrics[k] for k in ("n", "accuracy", "macro_f1", "mcc")}


def classification_metrics(gold: list[str], pred: list[str], labels: list[str]) -> dict:
    """Accuracy, macro-F1 and Matthews correlation as fractions, plus the confusion matrix
    (rows = gold, columns = predicted, both in ``labels`` order)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, matthews_corrcoef

    return {
        "n": len(gold),
        "accuracy": float(accuracy_score(gold, pred)),
        "macro_f1": float(f1_score(gold, pred, labels=labels, average="macro", zero_division=0)),
        "mcc": float(matthews_corrcoef(gold, pred)),
        "labels": list(labels),
        "confusion_matrix": confusion_matrix(gold, pred, labels=labels).tolist(),
    }


def _mcc(gold, pred) -> float:
    from sklearn.metrics import matthews_corrcoef

    return float(matthews_corrcoef(gold, pred))


def _macro_f1(gold, pred) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(gold, pred, average="macro", zero_division=0))


# train.select: dev metrics that can choose the kept epoch and stop training, as functions
# of (gold, predicted) class ids; accuracy is computed by the training loop itself
SELECT = {"accuracy": None, "mcc": _mcc, "macro_f1": _macro_f1}
