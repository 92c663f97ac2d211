"""One-off: move the committed study results to the typed records' layout (deleted after use).

Each comparison batch's paths go under ``paths``; the goals are judged afresh as the main bench's
are (`bench.goals.judge_study`); results.json, report.md and the settings are rewritten by the code.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.goals import judge_study
from bench.results_json import from_json, write_json
from bench.study_report import render_report
from bench.study_results import StudyBenchResults

FOLDER = Path("bench/results/study_analysis")

document = json.loads((FOLDER / "results.json").read_text(encoding="utf-8"))
document["comparison"]["batches"] = [
    {"batch_size": batch.pop("batch_size"), "paths": batch} for batch in document["comparison"]["batches"]
]
document.pop("goals")
results = judge_study(from_json(StudyBenchResults, document))
write_json(results, FOLDER / "results.json")
(FOLDER / "report.md").write_text(render_report(results), encoding="utf-8")
write_json(results.settings, FOLDER / "study_bench_settings.json")
