"""The policy pack: `pulumi preview --policy-pack policy` runs every rule in rules.py."""

import sys
from pathlib import Path

from pulumi_policy import EnforcementLevel, PolicyPack

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rules import POLICIES  # noqa: E402

PolicyPack(name="commodity-forecasts", enforcement_level=EnforcementLevel.MANDATORY, policies=POLICIES)
