"""examples/kubernetes/ checked against the Kubernetes API schema, and its job
file against nightshift itself.

No cluster runs here. The schema is the one Debian's python3-kubernetes
client is generated from (its model classes carry every field's JSON name and
type): each manifest is walked field by field, and a field the API does not
have, or a value of the wrong type, fails the test with its path. The job file
in the ConfigMap is then checked by `nightshift validate` on local data, and
the worker's command line by `nightshift run --help`'s flags."""
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import EXIT_OK, Mlp, run, sql, write_job

kubernetes = pytest.importorskip("kubernetes", reason="apt-get install python3-kubernetes")
models = kubernetes.client

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "kubernetes"
KINDS = {("v1", "ConfigMap"): "V1ConfigMap", ("v1", "Secret"): "V1Secret", ("batch/v1", "Job"): "V1Job"}
SCALARS = {"str": str, "int": int, "bool": bool, "float": (int, float), "object": object}


def check(value, type_name, path):
    """Problems of `value` against the client's type string `type_name`."""
    if type_name.startswith("list["):
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        inner = type_name[5:-1]
        return [p for i, v in enumerate(value) for p in check(v, inner, f"{path}[{i}]")]
    if type_name.startswith("dict("):
        inner = type_name[type_name.index(",") + 1:-1].strip()
        if not isinstance(value, dict):
            return [f"{path}: expected a mapping"]
        return [p for k, v in value.items() for p in check(v, inner, f"{path}.{k}")]
    if type_name in SCALARS:
        ok = isinstance(value, SCALARS[type_name]) and not (type_name == "int" and isinstance(value, bool))
        return [] if ok else [f"{path}: expected {type_name}, got {value!r}"]
    cls = getattr(models, type_name)
    if not isinstance(value, dict):
        return [f"{path}: expected a {type_name} mapping"]
    by_json = {j: py for py, j in cls.attribute_map.items()}
    problems = []
    for key, v in value.items():
        if key not in by_json:
            problems.append(f"{path}.{key}: not a field of {type_name}")
        else:
            problems += check(v, cls.openapi_types[by_json[key]], f"{path}.{key}")
    return problems


def manifests():
    for f in sorted(EXAMPLES.glob("*.yaml")):
        for doc in yaml.safe_load_all(f.read_text()):
            yield f.name, doc


def test_every_manifest_fits_the_kubernetes_schema():
    seen = set()
    for name, doc in manifests():
        kind = (doc.get("apiVersion"), doc.get("kind"))
        assert kind in KINDS, f"{name}: unexpected {kind}"
        seen.add(kind[1])
        problems = check(doc, KINDS[kind], name)
        assert not problems, "\n".join(problems)
    assert seen == {"ConfigMap", "Secret", "Job"}


def test_the_schema_check_catches_a_wrong_field():
    job = next(doc for _, doc in manifests() if doc["kind"] == "Job")
    job["spec"]["completionsMode"] = "Indexed"  # a typo
    job["spec"]["parallelism"] = "4"  # a string
    problems = check(job, "V1Job", "job")
    assert "job.spec.completionsMode: not a field of V1JobSpec" in problems
    assert any(p.startswith("job.spec.parallelism: expected int") for p in problems)


def test_the_job_is_an_indexed_job_of_workers_sharing_one_run():
    job = next(doc for _, doc in manifests() if doc["kind"] == "Job")
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    container = spec["template"]["spec"]["containers"][0]
    args = container["args"]
    assert args[:2] == ["run", "/etc/nightshift/job.yaml"]
    assert args[args.index("--workers") + 1] == str(spec["completions"])
    assert "--run-id" in args
    env = {e["name"] for e in container["env"]}
    assert {"RUN_ID", "PGPASSWORD"} <= env
    # Every flag the worker passes is one `nightshift run` has.
    rc, out, err = run("run", "--help")
    assert rc == EXIT_OK, err
    for flag in (a for a in args if a.startswith("--")):
        assert re.search(rf"{re.escape(flag)}\b", out), f"`nightshift run` has no {flag}"


def test_the_configmap_job_file_validates(tmp_path):
    cm = next(doc for _, doc in manifests() if doc["kind"] == "ConfigMap")
    text = cm["data"]["job.yaml"]
    job = yaml.safe_load(text)
    assert job["run"]["ledger"].startswith("postgresql://")
    for url in (job["run"]["ledger"], job["output"]["url"]):
        assert ":" not in url.split("@")[0].removeprefix("postgresql://"), \
            "no password in the URL: it comes from the Secret"
    # Stand-ins for the shared volume: /data/ becomes a local folder holding
    # Parquet input and a model with the job's columns; the rest of the file
    # is checked as it is. (validate checks the output and ledger URLs'
    # form, not the servers: it does not connect to PostgreSQL.)
    text = text.replace("/data/", f"{tmp_path}/data/")
    job = yaml.safe_load(text)
    features = job["model"]["inputs"][0]["columns"]
    data = tmp_path / "data" / "customers"
    (tmp_path / "data" / "model").mkdir(parents=True)
    data.mkdir()
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.standard_normal((200, len(features))).astype(np.float32), columns=features)
    frame.insert(0, job["input"]["key"], np.arange(200, dtype=np.int64))
    frame.to_csv(tmp_path / "customers.csv", index=False)
    sql(f"COPY (SELECT * FROM read_csv('{tmp_path}/customers.csv')) TO '{data}/part-0.parquet' (FORMAT parquet)")
    Mlp(Path(job["model"]["path"]), n_in=len(features), n_out=len(job["model"]["outputs"][0]["columns"]))
    job_path = write_job(tmp_path / "job.yaml", job)
    rc, out, err = run("validate", job_path)
    assert rc == EXIT_OK, err
    assert "job 'churn-nightly' is valid" in out, out
    assert f"feeds features float32[batch, {len(features)}] from [{', '.join(features)}]" in out, out
    assert "output:  (postgres) columns [customer_id, p_stay, p_churn]" in out, out
