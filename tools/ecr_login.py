"""Log Docker in to the stack's ECR registry before images are pushed: `python -m tools.ecr_login STACK`.

The image builds carry no registry credentials (an ECR token in their inputs would be stored in the
stack's state, which previews read); pulumi-docker-build uses the host's Docker credentials instead
(provider/internal/host.go, newHost). The token is the caller's for 12 hours; it is handed to
`docker login --password-stdin`, never put on a command line.

Exit codes: 0 logged in, 2 could not (unknown stack, no credentials, an AWS or Docker error).
"""

from __future__ import annotations

import argparse
import base64
import subprocess
import sys

from tools.cli import CannotDecide, exit_code, stack_settings


def login(stack: str, docker: str = "docker") -> str:
    import boto3

    settings = stack_settings(stack)
    ecr = boto3.client("ecr", region_name=settings.region)
    registry_ids = [settings.account_id] if settings.account_id else []
    [data] = ecr.get_authorization_token(**({"registryIds": registry_ids} if registry_ids else {}))["authorizationData"]
    user, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
    endpoint = data["proxyEndpoint"]
    done = subprocess.run([docker, "login", "--username", user, "--password-stdin", endpoint], input=password, capture_output=True, text=True)
    if done.returncode != 0:
        raise CannotDecide(f"docker login to {endpoint} failed: {done.stderr.strip() or done.stdout.strip()}")
    return endpoint


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.ecr_login", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("stack", help="the stack (Pulumi.<stack>.yaml)")
    options = parser.parse_args(argv)
    return exit_code("ecr_login", lambda: print(f"ecr_login: logged in to {login(options.stack)}"), refused=())


if __name__ == "__main__":
    sys.exit(main())
