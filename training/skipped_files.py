"""Files left out with ``--skip-unreadable``: the advice that offers it, the console list, ``skipped.txt``.

Without the flag one unreadable file stops the command with every problem listed at once (a
``DatasetError``); the error then ends with the advice. With it the readable files are used and
the skipped ones are printed and saved beside the results, so nothing is left out silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from imaging.dataset import load_images, load_readable_images, read_dataset
from imaging.hounsfield import LungWindow
from imaging.samples import MAXIMUM_LISTED_PROBLEMS, DatasetError, Sample
from training.runs import write_text_atomically

SKIPPED_FILE = "skipped.txt"


def read_samples(
    root: Path, skipped: list[str] | None, use: str, require_all_classes: bool = True
) -> list[Sample]:
    """``read_dataset``, its error ending with the advice; unreadable files go to ``skipped`` if given.

    Args:
        root: the data set folder.
        skipped: collects the unreadable files (``--skip-unreadable``), or None to stop on them.
        use: what the command does with the readable files, e.g. ``"train on"``.
        require_all_classes: report a class without images as a problem.
    """
    try:
        return read_dataset(root, require_all_classes, skipped)
    except DatasetError as error:
        raise advise_skipping(error, use) from None


def decode_samples(
    samples: list[Sample],
    image_size: int,
    window: LungWindow,
    skipped: list[str] | None,
    use: str,
    progress: bool = True,
) -> tuple[list[Sample], np.ndarray]:
    """The samples and their model inputs; undecodable files go to ``skipped`` if given, else stop.

    ``progress`` shows the reading's progress bar.

    Raises:
        DatasetError: with the advice, when a file cannot be decoded and ``skipped`` is None, or
            when nothing readable is left.
    """
    try:
        if skipped is None:
            return samples, load_images(samples, image_size, window, progress)
        readable, images = load_readable_images(samples, image_size, window, skipped, progress)
    except DatasetError as error:
        raise advise_skipping(error, use) from None
    if not readable:
        raise DatasetError(samples[0].path.parent if samples else "the data set", ["no readable images"])
    return readable, images


def advise_skipping(error: DatasetError, use: str) -> DatasetError:
    """``error`` with a last line offering ``--skip-unreadable`` when unreadable files are among its problems.

    Args:
        error: from reading or decoding a data set.
        use: what the command does with the readable files, e.g. ``"train on"``.
    """
    if not error.unreadable:
        return error
    others = len(error.problems) - error.unreadable
    rest = f" (the other {others} problem(s) still need fixing)" if others else ""
    count = f"{error.unreadable} unreadable file" + ("s" if error.unreadable != 1 else "")
    return error.with_advice(
        f"To {use} the readable files and leave out the {count}, add --skip-unreadable{rest}."
    )


def report_skipped(skipped: Sequence[str], folder: Path, shown_folder: Path | None = None) -> None:
    """Print the skipped files (the first ``MAXIMUM_LISTED_PROBLEMS``) and save them all in ``folder``.

    Args:
        skipped: one line per file, naming it and why it was left out.
        folder: where ``skipped.txt`` is written (a staging folder is fine).
        shown_folder: the folder named on the console (the final one), default ``folder``.
    """
    if not skipped:
        return
    write_text_atomically(folder / SKIPPED_FILE, "".join(f"{line}\n" for line in skipped))
    where = (shown_folder or folder) / SKIPPED_FILE
    noun = "file" if len(skipped) == 1 else "files"
    print(f"Skipped {len(skipped)} unreadable {noun} (all listed in {where}):", flush=True)
    for line in skipped[:MAXIMUM_LISTED_PROBLEMS]:
        print(f"  - {line}", flush=True)
    if len(skipped) > MAXIMUM_LISTED_PROBLEMS:
        print(f"  ... and {len(skipped) - MAXIMUM_LISTED_PROBLEMS} more", flush=True)
