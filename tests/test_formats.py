"""Every JSON file ringlab writes carries its format's version, and a reader takes the current
version and an earlier ringlab's unversioned file, and refuses a newer one in one line."""

import json
import subprocess
from pathlib import Path

import pytest

from ringlab.atomic_files import read_json, write_json
from ringlab.cli import main
from ringlab.errors import InputError
from ringlab.formats import FORMAT_VERSIONS
from ringlab.runs.run_directory import load_summary
from ringlab.trace.pause_profile import load_profile

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = str(ROOT / "examples" / "fixed-one-stall.toml")
PROFILE = ROOT / "examples" / "pause-profile"


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> Path:
    """A run, a sweep's report, a prediction and a ring size, as the command line writes them."""
    out = tmp_path_factory.mktemp("formats")
    assert main(["sim", EXAMPLE, "--set", "packets=2000", "--out", str(out / "run")]) == 0
    assert main(["sweep", str(ROOT / "examples" / "sweeps" / "interval.toml"), "--quiet", "--out", str(out / "sweep")]) == 0
    assert main(["compare", str(out / "sweep"), "--out", str(out / "report")]) == 0
    common = ["--profile", str(PROFILE), "--repeats", "10"]
    assert main(["predict", EXAMPLE, *common, "--set", "packets=2000", "--out", str(out / "predict")]) == 0
    assert main(["size", EXAMPLE, *common, "--target-loss", "0.01", "--interval", "10us", "--out", str(out / "size")]) in (0, 1)
    return out


@pytest.mark.parametrize("relative", ["run/summary.json", "report/report.json", "predict/prediction.json",
                                      "size/size.json"])
def test_each_json_written_carries_its_version_and_reads_back(outputs, relative):
    path = outputs / relative
    data = json.loads(path.read_text())
    assert data["format_version"] == FORMAT_VERSIONS[path.name]
    assert read_json(path) == data


def test_a_file_of_a_newer_ringlab_is_refused_in_one_line(outputs, tmp_path, capsys):
    run = tmp_path / "run"
    subprocess.run(["cp", "-r", str(outputs / "run"), str(run)], check=True)
    summary = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**summary, "format_version": 99}))
    with pytest.raises(InputError, match=r"summary\.json: format_version 99: this ringlab reads summary\.json up to version 1"):
        load_summary(run)
    assert main(["dump", str(run)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_an_earlier_ringlabs_unversioned_files_are_read(outputs, tmp_path):
    run = tmp_path / "run"
    subprocess.run(["cp", "-r", str(outputs / "run"), str(run)], check=True)
    summary = json.loads((run / "summary.json").read_text())
    del summary["format_version"]
    (run / "summary.json").write_text(json.dumps(summary))
    assert load_summary(run).scenario_name == "fixed-one-stall"
    assert "format_version" not in json.loads((PROFILE / "profile.json").read_text())  # measured before versions
    assert load_profile(PROFILE).threshold_ns == 1000


def test_a_json_file_of_no_registered_format_is_not_written(tmp_path):
    with pytest.raises(KeyError, match="not a registered ringlab format"):
        write_json(tmp_path / "other.json", {})
    assert not list(tmp_path.iterdir())


def test_docs_list_every_format_with_its_version():
    text = (ROOT / "docs" / "formats.md").read_text()
    for name, version in FORMAT_VERSIONS.items():
        assert f"| `{name}` | {version} |" in text, name


def test_a_pause_profile_written_again_carries_its_version_and_reads_back(tmp_path):
    from ringlab.trace.pause_profile import save_profile

    save_profile(tmp_path, load_profile(PROFILE))
    assert json.loads((tmp_path / "profile.json").read_text())["format_version"] == FORMAT_VERSIONS["profile.json"]
    assert len(load_profile(tmp_path).start_ns) == len(load_profile(PROFILE).start_ns)
