"""`radlab train|runs|models|predict …`: start a training run (and follow it with a progress bar), list and cancel
runs, list, show, compare and promote models, rank unlabelled items by uncertainty, pre-label an item with a model."""

from __future__ import annotations

import argparse
import sys


def add_commands(commands) -> None:
    """Register the commands on the `radlab` parser's subcommands."""
    train = commands.add_parser("train", help="train a model on a dataset's items with submitted labels")
    train.add_argument("dataset")
    train.add_argument("--task", default="", help="model kind: monai.unet2d (default: slices) or monai.unet3d (patches)")
    train.add_argument("--items", nargs="*", default=[], help="item ids (default: every item with submitted labels)")
    train.add_argument("--labels", nargs="*", type=int, default=[], help="label values (default: all present)")
    train.add_argument("--epochs", type=int, default=0, help="at most this many epochs (default: the kind's)")
    train.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE", help="hyper-parameters, e.g. learning_rate=1e-3")
    train.add_argument("--gpus", type=int, default=0, help="GPUs to train on (default: every GPU there is; none: CPU)")
    train.add_argument("--require-gpu", action="store_true", help="fail rather than train on fewer GPUs (or CPU)")
    train.add_argument("--wait", action="store_true", help="follow the run with a progress bar until it ends")
    train.set_defaults(run=_train)

    runs = commands.add_parser("runs", help="training runs").add_subparsers(title="run commands")
    listing = runs.add_parser("list", help="list runs, newest first")
    listing.add_argument("--dataset", default="")
    listing.set_defaults(run=_runs_list)
    cancel = runs.add_parser("cancel", help="stop a queued or running run")
    cancel.add_argument("run_id")
    cancel.set_defaults(run=_runs_cancel)

    models = commands.add_parser("models", help="the model registry").add_subparsers(title="model commands")
    models_list = models.add_parser("list", help="list models, newest first")
    models_list.add_argument("--dataset", default="")
    models_list.set_defaults(run=_models_list)
    show = models.add_parser("show", help="a model's labels, metrics and pre-processing")
    show.add_argument("model_id")
    show.set_defaults(run=_models_show)

    promote = models.add_parser("promote", help="make a model the one its dataset's model stages use (an older one: roll back)")
    promote.add_argument("model_id")
    promote.add_argument("--dataset", default="", help="the dataset it serves (default: the model's own)")
    promote.set_defaults(run=_models_promote)
    compare = models.add_parser("compare", help="models' metrics side by side")
    compare.add_argument("model_ids", nargs="+")
    compare.set_defaults(run=_models_compare)

    rank = commands.add_parser("rank", help="rank a dataset's unlabelled items by a model's uncertainty (active learning)")
    rank.add_argument("dataset")
    rank.add_argument("--model", default="", help="default: the model promoted for the dataset")
    rank.set_defaults(run=_rank)

    predict = commands.add_parser("predict", help="pre-label an item with a model (its labels become an annotation)")
    predict.add_argument("item")
    predict.add_argument("--model", required=True)
    predict.set_defaults(run=_predict)


def _train(args: argparse.Namespace) -> int:
    from radlab.client import Client

    hyperparameters = dict(_pair(text) for text in args.set)
    with Client() as client:
        run = client.train(args.dataset, model_kind=args.task, item_ids=args.items, label_values=args.labels,
                           gpu_count=args.gpus, require_gpu=args.require_gpu, max_epochs=args.epochs,
                           hyperparameters=hyperparameters)
        print(f"run {run.run_id}: {run.example_count} item(s), {run.model_kind}")
        if not args.wait:
            return 0
        bar = _RunBar()
        try:
            run = client.wait_for_run(run.run_id, progress=bar)
        finally:
            bar.close()
    if run.job.state != 3:  # SUCCEEDED
        print(f"run {run.run_id} ended {_state(run.job.state)}: {run.job.error or run.job.message}", file=sys.stderr)
        return 1
    print(f"model {run.model_id}: {_metrics(run.metrics)}")
    return 0


def _runs_list(args: argparse.Namespace) -> int:
    from radlab.client import Client
    from radlab.training.v1 import training_service_pb2 as pb

    with Client() as client:
        for run in client.training.ListTrainingRuns(pb.ListTrainingRunsRequest(dataset_id=args.dataset)).training_runs:
            print(f"{run.run_id}  {_state(run.job.state):9}  {run.model_kind}  {run.example_count} item(s)  "
                  f"{run.job.percent_done:5.1f} %  {run.job.error or run.job.message}")
    return 0


def _runs_cancel(args: argparse.Namespace) -> int:
    from radlab.client import Client
    from radlab.training.v1 import training_service_pb2 as pb

    with Client() as client:
        run = client.training.CancelTrainingRun(pb.CancelTrainingRunRequest(run_id=args.run_id)).training_run
    print(f"run {run.run_id}: {_state(run.job.state)}")
    return 0


