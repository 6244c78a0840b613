"""The command line: every command is registered, has --help with an example, and fails in one line."""
import subprocess
import sys

import pytest

from lstmgan.cli import COMMANDS, build_parser, main


def test_every_command_is_implemented():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == set(COMMANDS)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_has_an_example(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert f"lstmgan {command}" in text.split("usage:", 1)[1], "the help text shows an example invocation"


def test_python_dash_m_entry_point():
    result = subprocess.run([sys.executable, "-m", "lstmgan", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("lstmgan ")


def test_bad_params_is_one_line_and_exit_2(tmp_path, capsys):
    bad = tmp_path / "params.yaml"
    bad.write_text("gan:\n  train:\n    steps: lots\n")
    code = main(["train", "--params", str(bad)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "gan.train.steps" in err[0] and str(bad) in err[0]
