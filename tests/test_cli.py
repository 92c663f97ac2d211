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
