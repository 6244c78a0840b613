"""params.yaml -> typed dataclasses: errors name the file and the key."""
from pathlib import Path

import pytest
import yaml

from lstmgan.config import ConfigError, Params, load_params, params_from_dict, parse_override

ROOT = Path(__file__).resolve().parents[1]


def test_project_params_validate():
    params = load_params(ROOT / "params.yaml")
    assert isinstance(params, Params)
    assert params.data.size >= 64
    assert params.gan.temporal in ("lstm", "none")


def test_params_file_states_every_key():
    """Every setting appears in params.yaml, so no default hides in code and DVC tracks them all."""
    import dataclasses

    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert set(raw) == {f.name for f in dataclasses.fields(Params)}
    for section, values in raw.items():
        if isinstance(values, dict):
            cls = type(getattr(Params(), section))
            missing = {f.name for f in dataclasses.fields(cls)} - set(values)
            assert not missing, f"params.yaml: section {section} lacks {sorted(missing)}"


def test_unknown_key_names_file_and_key(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("gan:\n  stepz: 3\n")
    with pytest.raises(ConfigError, match=r"params.yaml: unknown key 'gan.stepz'"):
        load_params(path)


@pytest.mark.parametrize("text, key", [
    ("gan:\n  train:\n    steps: many\n", "gan.train.steps"),
    ("gan:\n  train:\n    lr: [1]\n", "gan.train.lr"),
    ("data:\n  crf: [23, fast]\n", r"data.crf\[1\]"),
    ("gan:\n  temporal: gru\n", "gan.temporal"),
    ("seed: 1.5\n", "seed"),
    ("data: 3\n", "data"),
])
def test_ill_typed_value_names_the_key(tmp_path, text, key):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=rf"params.yaml: {key}"):
        load_params(path)


def test_bool_is_not_an_int():
    with pytest.raises(ConfigError, match="seed must be an integer"):
        params_from_dict({"seed": True})


def test_int_is_accepted_as_float_and_converted():
    assert params_from_dict({"gan": {"train": {"lr": 1}}}).gan.train.lr == 1.0


def test_overrides_and_sections(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("seed: 1\ngan:\n  train:\n    steps: 10\n")
    params = load_params(path, overrides=["gan.train.steps=20", "gan.train.lr=1e-4", "gan.temporal=none"],
                         sections={"seed": 7, "data": None})
    assert (params.seed, params.gan.train.steps, params.gan.train.lr, params.gan.temporal) == (7, 20, 1e-4, "none")


def test_override_errors():
    with pytest.raises(ConfigError, match="expected section.key=value"):
        parse_override("gan.train.steps")
    assert parse_override("data.crf=[23, 40]") == ("data.crf", [23, 40])


def test_missing_file_says_what_to_do(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_params(tmp_path / "nope.yaml")


def test_dataclass_defaults_equal_params_yaml():
    """params.yaml is the one source of configuration: the code's defaults must say the same."""
    assert load_params(ROOT / "params.yaml").to_dict() == Params().to_dict()
