"""What the operator tools share: reading a stack's settings, and one mapping of failures to exit codes
(0 done, 1 refused on purpose, 2 could not decide) with the reason on stderr."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from stack_config import Settings, SettingsError, settings_from_config, stack_config

ROOT = Path(__file__).resolve().parent.parent


class CannotDecide(Exception):
    """The stack, the input, the credentials or AWS could not be read: exit 2."""


def stack_settings(stack: str, root: Path = ROOT) -> Settings:
    try:
        return settings_from_config(stack_config(root, stack), stack=stack, project_dir=root)
    except FileNotFoundError:
        raise CannotDecide(f"unknown stack {stack!r}: {root / f'Pulumi.{stack}.yaml'} does not exist") from None
    except SettingsError as error:
        raise CannotDecide(f"stack {stack!r}: {error}") from None


def exit_code(tool: str, action: Callable[[], object], *, refused: tuple[type[Exception], ...]) -> int:
    """Run `action`; `refused` exceptions exit 1, everything the tool could not decide exits 2."""
    try:
        action()
    except refused as error:
        print(f"{tool} refused: {error}", file=sys.stderr)
        return 1
    except CannotDecide as error:
        print(f"{tool} could not decide: {error}", file=sys.stderr)
        return 2
    except FileNotFoundError as error:
        print(f"{tool} could not decide: {error.filename} does not exist", file=sys.stderr)
        return 2
    except NoCredentialsError:
        print(f"{tool} could not decide: no AWS credentials (set AWS_PROFILE or the AWS_* variables)", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as error:
        print(f"{tool} could not decide: {error}", file=sys.stderr)
        return 2
    return 0
