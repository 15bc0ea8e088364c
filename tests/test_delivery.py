"""Delivery guardrails: Dockerfile lint, workflow schema and shape, and the deploy script's image targets."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import ROOT, logical_name
from tools.image_targets import image_urns

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
DOCKERFILES = sorted(p for p in ROOT.rglob("Dockerfile") if ".venv" not in p.parts and ".cache" not in p.parts)


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} is not installed (it is in the dev group of pyproject.toml)"
    return found


def test_every_dockerfile_passes_hadolint():
    assert {p.relative_to(ROOT).as_posix() for p in DOCKERFILES} >= {
        "images/predictor/Dockerfile", "images/trainer/Dockerfile", "bench/baseline/Dockerfile"}
    result = subprocess.run([tool("hadolint"), "--config", str(ROOT / ".hadolint.yaml"), *map(str, DOCKERFILES)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_configuration_fails_on_warnings(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM public.ecr.aws/lambda/python:3.12\nRUN pip install numpy\n")
    result = subprocess.run([tool("hadolint"), "--config", str(ROOT / ".hadolint.yaml"), str(bad)], capture_output=True, text=True)
    assert result.returncode != 0
    assert "DL3013" in result.stdout and "DL3042" in result.stdout


def test_ignored_hadolint_rules_carry_reasons():
    config_text = (ROOT / ".hadolint.yaml").read_text()
    for rule in yaml.safe_load(config_text).get("ignored") or []:
        line = next(line for line in config_text.splitlines() if rule in line)
        assert "#" in line and line.split("#", 1)[1].strip(), f"ignored rule {rule} needs a reason comment"


def test_workflows_match_the_github_workflow_schema():
    assert WORKFLOWS
    result = subprocess.run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())


def steps(workflow: dict):
    for job in workflow["jobs"].values():
        yield from job.get("steps", [])


def test_every_action_is_pinned_to_a_full_commit_sha():
    for path in WORKFLOWS:
        for step in steps(yaml.safe_load(path.read_text())):
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), f"{path.name}: {step['uses']} is not pinned by SHA"


def test_aws_credentials_come_from_oidc_never_stored_keys():
    for path in WORKFLOWS:
        text = path.read_text()
        assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text, f"{path.name} uses stored keys"
        workflow = yaml.safe_load(text)
        for name, job in workflow["jobs"].items():
            uses_aws = any("configure-aws-credentials" in s.get("uses", "") for s in job.get("steps", []))
            if uses_aws:
                assert job["permissions"]["id-token"] == "write", f"{path.name}:{name} needs id-token: write for OIDC"
                [step] = [s for s in job["steps"] if "configure-aws-credentials" in s.get("uses", "")]
                assert step["with"]["role-to-assume"] in ("${{ steps.stack.outputs.deploy_role }}", "${{ steps.stack.outputs.preview_role }}"), (
                    "the role is the bootstrap's, named from the stack file (tools.delivery), never a stored variable"
                )


def test_pull_request_previews_both_stacks_with_the_policy_pack_and_comments():
    workflow = load("pull-request.yml")
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads the key `on` as true
    assert triggers["pull_request"]["branches"] == ["main"]
    preview = workflow["jobs"]["preview"]
    assert preview["needs"] == "test"
    assert preview["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    [pulumi] = [s for s in preview["steps"] if s.get("uses", "").startswith("pulumi/actions@") and "with" in s]
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["comment-on-pr"] is True
    assert pulumi["with"]["policyPacks"] == "policy"
    [test_step] = [s for s in workflow["jobs"]["test"]["steps"] if s.get("run") == "make test"]
    assert test_step["env"]["REQUIRE_DOCKER"] == "1"


def test_pull_request_comments_each_stacks_cost_and_its_change_against_main():
    from tools.cost import COMMENT_MARKER

    job = load("pull-request.yml")["jobs"]["cost"]
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}, "no AWS access, no id-token"
    [base] = [s for s in job["steps"] if s.get("with", {}).get("path") == ".base"]
    assert base["with"]["ref"] == "${{ github.event.pull_request.base.sha }}" and base["with"]["persist-credentials"] is False
    runs = "\n".join(s.get("run", "") for s in job["steps"])
    assert "tools.cost --all --json" in runs and "--markdown --baseline base-cost.json > cost.md" in runs
    assert 'head -n 1 cost.md' in runs and "PATCH" in runs, "the comment is found by its marker and updated, not duplicated"
    assert "${{" not in runs, "no expression expanded inside run:"
    assert COMMENT_MARKER.startswith("<!--")


def test_merge_deploys_dev_then_prod_through_the_gate():
    deploy = load("deploy.yml")
    triggers = deploy.get("on", deploy.get(True))
    assert triggers["push"]["branches"] == ["main"]
    assert deploy["jobs"]["prod"]["needs"] == "dev"
    assert [deploy["jobs"][j]["with"]["stack"] for j in ("dev", "prod")] == ["dev", "prod"]
    for caller in ("dev", "prod"):
        name, stack_job = job_run_by(caller)
        assert stack_job["environment"] == "${{ inputs.stack }}", "prod waits for its environment's required reviewers"
        assert stack_job["concurrency"] == {"group": "pulumi-${{ inputs.stack }}", "cancel-in-progress": False}
        [deploy_step] = [s for s in stack_job["steps"] if "tools/deploy.sh" in s.get("run", "")]
        assert deploy_step["run"] == 'tools/deploy.sh "$STACK"', "no ${{ }} expanded inside run: (template injection)"
        assert deploy_step["env"]["STACK"] == "${{ inputs.stack }}"


_INPUT_TEST = re.compile(r"^\$\{\{ inputs\.([\w-]+) (==|!=) '([^']*)' \}\}$")


def runs_with(condition: str | None, inputs: dict) -> bool:
    """A job's or step's `if:` as GitHub evaluates the one form these workflows use, `inputs.<name> ==|!= '<text>'`
    (an input the caller does not pass has its declared default)."""
    if condition is None:
        return True
    match = _INPUT_TEST.match(condition)
    assert match, f"{condition!r}: not a condition this test can evaluate"
    name, operator, text = match.groups()
    return (inputs[name] == text) is (operator == "==")


def caller_inputs(caller: str) -> dict:
    workflow = load("deploy-stack.yml")
    declared = workflow.get("on", workflow.get(True))["workflow_call"]["inputs"]  # YAML 1.1 reads `on` as true
    return {name: spec.get("default") for name, spec in declared.items()} | load("deploy.yml")["jobs"][caller]["with"]


def job_run_by(caller: str) -> tuple[str, dict]:
    """The one job of deploy-stack.yml that runs for deploy.yml's `caller`, with only the steps that run."""
    assert load("deploy.yml")["jobs"][caller]["uses"] == "$/.github/workflows/deploy-stack.yml"
    inputs = caller_inputs(caller)
    running = [(name, job) for name, job in load("deploy-stack.yml")["jobs"].items() if runs_with(job.get("if"), inputs)]
    assert len(running) == 1, f"{caller}: exactly one job runs, got {[name for name, _ in running]}"
    name, job = running[0]
    return name, {**job, "steps": [step for step in job["steps"] if runs_with(step.get("if"), inputs)]}


