"""Pulumi mocks with realistic computed outputs, and a harness that runs programs under them: what the
tests assert on, and what `tools.cost` prices (the resources the program really declares).

`run_program(fn)` runs `fn` under fresh mocks, waits for every registration, and returns the
recorded resource graph: type, name, inputs, computed state, parent and resource options.
`run_stack("dev")` does the same for the real `__main__.py` with `Pulumi.dev.yaml` merged over
anything declared in `Pulumi.yaml` (only required keys, so nothing to merge today), the way the CLI merges them.
A stack that promotes from another runs with a release record: the one given, else the record of what its
source's program deploys under the same mocks (`release_of`: each function's image and architecture, every
scan passed), which is what the deploy tools would record after that source's update.

The harness itself (the mocks, `run_program`, the graph) needs nothing but pulumi: the settings layer is
imported by the functions that run a stack of this project. So a program can run under it with this
repository off the import path, as tests/test_examples.py runs examples/echo on the installed wheel.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import runpy
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import pulumi
from pulumi.runtime import mocks as pulumi_mocks

if TYPE_CHECKING:
    from stack_config.release import ReleaseRecord

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "commodity-forecasts"
ACCOUNT = "123456789012"


@dataclass
class Resource:
    """One registered resource as the engine would see it."""

    type: str
    name: str
    urn: str
    parent: str
    inputs: dict
    state: dict
    custom: bool
    protect: bool
    retain_on_delete: bool
    depends_on: list[str]
    ignore_changes: list[str]
    id: str = ""

    @property
    def parent_type(self) -> str:
        return self.parent.split("::")[2].split("$")[-1] if self.parent else ""


class Graph:
    """The resources one program run registered."""

    def __init__(self, resources: list[Resource], outputs: dict[str, Any], invokes: set[str] | None = None):
        self.resources = resources
        self.outputs = outputs
        self.invokes = invokes or set()
        """Tokens of the data sources the program called (e.g. `aws:s3/getBucket:getBucket`)."""

    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str) -> Resource:
        matches = [r for r in self.resources if r.name == name]
        assert len(matches) == 1, f"expected one resource named {name!r}, found {len(matches)}"
        return matches[0]

    def children(self, parent: Resource) -> list[Resource]:
        return [r for r in self.resources if r.parent == parent.urn]

    def by_urn(self, urn: str) -> Resource:
        return next(r for r in self.resources if r.urn == urn)


class Mocks(pulumi.runtime.Mocks):
    """Computed outputs shaped like AWS's, deterministic per input so reruns compare equal."""

    def __init__(self, region: str = "us-east-1", account: str = ACCOUNT):
        self.region = region
        self.account = account
        self.states: dict[tuple[str, str], tuple[dict, dict]] = {}
        self.ids: dict[tuple[str, str], str] = {}
        self.invokes: set[str] = set()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        inputs = dict(args.inputs)
        state = dict(inputs)
        physical = inputs.get("name") or f"{args.name}-{_short_hash(args.name)}"
        arn = f"arn:aws:{{service}}:{self.region}:{self.account}"
        computed = _COMPUTED.get(args.typ)
        if computed is not None:
            state.update(computed(self, args, inputs, physical, arn))
        elif args.custom:
            service = args.typ.split(":")[1].split("/")[0]
            state.setdefault("arn", arn.format(service=service) + f":{physical}")
            state.setdefault("name", physical)
        self.states[(args.typ, args.name)] = (inputs, state)
        # A bucket's id is its name, as in AWS (its children refer to it by id).
        resource_id = inputs["bucket"] if args.typ == "aws:s3/bucket:Bucket" else f"{physical}-id"
        self.ids[(args.typ, args.name)] = resource_id
        return resource_id, state

    def call(self, args: pulumi.runtime.MockCallArgs):
        self.invokes.add(args.token)
        if args.token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            registry = args.args.get("registryId", self.account)
            return {
                "authorizationToken": "QVdTOm1vY2stZWNyLXBhc3N3b3Jk",
                "userName": "AWS",
                "password": "mock-ecr-password",
                "proxyEndpoint": f"https://{registry}.dkr.ecr.{self.region}.amazonaws.com",
                "expiresAt": "2030-01-01T00:00:00Z",
                "id": self.region,
            }
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": self.account, "arn": f"arn:aws:iam::{self.account}:user/ci", "userId": "AIDA", "id": self.account}
        if args.token == "aws:s3/getBucket:getBucket":
            bucket = args.args["bucket"]
            return {"bucket": bucket, "arn": f"arn:aws:s3:::{bucket}", "id": bucket, "region": self.region}
        raise NotImplementedError(f"no mock for invoke {args.token}")


