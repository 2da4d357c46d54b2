"""`nightshift retry`: nothing to re-run, a changed input; where dead letters go."""
import json

from conftest import (EXIT_CANNOT_START, EXIT_OK, Mlp, assert_not_crashed, read_dead_letters, read_parts, run,
                      status_json)
from test_small_files import make, write


def test_retry_without_dead_letters_writes_nothing(tmp_path):
    Mlp(tmp_path / "model.onnx", n_in=2, n_out=2)
    make(tmp_path, bad=set())
    write(tmp_path)
    rc, out, err = run("run", "job.yaml", cwd=tmp_path)
    assert_not_crashed(rc, err)
    assert rc == EXIT_OK, err
    before = sorted(p.name for p in (tmp_path / "out").iterdir())
    run_id = status_json("job.yaml", cwd=tmp_path)["run_id"]

    rc, out, err = run("retry", "job.yaml", cwd=tmp_path)
    assert_not_crashed(rc, err)
    assert rc == EXIT_OK, err
    assert f"nothing to retry: run {run_id} has no dead-lettered rows" in out + err, (out, err)
    # No part at all, not even an empty -r1 one.
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == before
    assert not [p for p in read_parts(tmp_path / "out", "parquet") if "-r" in p]
    st = status_json("job.yaml", cwd=tmp_path)
    assert st["state"] == "completed" and st["counts"]["failed"] == 0, st


def test_retry_refuses_an_input_that_changed_since_the_run(tmp_path):
    # A retry re-reads its dead letters by (file, row): on a rewritten file
    # those are other rows, which it must not write in their place.
    Mlp(tmp_path / "model.onnx", n_in=2, n_out=2)
    make(tmp_path)
    write(tmp_path)
    rc, out, err = run("run", "job.yaml", cwd=tmp_path)
    assert rc == EXIT_OK, err
    before = sorted(p.name for p in (tmp_path / "out").iterdir())
    f01 = tmp_path / "data" / "f01.csv"
    lines = f01.read_text().splitlines()
    f01.write_text("\n".join([lines[0]] + lines[:0:-1] + ["9999,0.5,0.5"]) + "\n")

    rc, out, err = run("retry", "job.yaml", cwd=tmp_path)
    assert_not_crashed(rc, err)
    assert rc == EXIT_CANNOT_START, (rc, out, err)
    assert "cannot retry run" in err and f"input file '{f01}' size" in err, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == before
    st = status_json("job.yaml", cwd=tmp_path)
    assert st["counts"]["failed"] == 2 and st["counts"]["succeeded"] == 34, st


def test_dead_letter_folder_expands_run_id(tmp_path):
    Mlp(tmp_path / "model.onnx", n_in=2, n_out=2)
    make(tmp_path)
    write(tmp_path)
    for run_id in ("r1", "r2"):
        rc, out, err = run("run", "job.yaml", "--run-id", run_id, "--set", f"output.path=out/{run_id}",
                           "--set", "errors.dead_letter=failed/{run_id}", cwd=tmp_path)
        assert rc == EXIT_OK, err
        assert sorted(p.name for p in (tmp_path / "failed" / run_id).iterdir()) == [
            "_nightshift_owner.json", "part-000000.jsonl"]
    assert sorted(p.name for p in (tmp_path / "failed").iterdir()) == ["r1", "r2"]


def test_dead_letter_files_count_attempts_across_retries_as_the_ledger_does(tmp_path):
    Mlp(tmp_path / "model.onnx", n_in=2, n_out=2)
    make(tmp_path)
    write(tmp_path)
    rc, out, err = run("run", "job.yaml", cwd=tmp_path)
    assert rc == EXIT_OK, err
    for attempts in (2, 3):
        rc, out, err = run("retry", "job.yaml", cwd=tmp_path)
        assert rc == EXIT_OK, (out, err)
        assert "0 now succeed, 2 still fail" in out, out
        letters = [d for _, d in read_dead_letters(tmp_path / "out" / "_failed")]
        assert [d["attempts"] for d in letters] == [attempts, attempts], letters
        rc, out, err = run("status", "job.yaml", "--json", "--failed", cwd=tmp_path)
        assert rc == EXIT_OK, err
        items = json.loads(out)["failed_items"]
        assert [i["attempts"] for i in items] == [attempts, attempts], items


