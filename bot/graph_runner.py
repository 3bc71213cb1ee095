"""Runs the model's graphs for each message without dask's scheduler.

Rasa 3.6 runs its graphs (the NLU pipeline for each message, the policies for each prediction)
with `DaskGraphRunner.run`: it works out again which nodes the targets need (walking the whole
schema, shared dependencies once per path), builds a dask graph, and hands it to dask's
synchronous scheduler, whose bookkeeping for a graph of a dozen nodes cost about a tenth of the
Rasa server's CPU. Installed by `bot.speedups`, this keeps the graph Rasa builds (the same nodes,
called with the same arguments), works it out once per set of targets, and calls each needed
node once, after the nodes it needs, as dask does. A graph of any other shape (dask allows more
than Rasa builds) still goes to dask.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner

logger = logging.getLogger("rasa.engine.runner.dask")

_original_run = DaskGraphRunner.run


def _plain(graph: dict[str, Any]) -> bool:
    # Rasa's shape: each node a tuple of the node and the names of what it needs (other nodes,
    # or inputs added for each run).
    return all(
        isinstance(task, tuple)
        and task
        and callable(task[0])
        and all(isinstance(need, str) for need in task[1:])
        for task in graph.values()
    )


def _value(graph: dict[str, Any], name: str, done: dict[str, Any]) -> Any:
    if name in done:
        return done[name]
    if name not in graph:
        return name  # as dask passes a name that is not in the graph: as it is
    task = graph[name]
    if isinstance(task, tuple) and task and callable(task[0]):
        value = task[0](*(_value(graph, need, done) for need in task[1:]))
    else:
        value = task  # an input: data, as dask passes it
    done[name] = value
    return value


def run(
    self: DaskGraphRunner,
    inputs: dict[str, Any] | None = None,
    targets: list[str] | None = None,
) -> dict[str, Any]:
    """`DaskGraphRunner.run`, same results (see the module)."""
    run_targets = targets if targets else self._graph_schema.target_names
    plans: dict[tuple[str, ...], dict[str, Any] | None] = self.__dict__.setdefault(
        "_youthlink_plans", {}
    )
    key = tuple(run_targets)
    if key not in plans:
        graph = self._build_dask_graph(self._graph_schema.minimal_graph_schema(run_targets))
        plans[key] = graph if _plain(graph) else None
    plan = plans[key]
    if plan is None:
        return _original_run(self, inputs, targets)
    graph = dict(plan)
    if inputs:
        self._add_inputs_to_graph(inputs, graph)
    if any(target not in graph for target in run_targets):
        return _original_run(self, inputs, targets)
    if logger.isEnabledFor(logging.DEBUG):  # the message is not built for nothing on each run
        logger.debug(
            f"Running graph with inputs: {inputs}, targets: {targets} and "
            f"{self._execution_context}."
        )
    done: dict[str, Any] = {}
    try:
        return dict(_value(graph, target, done) for target in run_targets)
    except RuntimeError as e:
        raise GraphRunError("Error running runner.") from e


def install() -> None:
    """Make Rasa run its graphs this way."""
    DaskGraphRunner.run = run  # type: ignore[method-assign]
