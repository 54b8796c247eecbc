"""The house rules a reviewer would check by hand: every service has the same rooms, services never
import each other, domain code does no I/O, every module says what it is for."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
from pathlib import Path

import pytest

from radlab import SERVICES
from tests.conftest import REPO

# Each room, as the files any one of which holds it: handlers may grow into a package of one module per concern.
ROOMS = (
    ("__init__.py",), ("__main__.py",), ("handlers.py", "handlers/__init__.py"), ("server.py",), ("store.py",),
    ("domain/__init__.py",),
)
IO_MODULES = ("grpc", "sqlalchemy", "shared.db", "shared.bus", "shared.objectstore", "shared.compute", "socket", "subprocess")


def imports(path: Path) -> set[str]:
    """Every module name `path` imports."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def handwritten_modules() -> list[Path]:
    roots = [REPO / name for name in ("radlab", "shared", "services", "tests", "scripts", "bench")]
    return sorted(
        path for root in roots for path in root.rglob("*.py")
        if not path.name.endswith(("_pb2.py", "_pb2_grpc.py"))
        and not (path.parent != REPO / "radlab" and path.is_relative_to(REPO / "radlab") and path.name == "__init__.py")
    )


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_the_same_rooms(service):
    """domain/, handlers (handlers.py or a handlers/ package, not both), server.py, store.py, __main__.py and a
    bootstrap() in __init__.py."""
    folder = REPO / "services" / service
    held = [[way for way in ways if (folder / way).is_file()] for ways in ROOMS]
    assert [ways[0] for ways, found in zip(ROOMS, held) if not found] == []
    assert [found for found in held if len(found) > 1] == []
    assert "def bootstrap(" in (folder / "__init__.py").read_text()


@pytest.mark.parametrize("service", SERVICES)
def test_services_never_import_each_other(service):
    """A service talks to another only through contracts (radlab.*) and events, never its code."""
    for path in (REPO / "services" / service).rglob("*.py"):
        foreign = {name for name in imports(path) if name.startswith("services.") and name.split(".")[1] != service}
        assert not foreign, f"{path.relative_to(REPO)} imports {sorted(foreign)}"


def test_the_gateway_imports_no_service():
    """The HTTP gateway reaches the services as any client does: through the contracts (radlab.*) over gRPC."""
    for path in (REPO / "services" / "gateway").rglob("*.py"):
        foreign = {name for name in imports(path) if name.startswith("services.") and name.split(".")[1] != "gateway"}
        assert not foreign, f"{path.relative_to(REPO)} imports {sorted(foreign)}"


@pytest.mark.parametrize("service", SERVICES)
def test_domain_code_does_no_io(service):
    """Domain modules are pure: no gRPC, database, bus, object store, compute, sockets or processes."""
    for path in (REPO / "services" / service / "domain").rglob("*.py"):
        io = {name for name in imports(path) if name.startswith(IO_MODULES)}
        assert not io, f"{path.relative_to(REPO)} imports {sorted(io)}"


def test_every_handwritten_module_starts_with_a_docstring():
    """One line on what each module is for."""
    undocumented = [
        str(path.relative_to(REPO)) for path in handwritten_modules()
        if path.stat().st_size and ast.get_docstring(ast.parse(path.read_text())) is None
    ]
    assert undocumented == []


@pytest.mark.parametrize("service", SERVICES)
def test_every_servicer_is_built_from_its_services_ports(service):
    """One shape everywhere: handlers' `Ports` (a dataclass holding at least the database) is what the servicer takes,
    and bootstrap() hands it over through Service.wire."""
    handlers = importlib.import_module(f"services.{service}.handlers")
    server = importlib.import_module(f"services.{service}.server")
    assert dataclasses.is_dataclass(handlers.Ports) and "db" in {field.name for field in dataclasses.fields(handlers.Ports)}
    [servicer] = [value for name, value in vars(server).items() if name.endswith("Servicer") and isinstance(value, type)
                  and value.__module__ == server.__name__]
    assert list(inspect.signature(servicer.__init__).parameters) == ["self", "ports"]
    assert "Service.wire(" in (REPO / "services" / service / "__init__.py").read_text()


def test_applying_an_event_once_is_written_in_one_place():
    """Services use shared.db's apply_once / idempotent; only shared/db.py checks and marks processed events itself."""
    by_hand = [
        str(path.relative_to(REPO)) for root in ("services", "shared") for path in (REPO / root).rglob("*.py")
        if path != REPO / "shared" / "db.py" and re.search(r"\.(already_processed|mark_processed)\(", path.read_text())
    ]
    assert by_hand == []
