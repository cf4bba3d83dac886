"""Shared test fixtures: one thread per test process.

Several torch processes on two cores (pytest workers, spawned pool workers, other jobs) slow each
other down badly when each uses every core. The environment variables are set before anything
imports torch, numpy or a BLAS, so that child processes inherit them too; the session fixture then
pins torch's intra-op pool of this process, whatever a plugin may have imported earlier.
"""

import os

for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_name] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

from anchormi.runtime import thread_limit  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def one_thread_per_process():
    """Every test runs with one torch thread; the caller's count is restored at the end."""
    with thread_limit(1):
        yield


@pytest.fixture(scope="module")
def one_torch_thread():
    """Kept for modules that request it by name; the session fixture already did the work, and a
    test that changed the count in between gets one thread back."""
    torch.set_num_threads(1)
    yield
