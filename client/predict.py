"""`emphysema predict`: classify scan files through Triton and print a table, JSON or CSV.

Bad files get one line each on stderr and the others are still classified. Each result is
written as soon as it is known (client/result_stream.py), so a run cut short keeps what it
finished. The exit status is 0 when every file was classified; 1 when some could not be (bad
files, or Triton failing mid-run: the finished results are kept and the unfinished files named);
2 when Triton could not be used at all; 130 when stopped by Ctrl-C, SIGTERM or SIGHUP.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from client.errors import TritonError
from client.report import DISCLAIMER, Result
from client.result_stream import ResultWriter
from client.triton import TritonClassifier, TritonSettings
from emphysema.lifetime import signals_held, stop_on_signals
from imaging.errors import ScanReadError
from imaging.lung_likeness import LungLikeness, assess_lung_likeness
from imaging.readers import read_scan
from imaging.scan import to_model_input

# Files found in folders are taken by these endings (or none: DICOM files often have no suffix).
# Files named explicitly are always tried: the reader decides by content, not by name.
SCAN_SUFFIXES = frozenset({"", ".dcm", ".dicom", ".png", ".jpg", ".jpeg", ".tif", ".tiff"})
# Files read and classified together: bounds memory whatever the number of files.
CHUNK_FILES = 64


def find_scan_files(paths: Sequence[Path]) -> list[Path]:
    """Expand folders (recursively, sorted, hidden files skipped) into the scan files they hold.

    Raises:
        FileNotFoundError: a path does not exist.
    """
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = (
                candidate
                for candidate in sorted(path.rglob("*"))
                if candidate.is_file()
                and candidate.suffix.lower() in SCAN_SUFFIXES
                and not any(part.startswith(".") for part in candidate.relative_to(path).parts)
            )
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    return files


def _chunks(files: list[Path], size: int) -> Iterator[list[Path]]:
    for start in range(0, len(files), size):
        yield files[start : start + size]


def classify_files(
    classifier: TritonClassifier, files: list[Path], progress: bool = True, model: str | None = None
) -> tuple[list[Result], list[str]]:
    """Read and classify files in chunks; return the predictions and one error line per bad file.

    Each prediction comes with the lung-likeness check of its image, so a confident class for an
    image that is not lung is flagged wherever it is shown.
    """
    results: list[Result] = []
    errors: list[str] = []
    for chunk_results, chunk_errors, _ in classify_chunks(classifier, files, progress, model):
        results.extend(chunk_results)
        errors.extend(chunk_errors)
    return results, errors


def classify_chunks(
    classifier: TritonClassifier, files: list[Path], progress: bool = True, model: str | None = None
) -> Iterator[tuple[list[Result], list[str], list[Path]]]:
    """Read and classify files chunk by chunk; yield each chunk's predictions, errors and files.

    ``model`` is the served model to use (default: the settings' own).
    """
    image_size = classifier.model_info(model).image_size
    with tqdm(
        total=len(files),
        desc="classifying",
        unit="file",
        file=sys.stderr,
        disable=not progress or len(files) < 2,
    ) as bar:
        for chunk in _chunks(files, CHUNK_FILES):
            results: list[Result] = []
            errors: list[str] = []
            readable: list[tuple[Path, LungLikeness]] = []
            images: list[np.ndarray] = []
            for path in chunk:
                try:
                    scan = read_scan(path)
                    images.append(to_model_input(scan, image_size))
                    readable.append((path, assess_lung_likeness(scan)))
                except ScanReadError as error:
                    errors.append(str(error))
                except OSError as error:
                    errors.append(f"{path}: cannot read the file ({error.strerror or error})")
            if images:
                predictions = classifier.classify(np.stack(images), model)
                results.extend(
                    (path, prediction, lung)
                    for (path, lung), prediction in zip(readable, predictions, strict=True)
                )
            bar.update(len(chunk))
            yield results, errors, chunk


def build_parser() -> argparse.ArgumentParser:
    """The command line of `emphysema predict`."""
    defaults = TritonSettings()
    parser = argparse.ArgumentParser(prog="emphysema predict", description=__doc__.splitlines()[0])
    parser.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="FILE_OR_DIR",
        help="DICOM, PNG, JPEG or TIFF files, or folders of them",
    )
    parser.add_argument("--url", default=defaults.url, help=f"Triton gRPC address (default {defaults.url})")
    parser.add_argument(
        "--model", help="served model name (default: the model Triton serves, when it serves one)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=defaults.timeout_seconds,
        help=f"deadline of each request in seconds (default {defaults.timeout_seconds:g})",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON instead of a table")
    output.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    # The old spelling of --quiet, kept working.
    parser.add_argument("--no-progress", dest="quiet", action="store_true", help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `emphysema predict`; return 0 (all classified), 1 (some not), 2 (no Triton) or 130 (stopped)."""
    arguments = build_parser().parse_args(argv)
    try:
        files = find_scan_files(arguments.paths)
        settings = TritonSettings(url=arguments.url, timeout_seconds=arguments.timeout)
    except (FileNotFoundError, ValueError) as error:
        print(f"emphysema predict: {error}", file=sys.stderr)
        return 2
    if not files:
        print("emphysema predict: no scan files found in the given folders", file=sys.stderr)
        return 2
    output_format = "json" if arguments.json else "csv" if arguments.csv else "table"
    writer = ResultWriter(output_format, files, sys.stdout)
    errors: list[str] = []
    written: set[Path] = set()  # classified and written out
    refused: set[Path] = set()  # bad files, each with its error line
    failure: str | None = None
    interrupted = False
    with stop_on_signals():
        try:
            with TritonClassifier(settings) as classifier:
                model = classifier.choose_model(arguments.model)  # the only one served, if not named
                writer.model = classifier.model_info(model)
                chunks = classify_chunks(classifier, files, progress=not arguments.quiet, model=model)
                for results, chunk_errors, chunk in chunks:
                    with signals_held():  # a stop signal lands between results, never inside one
                        classified = {result[0] for result in results}
                        refused.update(path for path in chunk if path not in classified)
                        errors += chunk_errors
                        for line in chunk_errors:
                            tqdm.write(f"error: {line}", file=sys.stderr)  # above the progress bar
                    for result in results:
                        with signals_held():
                            writer.write(result)
                            written.add(result[0])
        except TritonError as error:
            failure = f"emphysema predict: {error}"
        except KeyboardInterrupt as interruption:
            failure, interrupted = f"emphysema predict: stopped by {interruption or 'SIGINT'}", True
        unfinished = [path for path in files if path not in written and path not in refused]
        return _finish(writer, errors, unfinished, failure, interrupted)


def _finish(
    writer: ResultWriter, errors: list[str], unfinished: list[Path], failure: str | None, interrupted: bool
) -> int:
    """Close the output, name the unfinished files, and choose the exit status."""
    if failure is not None and not interrupted and not writer.written:
        print(failure, file=sys.stderr)  # Triton could not be used at all: there is nothing to keep
        return 2
    writer.close(errors, unfinished)
    if failure is not None:
        print(failure, file=sys.stderr)
        print(f"not classified ({len(unfinished)} file(s)):", file=sys.stderr)
        for path in unfinished:
            print(f"  {path}", file=sys.stderr)
    not_attempted = f", {len(unfinished)} not classified" if unfinished else ""
    print(f"{writer.written} classified, {len(errors)} failed{not_attempted}. {DISCLAIMER}", file=sys.stderr)
    if interrupted:
        return 130
    return 1 if errors or unfinished else 0
