"""The package list, found from the folders: ringlab's own subpackages, and the top-level folders
sim/, hw/, bpf/ and compare/ (with every subfolder that is a package) as ringlab.sim, ringlab.hw,
ringlab.bpf and ringlab.compare. Every C source and header ships beside the Python that builds it.
Everything else about the package is in pyproject.toml."""

from setuptools import find_packages, setup

BACKEND_FOLDERS = ("sim", "hw", "bpf", "compare")  # each installs as ringlab.<folder>

packages = find_packages(include=["ringlab", "ringlab.*"])
for folder in BACKEND_FOLDERS:
    packages += [f"ringlab.{folder}"] + [f"ringlab.{folder}.{sub}" for sub in find_packages(where=folder)]

setup(
    packages=packages,
    package_dir={"ringlab": "ringlab", **{f"ringlab.{folder}": folder for folder in BACKEND_FOLDERS}},
    package_data={"": ["*.c", "*.h"]},
)
