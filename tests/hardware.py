"""Gate for tests that run real XDP: skip with the reason where the machine cannot, but fail
instead when RINGLAB_REQUIRE_HARDWARE=1 (CI sets it), so CI cannot pass by skipping."""

import functools
import os

import pytest


@functools.cache
def _ready():
    from ringlab.hw.doctor import hardware_ready

    return hardware_ready()


def require_hardware():
    ready, reason = _ready()
    if ready:
        return
    if os.environ.get("RINGLAB_REQUIRE_HARDWARE") == "1":
        pytest.fail(f"hardware tests are required here (RINGLAB_REQUIRE_HARDWARE=1) but cannot run: {reason}")
    pytest.skip(f"real XDP cannot run here: {reason}")


@pytest.fixture
def clean_hardware():
    """Real XDP can run here (else skip, or fail where required); after the test, neither the
    testbed nor an XDP program is left behind."""
    require_hardware()
    from ringlab.hw import iplink, testbed

    yield
    assert not testbed.exists(), "a test left the testbed behind"
    assert all("xdp" not in entry for entry in iplink.links()), "a test left an XDP program attached"
