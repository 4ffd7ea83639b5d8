"""Worker processes share the machine's cores: thread limits for torch, SimpleITK and BLAS/OpenMP."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mhubio.core.threads import THREAD_VARIABLES, cgroup_cpu_quota, thread_share, usable_cores
from tests.helpers import REPO

needs_two_cores = pytest.mark.skipif(usable_cores() < 2, reason="a limit below the default needs two cores")


def _probe(threads: int, override: bool, env: dict[str, str], torch: bool = False) -> dict:
    """Thread counts in a fresh process after ``limit_threads(threads, override)`` (torch imported after it)."""
    code = (
        "import json, os\n"
        "import numpy, SimpleITK\n"
        "from threadpoolctl import threadpool_info\n"
        "from mhubio.core.threads import limit_threads\n"
        f"found = {{'applied': limit_threads({threads}, override={override})}}\n"
        + ("import torch\nfound['torch'] = torch.get_num_threads()\n" if torch else "")
        + "found['itk'] = SimpleITK.ProcessObject.GetGlobalDefaultNumberOfThreads()\n"
        "found['pools'] = sorted({p['num_threads'] for p in threadpool_info()})\n"
        f"found['variables'] = sorted({{os.environ[v] for v in {THREAD_VARIABLES!r}}})\n"
        "print(json.dumps(found))\n"
    )
    environment = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env={**environment, **env},
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert done.returncode == 0, done.stdout
    return json.loads(done.stdout.splitlines()[-1])


def test_share_of_the_cores():
    assert [thread_share(n, cores=16) for n in (1, 2, 3, 16, 32)] == [16, 8, 5, 1, 1]
    with pytest.raises(ValueError):
        thread_share(0)


@needs_two_cores
@pytest.mark.slow
def test_limit_reaches_every_library():
    pytest.importorskip("torch")
    found = _probe(1, False, {}, torch=True)
    assert (found["applied"], found["torch"], found["itk"], found["pools"], found["variables"]) == (
        1, 1, 1, [1], ["1"])


@needs_two_cores
def test_users_omp_setting_wins_unless_overridden():
    assert (_probe(2, False, {"OMP_NUM_THREADS": "1"})["itk"], _probe(1, True, {"OMP_NUM_THREADS": "2"})["itk"]) == (
        1, 1)
    assert _probe(2, True, {"OMP_NUM_THREADS": "1"})["applied"] == 2


@pytest.mark.parametrize(("v2", "v1", "expected"), [
    ("max 100000\n", None, None),
    ("150000 100000\n", None, 1.5),
    (None, ("200000", "100000"), 2.0),
    (None, ("-1", "100000"), None),
    ("garbage", None, None),
    (None, None, None),
])
def test_cgroup_cpu_quota_reads_v2_and_v1(tmp_path, v2, v1, expected):
    v2_path, v1_path = tmp_path / "cpu.max", tmp_path / "cpu" / "cpu.cfs_quota_us"
    if v2 is not None:
        v2_path.write_text(v2)
    if v1 is not None:
        v1_path.parent.mkdir()
        v1_path.write_text(v1[0])
        (v1_path.parent / "cpu.cfs_period_us").write_text(v1[1])
    assert cgroup_cpu_quota((v2_path, v1_path)) == expected
