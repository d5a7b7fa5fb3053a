"""ringlab as users install it: an sdist built from a clean copy of the tracked files, a wheel built
from that sdist, installed in a new virtual environment, and run from a folder far from the checkout.
A module, a C source or a header that the package list or the package data leaves out fails here
(the rest of the tests run from the checkout, where everything is at hand)."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
BUILD_SDIST = "import sys, setuptools.build_meta as b; print(b.build_sdist(sys.argv[1]))"


def _tracked_copy(destination: Path) -> Path:
    """The files git tracks, as a clone has them (no build products, no caches)."""
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files"], capture_output=True, text=True, check=True).stdout
    for name in tracked.splitlines():
        if (ROOT / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, destination / name)
    return destination


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from the sdist built from a clean copy."""
    work = tmp_path_factory.mktemp("build")
    source = _tracked_copy(work / "source")
    sdist_name = subprocess.run([sys.executable, "-c", BUILD_SDIST, str(work)], cwd=source, capture_output=True,
                                text=True, check=True, timeout=300).stdout.split()[-1]
    with tarfile.open(work / sdist_name) as sdist:
        sdist.extractall(work / "unpacked", filter="data")
    unpacked = next((work / "unpacked").iterdir())
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(work),
                    str(unpacked)], check=True, capture_output=True, timeout=300)
    return next(work.glob("ringlab-*.whl"))


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> dict:
    """A new environment with the wheel installed; its dependencies come from this environment
    through a path entry (whose own editable ringlab is not seen: .pth files there are not read)."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run([venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    site = subprocess.run([venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "this-environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    away = tmp_path_factory.mktemp("elsewhere")  # the working folder: no checkout in sight
    cache = tmp_path_factory.mktemp("cache")  # native code built afresh from the installed sources
    env = {**os.environ, "RINGLAB_CACHE": str(cache), "PYTHONPATH": ""}
    return {"bin": venv / "bin", "site": Path(site), "cwd": away, "env": env}


def _run(installed, *command, timeout=600):
    program = command[0] if command[0] == "python" else "ringlab"
    arguments = command[1:] if program == "python" else command
    return subprocess.run([str(installed["bin"] / program), *map(str, arguments)], cwd=installed["cwd"],
                          env=installed["env"], capture_output=True, text=True, timeout=timeout)


def test_the_wheel_holds_every_module_c_source_and_header_of_the_checkout(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"ringlab"}
    folders = {"ringlab": "ringlab", "sim": "ringlab/sim", "hw": "ringlab/hw", "bpf": "ringlab/bpf",
               "compare": "ringlab/compare"}
    expected = {f"{installed_as}/{path.relative_to(ROOT / folder).as_posix()}"
                for folder, installed_as in folders.items() for path in (ROOT / folder).rglob("*")
                if path.suffix in (".py", ".c", ".h") and "__pycache__" not in path.parts}
    assert expected - names == set()
    assert {"ringlab/compare/change/diff.py", "ringlab/hw/trial/hot_loops.h"} <= names


def test_the_installed_package_is_imported_not_the_checkout(installed):
    result = _run(installed, "python", "-c", "import ringlab.compare.change.diff as d, ringlab.hw.trial.run as r, "
                                              "ringlab.hw.knobs.experiment as k; print(d.__file__); print(r.__file__); "
                                              "print(k.__file__)")
    assert result.returncode == 0, result.stderr
    for line in result.stdout.splitlines():
        assert Path(line).is_relative_to(installed["site"])


def test_diff_help_sim_sweep_and_predict_run_from_the_installed_wheel(installed, tmp_path):
    assert _run(installed, "diff", "--help").returncode == 0
    assert "--knob NAME=VALUE" in _run(installed, "hw", "experiment", "--help").stdout
    run = _run(installed, "sim", EXAMPLES / "buggy-one-stall.toml", "--out", tmp_path / "sim", "--set", "packets=20000")
    assert run.returncode == 0, run.stderr
    summary = json.loads((tmp_path / "sim" / "summary.json").read_text())
    assert summary["summary"]["dropped_full"] == 22  # the fast engine, compiled from the installed C
    sweep_file = tmp_path / "sweep.toml"
    sweep_file.write_text(f'[sweep]\nname = "wheel"\nbase = "{EXAMPLES / "renewal-stalls.toml"}"\nbackends = ["sim"]\n'
                          'repeats = 1\nseed = 1\nset = { packets = 5000 }\n[sweep.vary]\ninterval = ["1us", "2us"]\n')
    sweep = _run(installed, "sweep", sweep_file, "--out", tmp_path / "sweep")
    assert sweep.returncode == 0, sweep.stderr
    assert len(list((tmp_path / "sweep" / "points").iterdir())) == 2
    predict = _run(installed, "predict", EXAMPLES / "fixed-one-stall.toml", "--profile", EXAMPLES / "pause-profile",
                   "--set", "interval=10us", "--set", "packets=20000", "--repeats", "20", "--out", tmp_path / "predict")
    assert predict.returncode == 0, predict.stderr
    assert (tmp_path / "predict" / "prediction.json").is_file()


def test_every_native_poller_builds_from_the_installed_sources(installed):
    build = ("from ringlab.hw.trial import native_loops, xsk_socket, udp_socket; "
             "[m.library() for m in (native_loops, xsk_socket, udp_socket)]; print('built')")
    result = _run(installed, "python", "-c", build)
    assert result.returncode == 0 and result.stdout.strip() == "built", result.stderr
    built = {path.name.split("-")[0] for path in Path(installed["env"]["RINGLAB_CACHE"]).glob("*.so")}
    assert {"hot_loops", "xsk_loop", "udp_loop"} <= built


@pytest.mark.hardware
@pytest.mark.parametrize("example", ["fixed-one-stall.toml", "af-xdp-one-stall.toml", "udp-socket-one-stall.toml"])
def test_a_real_xdp_trial_of_each_delivery_path_runs_from_the_installed_wheel(installed, tmp_path, example,
                                                                              clean_hardware):
    """The XDP programs, the tracer and the pollers, all compiled from what the wheel installed."""
    trial = _run(installed, "hw", "trial", EXAMPLES / example, "--testbed", "--out", tmp_path / "trial",
                 "--set", "interval=20us", "--set", "packets=5000", "--set", 'stalls.stalls=[["50ms","300us"]]')
    assert trial.returncode == 0, trial.stderr[-2000:]
    assert "conservation" in trial.stdout and "holds" in trial.stdout
