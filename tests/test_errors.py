"""What the user got wrong (an InputError: exit 2) against everything else (a bug in kspectral: exit 1)."""

import pytest

from kspectral import catalog
from kspectral.errors import InputError, InputTypeError
from kspectral_cli.main import main


def _exit(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return exit_info.value.code, capsys.readouterr().err


@pytest.mark.parametrize("raised, code, start", [
    (InputError("unknown thing 'x'; choose one of: a, b"), 2, "kspectral: error: unknown thing 'x'"),
    (ValueError("operands could not be broadcast together"), 1, "kspectral: error: internal error: ValueError"),
    (IndexError("list index out of range"), 1, "kspectral: error: internal error: IndexError"),
])
def test_only_an_input_error_is_the_users_fault(monkeypatch, capsys, raised, code, start):
    def fail(*args, **kwargs):
        raise raised

    monkeypatch.setattr(catalog, "names", fail)
    exit_code, err = _exit(["methods"], capsys)
    assert exit_code == code and err.startswith(start) and len(err.strip().splitlines()) == 1
    if code == 1:
        assert "this is a bug; rerun with --debug" in err


def test_kspectrals_own_checks_raise_input_errors_that_stay_value_and_type_errors():
    from kspectral import methods

    with pytest.raises(InputError, match="unknown method"):
        methods.get("vicrge")
    assert issubclass(InputError, ValueError) and issubclass(InputTypeError, TypeError)


def test_a_bad_value_on_the_command_line_exits_2(capsys):
    code, err = _exit(["train", "--method", "vicrge"], capsys)
    assert code == 2 and "unknown method 'vicrge'" in err
