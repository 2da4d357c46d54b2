#!/usr/bin/python3
"""Trains the XGBoost models the xgboost backend's unit tests load.

Usage: make_xgb_models.py OUTDIR

Writes into OUTDIR, for each model NAME in binary (binary:logistic),
multi (multi:softprob, 3 classes), softmax (multi:softmax, 3 classes) and
regression (reg:squarederror):
  NAME.json, NAME.ubj          the model in XGBoost's JSON and UBJSON formats
  NAME_prediction.bin          python3-xgboost's predictions (type 0: value or
                               probability) for input.bin, float32, row-major
  NAME_margin.bin              the same for type 1 (raw margin)
and
  input.bin                    float32[ROWS, FEATURES], row-major: seeded
                               random rows, some cells NaN (missing), some rows
                               entirely NaN
  manifest.json                {"rows", "features", "models": {NAME: {"prediction": K, "margin": K}}}

The training data has missing values too, so the trees learn default
directions and NaN predictions differ from those for 0.

Predictions come from Booster.inplace_predict (the same C entry point,
XGBoosterPredictFromDense, that the backend calls, with missing=NaN), and are
checked against the DMatrix path here so a disagreement inside XGBoost itself
shows up as a failure of this script, not of the backend.

Needs Debian's python3-xgboost and python3-numpy (run with /usr/bin/python3).
"""
import json
import sys
from pathlib import Path

import numpy as np
import xgboost as xgb

FEATURES = 6
TRAIN_ROWS = 3000
ROWS = 257  # not a multiple of anything XGBoost blocks by
SEED = 20240611


def make_data(rng, n):
    scales = np.array([1.0, 10.0, 0.01, 1000.0, 1.0, 3.0], dtype=np.float32)
    x = (rng.standard_normal((n, FEATURES)) * scales).astype(np.float32)
    x[rng.random((n, FEATURES)) < 0.1] = np.nan
    return x


def targets(x, rng):
    z = np.nan_to_num(x, nan=-1.5)  # missing means something: the trees learn a direction for it
    score = z[:, 0] + 0.1 * z[:, 1] - 50.0 * z[:, 2] + 0.001 * z[:, 3] + np.sin(z[:, 4]) + 0.2 * z[:, 5] * z[:, 0]
    score = score + 0.3 * rng.standard_normal(len(z))
    return score.astype(np.float32)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)

    x_train = make_data(rng, TRAIN_ROWS)
    score = targets(x_train, rng)
    y_binary = (score > np.median(score)).astype(np.float32)
    y_multi = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3])).astype(np.float32)

    x = make_data(rng, ROWS)
    x[5] = np.nan  # rows with every feature missing
    x[100] = np.nan
    x[7] = 0.0  # a row of zeros, for contrast with the NaN rows
    x.tofile(out / "input.bin")

    common = {"max_depth": 4, "eta": 0.3, "seed": 1, "nthread": 1, "tree_method": "hist"}
    specs = {
        "binary": ({"objective": "binary:logistic"}, y_binary, 20),
        "multi": ({"objective": "multi:softprob", "num_class": 3}, y_multi, 15),
        "softmax": ({"objective": "multi:softmax", "num_class": 3}, y_multi, 15),
        "regression": ({"objective": "reg:squarederror"}, score, 25),
    }
    manifest = {"rows": ROWS, "features": FEATURES, "models": {}}
    for name, (params, y, rounds) in specs.items():
        booster = xgb.train({**common, **params}, xgb.DMatrix(x_train, label=y, missing=np.nan), rounds)
        booster.save_model(str(out / f"{name}.json"))
        booster.save_model(str(out / f"{name}.ubj"))
        widths = {}
        for kind in ("prediction", "margin"):
            predict_type = "value" if kind == "prediction" else "margin"
            got = np.asarray(booster.inplace_predict(x, predict_type=predict_type, missing=np.nan),
                             dtype=np.float32)
            via_dmatrix = booster.predict(xgb.DMatrix(x, missing=np.nan), output_margin=(kind == "margin"))
            np.testing.assert_allclose(got, via_dmatrix, rtol=0, atol=1e-6,
                                       err_msg=f"{name} {kind}: inplace_predict vs DMatrix predict")
            # The reloaded files predict the same (what the backend loads).
            for ext in ("json", "ubj"):
                reloaded = xgb.Booster(model_file=str(out / f"{name}.{ext}"))
                again = reloaded.inplace_predict(x, predict_type=predict_type, missing=np.nan)
                assert np.array_equal(np.asarray(again, dtype=np.float32), got, equal_nan=True), (name, ext, kind)
            got = got.reshape(ROWS, -1)
            widths[kind] = got.shape[1]
            np.ascontiguousarray(got).tofile(out / f"{name}_{kind}.bin")
        manifest["models"][name] = widths
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