def _lambda_function(mocks, args, inputs, physical, arn):
    function_arn = arn.format(service="lambda") + f":function:{physical}"
    # Lambda publishes a new number when code or configuration changes: here, a number per input set.
    version = str(1 + int(hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:6], 16) % 997)
    return dict(arn=function_arn, version=version, qualifiedArn=f"{function_arn}:{version}",
                invokeArn=f"arn:aws:apigateway:{mocks.region}:lambda:path/{function_arn}")


def _docker_build_image(mocks, args, inputs, physical, arn):
    # A digest is the content's: the same build under another tag has the same digest.
    built = {k: v for k, v in inputs.items() if k not in ("registries", "tags")}
    digest = "sha256:" + hashlib.sha256(json.dumps(built, sort_keys=True).encode()).hexdigest()
    return dict(digest=digest, ref=f"{inputs['tags'][0]}@{digest}", contextHash=_short_hash(str(built)))


_COMPUTED = {
    "aws:ecr/repository:Repository": lambda mocks, args, inputs, physical, arn: dict(
        name=physical, arn=arn.format(service="ecr") + f":repository/{physical}", registryId=mocks.account,
        repositoryUrl=f"{mocks.account}.dkr.ecr.{mocks.region}.amazonaws.com/{physical}"),
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": lambda mocks, args, inputs, physical, arn: dict(registryId=mocks.account),
    "docker-build:index:Image": _docker_build_image,
    "aws:s3/bucket:Bucket": lambda mocks, args, inputs, physical, arn: dict(arn=f"arn:aws:s3:::{inputs['bucket']}", bucket=inputs["bucket"]),
    "aws:dynamodb/table:Table": lambda mocks, args, inputs, physical, arn: dict(arn=arn.format(service="dynamodb") + f":table/{physical}"),
    "aws:cloudwatch/logGroup:LogGroup": lambda mocks, args, inputs, physical, arn: dict(arn=arn.format(service="logs") + f":log-group:{physical}"),
    "aws:sqs/queue:Queue": lambda mocks, args, inputs, physical, arn: dict(
        name=physical, arn=arn.format(service="sqs") + f":{physical}", url=f"https://sqs.{mocks.region}.amazonaws.com/{mocks.account}/{physical}"),
    # A role's ARN carries its path (`role/<path><name>`); a key's, its key id.
    "aws:iam/role:Role": lambda mocks, args, inputs, physical, arn: dict(
        name=physical, arn=f"arn:aws:iam::{mocks.account}:role{inputs.get('path', '/')}{physical}"),
    "aws:kms/key:Key": lambda mocks, args, inputs, physical, arn: dict(
        keyId=_uuid(args.name), arn=arn.format(service="kms") + f":key/{_uuid(args.name)}"),
    "aws:lambda/function:Function": _lambda_function,
    "aws:lambda/alias:Alias": lambda mocks, args, inputs, physical, arn: dict(
        arn=arn.format(service="lambda") + f":function:{inputs['functionName']}:{inputs['name']}"),
    "aws:lambda/functionUrl:FunctionUrl": lambda mocks, args, inputs, physical, arn: dict(
        functionUrl=f"https://{_short_hash(args.name)}.lambda-url.{mocks.region}.on.aws/"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": lambda mocks, args, inputs, physical, arn: dict(
        arn=arn.format(service="cloudwatch") + f":alarm:{physical}"),
    "aws:cloudwatch/dashboard:Dashboard": lambda mocks, args, inputs, physical, arn: dict(
        dashboardArn=f"arn:aws:cloudwatch::{mocks.account}:dashboard/{inputs['dashboardName']}"),
    "aws:cloudwatch/eventRule:EventRule": lambda mocks, args, inputs, physical, arn: dict(
        arn=arn.format(service="events") + f":rule/{physical}"),
    "aws:appautoscaling/target:Target": lambda mocks, args, inputs, physical, arn: dict(
        arn=arn.format(service="application-autoscaling") + f":scalable-target/{_short_hash(args.name)}"),
    "aws:scheduler/schedule:Schedule": lambda mocks, args, inputs, physical, arn: dict(
        name=physical, arn=arn.format(service="scheduler") + f":schedule/default/{physical}"),
}
"""Computed outputs per resource type, shaped like AWS's; other custom resources get a name and an ARN."""


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """Keeps what the engine receives but Mocks do not see: parent, protect, retain-on-delete."""

    def __init__(self, mocks: Mocks):
        super().__init__(mocks)
        self.requests: list[Any] = []

    def RegisterResource(self, request):
        self.requests.append(request)
        return super().RegisterResource(request)


def logical_name(name: str) -> str:
    """A resource's name with an image build's content hash dropped (`predictor-arm64-build-<hash>`)."""
    return re.sub(r"-build-[0-9a-f]{12}$", "-build", name)


def _uuid(text: str) -> str:
    digest = hashlib.sha256(text.encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:7]


