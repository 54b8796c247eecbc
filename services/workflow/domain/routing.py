"""Where an item goes next, who may work a stage's tasks, and to whom a new task goes."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass

from radlab.workflow.v1 import workflow_service_pb2 as pb
from shared.auth import Principal

# Which roles work each human stage's tasks (admins work any).
WORKER_ROLES = {
    pb.STAGE_KIND_ANNOTATE: {"annotator", "vendor", "admin"},
    pb.STAGE_KIND_CONSENSUS: {"annotator", "vendor", "admin"},
    pb.STAGE_KIND_REVIEW: {"reviewer", "manager", "admin"},
}
HUMAN_STAGES = set(WORKER_ROLES)
LABELLING_STAGES = {pb.STAGE_KIND_ANNOTATE, pb.STAGE_KIND_CONSENSUS}
DIRECT_POLICIES = {pb.ASSIGNMENT_POLICY_ROUND_ROBIN, pb.ASSIGNMENT_POLICY_LEAST_LOADED}


def stage(stages: Sequence[pb.Stage], stage_id: str) -> pb.Stage:
    return next(candidate for candidate in stages if candidate.stage_id == stage_id)


@dataclass(frozen=True)
class ItemFacts:
    """What a route's condition looks at: the item's tags, its annotation's label values, its last consensus agreement,
    its last model prediction's confidence."""

    tags: frozenset[str] = frozenset()
    label_values: frozenset[int] = frozenset()
    agreement: float | None = None
    confidence: float | None = None


def holds(route: pb.Route, facts: ItemFacts) -> bool:
    condition = route.WhichOneof("condition")
    if condition == "tag":
        return route.tag in facts.tags
    if condition == "label_present":
        return route.label_present in facts.label_values
    if condition == "min_agreement":
        return facts.agreement is not None and facts.agreement >= route.min_agreement
    if condition == "below_agreement":
        return facts.agreement is not None and facts.agreement < route.below_agreement
    if condition == "min_confidence":
        return facts.confidence is not None and facts.confidence >= route.min_confidence
    if condition == "below_confidence":
        return facts.confidence is not None and facts.confidence < route.below_confidence
    return False


def passed_to(stages: Sequence[pb.Stage], current: pb.Stage, facts: ItemFacts) -> pb.Stage:
    """Where an item that passed `current` goes: the first route whose condition holds, else the next stage."""
    chosen = next((route for route in current.routes if holds(route, facts)), None)
    return stage(stages, chosen.stage_id) if chosen is not None else next_stage(stages, current)


def next_stage(stages: Sequence[pb.Stage], current: pb.Stage) -> pb.Stage:
    """The stage after `current`: its next_stage_id, else the following one in the list."""
    if current.next_stage_id:
        return stage(stages, current.next_stage_id)
    ids = [candidate.stage_id for candidate in stages]
    return stages[ids.index(current.stage_id) + 1]


def reject_stage(stages: Sequence[pb.Stage], review: pb.Stage) -> pb.Stage:
    """Where a rejected item goes (from a review, or a webhook's answer): the stage's reject_stage_id, else the nearest
    annotate or consensus stage before it."""
    chosen = review.webhook.reject_stage_id if review.kind == pb.STAGE_KIND_WEBHOOK else review.review.reject_stage_id
    if chosen:
        return stage(stages, chosen)
    ids = [candidate.stage_id for candidate in stages]
    before = stages[: ids.index(review.stage_id)]
    return next(candidate for candidate in reversed(before) if candidate.kind in LABELLING_STAGES)


def disputed_stage(stages: Sequence[pb.Stage], consensus: pb.Stage) -> pb.Stage:
    """Where a disputed item goes to be adjudicated: the stage's disputed_stage_id, else the next REVIEW stage."""
    if consensus.consensus.disputed_stage_id:
        return stage(stages, consensus.consensus.disputed_stage_id)
    ids = [candidate.stage_id for candidate in stages]
    return next(candidate for candidate in stages[ids.index(consensus.stage_id) + 1:] if candidate.kind == pb.STAGE_KIND_REVIEW)


