"""Composition root: settings → data plane → images → functions → schedules → monitoring → outputs.

Components never read config; everything they need comes from the validated, planned settings
(stack_config/: every schedule is already the one that will run), and every name a workload receives
comes from a resource output. `replace` here fills in only what comes from resources.
"""

import gc
from dataclasses import replace

import pulumi
import pulumi_aws as aws

from components.account_registry import AccountRegistry, AccountRegistryArgs
from components.data import DataPlane, DataPlaneArgs
from components.function import ContainerFunction
from components.iam import RoleOptions
from components.image import LambdaImage, LambdaImageArgs
from components.monitoring import ImageFindings, MonitoredFunction, Monitoring, MonitoringArgs, PriceFeedWatch
from components.promoted_image import PromotedImage, PromotedImageArgs
from components.registry import EcrRepository, EcrRepositoryArgs
from components.schedule import Schedule
from common.contract import COMMODITIES, INCOMING_PREFIX, PRICE_FEED, MetricNames
from stack_config import load_settings, promoted_images

IMAGES_DIR = "images"
"""Build context of every image (relative to the project, so state holds no machine paths)."""
# The program builds a graph of Outputs that lives until it ends; the cyclic collector's repeated full
# passes over that growing graph made large stacks superlinear (bench/program.py: 300 functions took
# 57 s under mocks, 36 s with this). Freeze what imports created and collect rarely.
gc.freeze()
gc.set_threshold(50_000, 20, 100)

settings = load_settings()
account_id = aws.get_caller_identity_output().account_id

data = DataPlane(
    "data",
    DataPlaneArgs(
        bucket_name=account_id.apply(settings.data_bucket_name),
        table_name=settings.predictions_table_name,
        legacy_bucket=settings.legacy_bucket,
        legacy_prefix=settings.legacy_prefix,
        protect=settings.protect,
    ),
)

repositories = {
    image.name: EcrRepository(
        image.name,
        EcrRepositoryArgs(
            repository_name=settings.repository_name(image.name),
            untagged_expire_days=settings.ecr.untagged_expire_days,
            keep_release_images=settings.ecr.keep_release_images,
            force_delete=not settings.protect,
            lambda_source_arn=account_id.apply(
                lambda account: f"arn:aws:lambda:{settings.region}:{account}:function:{settings.name_prefix}-*"
            ),
            # Only the deploy role pushes (a promoting stack's copies are its deploy role's pushes too); a stack
            # pulling these images from another account keeps its protected tags here.
            pushers=(account_id.apply(settings.deploy_role), *(puller.deploy_role_arn for puller in settings.cross_account_pullers)),
            cross_account_pullers=settings.cross_account_pullers,
        ),
    )
    for image in settings.images
    if settings.owns_repositories
}

if settings.registry_owner:
    # One stack per account and region owns this (a test checks every stack file): it scans every
    # repository of the project, every stack's, continuously and with Inspector, and holds the
    # account's side of promotion by replication.
    AccountRegistry("registry", AccountRegistryArgs(
        repository_filters=(f"{settings.project}/*",),
        replication=settings.replication, replication_sources=settings.replication_sources,
    ))

if settings.promotion is None:
    images = {
        (image_name, architecture): LambdaImage(
            f"{image_name}-{architecture}",
            LambdaImageArgs(
                image=image_name,
                architecture=architecture,
                repository=repositories[image_name],
                context_dir=IMAGES_DIR,
                build_args=settings.image(image_name).build_args,
            ),
        )
        for image_name, architecture in settings.image_builds()
    }
else:
    # Builds nothing: each image is the digest the source's release record shows was served and passed its
    # scan gate (refused otherwise, before anything is planned), in this stack's copy or at the source.
    release = promoted_images(settings)
    images = {
        (tested.image, tested.architecture): PromotedImage(
            f"{tested.image}-{tested.architecture}",
            PromotedImageArgs(
                image=tested.image, architecture=tested.architecture, digest=tested.digest,
                repository_url=repositories[tested.image].url if repositories else tested.source_repository_url,
            ),
        )
        for tested in release.images.values()
    }

