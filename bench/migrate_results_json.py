"""One-off migration (2026-12-02): bench/results/results.json into the typed records' JSON form.

Reads the committed results.json with `bench.results_json.from_json`, writes it back with
`to_json`, and prints every value that differs (dictionary key order aside). Run once from the
repository root: ``python -m bench.migrate_results_json``.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.results import BenchResults
from bench.results_json import from_json, to_json, write_json

PATH = Path("bench/results/results.json")


def differences(old, new, path=""):
    """Yield (path, old, new) wherever the two JSON values differ; dictionary order is ignored."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            yield from differences(old.get(key, "<absent>"), new.get(key, "<absent>"), f"{path}.{key}")
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (before, after) in enumerate(zip(old, new, strict=True)):
            yield from differences(before, after, f"{path}[{index}]")
    elif old != new:
        yield path, old, new


def main() -> None:
    """Migrate the file in place and print what changed."""
    old = json.loads(PATH.read_text(encoding="utf-8"))
    document = json.loads(PATH.read_text(encoding="utf-8"))
    if "providers" not in document["gpu"]:  # a GPU record now always lists the providers measured
        document["gpu"] = {"providers": {}, "skipped": document["gpu"]["skipped"]}
    results = from_json(BenchResults, document)
    for path, before, after in differences(old, to_json(results)):
        print(f"{path}: {before!r} -> {after!r}")
    write_json(results, PATH)


if __name__ == "__main__":
    main()