def _models_list(args: argparse.Namespace) -> int:
    from radlab.client import Client
    from radlab.training.v1 import training_service_pb2 as pb

    with Client() as client:
        for model in client.training.ListModels(pb.ListModelsRequest(dataset_id=args.dataset)).models:
            print(f"{model.model_id}  {model.name} v{model.version}  {pb.ModelSource.Name(model.source)[13:].lower()}"
                  f"{'  PROMOTED' if model.promoted else ''}  {_metrics(model.metrics)}")
    return 0


def _models_show(args: argparse.Namespace) -> int:
    from google.protobuf import json_format

    from radlab.client import Client
    from radlab.training.v1 import training_service_pb2 as pb

    with Client() as client:
        model = client.training.GetModel(pb.GetModelRequest(model_id=args.model_id)).model
    print(json_format.MessageToJson(model))
    return 0


def _models_promote(args: argparse.Namespace) -> int:
    from radlab.client import Client
    from radlab.training.v1 import training_service_pb2 as pb

    with Client() as client:
        model = client.training.PromoteModel(pb.PromoteModelRequest(model_id=args.model_id, dataset_id=args.dataset)).model
    print(f"promoted {model.model_id} ({model.name} v{model.version})")
    return 0


def _models_compare(args: argparse.Namespace) -> int:
    from radlab.client import Client
    from radlab.training.v1 import training_service_pb2 as pb

    with Client() as client:
        found = [client.training.GetModel(pb.GetModelRequest(model_id=model_id)).model for model_id in args.model_ids]
    rows = sorted({(metric.name, metric.label_value) for model in found for metric in model.metrics})
    print(f"{'metric':18}" + "".join(f"{model.name[:22] + ' v' + str(model.version):>28}" for model in found))
    for name, value in rows:
        cells = [next((f"{m.value:.4f}" for m in model.metrics if (m.name, m.label_value) == (name, value)), "-")
                 for model in found]
        print(f"{name + (' mean' if value == 0 else f' {value}'):18}" + "".join(f"{cell:>28}" for cell in cells))
    return 0


def _rank(args: argparse.Namespace) -> int:
    from radlab.client import Client

    with Client() as client:
        ranking = client.rank(args.dataset, args.model)
    if ranking.job.state != 3:
        print(f"ranking {ranking.ranking_id} {_state(ranking.job.state)}: {ranking.job.error}", file=sys.stderr)
        return 1
    _print_ranked(ranking.items)
    return 0


def items_next(args: argparse.Namespace) -> int:
    """`radlab items next DATASET`: the latest ranking's items, most uncertain first."""
    from radlab.client import Client
    from radlab.training.v1 import training_service_pb2 as pb

    with Client() as client:
        ranking = client.training.GetRanking(pb.GetRankingRequest(dataset_id=args.dataset)).ranking
    _print_ranked(ranking.items[:args.count])
    return 0


def _print_ranked(items) -> None:
    for place, item in enumerate(items, 1):
        print(f"{place:4}  {item.item_id}  uncertainty {item.uncertainty:.3f}")


def _predict(args: argparse.Namespace) -> int:
    from radlab.client import Client

    with Client() as client:
        prediction = client.predict(args.model, args.item)
    if prediction.job.state != 3:
        print(f"prediction {prediction.prediction_id} {_state(prediction.job.state)}: {prediction.job.error}", file=sys.stderr)
        return 1
    print(f"prediction {prediction.prediction_id}: {prediction.job.message}; the item has an annotation by the model")
    return 0


class _RunBar:
    """A run's progress as a tqdm bar on stderr, its postfix the run's current step (epoch, loss, Dice, time left)."""

    def __init__(self):
        from tqdm import tqdm

        self.bar = tqdm(total=100.0, unit="%", file=sys.stderr, bar_format="{l_bar}{bar}| {n:.0f}% {postfix}")

    def __call__(self, run) -> None:
        self.bar.update(run.job.percent_done - self.bar.n)
        self.bar.set_postfix_str(run.job.message)

    def close(self) -> None:
        self.bar.close()


def _pair(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise SystemExit(f"radlab: --set takes NAME=VALUE pairs; got {text!r}")
    return name, value


def _metrics(metrics) -> str:
    dice = {metric.label_value: metric.value for metric in metrics if metric.name == "dice"}
    return ", ".join(f"{'mean' if value == 0 else f'label {value}'} Dice {score:.3f}" for value, score in sorted(dice.items()))


def _state(state: int) -> str:
    from radlab.type.v1 import job_pb2

    return job_pb2.JobState.Name(state)[10:].lower()