def run_program(program: Callable[[], Any], *, stack: str = "test", config: dict[str, str] | None = None, preview: bool = False) -> Graph:
    """Run `program` under fresh mocks and return everything it registered; the mocks' account is the one
    the config allows (`aws:allowedAccountIds`), else ACCOUNT. `preview`: as `pulumi preview` runs it."""
    config = config or {}
    accounts = json.loads(config.get("aws:allowedAccountIds") or "[]")
    mocks = Mocks(region=config.get("aws:region", "us-east-1"), account=accounts[0] if accounts else ACCOUNT)
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_all_config(config)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor)
    exports: dict[str, Any] = {}
    resolved: list[dict[str, Any]] = []
    original_export = pulumi.export

    def capture_export(name: str, value: Any) -> None:
        exports[name] = value
        original_export(name, value)

    @pulumi.runtime.test
    def run():
        program()
        return pulumi.Output.from_input(exports).apply(resolved.append)

    pulumi.export = capture_export
    try:
        run()
    finally:
        pulumi.export = original_export
    resources = []
    for request in monitor.requests:
        if request.type == "pulumi:pulumi:Stack":
            continue
        inputs, state = mocks.states.get((request.type, request.name), ({}, {}))
        resources.append(
            Resource(
                type=request.type,
                name=request.name,
                urn=monitor.make_urn(request.parent, request.type, request.name),
                parent=request.parent,
                inputs=inputs,
                state=state,
                custom=request.custom,
                protect=request.protect,
                retain_on_delete=request.retainOnDelete,
                depends_on=list(request.dependencies),
                ignore_changes=list(request.ignoreChanges),
                id=mocks.ids.get((request.type, request.name), ""),
            )
        )
    return Graph(resources, resolved[0] if resolved else {}, mocks.invokes)


NO_RELEASE = ""
"""`run_stack(release=NO_RELEASE)`: run a promoting stack with no record at all."""


def run_stack(stack: str, *, release: str | None = None, root: Path = ROOT, preview: bool = False) -> Graph:
    """Run the real `__main__.py` for `stack` under mocks (no engine, no cloud: nothing is created). `release`:
    the record text a promoting stack reads (default: its source's, from the source's run under mocks; NO_RELEASE:
    none). `root`: the folder of the stack files (another layout's in tests; it needs `images/` as the program does)."""
    from stack_config import stack_config
    from stack_config.promotion import PROMOTE_FROM

    config = stack_config(root, stack)
    source = config.get(f"{PROJECT}:{PROMOTE_FROM}")
    if source and release is None:
        release = release_of(run_stack(source, root=root), source, root=root).to_json()
    previous = os.getcwd()
    os.chdir(root)
    try:
        with _release_record(release or None):
            return run_program(lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__"), stack=stack, config=config, preview=preview)
    finally:
        os.chdir(previous)


@contextmanager
def _release_record(text: str | None) -> Iterator[None]:
    """`$COMMODITY_FORECASTS_RELEASE` names a file holding `text` while the program runs (unset for None)."""
    from stack_config.promotion import RELEASE_RECORD_ENV

    previous = os.environ.pop(RELEASE_RECORD_ENV, None)
    with tempfile.TemporaryDirectory() as folder:
        if text is not None:
            path = Path(folder) / "release.json"
            path.write_text(text)
            os.environ[RELEASE_RECORD_ENV] = str(path)
        try:
            yield
        finally:
            os.environ.pop(RELEASE_RECORD_ENV, None)
            if previous is not None:
                os.environ[RELEASE_RECORD_ENV] = previous


def release_of(graph: Graph, stack: str, *, verdict: str = "pass", root: Path = ROOT) -> ReleaseRecord:
    """The record `tools.release record` would write after `stack`'s update: what each function's `live`
    alias runs (under mocks, the published version of the function's image) and the gate's verdict."""
    from stack_config import settings_from_config, stack_config
    from stack_config.release import ReleaseRecord, ScanVerdict, ServedFunction, released_images

    settings = settings_from_config(stack_config(root, stack), stack=stack, project_dir=root)
    image_of = {settings.function_name(f): f.image for f in settings.all_functions}
    served = []
    for function in graph.of_type("aws:lambda/function:Function"):
        url, digest = function.state["imageUri"].split("@")
        served.append(ServedFunction(function.state["name"], image_of[function.state["name"]], function.state["architectures"][0],
                                     int(function.state["version"]), url, digest))
    served.sort(key=lambda f: f.function)
    threshold = settings.scan_gate.severity_threshold
    verdicts = {f"{f.repository_url}@{f.digest}": ScanVerdict(verdict, threshold, checked="2026-12-03") for f in served}
    return ReleaseRecord(stack, settings.account_id or ACCOUNT, settings.region, "20261203T101500Z", tuple(served),
                         released_images(tuple(served), verdicts), commit="0" * 40)
