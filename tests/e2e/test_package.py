"""The installable nightshift: `cmake --install` and the Debian package.

Builds the .deb with CPack from the build tree the binary under test comes
from, unpacks it into a temporary root with `dpkg -x` (what `apt install`
would put under /), and runs the unpacked binary from an unrelated folder with
a scrubbed environment: `--version`, and a small job end to end.
"""
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, Case, not_under_sanitizers, read_parts

BUILD = BIN.resolve().parents[2]  # <build>/tools/nightshift/nightshift


def _clean_env(home):
    # Nothing from the build: no LD_LIBRARY_PATH, no backend dir override.
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}


def _needed(elf):
    out = subprocess.run(["readelf", "-d", str(elf)], capture_output=True, text=True, check=True).stdout
    needed = [line.split("[")[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line]
    runpath = [line.split("[")[1].rstrip("]") for line in out.splitlines() if "RUNPATH" in line or "RPATH" in line]
    return needed, runpath


def _deb_field(deb, field):
    return subprocess.run(["dpkg-deb", "-f", str(deb), field], capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.fixture(scope="module")
def debs(tmp_path_factory):
    out = tmp_path_factory.mktemp("debs")
    subprocess.run(["cpack", "-G", "DEB", "-B", str(out), "--config", str(BUILD / "CPackConfig.cmake")],
                   cwd=BUILD, check=True, capture_output=True, timeout=600)
    return out


def test_make_package_gives_the_named_debs_with_relocatable_contents(debs):
    main = debs / "nightshift_0.1.0_amd64.deb"
    assert main.is_file(), sorted(p.name for p in debs.iterdir())
    listing = subprocess.run(["dpkg-deb", "-c", str(main)], capture_output=True, text=True, check=True).stdout
    for path in ["./usr/bin/nightshift", "./usr/lib/nightshift/libonnxruntime.so.1",
                 "./usr/lib/nightshift/libduckdb.so"]:
        assert path in listing, listing
    # Backend modules are packages of their own, so an ONNX-only install never pulls libtorch.
    assert "libnightshift_torchscript" not in listing
    for module in BIN.parent.glob("libnightshift_*.so"):
        backend = module.name[len("libnightshift_"):-len(".so")]
        assert (debs / f"nightshift-{backend}_0.1.0_amd64.deb").is_file()


@not_under_sanitizers
def test_every_library_the_binary_needs_is_bundled_or_a_declared_dependency(debs, tmp_path):
    root = tmp_path / "root"
    subprocess.run(["dpkg", "-x", str(debs / "nightshift_0.1.0_amd64.deb"), str(root)], check=True)
    depends = _deb_field(debs / "nightshift_0.1.0_amd64.deb", "Depends")
    declared = {d.strip().split()[0] for d in depends.split(",")}
    binary = root / "usr/bin/nightshift"
    needed, runpath = _needed(binary)
    assert runpath == ["$ORIGIN/../lib/nightshift"], runpath
    bundled = {p.name for p in (root / "usr/lib/nightshift").iterdir()}
    for lib in needed:
        if lib in bundled or lib.startswith("ld-linux"):
            continue
        owner = subprocess.run(["dpkg", "-S", f"*/{lib}"], capture_output=True, text=True)
        assert owner.returncode == 0, f"{lib}: no package provides it"
        packages = {line.split(":")[0] for line in owner.stdout.splitlines()}
        # libc6-i386 and friends also ship some names: the amd64 owner must be declared.
        assert packages & declared, f"{lib} comes from {packages}, none of which is in Depends: {depends}"


def test_the_unpacked_package_runs_a_job_from_any_folder(debs, tmp_path):
    root = tmp_path / "root"
    for deb in debs.glob("*.deb"):
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    binary = root / "usr/bin/nightshift"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = _clean_env(tmp_path / "home")

    version = subprocess.run([str(binary), "--version"], cwd=elsewhere, env=env, capture_output=True,
                             text=True, timeout=120)
    assert version.returncode == 0, version.stderr
    lines = version.stdout.splitlines()
    assert lines[0] == "nightshift 0.1.0"
    assert lines[1].startswith("DuckDB v")
    assert any(l.startswith("backend onnx: ONNX Runtime 1.") for l in lines), lines
    for module in BIN.parent.glob("libnightshift_*.so"):
        backend = module.name[len("libnightshift_"):-len(".so")]
        if backend == "sentencepiece":  # a tokenizer module, not a backend: shipped, not listed
            assert (root / "usr/lib/nightshift" / module.name).exists()
            continue
        # The module was found in lib/nightshift/ beside bin/ and reports its runtime.
        line = next(l for l in lines if l.startswith(f"backend {backend}:"))
        assert "not available" not in line, line

    case = Case(tmp_path / "job", n=500, seed=3)
    job = case.write_job(case.job(case.make_input("parquet"), shard_rows=200))
    p = subprocess.run([str(binary), "run", str(job)], cwd=elsewhere, env=env, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    parts = read_parts(case.root / "out", "parquet")
    ids = sorted(r["id"] for rows in parts.values() for r in rows)
    assert ids == sorted(int(k) for k in case.ids)
