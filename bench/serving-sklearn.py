"""bench:serving's MLflow side: trains the scikit-learn pipelines that match our candidates and saves
each with mlflow.sklearn.save_model, for `mlflow models serve`.

  python serving_sklearn.py <work dir>

Reads <work dir>/spec.json: {"d": 218, "sets": {"<set>": {"rows": n}}, "models": [{"name", "kind",
"params", "set"}]} and each set's rows from <work dir>/<set>.f64 (n x d little-endian float64, row-major)
with labels in <work dir>/<set>.labels.json. Writes <work dir>/mlflow/<name>/ per model and prints one
JSON line per model with its training time.
"""
import json
import sys
import time
import warnings
from pathlib import Path

import mlflow.sklearn
import numpy as np
from mlflow.models import infer_signature
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC


def estimator(kind, p):
    # The same hyper-parameters as the TypeScript candidates (src/model/train.ts); what differs is said
    # in docs/performance.md.
    if kind == "knn":
        return KNeighborsClassifier(n_neighbors=p["k"]), "predict_proba"
    if kind == "logistic-regression":
        return LogisticRegression(max_iter=p.get("steps", 400)), "predict_proba"
    if kind == "svm":
        # One-hot on the predicted class, like ours without `probability`: so `predict`.
        # `probability` only when asked: scikit-learn 1.9 warns that the parameter is deprecated.
        extra = {"probability": True} if p.get("probability") else {}
        svc = SVC(kernel=p["kernel"], C=p["cost"], gamma=p.get("gamma", "scale"), **extra)
        return svc, "predict_proba" if extra else "predict"
    if kind == "random-forest":
        forest = RandomForestClassifier(
            n_estimators=p["trees"], max_features=p["maxFeatures"], max_depth=p["maxDepth"], random_state=p["seed"]
        )
        return forest, "predict_proba"
    raise SystemExit(f"unknown kind {kind}")


def main():
    # Logistic regression gets the TypeScript side's step budget (100 on the small set) and may stop short.
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    work = Path(sys.argv[1])
    spec = json.loads((work / "spec.json").read_text())
    d = spec["d"]
    sets = {}
    for name, s in spec["sets"].items():
        x = np.fromfile(work / f"{name}.f64", dtype="<f8").reshape(s["rows"], d)
        y = np.array(json.loads((work / f"{name}.labels.json").read_text()))
        sets[name] = (x, y)
    for m in spec["models"]:
        x, y = sets[m["set"]]
        est, fn = estimator(m["kind"], m["params"])
        pipe = make_pipeline(StandardScaler(), est)
        t0 = time.perf_counter()
        pipe.fit(x, y)
        seconds = time.perf_counter() - t0
        out = work / "mlflow" / m["name"]
        signature = infer_signature(x[:5], getattr(pipe, fn)(x[:5]))
        mlflow.sklearn.save_model(pipe, str(out), signature=signature, pyfunc_predict_fn=fn)
        print(json.dumps({"name": m["name"], "train_s": round(seconds, 3), "path": str(out), "predict_fn": fn}), flush=True)


if __name__ == "__main__":
    main()
