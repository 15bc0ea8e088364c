"""The settings model: everything one stack is configured with, as frozen typed objects. The defaults here
(and in the components' Args, components/limits.py and common/contract.py's knobs) are the only ones."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from common.contract import (
    ACCESS,
    FORECAST_HORIZON_DAYS,
    LEGACY_PREFIX,
    MAX_PRICE_AGE_DAYS,
    MIN_IMPROVEMENT,
    PRICE_FEED,
    PRICE_FEED_ACCESS,
    SIGNIFICANCE_LEVEL,
    AccessProfile,
)
from common.environment import WorkloadEnvironment
from components.account_registry import Replication, ReplicationSource
from components.function import ContainerFunctionArgs
from components.limits import ECR_KEEP_RELEASE_IMAGES, ECR_UNTAGGED_EXPIRE_DAYS, LOG_RETENTION_DAYS_DEFAULT
from components.monitoring import AlarmThresholds
from components.registry import CrossAccountPuller
from components.schedule import ScheduleArgs
from stack_config import identities
from stack_config.promotion import Consumer, Promotion
from stack_config.tool_settings import EXPECTED_DURATION_SECONDS, CostSettings, DeliverySettings, RollbackSettings, ScanGateSettings

PROJECT = "commodity-forecasts"


@dataclass(frozen=True)
class ImageSettings:
    """One container image, built from `images/<name>/Dockerfile` with `images/` as context."""

    name: str
    build_args: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Extra `--build-arg` values."""


@dataclass(frozen=True)
class FunctionSettings:
    """One container-image Lambda function: the component's own Args and ScheduleArgs, built from config
    and resolved (the schedule is the one that will run), plus what only the program and the tools use."""

    name: str
    image: str
    architecture: str
    args: ContainerFunctionArgs = None  # type: ignore[assignment]
    """Everything the function is built with except what comes from resources (image build, resource
    names in the environment, access statements). None: the Args' defaults, under `name`."""
    schedule: ScheduleArgs | None = None
    """When it runs: after the plan (stack_config/plan.py), the effective expression, staggered where
    functions share a base time; before it, the declared one."""
    event: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """The payload a scheduled run receives, e.g. {"commodity": "corn"}."""
    environment: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """The stack's own extra variables (the workload contract's are added by the program)."""
    pre_traffic_check: bool = True
    """Invoke each new version with `dry_run_event` before `live` moves to it (docs/guardrails.md: Deploying safely)."""
    expected_duration_seconds: int = int(EXPECTED_DURATION_SECONDS.default)
    """What one run is expected to take: only the cost estimate (`tools.cost`) reads it."""
    access: str = ""
    """Which access profile the function gets (common/contract.py): its image's, unless another is named
    (the price feed runs the predictor's image with the feed's profile)."""

    def __post_init__(self) -> None:
        if self.args is None:
            object.__setattr__(self, "args", ContainerFunctionArgs(function_name=self.name))
        if not self.access:
            object.__setattr__(self, "access", self.image)

    @property
    def access_profile(self) -> AccessProfile:
        return PRICE_FEED_ACCESS if self.access == PRICE_FEED else ACCESS[self.access]

    @property
    def dry_run_event(self) -> dict[str, Any]:
        """The scheduled event with `dry_run: true`: the gate's and `tools.rollback`'s check."""
        return {**self.event, "dry_run": True}


@dataclass(frozen=True)
class EcrSettings:
    """Lifecycle of every ECR repository (ranges and defaults: components/limits.py)."""

    untagged_expire_days: int = int(ECR_UNTAGGED_EXPIRE_DAYS.default)
    keep_release_images: int = int(ECR_KEEP_RELEASE_IMAGES.default)


