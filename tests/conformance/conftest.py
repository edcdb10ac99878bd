"""The conformance suite's target (``--conformance-target`` or ``CONFORMANCE_TARGET``, default cpu)
and hypothesis settings.

Examples are derandomized (the same graphs on every run, so CI is deterministic) and bounded:
``CONFORMANCE_EXAMPLES`` (default 10) graphs per variant. A longer local run:
``CONFORMANCE_EXAMPLES=200 python -m pytest tests/conformance``. ``CONFORMANCE_SHRINK=1`` lets
hypothesis shrink a failing graph (slow: each step compiles it again).
"""

import os

import pytest
from hypothesis import HealthCheck, Phase, settings

# Shrinking recompiles the graph hundreds of times (minutes per failure): on request only.
PHASES = [Phase.explicit, Phase.generate] + (
    [Phase.shrink] if os.environ.get("CONFORMANCE_SHRINK") else []
)

settings.register_profile(
    "conformance",
    max_examples=int(os.environ.get("CONFORMANCE_EXAMPLES", "10")),
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
    print_blob=True,
    phases=PHASES,
)


def pytest_addoption(parser):
    parser.addoption(
        "--conformance-target",
        default=None,  # then CONFORMANCE_TARGET, then cpu
        help="target the conformance suite runs on (checks.py TARGETS, or a target registered "
        "with the compiler whose devices are CPUs)",
    )


@pytest.fixture(scope="session")
def target(request):
    from conformance.checks import target_named

    # the option exists when pytest starts in this folder; from the
    # repository root, the variable does
    name = request.config.getoption("--conformance-target", default=None) or os.environ.get(
        "CONFORMANCE_TARGET", "cpu"
    )
    try:
        return target_named(name)
    except KeyError:
        pytest.fail(f"unknown --conformance-target '{name}' (a suite target or a CPU-type target)")
