import importlib.util

from emphysema import cli


def test_help_lists_every_subcommand(capsys):
    assert cli.main(["--help"]) == 0
    output = capsys.readouterr().out
    for name in cli.SUBCOMMANDS:
        assert name in output


def test_unknown_subcommand_is_a_usage_error(capsys):
    assert cli.main(["frobnicate"]) == 2
    assert "unknown subcommand 'frobnicate'" in capsys.readouterr().err


def test_every_subcommand_routes_to_a_module_with_main():
    for module_name, _ in cli.SUBCOMMANDS.values():
        assert importlib.util.find_spec(module_name) is not None, module_name


def test_help_states_the_exit_status_rule(capsys):
    cli.main(["--help"])
    output = capsys.readouterr().out
    assert (
        "exit status" in output and "2 the command line is wrong" in output and "1 the command ran" in output
    )


def test_an_impossible_setting_is_a_usage_error(tmp_path, capsys):
    # A valid command line that asks for an impossible value: the settings dataclass refuses it.
    arguments = ["--data", str(tmp_path), "--architecture", "simple_cnn", "--weights", "imagenet"]
    status = cli.main(["train", *arguments, "--out", str(tmp_path / "run")])
    assert status == 2
    assert capsys.readouterr().err.strip() == (
        "emphysema train: error: simple_cnn has no ImageNet weights; use --weights none"
    )
    assert not (tmp_path / "run").exists()


def test_a_failed_command_exits_1_with_one_message(tmp_path, capsys):
    status = cli.main(["evaluate", "--run", str(tmp_path / "no_such_run")])
    assert status == 1
    error = capsys.readouterr().err
    assert (
        error.strip()
        == f"emphysema evaluate: error: {tmp_path / 'no_such_run'}: run folder not found "
        + (f"(train one with `emphysema train --out {tmp_path / 'no_such_run'}`)")
    )


def test_every_stage_error_derives_from_the_one_base():
    from bench.settings import BenchError
    from client.errors import TritonError
    from client.publish import PublishError
    from deploy.errors import ServeError
    from export.model_repository import RepositoryError
    from export.settings import ExportError
    from imaging.errors import EmphysemaError, ScanReadError, UsageError
    from imaging.samples import DatasetError
    from training.errors import TrainingError

    for error in (BenchError, TritonError, PublishError, ServeError, RepositoryError, ExportError,
                  ScanReadError, UsageError, DatasetError, TrainingError):  # fmt: skip
        assert issubclass(error, EmphysemaError), error
