"""The tests' shared set-up: the hypothesis profiles (CI's, a developer's) and the fixtures that
gate tests on what the machine can do. Where a test needs real XDP or root and the machine cannot
give it, the test is skipped with the reason, but fails instead under RINGLAB_REQUIRE_HARDWARE=1
(CI sets it), so CI cannot pass by skipping."""

import functools
import os

import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=40, deadline=None, print_blob=True)
settings.register_profile("dev", max_examples=25, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def skip_or_fail(reason: str) -> None:
    """Skip with ``reason``, or fail where the hardware tests are required."""
    if os.environ.get("RINGLAB_REQUIRE_HARDWARE") == "1":
        pytest.fail(f"required here (RINGLAB_REQUIRE_HARDWARE=1) but cannot run: {reason}")
    pytest.skip(reason)


@functools.cache
def _hardware_ready():
    from ringlab.hw.doctor import hardware_ready

    return hardware_ready()


@pytest.fixture
def clean_hardware():
    """Real XDP can run here (else skip, or fail where required); after the test, neither the
    testbed nor an XDP program is left behind."""
    ready, reason = _hardware_ready()
    if not ready:
        skip_or_fail(f"real XDP cannot run here: {reason}")
    from ringlab.hw.machine import iplink, testbed

    yield
    assert not testbed.exists(), "a test left the testbed behind"
    assert all("xdp" not in entry for entry in iplink.links()), "a test left an XDP program attached"


@pytest.fixture
def root():
    """This process is root (else skip, or fail where required)."""
    if os.geteuid() != 0:
        skip_or_fail("needs root")
