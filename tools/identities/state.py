"""The stacks' state: a self-managed S3 backend (`pulumi login s3://<bucket>`) the bootstrap creates, so
that IAM decides who reads and writes each stack's state, object by object, and each stack's secrets
are encrypted with its own KMS key (`--secrets-provider awskms://…`).

Object keys, read in pulumi/pulumi's diy backend (pkg/backend/diy: store.go, state.go, lock.go,
meta.go, stack_tags.go; commit 1b5949891b3cefcb9974752b24a5ecef0acc86c8): `.pulumi/meta.yaml`;
`.pulumi/stacks/<project>/<stack>.json` (+ `.json.bak`, `.pulumi-tags`); `.pulumi/history/<project>/<stack>/…`;
`.pulumi/backups/<project>/<stack>/…`; `.pulumi/locks/organization/<project>/<stack>/…`. A preview reads
meta.yaml, the stack's checkpoint and its tags, takes no lock and writes nothing; `up`, `refresh` and
`destroy` also write the checkpoint, its backup, history and backups, and put and delete their lock.
Every identity gets `s3:ListBucket` on the bucket: without it S3 answers 403, not 404, for the tags
file a stack does not have, and the CLI fails (S3 API reference, GetObject permissions).
"""

from __future__ import annotations

from tools.identities.policy import Statement
from tools.identities.scopes import Target

BUCKET_TEMPLATE = "{project}-state-{account}-{region}"


def bucket(target: Target) -> str:
    return BUCKET_TEMPLATE.format(project=target.settings.project, account=target.account, region=target.region)


def bucket_arn(target: Target) -> str:
    return f"arn:{target.partition}:s3:::{bucket(target)}"


def key_alias(target: Target) -> str:
    """The stack's secrets provider: `awskms://alias/<project>-<environment>-state?region=<region>`."""
    return f"alias/{target.settings.project}-{target.environment}-state"


def backend_url(target: Target) -> str:
    return f"s3://{bucket(target)}?region={target.region}"


def _stack_objects(target: Target) -> dict[str, tuple[str, ...]]:
    base, project, stack = bucket_arn(target), target.settings.project, target.settings.stack
    checkpoint = f"{base}/.pulumi/stacks/{project}/{stack}"
    return {
        "read": (f"{base}/.pulumi/meta.yaml", f"{checkpoint}.json", f"{checkpoint}.pulumi-tags"),
        "write": (
            f"{checkpoint}.json", f"{checkpoint}.json.bak", f"{base}/.pulumi/history/{project}/{stack}/*",
            f"{base}/.pulumi/backups/{project}/{stack}/*", f"{base}/.pulumi/locks/organization/{project}/{stack}/*",
        ),
        "locks": (f"{base}/.pulumi/locks/organization/{project}/{stack}/*",),
    }


def deploy_statements(target: Target, key_arn: str) -> list[Statement]:
    """The stack's own state, read and written; its locks deleted; its secrets key used to decrypt."""
    objects = _stack_objects(target)
    return [
        Statement("ListStateBucket", ("s3:ListBucket",), (bucket_arn(target),)),
        Statement("ReadOwnState", ("s3:GetObject",), tuple(dict.fromkeys(objects["read"] + objects["write"]))),
        Statement("WriteOwnState", ("s3:PutObject",), objects["write"]),
        Statement("ReleaseOwnLocks", ("s3:DeleteObject",), objects["locks"]),
        Statement("DecryptOwnSecrets", ("kms:Decrypt",), (key_arn,)),
    ]


def preview_statements(targets: list[Target], key_arns: list[str]) -> list[Statement]:
    """Each stack's checkpoint read (a preview reads, takes no lock and writes nothing), and each stack's
    secrets key used to decrypt: a preview runs the program, which needs its configuration's secrets."""
    reads = tuple(dict.fromkeys(arn for target in targets for arn in _stack_objects(target)["read"]))
    buckets = tuple(dict.fromkeys(bucket_arn(target) for target in targets))
    return [
        Statement("ListStateBucket", ("s3:ListBucket",), buckets),
        Statement("ReadStackState", ("s3:GetObject",), reads),
        Statement("DecryptStackSecrets", ("kms:Decrypt",), tuple(key_arns)),
    ]


def secrets_provider(target: Target) -> str:
    return f"awskms://{key_alias(target)}?region={target.region}"
