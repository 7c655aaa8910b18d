"""`appliance setup`: keys asked without echo, written 0600, never printed."""

from __future__ import annotations

import stat

from appliance.cli.setup import all_key_names, env_name, run_setup, setup_keys
from appliance.service.config import ASSEMBLYAI_KEY, X_KEYS
from appliance.tryout.sandbox import write_config

NAMES = all_key_names(dry_run=False)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_interactive_setup_writes_each_key_root_only_and_never_prints_one(tmp_path):
    directory = tmp_path / "credentials"
    values = {name: f"secret-value-of-{name}" for name in NAMES}
    prompts, said = [], []
    answers = iter(values.values())

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return next(answers)

    result = setup_keys(directory, NAMES, interactive=True, ask=ask, say=said.append)
    assert result.written == NAMES and not result.missing
    assert mode(directory) == 0o700
    for name, value in values.items():
        assert (directory / name).read_text() == value + "\n"
        assert mode(directory / name) == 0o600
    assert prompts[0].startswith("AssemblyAI API key")
    output = "\n".join(prompts + said)
    assert all(value not in output for value in values.values())
    assert not list(directory.glob(".*partial"))


def test_enter_keeps_the_key_already_there(tmp_path):
    directory = tmp_path / "credentials"
    setup_keys(directory, NAMES, interactive=True, ask=lambda _: "first", say=lambda _: None)
    result = setup_keys(directory, NAMES, interactive=True, ask=lambda _: "", say=lambda _: None)
    assert result.kept == NAMES and not result.written
    assert (directory / ASSEMBLYAI_KEY).read_text() == "first\n"


def test_non_interactive_reads_the_environment_then_a_directory(tmp_path):
    directory, source = tmp_path / "credentials", tmp_path / "from"
    source.mkdir()
    (source / "x_consumer_key").write_text("from-file\n")
    environ = {env_name(ASSEMBLYAI_KEY): "from-env"}
    result = setup_keys(
        directory, NAMES, interactive=False, environ=environ, from_dir=source, say=lambda _: None
    )
    assert result.written == (ASSEMBLYAI_KEY, "x_consumer_key")
    assert set(result.missing) == set(X_KEYS) - {"x_consumer_key"}
    assert (directory / "x_consumer_key").read_text() == "from-file\n"
    assert env_name(ASSEMBLYAI_KEY) == "APPLIANCE_ASSEMBLYAI_API_KEY"


def test_setup_command_uses_the_configured_directory_and_dry_run(tmp_path, capsys):
    directory = tmp_path / "keys"
    config = write_config(
        tmp_path / "appliance.toml", credentials={"dir": str(directory)}, x={"dry_run": True}
    )
    environ = {env_name(ASSEMBLYAI_KEY): "only-this-one"}
    assert run_setup(str(config), environ, True, None) == 0  # X keys: not needed in dry run
    assert [p.name for p in directory.iterdir()] == [ASSEMBLYAI_KEY]
    assert "only-this-one" not in capsys.readouterr().out
    broken = tmp_path / "broken.toml"
    broken.write_text("[nope]\n")
    assert run_setup(str(broken), {}, True, None) == 78
