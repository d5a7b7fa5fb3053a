"""The README's Python API example runs as written and prints what its comments say."""

import re
from pathlib import Path

from tests.helpers import readme_api_block

ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_api_example_runs_and_prints_what_it_says(tmp_path, monkeypatch, capsys):
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(tmp_path)
    block = readme_api_block()
    exec(compile(block, "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    promised = re.findall(r"print\(.*\)\s+# (.*)", block)
    assert printed == promised
    assert (tmp_path / "fixed-timeline.png").stat().st_size > 10_000
    assert (tmp_path / "results" / "fixed" / "summary.json").is_file()
