"""A second, minimal program on the same components, unchanged: a repository, an arm64 image build and
one HTTP-invoked function (Function URL, AWS_IAM), gated before `live` moves like every function of the
main program. It is written as your own program would be: it imports the installed package
(`commodity_forecasts.components`, docs/using-the-components.md), never this repository's folders. From
this folder, `pulumi up -s dev` creates the program's own virtual environment (Pulumi.yaml: toolchain pip)
and installs requirements.txt into it, which builds the package from the repository (`pip install ../..`).
Its mocks test, on the built wheel with the repository off the path, is tests/test_examples.py."""

import pulumi

from commodity_forecasts.components.function import ContainerFunction, ContainerFunctionArgs
from commodity_forecasts.components.image import LambdaImage, LambdaImageArgs
from commodity_forecasts.components.registry import EcrRepository, EcrRepositoryArgs

config = pulumi.Config()
environment = config.get("environment") or "dev"
prefix = f"echo-{environment}"

repository = EcrRepository("echo", EcrRepositoryArgs(repository_name=f"echo/{environment}/echo", force_delete=environment != "prod"))
image = LambdaImage("echo-arm64", LambdaImageArgs(image="echo", architecture="arm64", repository=repository, context_dir="images"))
function = ContainerFunction(
    "echo",
    ContainerFunctionArgs(
        function_name=f"{prefix}-echo",
        image=image,
        description="Echoes a JSON request body back, with the time it was received",
        memory_mb=256,
        timeout_seconds=10,
        log_retention_days=7,
        function_url=True,
        pre_traffic_event={"dry_run": True},
    ),
)

pulumi.export("url", function.url.function_url)
pulumi.export("alias_arn", function.alias.arn)