def readers(current: pb.Stage) -> int:
    """How many tasks an item gets at a stage: a consensus stage's readers, else one."""
    return current.consensus.annotator_count if current.kind == pb.STAGE_KIND_CONSENSUS else 1


def exits(stages: Sequence[pb.Stage], current: pb.Stage) -> list[str]:
    """The stages an item may go to from `current`: on, back (reject), aside (dispute); none from COMPLETE."""
    if current.kind == pb.STAGE_KIND_COMPLETE:
        return []
    found = [next_stage(stages, current).stage_id, *(route.stage_id for route in current.routes)]
    if current.kind == pb.STAGE_KIND_REVIEW or (current.kind == pb.STAGE_KIND_WEBHOOK and current.webhook.wait_for_answer):
        found.append(reject_stage(stages, current).stage_id)
    if current.kind == pb.STAGE_KIND_CONSENSUS:
        found.append(disputed_stage(stages, current).stage_id)
    return found


def reviewed(item_id: str, stage_id: str, fraction: float) -> bool:
    """Whether a review stage sampling `fraction` of items (0: all) reviews this item: a fixed draw per item and
    stage, so a redelivered event or a restart decides the same."""
    if fraction <= 0 or fraction >= 1:
        return True
    draw = int.from_bytes(hashlib.sha256(f"{stage_id}/{item_id}".encode()).digest()[:8], "big") / 2**64
    return draw < fraction


def refusal(current: pb.Stage, caller: Principal, seniority: int = pb.SENIORITY_UNSPECIFIED) -> str:
    """Why the caller (recorded at `seniority`) may not work the stage's tasks; empty when they may."""
    kind = pb.StageKind.Name(current.kind).removeprefix("STAGE_KIND_").lower()
    if current.kind not in WORKER_ROLES:
        return f"{kind} stage {current.stage_id} has no tasks for people"
    if caller.role not in WORKER_ROLES[current.kind]:
        return f"role {caller.role} does not work {kind} tasks (stage {current.stage_id})"
    settings = current.assignment
    if settings.vendor_id and caller.vendor != settings.vendor_id and caller.role != "admin":
        return f"stage {current.stage_id} is worked by vendor {settings.vendor_id}'s accounts"
    if caller.role == "vendor" and not settings.vendor_id:
        return f"stage {current.stage_id} is not given to a vendor"
    if settings.assignees and caller.subject not in settings.assignees and caller.role != "admin":
        return f"stage {current.stage_id} is worked by {', '.join(settings.assignees)}"
    if seniority < settings.min_seniority:
        wanted = pb.Seniority.Name(settings.min_seniority).removeprefix("SENIORITY_").lower().replace("_", " ")
        return f"stage {current.stage_id} is worked by people recorded as {wanted} or more senior"
    return ""


def pick_assignee(current: pb.Stage, open_tasks: Mapping[str, int], turn: int,
                  exclude: Set[str] = frozenset()) -> tuple[str, int]:
    """(assignee, next turn) for a new task of a round-robin or least-loaded stage, never one of `exclude` (those
    already reading the item); ("", turn) for the others, or when nobody is left."""
    listed = list(current.assignment.assignees)
    people = [person for person in listed if person not in exclude]
    policy = current.assignment.policy
    if policy not in DIRECT_POLICIES or not people:
        return "", turn
    if policy == pb.ASSIGNMENT_POLICY_ROUND_ROBIN:
        for step in range(len(listed)):
            candidate = listed[(turn + step) % len(listed)]
            if candidate not in exclude:
                return candidate, (turn + step + 1) % len(listed)
    fewest = min(open_tasks.get(person, 0) for person in people)
    return next(person for person in people if open_tasks.get(person, 0) == fewest), turn
