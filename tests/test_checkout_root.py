"""The no-root path as a new user takes it, from the checkout's root: the README's Python block and
the notebook run there after `pip install .` (the checkout's `ringlab/` is then first on the path,
ahead of the installed package) and after `pip install -e .`, and `jupyter execute` runs the notebook."""

import json
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.helpers import readme_api_block

ROOT = Path(__file__).resolve().parent.parent
IGNORED = shutil.ignore_patterns(".venv", ".git", "results", "build", "*.egg-info", "__pycache__", ".hypothesis",
                                 ".pytest_cache", "*.so")


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    """A copy of the checkout, as a clone would have it."""
    copy = tmp_path_factory.mktemp("clone") / "ringlab"
    shutil.copytree(ROOT, copy, ignore=IGNORED)
    return copy


@pytest.fixture(scope="module", params=["pip install .", "pip install -e ."])
def python(request, checkout, tmp_path_factory) -> str:
    """A Python that has ringlab as the parameter installs it, with this environment's other packages."""
    if request.param == "pip install -e .":
        return sys.executable  # this environment's own install is editable (scripts/setup.sh)
    # A new environment with ringlab built from the copy and installed in it; the other packages come
    # from this one through a path entry (so this one's editable install does not come along).
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    new_python = venv / "bin" / "python"
    site = subprocess.run([new_python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", site,
                    str(checkout)], check=True, capture_output=True, timeout=300)
    (Path(site) / "this-environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return str(new_python)


def test_the_readme_block_runs_from_the_checkout_root(checkout, python):
    block = readme_api_block()
    result = subprocess.run([python, "-c", block], cwd=checkout, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == re.findall(r"print\(.*\)\s+# (.*)", block)
    assert (checkout / "results" / "fixed" / "summary.json").is_file()


RUN_NOTEBOOK = """
import sys, nbformat
from nbclient import NotebookClient
notebook = nbformat.read("examples/notebook.ipynb", as_version=4)
NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": "."}}).execute()
"""


def test_the_notebook_runs_with_its_kernel_at_the_checkout_root(checkout, python):
    result = subprocess.run([python, "-c", RUN_NOTEBOOK], cwd=checkout, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (checkout / "buggy-timeline.png").stat().st_size > 10_000


def test_jupyter_execute_runs_the_notebook_from_the_checkout_root(checkout):
    jupyter = Path(sys.executable).with_name("jupyter")
    result = subprocess.run([str(jupyter), "execute", "examples/notebook.ipynb"], cwd=checkout, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (checkout / "examples" / "buggy-timeline.png").stat().st_size > 10_000  # it runs in examples/


def test_predict_and_size_run_without_root_on_the_shipped_profile(tmp_path):
    """The README's no-root commands on examples/pause-profile: no trial, no BPF, only the profile."""
    def ringlab(*args):
        return subprocess.run([sys.executable, "-m", "ringlab.cli", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=300)

    predicted = ringlab("predict", "examples/fixed-one-stall.toml", "--profile", "examples/pause-profile",
                        "--set", "interval=10us", "--out", str(tmp_path / "predict"))
    assert predicted.returncode == 0, predicted.stderr
    assert "predicted loss" in predicted.stdout and (tmp_path / "predict" / "prediction.json").is_file()
    sized = ringlab("size", "examples/fixed-one-stall.toml", "--profile", "examples/pause-profile", "--target-loss",
                    "0.002", "--interval", "10us", "--out", str(tmp_path / "size"))
    assert sized.returncode == 0, sized.stderr
    assert json.loads((tmp_path / "size" / "size.json").read_text())["answer"] > 16
