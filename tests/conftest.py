"""Shared test setup: hypothesis profiles and the backend fixture.

``HYPOTHESIS_PROFILE=ci`` selects a derandomized profile (same examples on every run).
"""

from __future__ import annotations

import importlib
import os

import pytest
from hypothesis import HealthCheck, settings

# the backend fixture is a module object: sharing it across examples is harmless
_SUPPRESS = [
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.function_scoped_fixture,
]

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=_SUPPRESS,
)
settings.register_profile(
    "dev",
    deadline=None,
    suppress_health_check=_SUPPRESS,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

#: Both implementations of the API; a missing one makes its tests fail, never skip.
BACKENDS = ["btfx", "btfx.reference"]


@pytest.fixture(params=BACKENDS)
def backend(request):
    """The ``btfx`` (native) or ``btfx.reference`` module; both expose ``Btf``."""
    return importlib.import_module(request.param)


@pytest.fixture(scope="session")
def fixture_kernels():
    """The fixture kernel module built for each Debian kernel series (tests/fixture_module.py)."""
    import fixture_module  # tests/fixture_module.py

    return fixture_module.build()