@dataclass(frozen=True)
class WorkloadSettings:
    """What the workloads are told (common/contract.py names the variables): ranges live with each Knob."""

    forecast_horizon_days: int = int(FORECAST_HORIZON_DAYS.default)
    max_price_age_days: int = int(MAX_PRICE_AGE_DAYS.default)
    min_improvement: float = MIN_IMPROVEMENT.default
    significance_level: float = SIGNIFICANCE_LEVEL.default
    legacy_file_names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Commodity → file name the mobile app reads (without `.json`); unlisted commodities use their own name."""


@dataclass(frozen=True)
class Settings:
    """Everything one stack is configured with. `Pulumi.yaml` declares just the one required key,
    because the CLI treats a declared key without a default as required."""

    project: str
    stack: str
    environment: str
    """Used in every physical name (`commodity-forecasts-<environment>-…`), e.g. dev, prod."""
    region: str
    images: tuple[ImageSettings, ...]
    functions: tuple[FunctionSettings, ...]
    """In declared order, each with its effective schedule."""
    legacy_bucket: str | None = None
    """The mobile app's existing bucket: looked up, never managed; the stack may write only under `legacy_prefix`.
    Unset: no legacy feed at all (no lookup, no grant, no write, no dry-run marker, no legacy-feed alarm)."""
    account_id: str | None = None
    """The one account the stack deploys to (`aws:allowedAccountIds`); the delivery tools need it."""
    protect: bool = True
    """Production guard: `protect` on the bucket and table, table deletion protection, repositories and buckets
    never force-deleted. `false` only for throwaway stacks."""
    architecture: str = "arm64"
    """Every function's architecture unless it sets its own."""
    ecr: EcrSettings = EcrSettings()
    log_retention_days: int = LOG_RETENTION_DAYS_DEFAULT
    """Days every function's logs are kept (CloudWatch's allowed values only)."""
    alarm_emails: tuple[str, ...] = ()
    """Addresses subscribed to the alarm topic (each confirms by email)."""
    stagger_minutes: int = 15
    """Functions whose schedules share a base time run this many minutes apart, in declared order."""
    legacy_prefix: str = LEGACY_PREFIX
    """The only prefix the stack may write in `legacy_bucket`."""
    alarms: AlarmThresholds = AlarmThresholds()
    runbook_url: str = "README.md#runbook"
    """Where alarms and the dashboard link; set an absolute URL."""
    scan_gate: ScanGateSettings = ScanGateSettings()
    workload: WorkloadSettings = WorkloadSettings()
    cost: CostSettings = CostSettings()
    delivery: DeliverySettings = DeliverySettings()
    price_feed: FunctionSettings | None = None
    """A function that merges each price file dropped under the data bucket's `incoming/` (the predictor's
    image, predictor/ingest.py), and alarms when no new close arrived a day before predictions would go stale.
    None: no feed (`price_feed: false`)."""

    @property
    def all_functions(self) -> tuple[FunctionSettings, ...]:
        """The declared functions and, when there is one, the price feed's: everything the program deploys."""
        return self.functions + ((self.price_feed,) if self.price_feed is not None else ())
    rollback: RollbackSettings = RollbackSettings()
    deploy_role_arn: str | None = None
    """The only principal allowed to push to (and delete from) the stack's repositories; unset: the bootstrap's
    deploy role of this environment (stack_config/identities.py)."""
    registry_owner: bool = False
    """This stack owns its account and region's registry-level ECR configuration: enhanced continuous
    scanning of every `commodity-forecasts/*` repository, and for promotion across accounts the replication
    configuration (in the source's account) or the registry policy letting the source replicate in (in the
    promoting stack's). Exactly one stack per account and region sets it (a test checks every stack file)."""
    promotion: Promotion | None = None
    """Where this stack's images come from when it builds none (`promote_from`, `promotion`): stack_config/promotion.py."""
    consumers: tuple[Consumer, ...] = ()
    """The stacks in other accounts that promote from this one by replication or pull (read from their stack files)."""

    @property
    def name_prefix(self) -> str:
        """Prefix of physical names, unique per project and environment."""
        return f"{self.project}-{self.environment}"

    def data_bucket_name(self, account_id: str) -> str:
        """S3 names are global: account and region make ours unique without a random suffix."""
        return f"{self.name_prefix}-data-{account_id}-{self.region}"

    @property
    def role_path(self) -> str:
        """IAM path of every role this stack creates (stack_config/identities.py)."""
        return identities.role_path(self.project, self.environment)

    def permissions_boundary_arn(self, account_id: str) -> str:
        """The boundary every role this stack creates carries (the bootstrap creates the policy)."""
        return identities.boundary_arn(self.region, account_id, self.project, self.environment)

    @property
    def feed_window_minutes(self) -> int:
        """The stale-feed alarm's window: a day shorter than the predictors' freshness limit."""
        return max(1, self.workload.max_price_age_days - 1) * 24 * 60

    @property
    def alarm_topic_key(self) -> str:
        """The alarm topic's KMS key, made by the bootstrap (stack_config/identities.py)."""
        return identities.alarm_key_alias(self.project, self.environment)

    @property
    def predictions_table_name(self) -> str:
        return f"{self.name_prefix}-predictions"

    def workload_environment(self, *, data_bucket: Any, predictions_table: Any, legacy_bucket: Any) -> WorkloadEnvironment:
        """What this stack tells its functions (names may be resource outputs): the one source for the
        program, the demo and `make serve`."""
        return WorkloadEnvironment(
            data_bucket=data_bucket,
            predictions_table=predictions_table,
            legacy_bucket=legacy_bucket,
            legacy_prefix=self.legacy_prefix,
            max_price_age_days=self.workload.max_price_age_days,
            min_improvement=self.workload.min_improvement,
            significance_level=self.workload.significance_level,
            forecast_horizon_days=self.workload.forecast_horizon_days,
            legacy_file_names=self.workload.legacy_file_names,
        )

    def deploy_role(self, account_id: str) -> str:
        """The one principal that may push to the stack's repositories: `deploy_role_arn`, else the bootstrap's
        deploy role of this environment (stack_config/identities.py)."""
        return self.deploy_role_arn or identities.deploy_role_arn(self.region, account_id, self.project, self.environment)

    @property
    def repository_prefix(self) -> str:
        """Every repository of the project is `commodity-forecasts/<environment>/<image>`; a stack promoted by
        replication has its source's names (ECR keeps a replicated repository's name), in its own account."""
        promotion = self.promotion
        environment = promotion.source.environment if promotion is not None and promotion.mode == "replication" else self.environment
        return f"{self.project}/{environment}/"

    def repository_name(self, image: str) -> str:
        return f"{self.repository_prefix}{image}"

    @property
    def owns_repositories(self) -> bool:
        """Whether the stack keeps images in repositories of its own: not when its functions pull the source's."""
        return self.promotion is None or self.promotion.owns_copies

    @property
    def cross_account_pullers(self) -> tuple[CrossAccountPuller, ...]:
        """The stacks whose functions pull this stack's images from another account (promotion by pull)."""
        return tuple(
            CrossAccountPuller(c.deploy_role_arn(self.project), c.function_arns(self.project)) for c in self.consumers if c.mode == "pull"
        )

    @property
    def replication(self) -> Replication | None:
        """Where the registry replicates this stack's repositories (promotion by replication), if anywhere."""
        accounts = tuple(sorted({c.account for c in self.consumers if c.mode == "replication"}))
        return Replication(self.repository_prefix, accounts, self.region) if accounts else None

    @property
    def replication_sources(self) -> tuple[ReplicationSource, ...]:
        """The account that replicates into this registry: the source's, when this stack promotes by replication."""
        promotion = self.promotion
        if promotion is None or promotion.mode != "replication" or self.account_id is None:
            return ()
        arns = f"arn:{identities.partition(self.region)}:ecr:{self.region}:{self.account_id}:repository/{self.repository_prefix}*"
        return (ReplicationSource(promotion.source.account, self.repository_prefix, arns),)

    def function_name(self, function: FunctionSettings) -> str:
        return function.args.function_name

    def image(self, name: str) -> ImageSettings:
        return next(image for image in self.images if image.name == name)

    def image_builds(self) -> tuple[tuple[str, str], ...]:
        """(image, architecture) pairs to build: one per architecture its functions use, else the default."""
        builds: list[tuple[str, str]] = []
        for image in self.images:
            architectures = sorted({f.architecture for f in self.all_functions if f.image == image.name})
            for architecture in architectures or [self.architecture]:
                builds.append((image.name, architecture))
        return tuple(builds)
