"""Classification and regression metrics of GLUE and RACE, in NumPy over a whole eval set.

Computed once over all predictions (not streamed per batch), so they do not depend on batch
size or on the number of replicas.
"""

import numpy as np


def accuracy(labels, predictions):
    return float(np.mean(np.asarray(labels) == np.asarray(predictions)))


def f1(labels, predictions, positive=1):
    """F1 of the positive class; 0 when there are no true positives."""
    labels, predictions = np.asarray(labels) == positive, np.asarray(predictions) == positive
    true_positives = np.sum(labels & predictions)
    if true_positives == 0:
        return 0.0
    precision = true_positives / np.sum(predictions)
    recall = true_positives / np.sum(labels)
    return float(2 * precision * recall / (precision + recall))


def matthews_corr(labels, predictions, positive=1):
    """(tp·tn − fp·fn) / sqrt((tp+fp)(tp+fn)(tn+fp)(tn+fn)), 0 when a margin is empty (as the
    original's tp/tn/fp/fn formula gives with sklearn's convention)."""
    labels, predictions = np.asarray(labels) == positive, np.asarray(predictions) == positive
    tp = float(np.sum(labels & predictions))
    tn = float(np.sum(~labels & ~predictions))
    fp = float(np.sum(~labels & predictions))
    fn = float(np.sum(labels & ~predictions))
    denominator = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return float((tp * tn - fp * fn) / denominator) if denominator else 0.0


def pearson(x, y):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    x, y = x - x.mean(), y - y.mean()
    denominator = np.sqrt(np.sum(x * x) * np.sum(y * y))
    return float(np.sum(x * y) / denominator) if denominator else 0.0


def _ranks(values):
    """Ranks from 1, ties given their average rank (as scipy.stats.rankdata)."""
    values = np.asarray(values)
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), np.float64)
    sorted_values = values[order]
    start = 0
    for end in range(1, len(values) + 1):
        if end == len(values) or sorted_values[end] != sorted_values[start]:
            ranks[order[start:end]] = (start + end + 1) / 2
            start = end
    return ranks


def spearman(x, y):
    return pearson(_ranks(x), _ranks(y))


def classification_metrics(labels, predictions):
    """accuracy, F1 and Matthews correlation (positive class 1) of integer class ids."""
    return {"eval_accuracy": accuracy(labels, predictions), "f1": f1(labels, predictions),
            "matthew_corr": matthews_corr(labels, predictions)}


def regression_metrics(labels, predictions):
    """Pearson and Spearman correlation, and the mean squared error under the original's key, `MSE`."""
    labels, predictions = np.asarray(labels, np.float64), np.asarray(predictions, np.float64)
    return {"pearson": pearson(labels, predictions), "spearman": spearman(labels, predictions),
            "MSE": float(np.mean((labels - predictions) ** 2))}
