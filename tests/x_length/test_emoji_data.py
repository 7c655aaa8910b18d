"""The emoji sequences shipped in the package: the emoji package's, read back exactly."""

import subprocess
import sys
from pathlib import Path

from appliance.x_length import _data, weighted_length

REPO = Path(__file__).resolve().parents[2]


def test_the_shipped_file_matches_the_installed_emoji_package() -> None:
    # Fails after an upgrade of emoji: run scripts/generate-emoji-sequences.py.
    assert _data.read_sequences() == _data.sequences_from_emoji_package()


def test_the_file_format_reads_back_what_was_written(tmp_path: Path) -> None:
    sequences = {"\U0001f468\u200d\U0001f469\u200d\U0001f467", "1\ufe0f\u20e3", "\u00a9\ufe0f"}
    path = tmp_path / "sequences.txt"
    path.write_text(_data.format_sequences(sequences, "two lines\nof header"), encoding="ascii")
    assert path.read_text() == (
        "# two lines\n# of header\n31 FE0F 20E3\nA9 FE0F\n1F468 200D 1F469 200D 1F467\n"
    )
    assert _data.read_sequences(path) == sequences


def test_the_loaded_table_knows_every_sequence_and_nothing_else() -> None:
    sequences = _data.read_sequences()
    emoji = _data.load_emoji()
    assert all(emoji.has(sequence) for sequence in sequences)
    assert emoji.longest == max(map(len, sequences))
    # Two tails side by side in the table, with the separator between them, are not a
    # sequence; a code point alone, a prefix or an extension is one only if listed.
    start, tails = next((s, t) for s, t in emoji.tails_by_start.items() if t.count("\n") > 3)
    one, two = tails.split("\n")[1:3]
    assert not emoji.has(start + one + "\n" + two)
    for candidate in (start[0], start, start + one[:-1], start + one + "x", start + one + two):
        assert emoji.has(candidate) == (candidate in sequences), candidate


def test_measuring_loads_neither_the_emoji_package_nor_publicsuffixlist() -> None:
    # The emoji package's tables were 8 MiB of the daemon's peak memory (issue 13).
    program = (
        "import sys\n"
        "from appliance.x_length import weighted_length\n"
        "assert weighted_length('\U0001f44d\U0001f3fd see example.com') == 2 + 5 + 23\n"
        "names = ('emoji', 'publicsuffixlist')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in names))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=REPO,
    )
    assert result.stdout.strip() == "[]"


def test_a_skin_tone_sequence_from_the_file_weighs_two() -> None:
    assert weighted_length("\U0001f9d1\U0001f3fe\u200d\U0001f4bb") == 2
