"""One vocabulary: every subcommand spells a concept the same way, and every option explains itself.

The parsers are built through the router (`emphysema.cli.build_parser`), so a new subcommand is
checked as soon as it is routed.
"""

from __future__ import annotations

import argparse

import pytest

from emphysema import cli
from imaging.contract import ARCHITECTURES, DEFAULT_TRITON_URL

# concept -> (the one flag, spellings of the same concept that must not appear anywhere)
CONCEPTS: dict[str, tuple[str, frozenset[str]]] = {
    "served model name": ("--model", frozenset({"--name", "--model-name", "--served-model"})),
    "architecture": ("--architecture", frozenset({"--arch", "--network", "--backbone", "--models"})),
    "model repository": ("--repository", frozenset({"--repo", "--model-repository", "--serve-repository"})),
    "Triton URL": ("--url", frozenset({"--triton-url", "--triton", "--server-url", "--grpc-url"})),
    "output": ("--out", frozenset({"--output", "--out-dir", "--output-dir", "--outdir", "-o"})),
    "progress": ("--quiet", frozenset({"--no-progress", "--progress", "--silent", "-q"})),
    "seed": ("--seed", frozenset({"--random-seed", "--rng-seed"})),
}
# Where each concept must be offered (it applies there).
OFFERED: dict[str, set[str]] = {
    "--model": {"export", "predict", "bench"},
    "--architecture": {"train"},
    "--repository": {"export", "serve", "bench", "app"},
    "--url": {"predict", "app", "publish"},
    "--out": {"synth", "train", "compare", "bench"},
    "--quiet": {"synth", "train", "compare", "predict"},
    "--seed": {"synth", "train", "compare"},
}

# Hidden options that are not for people: study-bench re-runs itself to measure in a clean process.
INTERNAL_OPTIONS = {("study-bench", "measure"), ("study-bench", "measure_simpleitk")}


def visible_options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [action for action in parser._actions if action.help is not argparse.SUPPRESS]


def flags_of(action: argparse.Action) -> set[str]:
    return set(action.option_strings)


@pytest.fixture(scope="module")
def parsers() -> dict[str, argparse.ArgumentParser]:
    return {name: cli.build_parser(name) for name in cli.SUBCOMMANDS}


def test_every_subcommand_has_a_parser_through_the_router(parsers):
    assert set(parsers) == set(cli.SUBCOMMANDS)
    for name, parser in parsers.items():
        assert parser.prog == f"emphysema {name}"


def test_no_concept_is_spelled_two_ways(parsers):
    problems = []
    for name, parser in parsers.items():
        for action in visible_options(parser):
            for concept, (flag, others) in CONCEPTS.items():
                for spelling in flags_of(action) & others:
                    problems.append(f"{name} {spelling}: the {concept} is spelled {flag}")
            # What an option does also names its concept, whatever it is called.
            flags = flags_of(action)
            if action.choices is not None and set(action.choices) <= set(ARCHITECTURES) and action.choices:
                if "--architecture" not in flags:
                    problems.append(f"{name} {sorted(flags)}: takes an architecture, spell it --architecture")
            if action.default == DEFAULT_TRITON_URL and "--url" not in flags:
                problems.append(f"{name} {sorted(flags)}: takes the Triton URL, spell it --url")
            if action.metavar == "REPOSITORY" and "--repository" not in flags:
                problems.append(f"{name} {sorted(flags)}: takes the model repository, spell it --repository")
    assert not problems, "\n".join(problems)


def test_each_concept_is_offered_where_it_applies(parsers):
    missing = [
        f"{name} lacks {flag}"
        for flag, names in OFFERED.items()
        for name in sorted(names)
        if not any(flag in flags_of(action) for action in visible_options(parsers[name]))
    ]
    assert not missing, "\n".join(missing)


def test_every_option_has_help_and_states_its_default(parsers):
    problems = []
    for name, parser in parsers.items():
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            label = f"{name} {'/'.join(action.option_strings) or action.dest}"
            if action.help is argparse.SUPPRESS:
                # Only an old spelling may hide, and only behind a visible option of the same meaning
                # (or a process's own hook for its child, which no person types).
                twins = [other for other in visible_options(parser) if other.dest == action.dest]
                if not twins and (name, action.dest) not in INTERNAL_OPTIONS:
                    problems.append(f"{label}: hidden, but no visible option has its meaning")
                continue
            if not action.help or not action.help.strip():
                problems.append(f"{label}: no help")
                continue
            takes_value = action.nargs != 0 and action.option_strings
            if takes_value and not action.required and "default" not in action.help.lower():
                problems.append(f"{label}: the help does not state the default")
    assert not problems, "\n".join(problems)


def test_quick_is_described_in_flags_not_field_names(parsers):
    for name in ("train", "compare"):
        (quick,) = [action for action in parsers[name]._actions if "--quick" in action.option_strings]
        assert "--image-size 96" in quick.help and "--patience 10" in quick.help
        assert "_" not in quick.help.replace("val_accuracy", ""), quick.help  # no internal field names


@pytest.mark.parametrize(
    ("name", "old", "new", "dest", "value"),
    [
        ("train", ["--model", "simple_cnn"], ["--architecture", "simple_cnn"], "architecture", "simple_cnn"),
        ("compare", ["--models", "resnet50"], ["--architectures", "resnet50"], "architectures", "resnet50"),
        ("export", ["--name", "tiny"], ["--model", "tiny"], "model", "tiny"),
    ],
)
def test_old_spellings_still_work_and_mean_the_same(parsers, name, old, new, dest, value):
    required = {
        "train": ["--data", "d", "--out", "o"],
        "compare": ["--data", "d", "--out", "o"],
        "export": ["--run", "r"],
    }[name]
    old_arguments = parsers[name].parse_args([*required, *old])
    new_arguments = parsers[name].parse_args([*required, *new])
    assert getattr(old_arguments, dest) == getattr(new_arguments, dest) == value
    assert vars(old_arguments) == vars(new_arguments)
