"""Radlab's public SDK (`radlab.client`) and CLI (`radlab.cli`), and the generated contract code (`radlab.<svc>.v1`)."""

# The six services, in pipeline order; proto package `radlab.<name>.v1`, Python package `services.<name>`.
SERVICES = ("ingestion", "anonymization", "annotation", "workflow", "interpolation", "training")

# Full gRPC service name of each service, e.g. radlab.workflow.v1.WorkflowService.
SERVICE_NAMES = {name: f"radlab.{name}.v1.{name.capitalize()}Service" for name in SERVICES}

# The trailer in which a gRPC health Check of a NOT_SERVING service says why (e.g. "database unreachable").
HEALTH_REASON_TRAILER = "radlab-not-serving-reason"
