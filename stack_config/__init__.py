"""The settings layer: each stack's configuration read once, validated, and planned (every effective
schedule resolved) into the typed Args the components take. Above the components, below the program and
the tools: no component and no workload imports it (the import-linter contract in pyproject.toml).

    reader.py         a generic typed reader and SettingsError (no project knowledge)
    model.py          the settings model (Settings, FunctionSettings, …)
    stack.py          loading a stack (`load_settings`, `settings_from_config`, `stack_config`)
    functions.py      the images, function_defaults and functions sections
    plan.py           staggering and collision refusal: each effective schedule, once
    tool_settings.py  what only the operator tools read (scan gate, rollback reach, cost)
    identities.py     the deploy role's name and ARN (the bootstrap's naming, one place)
    promotion.py      a stack that builds nothing: where its images come from, checked against the source's file
    release.py        the release record a source's deploy writes and a promoting stack runs (and refuses)
    ownership.py      one owner of the registry-level ECR configuration per account and region
"""

from stack_config.model import PROJECT, EcrSettings, FunctionSettings, ImageSettings, Settings, WorkloadSettings
from stack_config.plan import StaggerError, resolve, staggered_expressions
from stack_config.reader import SettingsError
from stack_config.release import promoted_images
from stack_config.stack import load_settings, settings_from_config, stack_config
from stack_config.tool_settings import SEVERITIES, AllowedFinding, CostSettings, ScanGateSettings

__all__ = [
    "PROJECT", "AllowedFinding", "CostSettings", "EcrSettings", "FunctionSettings", "ImageSettings", "SEVERITIES", "ScanGateSettings",
    "Settings", "SettingsError", "StaggerError", "WorkloadSettings", "load_settings", "promoted_images", "resolve", "settings_from_config",
    "stack_config", "staggered_expressions",
]
