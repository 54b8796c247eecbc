"""What a valid stage list is, the workflow a new dataset starts with, and a consensus stage's limits."""

from __future__ import annotations

from radlab.quoting import shown
from radlab.workflow.v1 import workflow_service_pb2 as pb
from services.workflow.domain import consensus, routing, webhooks
from shared.errors import InvalidArgument

DEFAULT_NAME = "annotate, review"
MIN_SECRET_CHARS = 16
REDACTED = "********"
# Each agreement measure as a consensus limit: the domain's threshold it sets.
MEASURES = {pb.AGREEMENT_MEASURE_UNSPECIFIED: "min_dice", pb.AGREEMENT_MEASURE_DICE: "min_dice",
            pb.AGREEMENT_MEASURE_IOU: "min_iou", pb.AGREEMENT_MEASURE_SURFACE_DICE: "min_surface_dice",
            pb.AGREEMENT_MEASURE_HD95: "max_hd95_mm", pb.AGREEMENT_MEASURE_ASSD: "max_assd_mm",
            pb.AGREEMENT_MEASURE_VOLUME_DIFFERENCE: "max_volume_difference"}


def default_stages() -> list[pb.Stage]:
    """Annotate → review (rejects go back to annotate) → complete."""
    return [
        pb.Stage(stage_id="annotate", name="Annotate", kind=pb.STAGE_KIND_ANNOTATE,
                 assignment=pb.AssignmentSettings(policy=pb.ASSIGNMENT_POLICY_CLAIM)),
        pb.Stage(stage_id="review", name="Review", kind=pb.STAGE_KIND_REVIEW,
                 assignment=pb.AssignmentSettings(policy=pb.ASSIGNMENT_POLICY_CLAIM),
                 review=pb.ReviewSettings(reject_stage_id="annotate")),
        pb.Stage(stage_id="complete", name="Complete", kind=pb.STAGE_KIND_COMPLETE),
    ]


def validate(stages: list[pb.Stage]) -> None:
    """Raise InvalidArgument naming the first problem with a workflow's stages."""
    if len(stages) < 2:
        raise InvalidArgument("a workflow needs at least two stages, the last of them COMPLETE")
    ids = [stage.stage_id for stage in stages]
    if any(not stage_id for stage_id in ids):
        raise InvalidArgument("every stage needs a stage_id")
    if duplicates := sorted({stage_id for stage_id in ids if ids.count(stage_id) > 1}):
        raise InvalidArgument(f"stage ids must be unique; repeated: {', '.join(duplicates)}")
    if stages[-1].kind != pb.STAGE_KIND_COMPLETE:
        last = stages[-1]
        raise InvalidArgument(
            f"the last stage must be COMPLETE; the last stage ({last.stage_id}) is {pb.StageKind.Name(last.kind)}"
        )
    for stage in stages:
        kind = pb.StageKind.Name(stage.kind)
        if stage.kind == pb.STAGE_KIND_UNSPECIFIED:
            raise InvalidArgument(f"stage {stage.stage_id} has no kind")
        if stage.kind == pb.STAGE_KIND_COMPLETE and stage is not stages[-1]:
            raise InvalidArgument(f"stage {stage.stage_id} is COMPLETE but not last")
        for target in (stage.next_stage_id, stage.review.reject_stage_id, stage.consensus.disputed_stage_id,
                       *(route.stage_id for route in stage.routes)):
            if target and target not in ids:
                raise InvalidArgument(f"stage {stage.stage_id} points to unknown stage {shown(target)}")
        for number, route in enumerate(stage.routes):
            if not route.stage_id or route.WhichOneof("condition") is None:
                raise InvalidArgument(f"stage {stage.stage_id}: route {number} needs a stage_id and a condition "
                                      "(tag, label_present, min/below_agreement or min/below_confidence)")
            condition = route.WhichOneof("condition")
            if condition in ("min_agreement", "below_agreement", "min_confidence", "below_confidence") and not (
                    0 <= getattr(route, condition) <= 1):
                raise InvalidArgument(f"stage {stage.stage_id}: route {number}'s {condition} is 0 to 1")
        settings = stage.assignment
        policy = settings.policy
        if policy in (pb.ASSIGNMENT_POLICY_ROUND_ROBIN, pb.ASSIGNMENT_POLICY_LEAST_LOADED) and not settings.assignees:
            raise InvalidArgument(f"stage {stage.stage_id}: {pb.AssignmentPolicy.Name(policy)} needs assignees to "
                                  "share tasks among")
        if settings.claim_timeout_s < 0:
            raise InvalidArgument(f"stage {stage.stage_id}: claim_timeout_s must not be negative")
        if stage.kind == pb.STAGE_KIND_REVIEW and not any(
                other.kind in (pb.STAGE_KIND_ANNOTATE, pb.STAGE_KIND_CONSENSUS) for other in stages[: ids.index(stage.stage_id)]
        ) and not stage.review.reject_stage_id:
            raise InvalidArgument(f"review stage {stage.stage_id} has no annotate or consensus stage before it to send "
                                  "rejects to; set reject_stage_id")
        if stage.HasField("review") and not 0 <= stage.review.sample_fraction <= 1:
            raise InvalidArgument(f"stage {stage.stage_id}: sample_fraction must be between 0 and 1")
        if stage.kind == pb.STAGE_KIND_CONSENSUS:
            settings = stage.consensus
            if settings.annotator_count < 2:
                raise InvalidArgument(f"{kind} stage {stage.stage_id} needs annotator_count of at least 2")
            if settings.agreement_threshold and not 0 < settings.agreement_threshold <= 1:
                raise InvalidArgument(f"{kind} stage {stage.stage_id} needs agreement_threshold in (0, 1]")
            if not settings.agreement_threshold and not settings.limits:
                raise InvalidArgument(f"{kind} stage {stage.stage_id} needs limits, or agreement_threshold with a measure")
            if settings.merge == pb.MERGE_METHOD_CHAMPION and not settings.champion:
                raise InvalidArgument(f"{kind} stage {stage.stage_id} merges by CHAMPION: name the champion reader")
            if not settings.disputed_stage_id and not any(
                    other.kind == pb.STAGE_KIND_REVIEW for other in stages[ids.index(stage.stage_id) + 1:]):
                raise InvalidArgument(f"{kind} stage {stage.stage_id} has no review stage after it to adjudicate disputes; "
                                      "add one or set disputed_stage_id")
            for limit in settings.limits:
                if limit.label_value < 0:
                    raise InvalidArgument(f"{kind} stage {stage.stage_id}: a limit's label_value is a class value, or 0")
            try:
                consensus_thresholds(settings)
            except InvalidArgument as error:
                raise InvalidArgument(f"{kind} stage {stage.stage_id}: {error}") from None
        if stage.kind == pb.STAGE_KIND_WEBHOOK:
            try:
                webhooks.check_url(stage.webhook.url)
            except InvalidArgument as error:
                raise InvalidArgument(f"webhook stage {stage.stage_id}: {error}") from None
            if len(stage.webhook.secret) < MIN_SECRET_CHARS:
                raise InvalidArgument(f"webhook stage {stage.stage_id} needs a secret of at least {MIN_SECRET_CHARS} characters")
            if stage.webhook.reject_stage_id and stage.webhook.reject_stage_id not in ids:
                raise InvalidArgument(f"stage {stage.stage_id} points to unknown stage {shown(stage.webhook.reject_stage_id)}")
            if stage.webhook.wait_for_answer and not stage.webhook.reject_stage_id and not any(
                    other.kind in (pb.STAGE_KIND_ANNOTATE, pb.STAGE_KIND_CONSENSUS) for other in stages[: ids.index(stage.stage_id)]):
                raise InvalidArgument(f"webhook stage {stage.stage_id} waits for answers but has nowhere to send a reject; "
                                      "set reject_stage_id")
    _check_graph(stages)


