"""Unit tests for the pure parts of grader/: exercise loading, the wire protocol, comparisons."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from grader.compare import compare
from grader.exercise import ExerciseError, load_exercise
from grader.protocol import ProtocolError, recv_message, send_message, tensor_from_wire, tensor_to_wire

ROOT = Path(__file__).resolve().parents[2]


def test_grader_never_imports_django() -> None:
    code = (
        "import sys, grader, grader.engine, grader.__main__, grader.exercise, grader.checklib, "
        "grader.blockkit, grader.sandbox.pool, grader.sandbox.zygote, grader.inside.runner; "
        "print('django' in sys.modules or any(m.startswith('django') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_every_exercise_folder_loads() -> None:
    for folder in sorted(p.parent for p in (ROOT / "exercises").glob("*/exercise.toml")):
        ex = load_exercise(folder)
        assert ex.slug == folder.name and ex.prompt_markdown.strip()


@pytest.mark.parametrize(
    "mutation, phrase",
    [
        (
            lambda d: (d / "exercise.toml").write_text("colour = 'red'\n" + (d / "exercise.toml").read_text()),
            "unknown key(s): colour",
        ),
        (lambda d: (d / "solution.py").unlink(), "solution.py: is missing"),
        (
            lambda d: (d / "exercise.toml").write_text(
                (d / "exercise.toml").read_text().replace('slug = "identity-block"', 'slug = "other"')
            ),
            "must equal the folder name",
        ),
        (lambda d: (d / "exercise.toml").write_text("slug = [\n"), "not valid TOML"),
        (lambda d: (d / "checks.py").write_text("def broken(:\n"), "checks.py: has a syntax error on line 1"),
        (
            lambda d: (d / "exercise.toml").write_text(
                (d / "exercise.toml").read_text().replace("max_score = 10", "max_score = -1")
            ),
            "max_score must be a positive number",
        ),
        (
            lambda d: (d / "exercise.toml").write_text(
                (d / "exercise.toml").read_text().replace('kind = "module"', 'kind = "essay"')
            ),
            "kind must be one of",
        ),
    ],
)
def test_malformed_folder_is_refused_naming_file_and_problem(exercise_copy, mutation, phrase) -> None:
    folder = exercise_copy("identity-block")
    mutation(folder)
    with pytest.raises(ExerciseError) as info:
        load_exercise(folder)
    assert phrase in str(info.value)


def test_checks_whose_points_do_not_add_up_are_an_exercise_error(grader, exercise_copy) -> None:
    folder = exercise_copy("identity-block")
    (folder / "exercise.toml").write_text(
        (folder / "exercise.toml").read_text().replace("max_score = 10", "max_score = 12")
    )
    result = grader.grade(load_exercise(folder), (folder / "solution.py").read_bytes())
    assert result.status == "error"
    assert "add up to 10" in result.output


def test_a_wrong_reference_does_not_score_full_marks(grader, exercise_copy) -> None:
    from grader.engine import verify_reference

    folder = exercise_copy("identity-block")
    sol = folder / "solution.py"
    sol.write_text(sol.read_text().replace("return F.relu(out + x)", "return F.relu(out)"))
    # Expected values come from the reference, but some checks are absolute (the lecture's identity
    # argument, the gradient through the shortcut): a reference without its shortcut fails them.
    result = verify_reference(grader, load_exercise(folder))
    assert not result.full_marks
    assert "shortcut_missing" in result.misconceptions


def _pair() -> tuple[socket.socket, socket.socket]:
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)


def test_protocol_round_trips_tensors_exactly() -> None:
    a, b = _pair()
    blobs: list[bytes] = []
    t = torch.randn(2, 3, 4)
    header = {"x": tensor_to_wire(t, blobs), "n": 1}
    send_message(a, header, blobs)
    got, got_blobs = recv_message(b)
    assert torch.equal(tensor_from_wire(got["x"], got_blobs), t)


def test_tensor_subclasses_are_flattened_before_crossing() -> None:
    class Sneaky(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            return torch.zeros(1)

    blobs: list[bytes] = []
    t = torch.randn(3).as_subclass(Sneaky)
    desc = tensor_to_wire(t, blobs)
    assert desc["shape"] == [3]
    assert type(tensor_from_wire(desc, blobs)) is torch.Tensor


@pytest.mark.parametrize(
    "desc, blob, phrase",
    [
        ({"dtype": "object", "shape": [1], "blob": 0}, b"\0" * 8, "not allowed"),
        ({"dtype": "float32", "shape": [-1], "blob": 0}, b"", "not valid"),
        ({"dtype": "float32", "shape": [2], "blob": 0}, b"\0" * 4, "expected 8"),
        ({"dtype": "float32", "shape": [2], "blob": 3}, b"\0" * 8, "index"),
        ({"dtype": "float32", "shape": [1 << 20, 1 << 20], "blob": 0}, b"", "over the limit"),
        ({"dtype": "float32", "shape": [True], "blob": 0}, b"\0" * 4, "not valid"),
        ("pickle", b"", "not an object"),
    ],
)
def test_malformed_tensors_are_refused(desc, blob, phrase) -> None:
    with pytest.raises(ProtocolError) as info:
        tensor_from_wire(desc, [blob])
    assert phrase in str(info.value)


def test_oversized_and_non_json_messages_are_refused() -> None:
    import struct

    a, b = _pair()
    a.sendall(struct.pack("!II", 1 << 30, 0))
    with pytest.raises(ProtocolError):
        recv_message(b)
    a, b = _pair()
    a.sendall(struct.pack("!II", 5, 0) + b"nope!")
    with pytest.raises(ProtocolError):
        recv_message(b)


def test_compare_names_shape_location_and_size_of_differences() -> None:
    expected = torch.zeros(1, 2, 3, 3)
    ok = compare(expected.clone(), expected)
    assert ok.ok
    bad = expected.clone()
    bad[0, 1, 2, 0] = 0.5
    r = compare(bad, expected)
    assert not r.ok and "N=0, C=1, H=2, W=0" in r.message and "0.5" in r.message
    assert "shape (1, 2, 2, 2)" in compare(torch.zeros(1, 2, 2, 2), expected).message
    nan = expected.clone()
    nan[0, 0, 0, 1] = float("nan")
    assert "NaN" in compare(nan, expected).message
