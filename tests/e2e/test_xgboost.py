"""The XGBoost backend end to end, on real data no one here wrote.

The data is IBM's telco customer churn set as Debian's r-cran-modeldata ships
it (`wa_churn`, 7,043 customers), exported with Rscript. python3-xgboost
trains the models on it; the real nightshift binary scores every customer from
CSV and from Parquet, and every prediction must equal python-xgboost's
(`Booster.inplace_predict`, the same C entry point the backend calls) bit for
bit on the same float32 features.

Missing values: `total_charges` is NA for the 11 customers with tenure 0. A
null in a feature column would be a bad row to nightshift (a dead letter), not
a missing value, so the generator writes those cells as `nan`: DuckDB reads
them as NaN, nightshift passes NaN through to XGBoost, and XGBoost treats NaN
as missing, exactly as python-xgboost does. Those 11 rows must therefore be
scored (not dead-lettered) and match python.

Needs Debian's Rscript + r-cran-modeldata and python3-xgboost, numpy, yaml,
pytest (run with /usr/bin/python3). The tests fail, rather than skip, when one
is missing: the project depends on them.
"""
import csv
import io
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from conftest import EXIT_CANNOT_START, EXIT_OK, assert_not_crashed, read_success, run, sql, write_job

# Features: numeric columns, 0/1 columns as they are, and 0/1 encodings of a
# few categorical ones.
NUMERIC = ["tenure", "monthly_charges", "total_charges"]
BINARY = ["female", "senior_citizen", "partner", "dependents", "phone_service", "paperless_billing"]
ENCODED = {  # new column: (source column, value that means 1)
    "contract_monthly": ("contract", "Month-to-month"),
    "fiber_optic": ("internet_service", "Fiber optic"),
    "no_internet": ("internet_service", "No"),
    "electronic_check": ("payment_method", "Electronic check"),
    "online_security": ("online_security", "Yes"),
    "tech_support": ("tech_support", "Yes"),
    "streaming_tv": ("streaming_tv", "Yes"),
}
CHURN_FEATURES = NUMERIC + BINARY + list(ENCODED)
# The multi-class model predicts the contract type from the rest.
CONTRACTS = ["Month-to-month", "One year", "Two year"]
CONTRACT_FEATURES = [c for c in CHURN_FEATURES if c != "contract_monthly"]
ROWS = 7043


