"""What the components take from the workloads' contract (images/common/contract.py): the range type every
limit is, the metric names the alarms watch, and the dry-run and legacy-feed names the data plane grants.

The one place the components import it, because it has two names. In this repository it is
`common.contract`: `common` is the images' package, on the environment's path through the editable
install. In the installed package (docs/using-the-components.md) the file ships beside the components as
`commodity_forecasts.common.contract`, so that nothing named `common` enters site-packages. Either way
it is the same file, so the infrastructure and the workloads still agree by construction.
"""

from __future__ import annotations

if __package__ == "commodity_forecasts.components":
    from commodity_forecasts.common.contract import DRY_RUN_ITEM, DRY_RUN_MARKERS, LEGACY_PREFIX, AccessProfile, Knob, MetricNames
else:
    from common.contract import DRY_RUN_ITEM, DRY_RUN_MARKERS, LEGACY_PREFIX, AccessProfile, Knob, MetricNames

__all__ = ["DRY_RUN_ITEM", "DRY_RUN_MARKERS", "LEGACY_PREFIX", "AccessProfile", "Knob", "MetricNames"]
