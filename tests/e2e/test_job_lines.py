"""Errors found after the job file parsed still point at the line to fix:
`validate`, `run` and `status` prefix an exit-2 error about a job key with
"<file>:<line>:<col>" of that key (or "--set KEY" when an override set it)."""
from conftest import EXIT_CANNOT_START, Case, run


def lines_of(path):
    return path.read_text().splitlines()


def test_missing_input_names_the_input_path_line(tmp_path):
    case = Case(tmp_path, n=20)
    job = case.write_job(case.job("data/nothing-here.parquet"))
    want = next(i for i, l in enumerate(lines_of(job), 1) if "nothing-here" in l)
    for command in ("validate", "run", "status"):
        rc, _, err = run(command, job)
        assert rc == EXIT_CANNOT_START, (command, err)
        assert f"{job}:{want}:" in err and "input.path" in err, (command, err)


def test_missing_column_names_the_model_input_entry(tmp_path):
    case = Case(tmp_path, n=20)
    j = case.job(case.make_input("csv"))
    j["model"]["inputs"][0]["columns"][1] = "f_missing"
    job = case.write_job(j)
    want = next(i for i, l in enumerate(lines_of(job), 1) if "name: features" in l)
    rc, _, err = run("validate", job)
    assert rc == EXIT_CANNOT_START, err
    assert f"{job}:{want}:" in err and "f_missing" in err, err


def test_an_override_is_named_instead_of_a_line(tmp_path):
    case = Case(tmp_path, n=20)
    job = case.write_job(case.job(case.make_input("csv")))
    rc, _, err = run("validate", job, "--set", "model.path=gone.onnx")
    assert rc == EXIT_CANNOT_START, err
    assert f"{job}: --set model.path: model.path" in err, err


def test_an_error_about_no_key_gets_no_line(tmp_path):
    case = Case(tmp_path, n=20)
    job = case.write_job(case.job(case.make_input("csv"), run={"shard_rows": 5}))
    rc, _, err = run("status", job, "--limit", "3")
    assert rc == EXIT_CANNOT_START, err
    assert f"{job}:" not in err, err