def _check_graph(stages: list[pb.Stage]) -> None:
    """Every stage is reachable from the first, and every stage can reach COMPLETE (no cycle without an exit)."""
    edges = {stage.stage_id: routing.exits(stages, stage) for stage in stages}
    finishing = {stage.stage_id for stage in stages if stage.kind == pb.STAGE_KIND_COMPLETE}
    grew = True
    while grew:
        grew = False
        for stage_id, targets in edges.items():
            if stage_id not in finishing and finishing & set(targets):
                finishing.add(stage_id)
                grew = True
    if trapped := [stage.stage_id for stage in stages if stage.stage_id not in finishing]:
        raise InvalidArgument(f"stage {trapped[0]} never leads to COMPLETE: its items would go round a cycle with no exit")
    reached, frontier = {stages[0].stage_id}, [stages[0].stage_id]
    while frontier:
        for target in edges[frontier.pop()]:
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    if unreachable := [stage.stage_id for stage in stages if stage.stage_id not in reached]:
        raise InvalidArgument(f"stage {unreachable[0]} is never reached from the first stage ({stages[0].stage_id}); "
                              "point a stage's next_stage_id at it or remove it")


def consensus_thresholds(settings: pb.ConsensusSettings) -> consensus.Thresholds:
    """The stage's limits as the domain takes them: label 0's (else `measure` at `agreement_threshold`) for every
    class, each class's own on top (InvalidArgument for a limit out of range)."""
    default: dict[str, float] = {}
    if settings.agreement_threshold:
        default[MEASURES[settings.measure]] = settings.agreement_threshold
    per_class: dict[int, dict[str, float]] = {}
    for limit in settings.limits:
        (default if limit.label_value == 0 else per_class.setdefault(limit.label_value, {}))[MEASURES[limit.measure]] = limit.limit
    return consensus.Thresholds(consensus.ClassThresholds(**default),
                                {value: consensus.ClassThresholds(**(default | own)) for value, own in per_class.items()})
