"""`radlab workflows|tasks|consensus …`: workflows and their statistics, tasks (list, claim, release, review), an
item's consensus."""

from __future__ import annotations

import argparse
import sys

DECISIONS = {"accept": 1, "reject": 2}


def add_commands(commands) -> None:
    """Register the commands on the `radlab` parser's subcommands."""
    workflows = commands.add_parser("workflows", help="labeling workflows").add_subparsers(title="workflow commands")
    listing = workflows.add_parser("list", help="list workflows (of one dataset)")
    listing.add_argument("--dataset", default="")
    listing.set_defaults(run=_workflows_list)
    stats = workflows.add_parser("stats", help="per stage: items now, passed/rejected/disputed, mean time; and the readers' record")
    stats.add_argument("workflow")
    stats.set_defaults(run=_workflows_stats)
    consensus = commands.add_parser("consensus", help="an item's consensus: per class agreement and verdict, reader scores")
    consensus.add_argument("item")
    consensus.set_defaults(run=_consensus)

    tasks = commands.add_parser("tasks", help="tasks: yours, and those you may claim").add_subparsers(title="task commands")
    task_list = tasks.add_parser("list", help="list tasks")
    task_list.add_argument("--dataset", default="")
    task_list.add_argument("--workflow", default="")
    task_list.add_argument("--mine", action="store_true", help="only tasks assigned to you")
    task_list.set_defaults(run=_tasks_list)
    claim = tasks.add_parser("claim", help="claim a task, or the next one of a workflow")
    claim.add_argument("task", nargs="?", default="", help="task id (default: the next open task of --workflow)")
    claim.add_argument("--workflow", default="")
    claim.add_argument("--stage", default="")
    claim.set_defaults(run=_tasks_claim)
    release = tasks.add_parser("release", help="give a task back to the pool")
    release.add_argument("task")
    release.set_defaults(run=_tasks_release)
    review = tasks.add_parser("review", help="accept or reject the annotation a review task is about")
    review.add_argument("task")
    review.add_argument("decision", choices=sorted(DECISIONS))
    review.add_argument("--comment", default="", help="what to fix (required to reject)")
    review.add_argument("--version", type=int, required=True, help="the annotation version you reviewed")
    review.set_defaults(run=_tasks_review)


def _workflows_list(args: argparse.Namespace) -> int:
    from radlab.client import Client
    from radlab.workflow.v1 import workflow_service_pb2 as pb

    with Client() as client:
        for workflow in client.workflow.ListWorkflows(pb.ListWorkflowsRequest(dataset_id=args.dataset)).workflows:
            stages = " → ".join(stage.stage_id for stage in workflow.stages)
            print(f"{workflow.workflow_id}  v{workflow.version}{' current' if workflow.current else ''}  {workflow.name}  "
                  f"({stages})")
    return 0


def _workflows_stats(args: argparse.Namespace) -> int:
    from radlab.client import Client
    from radlab.workflow.v1 import workflow_service_pb2 as pb

    with Client() as client:
        found = client.workflow.GetWorkflowStats(pb.GetWorkflowStatsRequest(workflow_id=args.workflow))
        dataset = client.workflow.GetWorkflow(pb.GetWorkflowRequest(workflow_id=args.workflow)).workflow.dataset_id
        readers = client.workflow.ListReaderStats(pb.ListReaderStatsRequest(dataset_id=dataset)).readers
    print(f"{'stage':14} {'items':>6} {'passed':>7} {'rejected':>9} {'disputed':>9} {'mean s':>9}")
    for stage in found.stages:
        print(f"{stage.stage_id:14} {stage.items:6} {stage.passed:7} {stage.rejected:9} {stage.disputed:9} {stage.mean_seconds:9.1f}")
    print(f"completed: {found.items_completed} ({found.items_completed_last_hour} in the last hour)")
    for reader in readers:
        shapes = f", shape IoU {reader.mean_shape_iou:.3f} on {reader.shape_items}" if reader.shape_items else ""
        print(f"reader {reader.reader}: {reader.items} item(s), mean Dice {reader.mean_dice:.3f}, "
              f"surface Dice {reader.mean_surface_dice:.3f}{shapes}")
    return 0


def _consensus(args: argparse.Namespace) -> int:
    from radlab.client import Client
    from radlab.workflow.v1 import workflow_service_pb2 as pb

    with Client() as client:
        result = client.workflow.GetConsensusResult(pb.GetConsensusResultRequest(item_id=args.item)).consensus_result
    print(f"item {result.item_id}: {pb.ConsensusState.Name(result.state).removeprefix('CONSENSUS_STATE_').lower()}, "
          f"mean Dice {result.agreement:.3f}")
    for verdict in result.classes:
        mark = "agreed" if verdict.agreed else "DISAGREED: " + "; ".join(verdict.shortfalls)
        print(f"  class {verdict.label_value}: Dice {verdict.dice:.3f}  HD95 {verdict.hd95_mm:.1f} mm  "
              f"surface Dice {verdict.surface_dice:.3f}  {mark}")
    for score in result.reader_scores:
        print(f"  reader {score.reader}: Dice {score.dice:.3f} with the merge")
    return 0


def _print(task) -> None:
    from radlab.workflow.v1 import workflow_service_pb2 as pb

    state = pb.TaskState.Name(task.state).removeprefix("TASK_STATE_").lower()
    print(f"{task.task_id}  {task.stage_id:10} {state:10} item {task.item_id}  {task.assignee or '-'}"
          + (f"  comment: {task.comment}" if task.comment else ""))


def _tasks_list(args: argparse.Namespace) -> int:
    from radlab.client import Client

    filters = {key: value for key, value in (("dataset_id", args.dataset), ("workflow_id", args.workflow)) if value}
    if args.mine:
        filters["assignee"] = "me"
    with Client() as client:
        for task in client.list_tasks(**filters):
            _print(task)
    return 0


def _tasks_claim(args: argparse.Namespace) -> int:
    from radlab.client import Client

    if not args.task and not args.workflow:
        print("radlab: name a task, or --workflow to claim its next open task", file=sys.stderr)
        return 2
    with Client() as client:
        _print(client.claim_task(task_id=args.task, workflow_id=args.workflow, stage_id=args.stage))
    return 0


def _tasks_release(args: argparse.Namespace) -> int:
    from radlab.client import Client
    from radlab.workflow.v1 import workflow_service_pb2 as pb

    with Client() as client:
        _print(client.workflow.ReleaseTask(pb.ReleaseTaskRequest(task_id=args.task)).task)
    return 0


def _tasks_review(args: argparse.Namespace) -> int:
    from radlab.client import Client
    from radlab.workflow.v1 import workflow_service_pb2 as pb

    with Client() as client:
        task = client.workflow.SubmitReview(pb.SubmitReviewRequest(
            task_id=args.task, decision=DECISIONS[args.decision], comment=args.comment, annotation_version=args.version)).task
    _print(task)
    return 0
