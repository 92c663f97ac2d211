"""`emphysema analysis-eval`: pattern maps of held-out phantom studies against their truth, through Triton.

Each study is read and segmented once; each ``--model`` tiles and classifies it as `analyze`
does (``build_pattern_map``); the truth is the region rule on the same tiles
(``analysis.study_accuracy``). Output (``DIR``)::

    DIR/accuracy.json   per model: figures over studies with 95 % intervals, per severity, per study
    DIR/accuracy.md     the table, rendered from the JSON (``analysis.accuracy_table``)

The studies must never have been trained on (patient = study); any study that cannot be read or
analysed stops the command with nothing written: an accuracy figure over fewer studies than
asked would be a different figure.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from analysis.accuracy_summary import TARGETS, choose_best, summarise_model
from analysis.accuracy_table import render_table
from analysis.field_of_view import resolve_field_of_view
from analysis.label_sources import find_labelled_studies, read_labelled_study
from analysis.pattern_map import build_pattern_map
from analysis.settings import AnalysisSettings, RoiSettings, add_grid_options
from analysis.study_accuracy import compare_study
from analysis.tiles import check_in_plane
from client.settings import TritonSettings
from client.triton import TritonClassifier
from imaging.contract import DEFAULT_TRITON_URL
from imaging.staging import check_output_folder, staged_folder
from study.lungs import segment_lungs
from study.machine import describe_machine

TRUTH_RULE = (
    "the ROI labelling rule (NT at <= 2 % emphysema, else the pattern holding >= 60 % of >= 10 % "
    "emphysema; ambiguous tiles not compared) on the tiles analyze classifies (>= 75 % lung; edge "
    "cells take the nearest such tile's outcome)"
)


def build_parser() -> argparse.ArgumentParser:
    """Return the ``emphysema analysis-eval`` argument parser."""
    parser = argparse.ArgumentParser(prog="emphysema analysis-eval", description=__doc__.split("\n")[0])
    parser.add_argument(
        "studies", nargs="+", type=Path, metavar="STUDY", help="held-out study folders, or a folder of them"
    )
    parser.add_argument("--out", required=True, type=Path, help="output folder (must be empty or new)")
    parser.add_argument(
        "--url", default=DEFAULT_TRITON_URL, help=f"Triton gRPC address (default {DEFAULT_TRITON_URL})"
    )
    parser.add_argument(
        "--model",
        nargs="+",
        default=[TritonSettings.model],
        help="served model name(s) (default %(default)s)",
    )
    add_grid_options(parser)
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def evaluate(
    studies: list[Path],
    classifier: TritonClassifier,
    models: list[str],
    settings: AnalysisSettings,
    quiet: bool,
) -> dict:
    """Return model name -> per-study records, each study read and segmented once."""
    rules = RoiSettings()
    infos = {model: classifier.model_info(model) for model in models}  # unknown models stop here
    records: dict[str, list[dict]] = collections.defaultdict(list)
    for folder in tqdm(studies, desc="Studies", unit="study", disable=quiet):
        study = read_labelled_study(folder)
        lungs = segment_lungs(study.volume).labels
        truth = study.truth or {}
        for model, info in infos.items():
            started = time.perf_counter()
            field = resolve_field_of_view(info, None, study.volume.spacing_mm[1])
            check_in_plane(study.volume.spacing_mm, field.millimetres, study.volume.shape)
            pattern_map = build_pattern_map(
                study.volume.hounsfield,
                lungs,
                study.volume.spacing_mm[1],
                field.millimetres,
                settings.stride_mm,
                settings.slice_step,
                classifier,
                info,
                True,
                0.0 if field.source == "slice-level" else settings.minimum_lung_share,
            )
            record = compare_study(study.pattern, lungs, pattern_map, rules, settings.predominance_points)
            records[model].append(
                {
                    "study": study.name,
                    "pattern": truth.get("pattern"),
                    "severity": study.severity or "none",
                    **record,
                    "voxel_truth_percent": truth.get("regions", {})
                    .get("WholeLung", {})
                    .get("pattern_percent"),
                    "field_of_view_mm": field.millimetres,
                    "field_of_view_source": field.source,
                    "density_shift_hu": pattern_map.density_shift_hu,
                    "seconds": round(time.perf_counter() - started, 2),
                }
            )
    return records


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``emphysema analysis-eval``; 0 when every study was evaluated with every model."""
    arguments = build_parser().parse_args(argv)
    settings = AnalysisSettings(stride_mm=arguments.stride_mm, slice_step=arguments.slice_step)
    studies = find_labelled_studies(arguments.studies)
    check_output_folder(arguments.out, arguments.overwrite)
    with TritonClassifier(TritonSettings(url=arguments.url, model=arguments.model[0])) as classifier:
        records = evaluate(studies, classifier, list(arguments.model), settings, arguments.quiet)
        references = {model: classifier.model_info(model).density_reference_hu for model in arguments.model}
    first = records[arguments.model[0]]
    counts = collections.Counter(f"{record['pattern']} {record['severity']}" for record in first)
    command = " ".join(["emphysema analysis-eval", *(sys.argv[1:] if argv is None else argv)])
    document = {
        "command": command,
        "machine": describe_machine()["cpu_model"],
        "settings": {"analysis": settings.__dict__, "region_rule": RoiSettings().__dict__},
        "truth_rule": TRUTH_RULE,
        "targets": TARGETS,
        "studies": [{"study": r["study"], "pattern": r["pattern"], "severity": r["severity"]} for r in first],
        "study_summary": ", ".join(f"{count} {key}" for key, count in sorted(counts.items())),
        "models": [
            {
                "name": model,
                "field_of_view_mm": records[model][0]["field_of_view_mm"],
                "field_of_view_source": records[model][0]["field_of_view_source"],
                "density_reference_hu": references[model],
                "summary": summarise_model(records[model]),
                "studies": records[model],
            }
            for model in arguments.model
        ],
    }
    document["best_model"] = choose_best(document["models"])
    with staged_folder(arguments.out) as staging:
        (staging / "accuracy.json").write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
        (staging / "accuracy.md").write_text(render_table(document), encoding="utf-8")
    for model in document["models"]:
        overall = model["summary"]["overall"]
        print(
            f"{model['name']} ({model['field_of_view_mm']:g} mm): "
            f"ROI accuracy {overall['roi_accuracy']['value']}, "
            f"share error {overall['share_error_points']['value']} points, "
            f"dominant {overall['dominant_correct']['value']}"
        )
    print(f"Best: {document['best_model']}. Wrote {arguments.out / 'accuracy.json'} and accuracy.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
