"""The Speech Commands loader, on WAV files fabricated in the published layout."""

import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
import torch

from regbench.data.errors import DatasetMissingError
from regbench.data.speech_commands import load_speech_commands, read_wav

RATE = 16000


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE, width: int = 2, channels: int = 1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(channels)
        f.setsampwidth(width)
        f.setframerate(rate)
        f.writeframes(samples.tobytes())


def ramp(n: int, scale: int = 1000) -> np.ndarray:
    return (np.arange(n) % 200 * scale // 200).astype(np.int16)


@pytest.fixture
def root(tmp_path):
    """3 labels × 2 speakers, clips shorter and longer than 1 s, and a background-noise folder."""
    folder = tmp_path / "speech_commands"
    for label in ("yes", "no", "up"):
        for speaker in ("aaaa1111", "bbbb2222"):
            write_wav(folder / label / f"{speaker}_nohash_0.wav", ramp(12000 if speaker.startswith("a") else 17000))
    write_wav(folder / "_background_noise_" / "white.wav", ramp(RATE * 3))
    return folder


def test_reads_the_layout_pads_cuts_and_labels_in_sorted_order(root):
    loaded = load_speech_commands(0, root=str(root), val_fraction=0.0, test_fraction=0.0)
    train = loaded.parts["train"]
    assert loaded.info.modality == "audio" and loaded.info.details["labels"] == ["no", "up", "yes"]
    assert loaded.info.details["sample_rate"] == RATE and loaded.info.input_shape == (1, RATE)
    assert train.x.shape == (6, 1, RATE) and torch.bincount(train.y).tolist() == [2, 2, 2]
    short = train.x[(train.meta["speaker"] == 0) & (train.y == 0)][0, 0]  # aaaa1111: 12000 samples
    expected = torch.from_numpy(ramp(12000).astype(np.float32) / 32768)
    assert torch.allclose(short[:12000], expected) and (short[12000:] == 0).all()
    assert set(train.meta["speaker"].tolist()) == {0, 1}


def test_official_lists_define_val_and_test(root):
    (root / "validation_list.txt").write_text("yes/bbbb2222_nohash_0.wav\n")
    (root / "testing_list.txt").write_text("no/bbbb2222_nohash_0.wav\nup/bbbb2222_nohash_0.wav\n")
    loaded = load_speech_commands(0, root=str(root))
    assert [len(loaded.parts[p]) for p in ("train", "val", "test")] == [3, 1, 2]
    assert loaded.parts["val"].y.tolist() == [2] and loaded.info.details["split"] == "official lists"
    assert (loaded.parts["train"].meta["speaker"] == 0).all()


def test_labels_and_cap_per_label(root):
    loaded = load_speech_commands(
        0, root=str(root), labels=["up", "yes"], max_per_label=1, val_fraction=0.0, test_fraction=0.0
    )
    assert loaded.info.num_classes == 2 and len(loaded.parts["train"]) == 2


def test_8_bit_stereo_is_scaled_and_mono_mixed(tmp_path):
    path = tmp_path / "x.wav"
    left_right = np.array([[128, 192], [0, 255]], dtype=np.uint8)  # (frames, channels), unsigned
    write_wav(path, left_right, width=1, channels=2)
    audio, rate = read_wav(path)
    assert rate == RATE and np.allclose(audio, [(0 + 0.5) / 2, (-1 + 127 / 128) / 2])


def test_mixed_sample_rates_are_refused(root):
    write_wav(root / "yes" / "cccc3333_nohash_0.wav", ramp(8000), rate=8000)
    with pytest.raises(ValueError, match="mix sample rates"):
        load_speech_commands(0, root=str(root))


def test_missing_data_is_one_line_that_says_how_to_get_it(tmp_path):
    with pytest.raises(DatasetMissingError) as err:
        load_speech_commands(0, root=str(tmp_path / "nowhere"))
    message = str(err.value)
    assert "\n" not in message and "speech_commands_v0.02.tar.gz" in message and "nowhere" in message
    with pytest.raises(DatasetMissingError, match="left"):
        load_speech_commands(0, root=str(tmp_path / "nowhere"), labels=["left"])


def test_missing_data_through_the_cli_is_one_line_and_exit_1(tmp_path):
    suite = tmp_path / "sc.yaml"
    suite.write_text(
        "name: sc\ndescription: d\nseeds: [0]\ntrain: {epochs: 1}\nbenchmarks:\n"
        f"  - {{name: sc, dataset: speech_commands, dataset_args: {{root: {tmp_path / 'none'}}}, model: audio_conv1d, shift: none}}\n"
        "regularizers: [erm]\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "regbench.cli", "data", "prepare", str(suite)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 1, out.stderr
    (line,) = out.stderr.strip().splitlines()
    assert (
        "dataset(s) missing: 'speech_commands'" in line and str(tmp_path / "none") in line
    )  # every missing dataset, its real path
