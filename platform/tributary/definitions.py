"""The code location: each layer's definitions, merged, and the shared policy applied once.

Layers meet only at asset keys, tags and warehouse tables (``tributary/graph.py``): quality
and publish are given the definitions upstream of them and choose from those by metadata.
"""

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import dagster as dg

from tributary.automation import layer as automation
from tributary.ingest import layer as ingest
from tributary.mining import layer as mining
from tributary.operate import layer as operate
from tributary.publish import layer as publish
from tributary.quality import layer as quality
from tributary.settings import Settings
from tributary.standardize import layer as standardize
from tributary.warehouse import WAREHOUSE_POOL, WAREHOUSE_RESOURCES, Warehouse, warehouse_lock


def build_definitions(settings: Settings) -> dg.Definitions:
    resource = Warehouse(
        path=str(settings.warehouse), lock_timeout_s=settings.warehouse_lock_timeout_s
    )
    warehouse = dg.Definitions(resources={"warehouse": resource})
    # Automation first: a file source's sensor (ingest) starts its refresh job (automation).
    layers = dg.Definitions.merge(
        warehouse,
        ingest.defs(settings),
        standardize.defs(settings),
        mining.defs(settings),
        automation.defs(settings),
    )
    layers = dg.Definitions.merge(layers, quality.defs(settings, layers))
    layers = dg.Definitions.merge(layers, publish.defs(settings, layers))
    # Operate last: its alerts sensor follows every check and job of the layers above.
    return in_warehouse_pool(dg.Definitions.merge(layers, operate.defs(settings, layers)), resource)


def in_warehouse_pool(defs: dg.Definitions, warehouse: Warehouse) -> dg.Definitions:
    """Every asset and check that uses the warehouse (or dlt or dbt, which write it) joins
    the one ``warehouse`` pool and holds the warehouse lock while it runs: DuckDB never sees
    two writers, whatever instance or executor runs the steps, and no layer has to say so.

    Automation needs no policy here yet: the daily schedule and the sensors select what runs.
    """
    return dg.Definitions(
        assets=[_pooled(a, warehouse) for a in defs.assets or []],
        asset_checks=[_pooled(c, warehouse) for c in defs.asset_checks or []],
        jobs=defs.jobs,
        schedules=defs.schedules,
        sensors=defs.sensors,
        resources=defs.resources,
    )


def _pooled(definition, warehouse: Warehouse):
    """The definition with its op in the warehouse pool and under its lock, if it uses the
    warehouse.

    Dagster fixes an op's pool when the op is made and ``with_attributes`` cannot change it,
    so the op is made again, identical but for the pool (tests/test_definitions.py holds
    the graph, and every step's pool, to the committed snapshot).
    """
    if not isinstance(definition, dg.AssetsDefinition):
        return definition
    op = definition.node_def
    if op.pool or not op.required_resource_keys & WAREHOUSE_RESOURCES:
        return definition
    compute = op.compute_fn  # dagster's wrapper of the decorated function: a NamedTuple
    pooled = dg.OpDefinition(
        compute_fn=compute._replace(decorated_fn=_locked(compute.decorated_fn, warehouse)),
        name=op.name,
        ins={i.name: dg.In.from_definition(i) for i in op.input_defs},
        outs={o.name: dg.Out.from_definition(o) for o in op.output_defs},
        description=op.description,
        config_schema=op.config_schema,
        required_resource_keys=op.required_resource_keys,
        tags=op.tags,
        code_version=op.version,
        retry_policy=op.retry_policy,
        pool=WAREHOUSE_POOL,
    )
    attributes = {**definition.get_attributes_dict(), "node_def": pooled}
    if definition.is_materializable:
        del attributes["execution_type"]  # the default; passing it only raises a beta warning
    return definition.__class__(**attributes)


def _locked(fn: Callable[..., Any], warehouse: Warehouse) -> Callable[..., Any]:
    """``fn`` run while holding the warehouse lock (waits are logged to the step's log).

    A generator holds it until it is exhausted; so does an iterator a function returns (a
    dbt stream), which is consumed after the function itself has returned.
    """

    def lock() -> AbstractContextManager[None]:
        try:
            log = dg.OpExecutionContext.get().log.warning
        except dg.DagsterInvariantViolationError:  # called outside a step (direct invocation)
            log = None
        return warehouse_lock(warehouse.file, warehouse.lock_timeout_s, log=log)

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def steps(*args: Any, **kwargs: Any) -> Iterator[Any]:
            with lock():
                yield from fn(*args, **kwargs)

        return steps

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        with lock():
            result = fn(*args, **kwargs)
        if not isinstance(result, Iterator):
            return result

        def consumed() -> Iterator[Any]:
            with lock():
                yield from result

        return consumed()

    return call


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(Settings.from_env())
