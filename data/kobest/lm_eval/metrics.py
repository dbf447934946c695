"""Macro F1 for the local KoBEST tasks (lm-eval aggregation): sklearn's average="macro"."""


def macro_f1(items):
    from sklearn.metrics import f1_score

    golds = [g for g, _ in items]
    preds = [p for _, p in items]
    return f1_score(golds, preds, average="macro")
