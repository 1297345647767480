"""Classification metrics: accuracy, macro and weighted F1, per-class scores, confusion matrix.

Computed with numpy (no scikit-learn import on the training path); the tests check them
against scikit-learn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def classification_metrics(truth: Sequence[int], predicted: Sequence[int], labels: Sequence[str]) -> dict[str, Any]:
    """Metrics of integer predictions against integer truth; classes are ``range(len(labels))``."""
    import numpy as np

    y = np.asarray(truth, dtype=int)
    p = np.asarray(predicted, dtype=int)
    k = len(labels)
    # Rows are the true class, columns the predicted class (scikit-learn's convention).
    matrix = np.zeros((k, k), dtype=int)
    np.add.at(matrix, (y, p), 1)
    true_positive = np.diag(matrix).astype(float)
    support = matrix.sum(axis=1).astype(float)
    predicted_count = matrix.sum(axis=0).astype(float)
    precision = np.divide(true_positive, predicted_count, out=np.zeros(k), where=predicted_count > 0)
    recall = np.divide(true_positive, support, out=np.zeros(k), where=support > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros(k), where=denominator > 0)
    total = support.sum()
    return {
        "n": int(total),
        "accuracy": float(true_positive.sum() / total) if total else 0.0,
        "macro_f1": float(f1.mean()) if k else 0.0,
        "weighted_f1": float((f1 * support).sum() / total) if total else 0.0,
        "per_class": {
            label: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, label in enumerate(labels)
        },
        "labels": list(labels),
        "confusion_matrix": matrix.tolist(),
    }