def test_a_retry_killed_before_its_manifest_leaves_no_stale_success(tmp_path):
    """Killed after its last commit and before rewriting _SUCCESS, a retry left
    the old manifest (the fixed rows still failed, no retry parts) for ever: the
    next retry, with nothing left to retry, writes it again from the ledger."""
    from conftest import identity_onnx, write_job
    identity_onnx(tmp_path / "id.onnx", 1)
    data = tmp_path / "in.csv"
    data.write_text("id,v\n" + "".join(f"{i},{'' if i % 500 == 7 else i}\n" for i in range(3000)))
    job = write_job(tmp_path / "job.yaml", {
        "name": "rs", "input": {"path": "in.csv", "key": "id"},
        "model": {"path": "id.onnx", "inputs": [{"name": "features", "columns": ["v"]}],
                  "outputs": [{"name": "out", "columns": ["p"]}]},
        "output": {"path": "out", "keep": ["id"]}, "errors": {"max_failed_items": 100},
        "run": {"shard_rows": 1000}})
    assert run("run", job, cwd=tmp_path)[0] == EXIT_OK
    data.write_text("id,v\n" + "".join(f"{i},{1 if i % 500 == 7 else i}\n" for i in range(3000)))
    allow = ["--set", "run.allow_input_change=true"]
    rc, out, err = run("retry", job, *allow, cwd=tmp_path, env={"NIGHTSHIFT_CRASH_AT": "after_commit:3"})
    assert rc in (-9, 137), (rc, err)
    rc, out, err = run("retry", job, *allow, cwd=tmp_path)
    assert rc == EXIT_OK and "nothing to retry" in out + err, (rc, out, err)
    success = json.loads((tmp_path / "out" / "_SUCCESS").read_text())
    assert success["counts"] == {"failed": 0, "succeeded": 3000, "total": 3000}, success
    listed = sorted(p["path"] for p in success["files"])
    assert listed == sorted(p.name for p in (tmp_path / "out").glob("part-*.parquet")), listed
    assert sum("-r1" in p for p in listed) == 3, listed
    assert success["dead_letter_files"] == [], success


def test_retry_of_a_run_that_is_not_complete_is_exit_1_and_says_so(tmp_path):
    """The run failed past max_failed_items with shards never run: a retry of
    its dead letters exited 0, which orchestrators read as a complete run."""
    from conftest import identity_onnx, write_job
    identity_onnx(tmp_path / "id.onnx", 1)
    (tmp_path / "in.csv").write_text("id,v\n" + "".join(f"{i},{'' if i % 401 == 7 else i}\n" for i in range(3000)))
    job = write_job(tmp_path / "job.yaml", {
        "name": "nc", "input": {"path": "in.csv", "key": "id"},
        "model": {"path": "id.onnx", "inputs": [{"name": "features", "columns": ["v"]}],
                  "outputs": [{"name": "out", "columns": ["p"]}]},
        "output": {"path": "out", "keep": ["id"]}, "errors": {"max_failed_items": 3},
        "run": {"shard_rows": 100}})
    assert run("run", job, cwd=tmp_path)[0] == 1
    rc, out, err = run("retry", job, "--json", "--log-format", "json", cwd=tmp_path)
    assert rc == 1, (rc, out, err)
    lines = [json.loads(l) for l in err.splitlines() if l.strip()]  # every line is JSON
    failed = [l for l in lines if l["event"] == "retry_failed"]
    assert failed and "is still failed" in failed[0]["msg"] and "`nightshift run` finishes it" in failed[0]["msg"], lines
    assert json.loads(out)["state"] == "failed"
