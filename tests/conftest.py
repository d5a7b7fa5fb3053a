"""Shared fixtures: small scenarios built in code, and a settings profile for CI."""

import os

from hypothesis import settings

settings.register_profile("ci", max_examples=40, deadline=None, print_blob=True)
settings.register_profile("dev", max_examples=25, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
