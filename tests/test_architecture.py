"""The package's import graph, read with `ast`: no cycles, and every stage imports only the layers below it.

Imports inside functions and under ``if TYPE_CHECKING:`` count too: a hidden edge is still an edge.
The stages are layered imaging <- training <- export <- deploy, client, bench; the client uses
imaging's I/O only and never TensorFlow, so a client-only install runs without it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# package -> the other packages (or single modules) it may import. A new package must be added here.
ALLOWED: dict[str, set[str]] = {
    "imaging": set(),
    # emphysema.versions records the CPU beside timed results (stdlib only).
    "training": {"imaging", "emphysema.versions"},
    "export": {"imaging", "training", "emphysema.versions"},
    # emphysema.lifetime (stdlib only): every launcher's children stop with it.
    "deploy": {"imaging", "export", "emphysema.lifetime"},
    "client": {"imaging", "deploy", "emphysema.lifetime"},
    # The study mode times `analyze` itself (study, analysis, client); bench/pacs_throughput.py
    # stores phantom studies into a real Orthanc (pacs).
    "bench": {
        "imaging",
        "training",
        "export",
        "deploy",
        "client",
        "study",
        "analysis",
        "pacs",
        "emphysema.versions",
    },
    # Scores a run's model through Keras or Triton with training's metrics: above both.
    "evaluation": {"imaging", "training", "client"},
    # The study layer (read, segment, quantify) needs no model: imaging only.
    "study": {"imaging", "emphysema.versions"},
    # The PACS: Orthanc's launcher and a DICOMweb client; study analysis from the PACS reads with study.
    "pacs": {"imaging", "study", "emphysema.lifetime"},
    # Study analysis: the study layer's volumes and masks, classified through the client; studies
    # fetched from a PACS and results stored back through pacs (a layer below analysis).
    # analysis-eval's intervals reuse training's pure-numpy Wilson and bootstrap (no TensorFlow).
    # `watch` is a long-running launcher: emphysema.lifetime turns its stop signals into a clean stop.
    "analysis": {
        "imaging",
        "study",
        "client",
        "pacs",
        "emphysema.lifetime",
        "training.metrics",
        "training.bootstrap",
    },
    # The web app's pages: single slices (client), studies (analysis) and the PACS view (pacs) on top.
    "web": {"imaging", "study", "client", "analysis", "pacs"},
    # The CLI routes to the stages by module name (importlib), so it imports only the error base.
    "emphysema": {"imaging"},
}
# What the client may use of imaging: reading and windowing scans, the contract, the errors.
CLIENT_IMAGING = {
    "imaging.classes",
    "imaging.contract",
    "imaging.dicom",
    "imaging.errors",
    "imaging.formats",
    "imaging.hounsfield",
    "imaging.lung_likeness",
    "imaging.raster",
    "imaging.readers",
    "imaging.scan",
}
TENSORFLOW_PACKAGES = {"tensorflow", "keras", "tf2onnx", "onnx", "onnxconverter_common"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    """Every module of the project's packages (the top-level folders with an ``__init__.py``)."""
    packages = [folder for folder in ROOT.iterdir() if (folder / "__init__.py").is_file()]
    return {module_name(path): path for package in packages for path in package.rglob("*.py")}


def imported_names(path: Path, name: str) -> set[str]:
    """The absolute names a module imports anywhere in its body (module level, functions, TYPE_CHECKING).

    ``from a.b import c`` yields ``a.b`` and ``a.b.c``: c may be a module or a name in a.b.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names.update(f"{base}.{alias.name}" for alias in node.names)
            names.add(base)
    return names


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (``from a.b import c`` is a.b.c when c is a module)."""
    modules = project_modules()
    return {
        name: {imported for imported in imported_names(path, name) if imported in modules} - {name}
        for name, path in modules.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path that returns to its start, or None."""
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def allowed(source: str, target: str) -> bool:
    own, other = source.split(".")[0], target.split(".")[0]
    if own == other:
        return True
    rules = ALLOWED[own]
    return other in rules or any(target == rule or target.startswith(f"{rule}.") for rule in rules)


def test_the_graph_sees_the_project():
    graph = import_graph()
    assert {"imaging.contract", "training.run_folder", "export.model_repository", "client.triton"} <= set(
        graph
    )
    assert "export.model_repository" in graph["deploy.twin"]  # a module-level edge
    assert "training.run_folder" in graph["export.exporter"]


def test_every_package_has_a_layer():
    packages = {name.split(".")[0] for name in import_graph()}
    assert packages <= set(ALLOWED), f"add {sorted(packages - set(ALLOWED))} to ALLOWED with its layer"


def test_there_is_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_stage_imports_a_higher_one():
    wrong = sorted(
        f"{source} imports {target}"
        for source, targets in import_graph().items()
        for target in targets
        if not allowed(source, target)
    )
    assert not wrong, "\n".join(wrong)


def test_the_client_uses_imagings_io_only_and_no_tensorflow():
    modules = project_modules()
    problems = []
    for name, path in modules.items():
        if not name.startswith("client"):
            continue
        for imported in imported_names(path, name):
            if imported.split(".")[0] in TENSORFLOW_PACKAGES:
                problems.append(f"{name} imports {imported}")
        for target in import_graph()[name]:
            if target.startswith("imaging") and target not in CLIENT_IMAGING:
                problems.append(f"{name} imports {target}")
    assert not problems, "\n".join(problems)


def test_no_module_imports_another_modules_private_names():
    modules = project_modules()
    private = sorted(
        f"{name} imports {imported}"
        for name, path in modules.items()
        for imported in imported_names(path, name)
        if imported.rpartition(".")[0] in modules
        and imported.rpartition(".")[2].startswith("_")
        and not imported.endswith("__init__")
    )
    assert not private, "\n".join(private)


def test_the_contract_needs_only_the_standard_library():
    path = ROOT / "imaging" / "contract.py"
    assert imported_names(path, "imaging.contract") <= {"__future__", "__future__.annotations"}


@pytest.mark.parametrize(
    "graph, cycle",
    [
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
        ({"a": {"b"}, "b": set(), "c": {"b"}}, None),
    ],
)
def test_the_cycle_finder_finds_cycles(graph, cycle):
    assert find_cycle(graph) == cycle


def test_a_function_level_import_is_an_edge(tmp_path):
    module = tmp_path / "module.py"
    module.write_text("def late():\n    from training.plots import plot\n    from . import sibling\n")
    assert {"training.plots", "top.sibling"} <= imported_names(module, "top.module")


def test_every_package_is_installed():
    # A package missing from pyproject's list is importable from a checkout's root but not from the
    # editable install the tests and the `emphysema` command run from.
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    settings = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    included = settings["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = sorted(folder.name for folder in ROOT.iterdir() if (folder / "__init__.py").is_file())
    assert [name for name in packages if f"{name}*" not in included] == []
