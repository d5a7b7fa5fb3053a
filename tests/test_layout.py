"""The layout a newcomer relies on: the core (``ringlab/``) has no import circle and imports no
backend (only the command line, ``ringlab/cli/``, does), the backends are found through their registration, and
each rule shared between Python and C is stated once (sim/engine.h) and held equal here."""

import ast
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import ringlab
from ringlab.analysis import attribution, latency
from ringlab.runs import runner
from ringlab.scenario.fields import WRITER_POLICIES
from ringlab.sim import fast_engine, writer
from ringlab.trace import records as trace

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "ringlab"
BACKENDS = ("ringlab.sim", "ringlab.hw", "ringlab.bpf", "ringlab.compare")
ENGINE_CHECKER = Path(__file__).parent / "c" / "engine_layout.c"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every ringlab module ``path`` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("ringlab"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ringlab"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)  # a submodule imported by name
    return found


def core_graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in CORE.rglob("*.py")}
    return {name: {imported for imported in imports_of(path) if imported in modules and imported != name}
            for name, path in modules.items()}


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """An import circle of ``graph`` as the path round it, or None."""
    state: dict[str, str] = {}

    def visit(name, path):
        state[name] = "open"
        for imported in sorted(graph.get(name, ())):
            if state.get(imported) == "open":
                return path[path.index(imported):] + [imported]
            if imported not in state:
                circle = visit(imported, path + [imported])
                if circle:
                    return circle
        state[name] = "done"
        return None

    for name in sorted(graph):
        if name not in state:
            circle = visit(name, [name])
            if circle:
                return circle
    return None


def test_the_circle_finder_finds_a_circle():
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_core_has_no_import_circle():
    graph = core_graph()
    graph = {name: imported - {"ringlab"} for name, imported in graph.items()}  # the lazy API loads on use
    assert find_circle(graph) is None


def test_only_the_command_line_imports_a_backend():
    offenders = []
    for path in CORE.rglob("*.py"):
        if path.is_relative_to(CORE / "cli"):
            continue
        for imported in imports_of(path):
            if imported.startswith(BACKENDS):
                offenders.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert offenders == []


# Where each installed package lives in the checkout (pyproject.toml's package-dir).
SOURCE_DIRS = {"ringlab": CORE, "ringlab.sim": ROOT / "sim", "ringlab.hw": ROOT / "hw", "ringlab.bpf": ROOT / "bpf",
               "ringlab.compare": ROOT / "compare"}


def package_graph() -> dict[str, set[str]]:
    """Which package imports which, over the whole tree. A module directly in ``ringlab/`` (errors,
    the command line, ...) stands for itself; any other stands for the package that holds it."""
    modules = {}
    for package, folder in SOURCE_DIRS.items():
        skip = [other for other in SOURCE_DIRS.values() if other != folder and other.is_relative_to(folder)]
        for path in folder.rglob("*.py"):
            if any(path.is_relative_to(other) for other in skip):
                continue
            parts = path.relative_to(folder).with_suffix("").parts
            name = ".".join((package, *parts[:-1])) if parts[-1] == "__init__" else ".".join((package, *parts))
            modules[name] = path

    def node(module: str) -> str:
        path = modules[module]  # a package stands for itself, and so does a module of the core's top level
        return module if path.name == "__init__.py" or path.parent == CORE else module.rpartition(".")[0]

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        source = node(name)
        targets = {node(imported) for imported in imports_of(path) if imported in modules}
        graph.setdefault(source, set()).update(targets - {source, "ringlab"})
    return graph


def test_the_package_graph_runs_one_way():
    assert find_circle(package_graph()) is None


def test_the_package_graph_sees_the_rooms_and_their_one_way_edges():
    graph = package_graph()
    for room in ("ringlab.compare.sweeps", "ringlab.compare.report", "ringlab.compare.model", "ringlab.hw.trial",
                 "ringlab.hw.kernel", "ringlab.hw.machine", "ringlab.scenario", "ringlab.trace"):
        assert room in graph, room
    assert "ringlab.scenario" in graph["ringlab.trace"] and "ringlab.trace" not in graph["ringlab.scenario"]
    assert "ringlab.hw.machine" in graph["ringlab.hw.trial"] and "ringlab.hw.trial" not in graph["ringlab.hw.machine"]


def test_no_backend_imports_compare():
    graph = package_graph()
    offenders = {package: sorted(t for t in targets if t.startswith("ringlab.compare"))
                 for package, targets in graph.items() if package.startswith(("ringlab.sim", "ringlab.hw", "ringlab.bpf"))}
    assert {package: found for package, found in offenders.items() if found} == {}


