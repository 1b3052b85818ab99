"""A real single-node SLURM cluster for the tests, with accounting (slurmdbd + a private mariadbd).

``LocalSlurm`` starts munged, mariadbd, slurmdbd, slurmctld and slurmd from Debian 12's packages
(Slurm 22.05) in a private run folder under /tmp, on a free block of four TCP ports, and stops
them again; see /work/shared/reference/CLUSTER.md for the recipe it follows. Nothing outside the
run folder is configured: client commands find the cluster through ``SLURM_CONF`` (``env``, or
``activate()`` for submitit in-process).

    with LocalSlurm() as cluster, cluster.activate():
        executor = submitit.AutoExecutor(folder=..., cluster="slurm")
        executor.update_parameters(slurm_partition=cluster.partition, timeout_min=5)

The packages are installed with apt-get when they are missing and we are root; without root
``SlurmUnavailable`` is raised (the tests skip with its message: the daemons run as root). A failed installation as root,
or daemons that do not come up, raise ``RuntimeError`` with the daemons' log tails.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

from apt_packages import apt_install  # tests/ is on the path (conftest.py's folder)

PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge", "slurmdbd", "mariadb-server")
# programs the cluster needs, all from PACKAGES
PROGRAMS = ("munged", "mariadbd", "mariadb-install-db", "mariadb", "slurmdbd", "slurmctld",
            "slurmd", "sbatch", "squeue", "sinfo", "sacct", "sacctmgr", "scancel", "srun")
_SBIN = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
_STORAGE_USER = "slurm"
_STORAGE_PASS = "emobench-ci"
_STORAGE_DB = "slurm_acct_db"
# small and fast: a 16 MB redo log instead of 96 MB, no durability needed
_MARIADB_OPTIONS = ("--innodb-log-file-size=16M", "--innodb-buffer-pool-size=32M",
                    "--innodb-flush-log-at-trx-commit=0", "--skip-innodb-doublewrite")
_MARKER = "EMOBENCH_LOCAL_SLURM"  # set in the daemons' environment: finds their leftovers


class SlurmUnavailable(RuntimeError):
    """SLURM is not installed and cannot be installed here (not root): tests skip."""


def which(program: str) -> str | None:
    """``shutil.which`` that also looks in the sbin folders (daemons live in /usr/sbin)."""
    path = os.pathsep.join([os.environ.get("PATH", "")] + list(_SBIN))
    return shutil.which(program, path=path)


def missing_programs() -> list[str]:
    return [p for p in PROGRAMS if which(p) is None]


def ensure_installed() -> None:
    """Install the Debian packages when a program is missing; ``SlurmUnavailable`` without root
    (the daemons run as root: SlurmUser=root, slurmd launches the jobs)."""
    missing = missing_programs()
    if os.geteuid() != 0:
        if missing:
            raise SlurmUnavailable(
                f"SLURM is not installed (missing {', '.join(missing)}) and cannot be installed "
                f"without root: as root the tests install it themselves "
                f"(apt-get install {' '.join(PACKAGES)}) and start a private cluster")
        raise SlurmUnavailable("the local SLURM cluster needs root (its slurmd, slurmctld, "
                               "slurmdbd and munged run as root): run the tests as root")
    if not missing:
        return
    apt = which("apt-get")
    if apt is None:
        raise RuntimeError(f"SLURM is missing ({', '.join(missing)}) and there is no apt-get "
                           f"to install {' '.join(PACKAGES)}")
    try:
        done = apt_install(PACKAGES, apt)
    except RuntimeError as e:
        raise RuntimeError(f"installing SLURM as root failed (missing {', '.join(missing)}): "
                           f"{e}") from None
    missing = missing_programs()
    if missing:
        raise RuntimeError(f"installing SLURM as root left {', '.join(missing)} missing: "
                           f"{' '.join(done.args)}\n{(done.stdout + done.stderr)[-3000:]}")


def _port_free(port: int) -> bool:
    for host in ("0.0.0.0", "127.0.0.1"):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                return False
    return True


def reserve_ports(start: int = 16817, count: int = 4, tries: int = 200, step: int = 10
                  ) -> tuple[int, int]:
    """The first base port ``start + k*step`` whose ``count`` ports are free and whose lock
    file /tmp/emobench-slurm-port-<base>.lock this process could flock: two clusters started
    at once (two test sessions) never pick the same ports. Returns (base, lock fd); the lock
    lasts until the fd is closed or the process ends."""
    for k in range(tries):
        base = start + k * step
        fd = os.open(f"/tmp/emobench-slurm-port-{base}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        if all(_port_free(base + i) for i in range(count)):
            return base, fd
        os.close(fd)
    raise RuntimeError(f"no {count} free TCP ports from {start} upwards")


def _memory_mb() -> int:
    """Node memory for slurm.conf: ``free -m``'s total, less 1% so slurmd never finds less."""
    out = subprocess.run(["free", "-m"], capture_output=True, text=True, check=True).stdout
    total = next(int(line.split()[1]) for line in out.splitlines() if line.startswith("Mem:"))
    return max(1, int(total * 0.99))


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it when the process that started it dies (a test run
    killed by a timeout then leaves no daemons behind). Linux only; elsewhere a no-op."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie counts as stopped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def _stop_pid(pid: int, timeout: float) -> None:
    """SIGTERM, wait up to ``timeout`` s, then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        end = time.monotonic() + wait
        while _alive(pid) and time.monotonic() < end:
            time.sleep(0.05)
        if not _alive(pid):
            return


class LocalSlurm:
    """A started single-node SLURM cluster with accounting while the context is active.

    Attributes once started: ``run_folder`` (Path under /tmp, removed at stop), ``conf``
    (its slurm.conf), ``env`` (``os.environ`` plus ``SLURM_CONF``: for subprocesses),
    ``partition`` ("debug"), ``cpus`` (the node's CPUs), ``memory_mb``, ``port`` (base port:
    slurmctld; +1 slurmd, +2 slurmdbd, +3 mariadbd). ``activate()`` sets ``SLURM_CONF`` in
    ``os.environ`` (for submitit in-process). ``run(*cmd)`` runs a client command against it.
    """

    partition = "debug"
    cluster_name = "ci"

    def __init__(self, start_timeout: float = 60.0, stop_timeout: float = 10.0,
                 kill_wait: int = 2, keep_run_folder: bool = False) -> None:
        self.start_timeout = start_timeout
        # slurm.conf KillWait: seconds from SIGTERM to SIGKILL when a job is cancelled (submitit's
        # jobs ignore SIGTERM, so a cancelled one stays COMPLETING this long)
        self.kill_wait = kill_wait
        self.stop_timeout = stop_timeout
        self.keep_run_folder = keep_run_folder
        self.cpus = os.cpu_count() or 1
        self.memory_mb = 0
        self.port = 0
        self.run_folder: Path | None = None
        self._procs: dict[str, subprocess.Popen] = {}
        self._port_lock: int | None = None
        self._logs: dict[str, object] = {}

    # ---------------------------------------------------------------- public
    @property
    def conf(self) -> Path:
        assert self.run_folder is not None, "the cluster is not started"
        return self.run_folder / "etc" / "slurm.conf"

    @property
    def env(self) -> dict[str, str]:
        return dict(os.environ, SLURM_CONF=str(self.conf))

    @contextlib.contextmanager
    def activate(self) -> Iterator["LocalSlurm"]:
        """Set ``os.environ["SLURM_CONF"]`` to this cluster while the context is active."""
        old = os.environ.get("SLURM_CONF")
        os.environ["SLURM_CONF"] = str(self.conf)
        try:
            yield self
        finally:
            if old is None:
                os.environ.pop("SLURM_CONF", None)
            else:
                os.environ["SLURM_CONF"] = old

    def run(self, *cmd: str, check: bool = True, timeout: float = 30.0
            ) -> subprocess.CompletedProcess:
        """Run a client command (``sinfo``, ``sacct``, ...) against this cluster."""
        return subprocess.run([which(cmd[0]) or cmd[0], *cmd[1:]], env=self.env, check=check,
                              capture_output=True, text=True, timeout=timeout)

    def sacct_state(self, job_id: str) -> str:
        """The job's State in sacct ("" while sacct does not know it yet)."""
        done = self.run("sacct", "-n", "-X", "-P", "-o", "State", "-j", job_id, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    def __enter__(self) -> "LocalSlurm":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> "LocalSlurm":
        ensure_installed()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Cancel the jobs, stop slurmd, slurmctld, slurmdbd, mariadbd, munged; remove the folder."""
        if "slurmctld" in self._procs and self._procs["slurmctld"].poll() is None:
            self._cancel_jobs()
        for name in ("slurmd", "slurmctld", "slurmdbd", "mariadbd", "munged"):
            proc = self._procs.pop(name, None)
            if proc is not None:
                _stop_pid(proc.pid, self.stop_timeout)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=1)  # reap it
        self._kill_leftovers()
        if self._port_lock is not None:
            os.close(self._port_lock)  # releases the ports' flock
            self._port_lock = None
        for f in self._logs.values():
            f.close()
        self._logs.clear()
        if self.run_folder is not None and not self.keep_run_folder:
            shutil.rmtree(self.run_folder, ignore_errors=True)
        self.run_folder = None

    def log_tails(self, lines: int = 15) -> str:
        """The last lines of every daemon log (for error messages)."""
        if self.run_folder is None:
            return ""
        parts = []
        for log in sorted((self.run_folder / "log").glob("*")):
            text = log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log.name} ---\n" + "\n".join(text))
        return "\n".join(parts)

    # ---------------------------------------------------------------- start
    def _start(self) -> None:
        # every level world-executable: munge refuses a socket under a 0700 folder for clients
        self.run_folder = Path(tempfile.mkdtemp(prefix="emobench-slurm-", dir="/tmp"))
        R = self.run_folder
        R.chmod(0o755)
        for sub in ("etc", "munge", "log", "run", "state", "spool", "mysql"):
            (R / sub).mkdir(mode=0o755)
            (R / sub).chmod(0o755)
        self.port, self._port_lock = reserve_ports()
        self.memory_mb = _memory_mb()
        self._write_configs()
        deadline = time.monotonic() + self.start_timeout

        sock = R / "munge" / "munge.socket"
        self._spawn("munged", [which("munged"), "-F", "--force", f"--socket={sock}",
                               f"--key-file={R / 'etc' / 'munge.key'}",
                               f"--pid-file={R / 'run' / 'munged.pid'}",
                               f"--seed-file={R / 'munge' / 'munged.seed'}",
                               f"--log-file={R / 'log' / 'munged.log'}"])
        self._wait("munged", lambda: sock.exists(), deadline)

        self._start_mariadb(deadline)

        self._spawn("slurmdbd", [which("slurmdbd"), "-D"])
        self._wait("slurmdbd", lambda: self._listening(self.port + 2), deadline)
        # no `sacctmgr add cluster`: Slurm 22.05's slurmctld adds its cluster to the database
        # when it first registers with slurmdbd (and jobs need no association: no
        # AccountingStorageEnforce)
        self._spawn("slurmctld", [which("slurmctld"), "-D"])
        self._spawn("slurmd", [which("slurmd"), "-D", "-N", "localhost"])
        self._wait("slurmd", self._idle, deadline, what="node idle (sinfo -h -o %T)")
        # a warm-up job proves the whole path: scheduling, slurmd, and its record in sacct
        # (the first job after a start also waits ~2 s for the first scheduling cycle)
        submitted = self.run("sbatch", "--parsable", "--job-name=warmup",
                             f"--output={self.run_folder / 'log' / 'warmup.out'}",
                             "--wrap=true", check=False)
        if submitted.returncode != 0:
            self._fail(f"sbatch of the warm-up job failed: {submitted.stdout}{submitted.stderr}")
        job_id = submitted.stdout.strip().split(";")[0]
        self._wait("slurmdbd", lambda: self.sacct_state(job_id) == "COMPLETED", deadline,
                   what=f"the warm-up job {job_id} to show COMPLETED in sacct")

    def _write_configs(self) -> None:
        R, P = self.run_folder, self.port
        key = R / "etc" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        sock = R / "munge" / "munge.socket"
        (R / "etc" / "slurm.conf").write_text(f"""\
ClusterName={self.cluster_name}
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={sock}
SlurmctldPort={P}
SlurmdPort={P + 1}
StateSaveLocation={R / 'state'}
SlurmdSpoolDir={R / 'spool'}
SlurmctldPidFile={R / 'run' / 'slurmctld.pid'}
SlurmdPidFile={R / 'run' / 'slurmd.pid'}
SlurmctldLogFile={R / 'log' / 'slurmctld.log'}
SlurmdLogFile={R / 'log' / 'slurmd.log'}
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
MinJobAge=3600
KillWait={self.kill_wait}
MailProg=/bin/true
JobCompType=jobcomp/filetxt
JobCompLoc={R / 'log' / 'jobcomp.txt'}
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort={P + 2}
AccountingStoragePass={sock}
JobAcctGatherType=jobacct_gather/linux
NodeName=localhost NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={self.memory_mb} State=UNKNOWN
PartitionName={self.partition} Nodes=localhost Default=YES MaxTime=INFINITE State=UP
""")
        dbd = R / "etc" / "slurmdbd.conf"
        dbd.write_text(f"""\
AuthType=auth/munge
AuthInfo=socket={sock}
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort={P + 2}
SlurmUser=root
LogFile={R / 'log' / 'slurmdbd.log'}
PidFile={R / 'run' / 'slurmdbd.pid'}
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={P + 3}
StorageUser={_STORAGE_USER}
StoragePass={_STORAGE_PASS}
StorageLoc={_STORAGE_DB}
""")
        dbd.chmod(0o600)  # slurmdbd refuses a config others can read
        os.chown(dbd, 0, 0)

    def _start_mariadb(self, deadline: float) -> None:
        R = self.run_folder
        data, sock = R / "mysql" / "data", R / "mysql" / "mysqld.sock"
        # --no-defaults first: ignore /etc/mysql (its socket, port and datadir are the system's)
        init = subprocess.run(
            [which("mariadb-install-db"), "--no-defaults", f"--datadir={data}", "--user=root",
             "--skip-test-db", "--auth-root-authentication-method=socket", *_MARIADB_OPTIONS],
            capture_output=True, text=True, timeout=max(5.0, deadline - time.monotonic()))
        if init.returncode != 0:
            self._fail(f"mariadb-install-db failed (exit {init.returncode}):\n"
                       f"{(init.stdout + init.stderr)[-2000:]}")
        self._spawn("mariadbd", [
            which("mariadbd"), "--no-defaults", f"--datadir={data}", f"--socket={sock}",
            f"--port={self.port + 3}", "--skip-networking=0", "--bind-address=127.0.0.1",
            "--user=root", f"--pid-file={R / 'run' / 'mariadbd.pid'}",
            f"--log-error={R / 'log' / 'mariadbd.log'}", "--skip-log-bin", *_MARIADB_OPTIONS])
        self._wait("mariadbd", lambda: sock.exists() and self._listening(self.port + 3), deadline)
        sql = (f"CREATE DATABASE IF NOT EXISTS {_STORAGE_DB};"
               + "".join(f"CREATE USER IF NOT EXISTS '{_STORAGE_USER}'@'{host}' "
                         f"IDENTIFIED BY '{_STORAGE_PASS}';"
                         f"GRANT ALL ON {_STORAGE_DB}.* TO '{_STORAGE_USER}'@'{host}';"
                         for host in ("localhost", "127.0.0.1"))
               + "FLUSH PRIVILEGES;")
        done = subprocess.run([which("mariadb"), "--no-defaults", f"--socket={sock}", "-uroot",
                               "-e", sql], capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            self._fail(f"creating the accounting database failed: {done.stderr}")

    def _spawn(self, name: str, cmd: list[str]) -> None:
        log = open(self.run_folder / "log" / f"{name}.out", "ab")
        self._logs[name] = log
        env = dict(os.environ, SLURM_CONF=str(self.conf), **{_MARKER: str(self.run_folder)})
        self._procs[name] = subprocess.Popen(
            cmd, env=env, cwd=self.run_folder, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent)

    def _wait(self, name: str, ready, deadline: float, what: str = "") -> None:
        while True:
            for daemon, proc in self._procs.items():
                if proc.poll() is not None:
                    self._fail(f"{daemon} exited with code {proc.returncode} while waiting "
                               f"for {what or name}")
            if ready():
                return
            if time.monotonic() > deadline:
                self._fail(f"timed out after {self.start_timeout:.0f} s waiting for "
                           f"{what or name}")
            time.sleep(0.1)

    def _fail(self, message: str) -> None:
        raise RuntimeError(f"local SLURM cluster (run folder {self.run_folder}, ports "
                           f"{self.port}-{self.port + 3}): {message}\n{self.log_tails()}")

    @staticmethod
    def _listening(port: int) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            return s.connect_ex(("127.0.0.1", port)) == 0

    def _idle(self) -> bool:
        done = self.run("sinfo", "-h", "-o", "%T", check=False)
        return done.returncode == 0 and done.stdout.strip() == "idle"

    # ---------------------------------------------------------------- stop
    def _cancel_jobs(self) -> None:
        """Cancel every job and wait (up to KillWait and a bit) until the queue is empty."""
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self.run("scancel", f"--partition={self.partition}", check=False, timeout=10)
            end = time.monotonic() + self.kill_wait + 5
            while time.monotonic() < end:
                queue = self.run("squeue", "-h", "-o", "%i", check=False, timeout=10)
                if queue.returncode != 0 or not queue.stdout.strip():
                    return
                time.sleep(0.2)

    def _kill_leftovers(self) -> None:
        """Kill what outlived the daemons: processes they started (slurmstepd) and job
        processes (their environment names this cluster's SLURM_CONF); never this process or
        its ancestors."""
        if self.run_folder is None:
            return
        markers = {f"{_MARKER}={self.run_folder}".encode(), f"SLURM_CONF={self.conf}".encode()}
        spare, pid = set(), os.getpid()
        while pid > 1:  # this process and its ancestors
            spare.add(pid)
            try:
                pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[1])
            except (OSError, ValueError, IndexError):
                break
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) in spare:
                continue
            try:
                environ = set((entry / "environ").read_bytes().split(b"\0"))
            except OSError:
                continue
            if environ & markers:
                _stop_pid(int(entry.name), 2.0)
