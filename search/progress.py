"""What the search page shows of a search's progress and of its probe photo: the steps of the
step indicator and the faces found, boxed and numbered. Reads only; no access decisions here
(the page reaches the search through search/services/access.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from search.models import Search, SearchStage, SearchStatus

STEPS = [SearchStage.QUEUED, SearchStage.FINDING_FACES, SearchStage.EMBEDDING,
         SearchStage.SEARCHING, SearchStage.DONE]


@dataclass
class Step:
    label: str
    state: str  # complete, current, stopped or "" (not reached)


@dataclass
class FaceBox:
    index: int  # the API's face_index: 0 is the largest
    number: int  # what a person reads: index + 1
    x: int
    y: int
    width: int
    height: int
    searched: bool
    label_y: int
    font_size: int


def search_steps(search: Search) -> list[Step]:
    """The five steps with their state; a search that stopped early (no face, failure) shows
    the step it stopped in as stopped."""
    if search.status == SearchStatus.DONE:
        return [Step(str(stage.label), "complete") for stage in STEPS]
    reached = STEPS.index(SearchStage(search.stage)) if search.stage in STEPS else 0
    here = "stopped" if search.is_finished else "current"
    return [Step(str(stage.label), "complete" if i < reached else here if i == reached else "")
            for i, stage in enumerate(STEPS)]


def current_step(search: Search) -> tuple[int, str]:
    """The number (1-based) and label of the step a search is in or stopped at."""
    steps = search_steps(search)
    for number, step in enumerate(steps, start=1):
        if step.state in ("current", "stopped"):
            return number, step.label
    return len(steps), steps[-1].label


def probe_size(search: Search) -> tuple[int, int] | None:
    """The stored probe's width and height, or None when it is gone (purged, missing)."""
    if not search.probe or search.probe_purged_at is not None:
        return None
    try:
        return search.probe.width, search.probe.height
    except (OSError, ValueError):
        return None


def face_boxes(search: Search, size: tuple[int, int]) -> list[FaceBox]:
    """The faces found, largest first, with where their number is drawn on the photo."""
    font = max(16, round(max(size) / 16))  # ~15 px on a phone, whatever the photo size
    boxes = []
    for index, box in enumerate(search.faces or []):
        boxes.append(FaceBox(
            index=index, number=index + 1, x=box["x"], y=box["y"], width=box["width"],
            height=box["height"], searched=search.status == SearchStatus.DONE
            and index == search.face_index,
            label_y=box["y"] - font // 4 if box["y"] > font else box["y"] + box["height"] + font,
            font_size=font))
    return boxes


def search_page_context(search: Search) -> dict[str, Any]:
    """The progress and probe figure of a search page or its polled panel."""
    size = probe_size(search)
    number, label = current_step(search)
    return {"steps": search_steps(search), "step_number": number, "step_label": label,
            "step_total": len(STEPS), "probe_size": size,
            "face_boxes": face_boxes(search, size) if size else []}
