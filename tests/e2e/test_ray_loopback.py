"""The Ray cluster ``batch --executor ray`` starts without ``--address`` listens on the loopback
address only: Ray's servers run any actor method for whoever connects, so a port open on the
network would let anyone on it drive the searches (and their sandboxes)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# one Ray cluster at a time on this machine (see test_batch.py's RAY)
pytestmark = [pytest.mark.subprocess, pytest.mark.slow, pytest.mark.xdist_group("ray")]

pytest.importorskip("ray", reason="Ray is a test extra (trajscope[ray])")

# in a fresh process (as `trajscope batch` is): start the executor's own cluster, list every TCP
# port that this process and the processes it started listen on, and stop the cluster
PROBE = """
import json, os
from trajscope.engine.batch.executors import RayExecutor
executor = RayExecutor(1)
import psutil  # Ray's own copy, importable once Ray is
import ray
me = psutil.Process()
pids = {me.pid} | {p.pid for p in me.children(recursive=True)}
listening = [{"ip": c.laddr.ip, "port": c.laddr.port, "pid": c.pid} for c in psutil.net_connections("tcp")
             if c.status == psutil.CONN_LISTEN and c.pid in pids]
print(json.dumps({"gcs": ray.get_runtime_context().gcs_address, "listening": listening,
                  "processes": len(pids)}))
executor.shutdown()
"""


def test_the_local_ray_cluster_listens_on_loopback_only():
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found["gcs"].startswith("127.0.0.1:"), found
    assert found["processes"] >= 3 and len(found["listening"]) >= 3, found  # the GCS, the raylet, a worker...
    exposed = [c for c in found["listening"] if c["ip"] not in ("127.0.0.1", "::ffff:127.0.0.1", "::1")]
    assert exposed == [], f"Ray listens beyond the loopback address: {exposed}"
