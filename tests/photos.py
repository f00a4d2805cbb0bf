"""Real photos for tests: the LFW fixtures bundled with the project, and images made from them."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "lfw"


def people() -> list[str]:
    return sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())


def photo_path(person: str, index: int) -> Path:
    """The index-th (0-based) fixture photo of a person."""
    return sorted((FIXTURES / person).glob("*.jpg"))[index]


def photo(person: str, index: int) -> bytes:
    return photo_path(person, index).read_bytes()


def encode(image: Image.Image, fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def blank_photo(size: tuple[int, int] = (400, 300)) -> bytes:
    """A real JPEG with no face in it: a grey-to-blue gradient."""
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    return encode(image)


def two_faces(big: str, small: str) -> bytes:
    """One JPEG with two real faces side by side; `big`'s face is twice the size of `small`'s."""
    first = Image.open(photo_path(big, 0)).resize((500, 500))
    second = Image.open(photo_path(small, 0))
    canvas = Image.new("RGB", (800, 500), "white")
    canvas.paste(first, (0, 0))
    canvas.paste(second, (530, 125))
    return encode(canvas)