def export_wa_churn(path):
    rscript = shutil.which("Rscript")
    assert rscript, "Rscript not found: install r-base-core and r-cran-modeldata"
    code = f'library(modeldata); data(wa_churn); write.csv(wa_churn, "{path}", row.names=FALSE)'
    p = subprocess.run([rscript, "-e", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"Rscript failed ({p.returncode}): {p.stderr}"


class Churn:
    """wa_churn as a feature table keyed by customer_id (the row number)."""

    def __init__(self, root):
        self.root = Path(root)
        raw = self.root / "wa_churn_raw.csv"
        export_wa_churn(raw)
        with open(raw, newline="", encoding="utf-8") as f:
            records = list(csv.DictReader(f))
        assert len(records) == ROWS, f"wa_churn has {len(records)} rows, expected {ROWS}"

        def value(rec, col):
            if col in ENCODED:
                src, one = ENCODED[col]
                return 1.0 if rec[src] == one else 0.0
            text = rec[col]
            return math.nan if text == "NA" else float(text)

        # float64 from the text, as DuckDB parses it; nightshift then casts to
        # float32, and so does python below.
        self.x64 = np.array([[value(r, c) for c in CHURN_FEATURES] for r in records], dtype=np.float64)
        self.ids = np.arange(ROWS, dtype=np.int64) * 7 + 1000  # key != position
        self.churn = np.array([r["churn"] == "Yes" for r in records], dtype=np.float32)
        self.contract = np.array([CONTRACTS.index(r["contract"]) for r in records], dtype=np.float32)
        self.nan_rows = np.nonzero(np.isnan(self.x64).any(axis=1))[0]
        assert len(self.nan_rows) == 11, f"expected 11 rows with NA total_charges, got {len(self.nan_rows)}"

        # The input, as CSV (NA written as nan) and as Parquet.
        self.csv = self.root / "churn.csv"
        with open(self.csv, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["customer_id", "churn_label", *CHURN_FEATURES])
            for i, r in enumerate(records):
                w.writerow([int(self.ids[i]), r["churn"], *(repr(float(v)) for v in self.x64[i])])
        types = {"customer_id": "BIGINT", "churn_label": "VARCHAR", **{c: "DOUBLE" for c in CHURN_FEATURES}}
        self.csv_types = "{" + ", ".join(f"'{k}': '{v}'" for k, v in types.items()) + "}"
        self.parquet = self.root / "churn.parquet"
        sql(f"COPY (SELECT * FROM read_csv('{self.csv}', header=true, types={self.csv_types})) "
            f"TO '{self.parquet}' (FORMAT parquet)")

    def features(self, cols):
        return np.ascontiguousarray(self.x64[:, [CHURN_FEATURES.index(c) for c in cols]].astype(np.float32))


def train(x, y, params, rounds, path_stem):
    """Trains on every other row; saves .json and .ubj; returns the booster."""
    dtrain = xgb.DMatrix(x[::2], label=y[::2], missing=np.nan)
    booster = xgb.train({"max_depth": 5, "eta": 0.1, "seed": 3, "nthread": 2, "tree_method": "hist", **params},
                        dtrain, rounds)
    booster.save_model(f"{path_stem}.json")
    booster.save_model(f"{path_stem}.ubj")
    return booster


@pytest.fixture(scope="module")
def churn(tmp_path_factory):
    return Churn(tmp_path_factory.mktemp("wa_churn"))


def make_job(root, data, model, features, outputs, out_path="out", **extra):
    job = {
        "name": "xgb-churn",
        "input": {"path": str(data), "key": "customer_id"},
        "model": {
            "backend": "xgboost",
            "path": str(model),
            "threads": 2,
            "inputs": [{"name": "features", "columns": list(features), "dtype": "float32"}],
            "outputs": outputs,
        },
        "batch": {"size": 500},
        "output": {"path": out_path, "format": "parquet", "keep": ["customer_id"]},
        "run": {"shard_rows": 2000},
    }
    job.update(extra)
    return write_job(Path(root) / "job.yaml", job)


def run_ok(job):
    rc, out, err = run("run", job, timeout=300)
    assert_not_crashed(rc, err)
    assert rc == EXIT_OK, f"run exited {rc}\nstdout:\n{out}\nstderr:\n{err}"


def read_output(outdir, cols):
    """{customer_id: [values of cols]} read back with `nightshift sql` (CSV on stdout).

    The FLOAT columns are cast to DOUBLE so the text is the float32 value exactly."""
    select = ", ".join(f"CAST({c} AS DOUBLE) AS {c}" for c in cols)
    text = sql(f"SELECT customer_id, {select} FROM read_parquet('{outdir}/*.parquet') ORDER BY customer_id")
    rows = list(csv.DictReader(io.StringIO(text)))
    got = {}
    for r in rows:
        key = int(r["customer_id"])
        assert key not in got, f"customer {key} written twice"
        got[key] = [float(r[c]) for c in cols]
    return got


def assert_matches(churn, got, expected, cols, what):
    """Every customer once, every value equal to python's float32 bit for bit."""
    assert len(got) == ROWS, f"{what}: {len(got)} output rows, expected {ROWS}"
    assert set(got) == {int(k) for k in churn.ids}, f"{what}: output keys differ from the input's"
    expected = np.asarray(expected, dtype=np.float32).reshape(ROWS, len(cols))
    values = np.array([got[int(k)] for k in churn.ids], dtype=np.float64)
    as_f32 = values.astype(np.float32)
    assert np.array_equal(as_f32.astype(np.float64), values), f"{what}: output values that are not float32"
    diff = np.nonzero((as_f32 != expected).any(axis=1))[0]
    if len(diff):
        i = int(diff[0])
        raise AssertionError(f"{what}: {len(diff)} rows differ from python-xgboost, e.g. customer {churn.ids[i]} "
                             f"(row {i}): {as_f32[i]} vs {expected[i]} (features {churn.x64[i]})")


@pytest.mark.parametrize("fmt,model_ext", [("parquet", "json"), ("csv", "ubj")])
def test_binary_churn_matches_python(churn, tmp_path, fmt, model_ext):
    x = churn.features(CHURN_FEATURES)
    booster = train(x, churn.churn, {"objective": "binary:logistic"}, 60, tmp_path / "churn")
    expected = booster.inplace_predict(x, missing=np.nan)
    # Sanity: the model learned something, and the NaN rows are real predictions.
    assert 0.2 < float(np.mean(expected)) < 0.35 and np.all(np.isfinite(expected))

    data = churn.parquet if fmt == "parquet" else churn.csv
    job = make_job(tmp_path, data, tmp_path / f"churn.{model_ext}", CHURN_FEATURES,
                   [{"name": "prediction", "columns": ["p_churn"]}])
    rc, out, err = run("validate", job)
    assert rc == EXIT_OK, f"validate exited {rc}: {out}{err}"
    run_ok(job)

    outdir = tmp_path / "out"
    succ = read_success(outdir)
    assert succ["counts"] == {"total": ROWS, "succeeded": ROWS, "failed": 0}, succ["counts"]
    got = read_output(outdir, ["p_churn"])
    assert_matches(churn, got, expected, ["p_churn"], f"binary model ({fmt} input, .{model_ext} model)")
    # The customers with a missing total_charges were scored as XGBoost scores missing values.
    for i in churn.nan_rows:
        assert got[int(churn.ids[i])][0] == float(expected[i])


def test_multiclass_one_column_per_class(churn, tmp_path):
    x = churn.features(CONTRACT_FEATURES)
    booster = train(x, churn.contract, {"objective": "multi:softprob", "num_class": 3}, 40, tmp_path / "contract")
    expected = booster.inplace_predict(x, missing=np.nan)
    margin = booster.inplace_predict(x, predict_type="margin", missing=np.nan)
    assert expected.shape == (ROWS, 3) and margin.shape == (ROWS, 3)
    assert np.allclose(expected.sum(axis=1), 1.0, atol=1e-5)

    p_cols = ["p_monthly", "p_one_year", "p_two_year"]
    m_cols = ["m_monthly", "m_one_year", "m_two_year"]
    job = make_job(tmp_path, churn.parquet, tmp_path / "contract.json", CONTRACT_FEATURES,
                   [{"name": "prediction", "columns": p_cols}, {"name": "margin", "columns": m_cols}])
    run_ok(job)
    got = read_output(tmp_path / "out", p_cols + m_cols)
    assert_matches(churn, {k: v[:3] for k, v in got.items()}, expected, p_cols, "multi-class probabilities")
    assert_matches(churn, {k: v[3:] for k, v in got.items()}, margin, m_cols, "multi-class margins")
    # Columns in the order the job lists them.
    header = sql(f"SELECT * FROM read_parquet('{tmp_path / 'out'}/*.parquet') LIMIT 0").strip()
    assert header.split(",") == ["customer_id", *p_cols, *m_cols], header


def test_feature_count_mismatch_exits_2(churn, tmp_path):
    x = churn.features(CHURN_FEATURES)
    train(x, churn.churn, {"objective": "binary:logistic"}, 5, tmp_path / "churn")
    n = len(CHURN_FEATURES)
    # The job feeds one column fewer than the model was trained on.
    job = make_job(tmp_path, churn.parquet, tmp_path / "churn.json", CHURN_FEATURES[:-1],
                   [{"name": "prediction", "columns": ["p_churn"]}])
    for command in ("run", "validate"):
        rc, out, err = run(command, job)
        assert_not_crashed(rc, err)
        assert rc == EXIT_CANNOT_START, f"{command} exited {rc}, expected {EXIT_CANNOT_START}\n{out}{err}"
        msg = out + err
        assert str(n) in msg and str(n - 1) in msg, f"{command}: the message names not both counts ({n}, {n - 1}):\n{msg}"
        assert "features" in msg, msg
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").glob("part-*")), "wrote output"


def test_wrong_output_name_and_width_exit_2(churn, tmp_path):
    x = churn.features(CONTRACT_FEATURES)
    train(x, churn.contract, {"objective": "multi:softprob", "num_class": 3}, 3, tmp_path / "contract")
    # Two columns for a 3-class prediction.
    job = make_job(tmp_path, churn.parquet, tmp_path / "contract.json", CONTRACT_FEATURES,
                   [{"name": "prediction", "columns": ["a", "b"]}])
    rc, out, err = run("run", job)
    assert_not_crashed(rc, err)
    assert rc == EXIT_CANNOT_START, f"exited {rc}\n{out}{err}"
    assert "3" in out + err and "prediction" in out + err, out + err
    # An output XGBoost models do not have.
    job = make_job(tmp_path, churn.parquet, tmp_path / "contract.json", CONTRACT_FEATURES,
                   [{"name": "probabilities", "columns": ["a", "b", "c"]}])
    rc, out, err = run("run", job)
    assert_not_crashed(rc, err)
    assert rc == EXIT_CANNOT_START, f"exited {rc}\n{out}{err}"
    assert "probabilities" in out + err and "prediction" in out + err, out + err
