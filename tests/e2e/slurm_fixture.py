"""A real one-node Slurm cluster for the scale-out tests (no mocks).

`slurm_cluster` (session scope) starts munged with a fresh key, then slurmctld
and slurmd from Debian's slurm-wlm on this host, each with its own state,
spool, log and pid files in a temp folder and ports of their own, so that
nothing of the machine's own configuration (or a Slurm already running) is
used or touched. The node declares 4 CPUs whatever the hardware has
(SlurmdParameters=config_overrides), so a 4-task array runs at once even on a
2-core machine. Jobs are submitted with `sbatch` under SLURM_CONF pointing at
this cluster. Nothing is skipped: a cluster that cannot start fails the test
with its logs.

Slurm runs its daemons as root here (SlurmUser=root), as the tests do in CI."""
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

CONF = """ClusterName=nstest
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/munge/sock
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
KillWait=5
NodeName={host} CPUs=4 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SlurmCluster:
    def __init__(self, root):
        self.root = Path(root)
        self.conf = self.root / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}

    def _logs(self):
        out = []
        for f in sorted((self.root / "log").glob("*.log")) + [self.root / "munge" / "log"]:
            if f.exists():
                out.append(f"--- {f.name}\n{f.read_text(errors='replace')[-2000:]}")
        return "\n".join(out)

    def _fail(self, what):
        pytest.fail(f"Slurm could not {what}\n{self._logs()}", pytrace=False)

    def start(self):
        for tool in ("munged", "slurmctld", "slurmd", "sbatch", "sinfo"):
            if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists():
                pytest.fail(f"{tool} is not installed: apt-get install slurm-wlm munge", pytrace=False)
        if os.geteuid() != 0:
            pytest.fail("the Slurm tests start slurmd, which must run as root", pytrace=False)
        for d in ("munge", "state", "spool", "log"):
            (self.root / d).mkdir(parents=True)
        os.chmod(self.root / "munge", 0o700)
        key = self.root / "munge" / "munge.key"
        key.write_bytes(os.urandom(128))
        os.chmod(key, 0o600)
        m = self.root / "munge"
        subprocess.run(["munged", "--force", f"--socket={m}/sock", f"--key-file={key}", f"--pid-file={m}/pid",
                        f"--log-file={m}/log", f"--seed-file={m}/seed"], check=False, timeout=30)
        host = socket.gethostname().split(".")[0]
        self.conf.write_text(CONF.format(host=host, root=self.root, ctld_port=_free_port(), d_port=_free_port()))
        for daemon in ("slurmctld", "slurmd"):
            r = subprocess.run([daemon, "-f", str(self.conf)], capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                self._fail(f"start {daemon}: {r.stderr}")
        self._wait_idle()

    def _wait_idle(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = subprocess.run(["sinfo", "-h", "-o", "%T"], env=self.env, capture_output=True, text=True)
            if r.returncode == 0 and r.stdout.strip() == "idle":
                return
            time.sleep(0.5)
        self._fail(f"bring its node up in {timeout} s")

    def sbatch(self, args, env=None, timeout=600):
        """Runs `sbatch --wait ARGS...` with `env` added to the environment
        (sbatch exports it to every task); returns the CompletedProcess."""
        return subprocess.run(["sbatch", "--wait", *args], env={**self.env, **(env or {})},
                              capture_output=True, text=True, timeout=timeout)

    def stop(self):
        for pidfile in ("slurmd.pid", "slurmctld.pid", "munge/pid"):
            p = self.root / pidfile
            try:
                os.kill(int(p.read_text().strip()), 15)
            except (OSError, ValueError):
                pass
        time.sleep(0.5)


@pytest.fixture(scope="session")
def slurm_cluster():
    root = tempfile.mkdtemp(prefix="ns-slurm-")
    os.chmod(root, 0o755)
    cluster = SlurmCluster(root)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
