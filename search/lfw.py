"""Where LFW photos are read from: the workplace's full copy when present, else the bundled fixtures."""

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
# The workplace's full LFW copy, beside the project; the bundled fixtures when it is absent.
SHARED_LFW = BASE_DIR.parent / "shared" / "data" / "lfw"
FIXTURE_LFW = BASE_DIR / "fixtures" / "lfw"


def default_lfw() -> Path:
    return SHARED_LFW if SHARED_LFW.is_dir() else FIXTURE_LFW
