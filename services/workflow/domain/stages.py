"""What a valid stage list is, and the workflow a new dataset starts with."""

from __future__ import annotations

from radlab.quoting import shown
from radlab.workflow.v1 import workflow_service_pb2 as pb
from shared.errors import InvalidArgument

DEFAULT_NAME = "annotate, review"


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
        for target in (stage.next_stage_id, stage.review.reject_stage_id, stage.consensus.disputed_stage_id):
            if target and target not in ids:
                raise InvalidArgument(f"stage {stage.stage_id} points to unknown stage {shown(target)}")
        settings = stage.assignment
        policy = settings.policy
        if policy in (pb.ASSIGNMENT_POLICY_ROUND_ROBIN, pb.ASSIGNMENT_POLICY_LEAST_LOADED) and not settings.assignees:
            raise InvalidArgument(f"stage {stage.stage_id}: {pb.AssignmentPolicy.Name(policy)} needs assignees to "
                                  "share tasks among")
        if settings.claim_timeout_s < 0:
            raise InvalidArgument(f"stage {stage.stage_id}: claim_timeout_s must not be negative")
        if stage.kind == pb.STAGE_KIND_REVIEW and not any(
                other.kind == pb.STAGE_KIND_ANNOTATE for other in stages[: ids.index(stage.stage_id)]
        ) and not stage.review.reject_stage_id:
            raise InvalidArgument(f"review stage {stage.stage_id} has no annotate stage before it to send rejects to; "
                                  "set reject_stage_id")
        if stage.HasField("review") and not 0 <= stage.review.sample_fraction <= 1:
            raise InvalidArgument(f"stage {stage.stage_id}: sample_fraction must be between 0 and 1")
        if stage.kind == pb.STAGE_KIND_CONSENSUS:
            if stage.consensus.annotator_count < 2:
                raise InvalidArgument(f"{kind} stage {stage.stage_id} needs annotator_count of at least 2")
            if not 0 < stage.consensus.agreement_threshold <= 1:
                raise InvalidArgument(f"{kind} stage {stage.stage_id} needs agreement_threshold in (0, 1]")
