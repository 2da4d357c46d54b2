"""`nightshift retry` when there is nothing to re-run."""
from conftest import EXIT_OK, Mlp, assert_not_crashed, read_parts, run, status_json
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