def test_the_core_is_grouped_as_the_pipeline():
    packages = sorted(path.name for path in CORE.iterdir() if (path / "__init__.py").is_file())
    assert packages == ["analysis", "cli", "runs", "scenario", "trace", "views"]
    loose = sorted(path.name for path in CORE.glob("*.py"))
    assert loose == ["__init__.py", "__main__.py", "atomic_files.py", "errors.py", "formats.py", "native.py",
                     "provenance.py"]


def test_the_backends_are_found_through_their_registration():
    assert runner.backend_names() == ("hw", "sim")
    assert runner.registered_backend("sim").engines == ("fast", "simpy")
    assert runner.registered_backend("hw").engines == ("xdp",)
    with pytest.raises(ringlab.errors.InputError, match="^backend: unknown backend 'gpu' \\(choose hw, sim\\)"):
        runner.registered_backend("gpu")


@pytest.fixture(scope="module")
def engine_header():
    compiler = shutil.which("cc") or shutil.which("gcc")
    assert compiler, "a C compiler is needed (make setup installs gcc)"
    binary = Path(subprocess.run(["mktemp", "-d"], capture_output=True, text=True, check=True).stdout.strip()) / "layout"
    subprocess.run([compiler, "-std=c11", "-Wall", "-Werror", f"-I{fast_engine.ENGINE_HEADER.parent}", "-o", str(binary),
                    str(ENGINE_CHECKER)], check=True)
    layout = json.loads(subprocess.run([str(binary)], check=True, capture_output=True, text=True).stdout)
    shutil.rmtree(binary.parent)
    return layout


def test_the_engine_header_states_the_policies_in_the_scenario_order(engine_header):
    assert engine_header["policies"] == list(range(len(WRITER_POLICIES) + 1))
    assert {policy: code for code, policy in enumerate(WRITER_POLICIES)} == fast_engine.POLICY_CODES


def test_the_engine_header_states_the_fates_of_the_trace(engine_header):
    assert engine_header["fates"] == {name.upper(): code for code, name in trace.FATE_NAMES.items()}


def test_the_engine_header_states_the_drop_causes_of_the_attribution(engine_header):
    names = ["WRITING", "BURST", "OFFSET", "SLOW", "UNEXPLAINED"]
    python = [attribution.CAUSE_WRITING, attribution.CAUSE_BURST, attribution.CAUSE_OFFSET, attribution.CAUSE_SLOW,
              attribution.CAUSE_UNEXPLAINED]
    assert engine_header["drop_causes"] == {name: code - attribution.CAUSE_WRITING for name, code in zip(names, python)}
    assert engine_header["DROP_CAUSES"] == fast_engine.DROP_CAUSES == len(attribution.CAUSE_NAMES) - attribution.CAUSE_WRITING


def test_the_engine_header_states_the_latency_histogram(engine_header):
    assert engine_header["SUB_BITS"] == latency.SUB_BITS
    assert engine_header["LATENCY_BUCKETS"] == latency.BUCKETS
    assert engine_header["LATENCY_TOTALS"] == fast_engine.LATENCY_TOTALS


@pytest.mark.parametrize("struct", ["engine_config", "engine_end"])
def test_the_engine_structures_match_their_ctypes_mirrors(engine_header, struct):
    mirror = {"engine_config": fast_engine.EngineConfig, "engine_end": fast_engine.EngineEnd}[struct]
    fields = engine_header[struct]
    assert fields.pop("size") == __import__("ctypes").sizeof(mirror)
    assert [name for name, _ in mirror._fields_] == list(fields), "field order"
    for name, (offset, size) in fields.items():
        assert (getattr(mirror, name).offset, getattr(mirror, name).size) == (offset, size), name


def _code(path: Path) -> str:
    """A C file without its comments."""
    return re.sub(r"/\*.*?\*/|//[^\n]*", "", path.read_text(), flags=re.S)


@pytest.mark.parametrize("policy", WRITER_POLICIES)
def test_every_policy_has_its_branch_in_each_implementation(policy):
    assert writer.POLICIES[policy].__name__ == policy  # the SimPy writer
    macro = f"POLICY_{policy.upper()}"
    assert re.search(rf"\b{macro}\b", _code(ROOT / "sim" / "fast_engine.c")), f"the fast engine names {macro}"
    assert re.search(rf"defined\({macro}\)", _code(ROOT / "bpf" / "ring_writer.c")), f"the XDP program tests {macro}"
    assert policy in (ROOT / "docs" / "model.md").read_text()


def test_the_policy_list_is_written_once():
    pattern = re.compile(r"""["']buggy["'],\s*["']fixed["'],\s*["']locked["']""")
    places = [str(path.relative_to(ROOT)) for folder in ("ringlab", "sim", "hw", "compare", "bpf", "benchmarks", "tests")
              for path in (ROOT / folder).rglob("*.py") if pattern.search(path.read_text())]
    assert places == ["ringlab/scenario/fields.py"]
