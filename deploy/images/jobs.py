"""The Helm chart's install Jobs: create the Kafka topics (`topics`) and migrate one service's schema (`migrate`)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time

from radlab import SERVICES

EVENT_MODULE = "radlab.{service}.v1.events_pb2"


def event_types() -> list[str]:
    """Every event type the services publish: the messages of each `radlab.<svc>.v1` events.proto that no other
    message there holds as a field (those are parts of events, e.g. TrainingExample), by full proto name, which is
    also the event's Kafka topic."""
    types = []
    for service in SERVICES:
        messages = importlib.import_module(EVENT_MODULE.format(service=service)).DESCRIPTOR.message_types_by_name
        parts = {
            field.message_type.full_name
            for descriptor in messages.values()
            for field in descriptor.fields
            if field.message_type is not None
        }
        types.extend(d.full_name for d in messages.values() if d.full_name not in parts)
    return sorted(types)


def create_topics(bus_url: str, partitions: int, dead_letter_partitions: int, replication_factor: int) -> tuple[list[str], list[str]]:
    """Create each event topic and its dead-letter topic that the cluster lacks, and add partitions to those that have
    fewer than asked (Kafka never removes partitions: a topic with more keeps them); returns (created, grown). Growing
    a topic moves some subjects' new events to another partition, so scale partitions up while the pipeline is quiet;
    running services see the new partitions at their next metadata refresh (at most 5 minutes), or when restarted."""
    import kafka.errors
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    from shared.bus import dead_letter_topic
    from shared.bus.kafka import KafkaBus

    wanted = {topic: partitions for topic in event_types()}
    wanted |= {dead_letter_topic(topic): dead_letter_partitions for topic in list(wanted)}
    admin = KafkaAdminClient(bootstrap_servers=KafkaBus.from_url(bus_url).bootstrap_servers, client_id="radlab-topics")
    try:
        missing = sorted(set(wanted) - set(admin.list_topics()))
        if missing:
            # A service starting beside the Job may create one first (with the brokers' defaults): grown below.
            result = admin.create_topics([NewTopic(t, wanted[t], replication_factor) for t in missing], raise_errors=False)
            for topic in result["topics"]:
                error = kafka.errors.for_code(topic["error_code"])
                if error not in (kafka.errors.NoError, kafka.errors.TopicAlreadyExistsError):
                    raise error(f"cannot create topic {topic['name']}: {topic.get('error_message') or error.__name__}")
            _await_leaders(admin, missing)
        have = {topic["name"]: len(topic["partitions"]) for topic in admin.describe_topics(sorted(wanted))}
        grown = sorted(topic for topic, count in have.items() if count < wanted[topic])
        if grown:
            admin.create_partitions({topic: wanted[topic] for topic in grown})
            _await_leaders(admin, grown, partitions=wanted)
    finally:
        admin.close()
    return missing, grown


def _await_leaders(admin, topics: list[str], timeout_s: float = 60.0, partitions: dict[str, int] | None = None) -> None:
    """Return once every partition of `topics` has a leader (and each topic the count of `partitions` names, where it
    names one), so the services that start next find the topics' metadata (a consumer group whose leader assigns
    partitions of a topic without it was seen to hang); else fail saying which."""
    deadline = time.monotonic() + timeout_s
    waiting = topics
    while waiting:
        described = admin.describe_topics(waiting)
        waiting = sorted(topic["name"] for topic in described
                         if topic["error_code"] or not topic["partitions"]
                         or len(topic["partitions"]) < (partitions or {}).get(topic["name"], 0)
                         or any(partition["leader_id"] < 0 for partition in topic["partitions"]))
        if waiting and time.monotonic() > deadline:
            raise TimeoutError(f"topics without a leader after {timeout_s:.0f} s: {', '.join(waiting)}")
        if waiting:
            time.sleep(0.5)


def migrate(db_url: str, service: str) -> None:
    """Bring `service`'s tables (its own schema) up to date, as the service does on start."""
    from shared.db import Database

    store = importlib.import_module(f"services.{service}.store")
    Database(db_url, service, store.metadata, getattr(store, "migrations", ())).engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jobs.py", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    topics = commands.add_parser("topics", help="create every event topic and its dead-letter topic (RADLAB_BUS)")
    topics.add_argument("--partitions", type=int, required=True)
    topics.add_argument("--dead-letter-partitions", type=int, default=1)
    topics.add_argument("--replication-factor", type=int, required=True)
    migration = commands.add_parser("migrate", help="migrate one service's schema (RADLAB_DB)")
    migration.add_argument("service", choices=SERVICES)
    args = parser.parse_args(argv)
    try:
        if args.command == "topics":
            if min(args.partitions, args.dead_letter_partitions, args.replication_factor) < 1:
                parser.error("partitions, dead-letter partitions and replication factor must each be at least 1")
            created, grown = create_topics(os.environ["RADLAB_BUS"], args.partitions, args.dead_letter_partitions,
                                           args.replication_factor)
            print(f"created {len(created)} topics" + (f": {', '.join(created)}" if created else " (all there)"))
            if grown:
                print(f"added partitions to {len(grown)} topics: {', '.join(grown)}")
        else:
            migrate(os.environ["RADLAB_DB"], args.service)
            print(f"{args.service}: schema up to date")
    except KeyError as missing:
        print(f"jobs.py {args.command}: set {missing.args[0]}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