# Every role the stack creates lives under its environment's path and carries its permissions boundary:
# the only roles the deploying identity may create (tools/deployer_policy.py).
role_options = RoleOptions(path=settings.role_path, permissions_boundary=account_id.apply(settings.permissions_boundary_arn))
functions = {}
schedules = {}
for spec in settings.all_functions:
    # The settings built each function's Args from config; the program adds what comes from resources.
    physical_name = spec.args.function_name
    functions[spec.name] = ContainerFunction(
        spec.name,
        replace(
            spec.args,
            image=images[(spec.image, spec.architecture)],
            environment={
                **settings.workload_environment(
                    data_bucket=data.bucket.bucket, predictions_table=data.table.name,
                    legacy_bucket=data.legacy.bucket if data.legacy is not None else None,
                ).variables(service=physical_name),
                **spec.environment,
            },
            statements=data.statements(spec.access_profile),
            role_options=role_options,
        ),
    )
    if spec.schedule is not None:
        schedules[spec.name] = Schedule(
            f"{spec.name}-schedule", replace(spec.schedule, function=functions[spec.name], role_options=role_options),
        )

if settings.price_feed is not None:
    # Each price file written under incoming/ invokes the feed's live alias (predictor/ingest.py).
    data.notify_on_upload(PRICE_FEED, functions[PRICE_FEED], prefix=INCOMING_PREFIX, suffix=".csv")

monitoring = Monitoring(
    "monitoring",
    MonitoringArgs(
        name_prefix=settings.name_prefix,
        region=settings.region,
        emails=settings.alarm_emails,
        thresholds=settings.alarms,
        metrics_namespace=MetricNames.NAMESPACE,
        runbook_url=settings.runbook_url,
        topic_key=settings.alarm_topic_key,
        # A stack pulling its source's images has no repository: their findings page in the source's account.
        image_findings=ImageFindings(
            repository_arns=tuple(repository.arn for repository in repositories.values()),
            min_severity=settings.scan_gate.severity_threshold,
            accepted_ids=tuple(sorted({finding.id for finding in settings.scan_gate.allow_list})),
        ) if repositories else None,
        functions=tuple(
            MonitoredFunction(
                name=spec.name,
                function=functions[spec.name],
                schedule=schedules.get(spec.name),
                schedule_expression=spec.args.schedule_expression,
                # The predictor emits PredictionsWritten and ModelAgeDays with these dimensions (Powertools
                # adds `service`); other images emit no business metrics to alarm on.
                business_dimensions=(
                    {MetricNames.COMMODITY_DIMENSION: spec.event["commodity"], MetricNames.SERVICE_DIMENSION: settings.function_name(spec)}
                    if spec.access_profile.emits_business_metrics else {}
                ),
                legacy_feed=data.legacy is not None and spec.access_profile.legacy_write,
                price_feed=PriceFeedWatch(COMMODITIES, settings.feed_window_minutes) if spec.name == PRICE_FEED else None,
            )
            for spec in settings.all_functions
        ),
    ),
)

pulumi.export("data_bucket", data.bucket.bucket)
pulumi.export("predictions_table", data.table.name)
pulumi.export("repositories", {name: repository.url for name, repository in repositories.items()})
pulumi.export("images", {f"{name}-{arch}": image.image_uri for (name, arch), image in images.items()})
pulumi.export("functions", {
    name: {
        "function_name": function.function.name,
        "alias_arn": function.alias.arn,
        "dlq_url": function.dlq.url,
        **({"schedule": schedules[name].args.expression, "schedule_dlq_url": schedules[name].dlq_url} if name in schedules else {}),
        **({"url": function.url.function_url} if function.url is not None else {}),
    }
    for name, function in functions.items()
})
if settings.promotion is not None:
    # The release this stack runs: a pull request previews it with this (.github/workflows/pull-request.yml).
    pulumi.export("release", release.record.document())
pulumi.export("alarm_topic", monitoring.topic_arn)
pulumi.export("dashboard", monitoring.dashboard_name)