BUILD_TOOLING = ("docker/setup-qemu-action@", "docker/setup-buildx-action@", "docker/login-action@", "actions/cache@",
                 "aws-actions/amazon-ecr-login@")


def test_prod_builds_nothing_and_runs_the_release_record_dev_wrote_in_the_same_run():
    from stack_config.promotion import RELEASE_RECORD_ENV

    deploy = load("deploy.yml")["jobs"]
    _, dev = job_run_by("dev")
    _, prod = job_run_by("prod")
    assert deploy["prod"]["needs"] == "dev", "the record prod runs is the one dev's job wrote before it"
    built = [s["uses"] for s in dev["steps"] if s.get("uses", "").startswith(BUILD_TOOLING)]
    assert len(built) == 2, f"dev builds: arm64 emulation and Buildx, got {built}"
    assert not [s for s in prod["steps"] if s.get("uses", "").startswith(BUILD_TOOLING)], "prod: no QEMU, Buildx, cache or login"
    assert not [s for s in prod["steps"] if "docker" in s.get("run", "")], "prod runs no Docker"

    [written] = [s for s in dev["steps"] if "tools/deploy.sh" in s.get("run", "")]
    [upload] = [s for s in dev["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert dev["steps"].index(upload) > dev["steps"].index(written), "uploaded after deploy.sh wrote it"
    assert upload["with"]["path"] == written["env"][RELEASE_RECORD_ENV] and upload["with"]["if-no-files-found"] == "error"
    assert upload["with"]["name"] == "${{ inputs.release-out }}"

    [download] = [s for s in prod["steps"] if s.get("uses", "").startswith("actions/download-artifact@")]
    [read] = [s for s in prod["steps"] if "tools/deploy.sh" in s.get("run", "")]
    assert prod["steps"].index(download) < prod["steps"].index(read)
    assert download["with"]["name"] == "${{ inputs.release-in }}"
    assert set(download["with"]) == {"name", "path"}, "this run's artifact only: no run-id, repository or token"
    assert read["env"][RELEASE_RECORD_ENV] == download["with"]["path"] + "/release.json" == written["env"][RELEASE_RECORD_ENV]
    assert deploy["dev"]["with"]["release-out"] == deploy["prod"]["with"]["release-in"], "prod downloads the artifact dev uploads"


def test_each_deploy_job_checks_its_stack_file_builds_or_promotes_as_the_workflow_assumes():
    for caller, expected in (("dev", '= build'), ("prod", '!= build')):
        _, job = job_run_by(caller)
        [check] = [s for s in job["steps"] if "tools.release mode" in s.get("run", "")]
        assert check["run"] == f'test "$(.venv/bin/python -m tools.release mode "$STACK")" {expected}', caller
        steps = job["steps"]
        first_aws = next(i for i, s in enumerate(steps) if "configure-aws-credentials" in s.get("uses", ""))
        assert steps.index(check) < first_aws, f"{caller}: refused before any credential exists"


def test_a_pull_request_never_writes_carries_or_reads_a_record_it_did_not_get_from_the_stacks_state():
    deploy_stack = load("deploy-stack.yml")
    assert list(deploy_stack.get("on", deploy_stack.get(True))) == ["workflow_call"], "only deploy.yml (push to main) calls it"
    text = (ROOT / ".github" / "workflows" / "pull-request.yml").read_text()
    assert "artifact" not in text and "tools.release record" not in text and "tools/deploy.sh" not in text
    preview = load("pull-request.yml")["jobs"]["preview"]
    [current] = [s for s in preview["steps"] if "tools.release current" in s.get("run", "")]
    assert current["run"] == '.venv/bin/python -m tools.release current "$STACK" --out "$RECORD" >> "$GITHUB_OUTPUT"'
    [pulumi] = [s for s in preview["steps"] if s.get("with", {}).get("command") == "preview"]
    assert pulumi["env"] == {"COMMODITY_FORECASTS_RELEASE": "${{ steps.release.outputs.record }}"}
    assert pulumi["if"] == "${{ steps.release.outputs.preview == 'true' }}"
    assert preview["steps"].index(current) < preview["steps"].index(pulumi)


def test_aws_credentials_last_as_long_as_the_job():
    """configure-aws-credentials defaults to a one-hour session; a deploy may run longer."""
    checked = 0
    for name in ("pull-request.yml", "deploy-stack.yml"):
        for job in load(name)["jobs"].values():
            for step in job.get("steps", []):
                if step.get("uses", "").startswith("aws-actions/configure-aws-credentials@"):
                    assert int(step["with"]["role-duration-seconds"]) >= job["timeout-minutes"] * 60, (name, job.get("name"))
                    checked += 1
    assert checked == 3, "dev's build job, prod's promote job, the preview"


def test_workflows_pass_zizmor_with_no_finding():
    result = subprocess.run([tool("zizmor"), "--offline", str(ROOT / ".github" / "workflows")], capture_output=True, text=True)
    assert result.returncode == 0 and "No findings to report" in result.stdout + result.stderr, result.stdout[-3000:]


def test_image_targets_are_exactly_the_repositories_and_builds(dev_graph):
    preview = {"steps": [{"op": "create", "urn": r.urn} for r in dev_graph.resources]}
    urns = image_urns(preview)
    names = sorted(logical_name(urn.rsplit("::", 1)[1]) for urn in urns)
    assert names == sorted([
        "predictor", "predictor-repo", "predictor-lifecycle", "predictor-policy",
        "trainer", "trainer-repo", "trainer-lifecycle", "trainer-policy", "registry", "registry-scanning",
        "predictor-arm64", "predictor-arm64-build", "trainer-arm64", "trainer-arm64-build",
    ])
    assert not [u for u in urns if "lambda/function" in u], "no function may move before the gate"


def test_image_targets_leave_the_previous_build_to_the_full_update(dev_graph):
    """New content is a new build resource; the old one's deletion (state only) waits for step 3."""
    [build] = [r for r in dev_graph.resources if r.type == "docker-build:index:Image" and r.name.startswith("predictor")]
    old = build.urn.rsplit("-", 1)[0] + "-0123456789ab"
    preview = {"steps": [{"op": "create", "urn": build.urn}, {"op": "delete", "urn": old}]}
    assert image_urns(preview) == [build.urn]


def test_no_unused_imports_or_undefined_names():
    """pyflakes' checks (via ruff) over every Python file: a name clash or a leftover import is a bug here."""
    result = subprocess.run([tool("ruff"), "check", "--select", "F", "--exclude", ".cache,.venv", str(ROOT)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def _pulumi_jobs():
    for path in WORKFLOWS:
        for name, job in yaml.safe_load(path.read_text())["jobs"].items():
            runs_cli = any(s.get("uses", "").startswith("pulumi/actions@") and s.get("with", {}).get("command")
                           or "tools/deploy.sh" in s.get("run", "") for s in job.get("steps", []))
            if runs_cli:
                yield path.name, name, job


def test_every_job_that_runs_the_cli_has_uv_on_path_first():
    found = 0
    for workflow, name, job in _pulumi_jobs():
        steps = job["steps"]
        cli = next(i for i, s in enumerate(steps) if s.get("uses", "").startswith("pulumi/actions@") and s.get("with", {}).get("command")
                   or "tools/deploy.sh" in s.get("run", ""))
        adds = [i for i, s in enumerate(steps) if 'make --no-print-directory uv-path >> "$GITHUB_PATH"' in s.get("run", "")]
        assert adds and adds[0] < cli, f"{workflow}:{name}: the CLI's uv toolchain needs uv on PATH (sdk/python/toolchain/uv.go)"
        found += 1
    assert found == 3, "the build and promote jobs and the preview job"
    printed = subprocess.run(["make", "--no-print-directory", "uv-path"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    assert (Path(printed) / "uv").is_file(), "the directory it adds holds the pinned uv"


def test_no_stored_token_or_role_variable_and_each_job_uses_its_own_identity():
    for path in WORKFLOWS:
        text = path.read_text()
        assert "vars." not in text, f"{path.name}: a repository or environment variable would be a second place roles live"
        assert set(re.findall(r"secrets\.([A-Za-z_]+)", text)) <= {"GITHUB_TOKEN"}, f"{path.name}: no stored credential"
        assert "PULUMI_ACCESS_TOKEN" not in text, f"{path.name}: the state backend is the bootstrap's bucket, reached by the role"
    jobs = load("deploy-stack.yml")["jobs"]
    assert sorted(jobs) == ["build", "promote"]
    for deploy in jobs.values():
        assert deploy["environment"] == "${{ inputs.stack }}", "the subject names the stack's environment"
        [coordinates] = [s for s in deploy["steps"] if s.get("id") == "stack"]
        assert coordinates["env"]["STACK"] == "${{ inputs.stack }}" and coordinates["run"] == '.venv/bin/python -m tools.delivery "$STACK" >> "$GITHUB_OUTPUT"'
    preview = load("pull-request.yml")["jobs"]["preview"]
    assert "environment" not in preview, "a preview keeps the pull_request subject, which only the preview role trusts"
    [pulumi] = [s for s in preview["steps"] if s.get("uses", "").startswith("pulumi/actions@") and "with" in s]
    assert pulumi["with"]["cloud-url"] == "${{ steps.stack.outputs.backend }}"
    assert not any("setup-qemu" in s.get("uses", "") or "setup-buildx" in s.get("uses", "") for s in preview["steps"]), "previews build nothing"


def test_code_owners_review_what_guards_the_delivery():
    owners = {line.split()[0] for line in (ROOT / ".github" / "CODEOWNERS").read_text().splitlines() if line.strip() and not line.startswith("#")}
    assert {"/policy/", "/tools/", "/.github/"} <= owners


def renovate_regex(pattern: str) -> re.Pattern[str]:
    """A Renovate (JavaScript) regex in Python's syntax: named groups are `(?<name>…)` there."""
    return re.compile(pattern.replace("(?<", "(?P<"))


def test_renovate_config_matches_renovates_schema_offline(tmp_path):
    """check-jsonschema's vendored copy of Renovate's schema: no network in `make test`."""
    check = [tool("check-jsonschema"), "--builtin-schema", "vendor.renovate"]
    result = subprocess.run([*check, str(ROOT / "renovate.json")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "renovate.json"
    broken.write_text(json.dumps({**json.loads((ROOT / "renovate.json").read_text()), "enabledManagers": ["regexp"]}))
    assert subprocess.run([*check, str(broken)], capture_output=True, text=True).returncode != 0, "the schema check must be able to fail"


def test_renovate_finds_and_can_bump_every_pinned_base_image():
    """Renovate's regex manager sees each base-image.txt and each Dockerfile's BASE_IMAGE default (its path
    patterns) and captures the pinned tag and digest there (its match string), so a moved digest becomes
    one pull request editing every copy."""
    config = json.loads((ROOT / "renovate.json").read_text())
    [manager] = config["customManagers"]
    assert config["enabledManagers"] == ["custom.regex"] and manager["datasourceTemplate"] == "docker"
    paths = [renovate_regex(p.strip("/")) for p in manager["managerFilePatterns"]]
    [match_string] = [renovate_regex(m) for m in manager["matchStrings"]]
    pinned = sorted(p for p in ROOT.rglob("base-image.txt") if ".venv" not in p.parts and ".cache" not in p.parts)
    assert {p.relative_to(ROOT).as_posix() for p in pinned} == {"images/base-image.txt", "examples/echo/images/base-image.txt"}
    for path in pinned:
        relative = path.relative_to(ROOT).as_posix()
        assert any(pattern.search(relative) for pattern in paths), f"Renovate would not look at {relative}"
        [reference] = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
        found = match_string.fullmatch(reference)
        assert found, f"{relative}: Renovate's match string does not capture {reference!r}"
        assert (found["depName"], found["currentValue"]) == ("public.ecr.aws/lambda/python", "3.12")
        assert reference.endswith(found["currentDigest"])
    dockerfiles = sorted(p for p in ROOT.rglob("Dockerfile") if (p.parent.parent / "base-image.txt").exists())
    assert len(dockerfiles) == 3
    for path in dockerfiles:
        relative = path.relative_to(ROOT).as_posix()
        assert any(pattern.search(relative) for pattern in paths), f"Renovate would not look at {relative}"
        found = [m for m in match_string.finditer(path.read_text())]
        assert len(found) == 1, f"{relative}: Renovate's match string should capture its BASE_IMAGE default once, found {len(found)}"
    minor = next(rule for rule in config["packageRules"] if rule.get("enabled") is False)
    assert set(minor["matchUpdateTypes"]) == {"major", "minor", "patch"}, "only digests move: Python stays 3.12"
