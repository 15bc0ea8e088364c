"""LambdaImage: one platform from the architecture, pushed with the ECR token, cached, pinned by digest."""

import re
import shutil

import pulumi
import pytest

from components.image import (
    BASE_IMAGE_FILE,
    ImageError,
    LambdaImage,
    LambdaImageArgs,
    content_tag,
    context_files,
    dockerignore_rules,
    ignored,
    provider_version,
    read_base_image,
)
from components.registry import CACHE_TAG, EcrRepository, EcrRepositoryArgs
from tests.conftest import ROOT, run_program

IMAGE = "docker-build:index:Image"
URL = "123456789012.dkr.ecr.us-east-1.amazonaws.com/commodity-forecasts/dev/predictor"


def build_image(architecture="arm64", captured=None, **overrides):
    overrides.setdefault("push_id", "20261126T154030Z")
    overrides.setdefault("context_dir", "images")

    def program():
        repo = EcrRepository("predictor", EcrRepositoryArgs(repository_name="commodity-forecasts/dev/predictor"))
        image = LambdaImage(
            f"predictor-{architecture}",
            LambdaImageArgs(image="predictor", architecture=architecture, repository=repo, **overrides),
        )
        if captured is not None:
            pulumi.Output.all(image.image_uri, image.tag).apply(
                lambda values: captured.update(uri=values[0], tag=values[1], content_tag=image.content_tag, platform=image.platform)
            )

    return run_program(program)


@pytest.mark.parametrize("architecture, platform", [("arm64", "linux/arm64"), ("x86_64", "linux/amd64")])
def test_exactly_one_platform_derived_from_architecture(architecture, platform):
    build = build_image(architecture).of_type(IMAGE)[0]
    assert build.inputs["platforms"] == [platform], f"{build.urn}: a Lambda image must have exactly one platform"


def test_builds_the_image_folder_dockerfile_with_images_as_context():
    build = build_image().of_type(IMAGE)[0]
    assert build.inputs["context"] == {"location": "images"}
    assert build.inputs["dockerfile"] == {"location": "images/predictor/Dockerfile"}


def test_pushes_a_content_tag_with_the_hosts_ecr_login_and_stores_no_credential():
    captured = {}
    build = build_image(captured=captured).of_type(IMAGE)[0]
    assert build.inputs["push"] is True, f"{build.urn}: image must be pushed"
    [tag] = build.inputs["tags"]
    assert re.fullmatch(rf"{re.escape(URL)}:release-arm64-[0-9a-f]{{20}}-20261126T154030Z", tag)
    assert captured["tag"] == tag.rsplit(":", 1)[1] and tag.rsplit(":", 1)[1].startswith(captured["content_tag"] + "-")
    assert "registries" not in build.inputs, "an ECR token in the inputs would be stored in the state previews read"
    assert "registries" in build.ignore_changes, "builds pushed with credentials in their state are not pushed again"


def test_registry_cache_in_the_same_repository():
    build = build_image().of_type(IMAGE)[0]
    cache_ref = f"{URL}:{CACHE_TAG}"
    assert build.inputs["cacheFrom"] == [{"registry": {"ref": cache_ref}}]
    [cache_to] = build.inputs["cacheTo"]
    assert cache_to["registry"]["ref"] == cache_ref
    assert cache_to["registry"]["imageManifest"] is True, "ECR needs the cache as an image manifest"
    assert cache_to["registry"]["ociMediaTypes"] is True
    assert cache_to["registry"]["ignoreError"] is True, "a failed cache export must not fail the build"


def test_previews_never_write_to_the_registry_and_pulumi_never_deletes_an_image():
    [build] = build_image().of_type(IMAGE)
    assert build.inputs["buildOnPreview"] is False, "the provider exports cache manifests from preview builds"
    assert build.retain_on_delete is True, "a replaced image may still be what a function runs"


def test_image_uri_is_pinned_by_digest():
    captured = {}
    graph = build_image(captured=captured)
    digest = graph.of_type(IMAGE)[0].state["digest"]
    assert captured["uri"] == f"{URL}@{digest}"
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    assert captured["platform"] == "linux/arm64"


def test_build_is_parented_to_the_component():
    graph = build_image()
    build = graph.of_type(IMAGE)[0]
    assert re.fullmatch(r"predictor-arm64-build-[0-9a-f]{12}", build.name)
    assert build.parent_type == "commodity-forecasts:image:LambdaImage"


def test_content_tag_is_stable_and_changes_with_any_build_input(tmp_path):
    context = tmp_path / "images"
    shutil.copytree("images", context, ignore=shutil.ignore_patterns("__pycache__"))
    first = content_tag(context, "predictor", "arm64", {})
    assert first == content_tag(context, "predictor", "arm64", {}), "same inputs must give the same tag"
    (context / "predictor" / "__pycache__").mkdir(exist_ok=True)
    (context / "predictor" / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"noise")
    assert content_tag(context, "predictor", "arm64", {}) == first, "bytecode caches must not change the tag"
    assert content_tag(context, "predictor", "x86_64", {}) != first
    assert content_tag(context, "predictor", "arm64", {"MODE": "fast"}) != first
    assert content_tag(context, "predictor", "arm64", {}, {"cache": "min"}) != first, "build settings the provider diffs on"
    handler = context / "predictor" / "handler.py"
    handler.chmod(0o755)
    moded = content_tag(context, "predictor", "arm64", {})
    assert moded != first, "the provider re-pushes on a mode change: so must the tag change"
    handler.write_text(handler.read_text() + "\n# changed\n")
    assert content_tag(context, "predictor", "arm64", {}) not in (first, moded), "a code change must give a new tag"


def test_refuses_unknown_architecture():
    with pytest.raises(ValueError, match=r"architecture must be one of arm64, x86_64, got 'amd64'"):
        LambdaImage("x", LambdaImageArgs(image="predictor", architecture="amd64", repository=None, context_dir="images"))


def test_refuses_image_without_dockerfile():
    with pytest.raises(ValueError, match=r"image 'forecaster' has no Dockerfile at images/forecaster/Dockerfile"):
        LambdaImage("x", LambdaImageArgs(image="forecaster", architecture="arm64", repository=None, context_dir="images"))



def test_no_push_ever_targets_an_existing_tag(tmp_path):
    """ECR refuses a push to an existing immutable tag, even of the same digest. New content is a new
    build resource pushed under this run's tag; unchanged content is the same resource, whose tag
    changes are ignored (so it pushes nothing); reverting to earlier content, or retrying after a push
    whose state was lost, pushes a tag no earlier run used."""
    context = tmp_path / "images"
    shutil.copytree("images", context, ignore=shutil.ignore_patterns("__pycache__"))

    def build(push_id):
        [resource] = build_image(context_dir=str(context), push_id=push_id).of_type(IMAGE)
        return resource

    monday = build("20261123T020000Z")
    assert "tags" in monday.ignore_changes, "an unchanged build must not push again because its tag moved"
    tuesday = build("20261124T020000Z")
    assert tuesday.urn == monday.urn, "unchanged content must be the same resource (nothing pushed)"

    handler = context / "predictor" / "handler.py"
    original = handler.read_text()
    handler.write_text(original + "\n# changed\n")
    changed = build("20261125T020000Z")
    assert changed.urn != monday.urn, "new content must be a new build resource (created, so its tag is used)"

    handler.write_text(original)
    reverted = build("20261126T020000Z")
    assert reverted.urn == monday.urn
    pushed = {monday.inputs["tags"][0], changed.inputs["tags"][0]}
    assert reverted.inputs["tags"][0] not in pushed, "a revert must push under a tag no earlier run used"


def test_a_new_repository_is_a_new_build():
    """The ignored tags name the repository: a renamed one needs a new build, not an update that would
    push to the old repository's tag."""
    def program(repository_name):
        def run():
            repo = EcrRepository("predictor", EcrRepositoryArgs(repository_name=repository_name))
            LambdaImage("predictor-arm64", LambdaImageArgs(
                image="predictor", architecture="arm64", repository=repo, context_dir="images", push_id="1"))
        [resource] = run_program(run).of_type(IMAGE)
        return resource.urn

    assert program("commodity-forecasts/dev/predictor") != program("commodity-forecasts/dev/forecaster")


@pytest.mark.parametrize("push_id", ["", "has space", "x" * 41, "-leading"])
def test_refuses_a_push_id_ecr_cannot_tag(push_id):
    repo = None
    with pytest.raises(ValueError, match=r"push_id must be 1-40 letters"):
        LambdaImage("x", LambdaImageArgs(image="predictor", architecture="arm64", repository=repo, context_dir="images", push_id=push_id))


# --- the pinned base ------------------------------------------------------------------------

DOCKERFILES = sorted(p for p in ROOT.rglob("Dockerfile") if ".venv" not in p.parts and ".cache" not in p.parts)
PINNED = re.compile(r"^[a-z0-9][a-z0-9.-]*/[a-z0-9._/-]+(?::[A-Za-z0-9_.-]+)?@sha256:[0-9a-f]{64}$")


def test_every_build_gets_the_pinned_base_as_its_base_image_argument():
    captured = {}
    [build] = build_image(captured=captured).of_type(IMAGE)
    pinned = read_base_image("images")
    assert build.inputs["buildArgs"]["BASE_IMAGE"] == pinned, f"{build.urn}: the base must be the one pinned in images/{BASE_IMAGE_FILE}"
    assert PINNED.match(pinned), f"images/{BASE_IMAGE_FILE} must pin {pinned!r} by digest"
    assert pinned.startswith("public.ecr.aws/lambda/python:3.12@sha256:"), "the Lambda base image, Python 3.12 (what uv.lock resolves for)"


def test_every_dockerfile_takes_its_base_from_an_argument_without_a_moving_default():
    """A build that is not given the pinned base never takes whatever a tag means that day."""
    assert {p.relative_to(ROOT).as_posix() for p in DOCKERFILES} >= {
        "images/predictor/Dockerfile", "images/trainer/Dockerfile", "examples/echo/images/echo/Dockerfile"}
    for dockerfile in DOCKERFILES:
        text = dockerfile.read_text()
        where = dockerfile.relative_to(ROOT)
        for default in re.findall(r"^ARG \w*IMAGE=(\S+)$", text, re.MULTILINE):
            assert default.startswith("${") or PINNED.match(default), f"{where}: image argument default {default!r} is not pinned by digest"
        for source in re.findall(r"^FROM (?:--platform=\S+ )?(\S+)", text, re.MULTILINE):
            assert source.startswith("${") or PINNED.match(source), f"{where}: FROM {source} is neither a build argument nor pinned by digest"


def test_each_dockerfiles_default_base_is_the_pin_its_build_context_holds():
    """The default (there so that a build without arguments is valid, Docker's InvalidDefaultArgInFrom) is the
    same digest every build is passed: base-image.txt stays the one pin, and a drift fails here."""
    pinned = [d for d in DOCKERFILES if (d.parent.parent / BASE_IMAGE_FILE).exists()]
    assert {d.relative_to(ROOT).as_posix() for d in pinned} >= {
        "images/predictor/Dockerfile", "images/trainer/Dockerfile", "examples/echo/images/echo/Dockerfile"}
    for dockerfile in pinned:
        [default] = re.findall(r"^ARG BASE_IMAGE=(\S+)$", dockerfile.read_text(), re.MULTILINE)
        assert default == read_base_image(str(dockerfile.parent.parent)), (
            f"{dockerfile.relative_to(ROOT)}: BASE_IMAGE's default must be the pin in {BASE_IMAGE_FILE}")


def test_the_base_image_file_is_part_of_the_content_tag(tmp_path):
    context = tmp_path / "images"
    shutil.copytree("images", context, ignore=shutil.ignore_patterns("__pycache__"))
    first = build_image(context_dir=str(context)).of_type(IMAGE)[0]
    pinned = context / BASE_IMAGE_FILE
    pinned.write_text(pinned.read_text().replace("@sha256:" + "0" * 64, "@sha256:" + "1" * 64))
    bumped = build_image(context_dir=str(context)).of_type(IMAGE)[0]
    assert bumped.urn != first.urn, "a new base digest must be a new build (the content tag covers it)"
    assert bumped.inputs["buildArgs"]["BASE_IMAGE"].endswith("1" * 64)


@pytest.mark.parametrize("body, message", [
    (None, "base-image.txt is missing"),
    ("public.ecr.aws/lambda/python:3.12\n", "must hold exactly one image reference pinned by digest"),
    ("# only a comment\n", "must hold exactly one image reference pinned by digest"),
    ("a/b@sha256:" + "0" * 64 + "\nc/d@sha256:" + "1" * 64 + "\n", "must hold exactly one image reference pinned by digest"),
], ids=["missing", "a moving tag", "empty", "two references"])
def test_refuses_a_base_image_file_that_does_not_pin_one_digest(tmp_path, body, message):
    context = tmp_path / "images"
    shutil.copytree("images", context, ignore=shutil.ignore_patterns("__pycache__"))
    (context / BASE_IMAGE_FILE).unlink()
    if body is not None:
        (context / BASE_IMAGE_FILE).write_text(body)
    with pytest.raises(ImageError, match=message) as raised:
        LambdaImage("x", LambdaImageArgs(image="predictor", architecture="arm64", repository=None, context_dir=str(context)))
    assert str(context / BASE_IMAGE_FILE) in str(raised.value), "the refusal names the file"


def test_refuses_a_base_image_build_argument():
    with pytest.raises(ImageError, match=r"build_args may not set BASE_IMAGE: the base is pinned once, in images/base-image.txt"):
        LambdaImage("x", LambdaImageArgs(image="predictor", architecture="arm64", repository=None, context_dir="images",
                                         build_args={"BASE_IMAGE": "public.ecr.aws/lambda/python:3.12"}))


# --- what the content tag hashes --------------------------------------------------------------

def test_what_dockerignore_leaves_out_never_changes_the_content_tag(tmp_path):
    """One list of what is not sent: images/.dockerignore, which content_tag reads. Every folder a developer's
    tools leave behind is in it, and changing a file there changes neither the context nor the tag."""
    context = tmp_path / "images"
    shutil.copytree("images", context, ignore=shutil.ignore_patterns("__pycache__", ".mypy_cache", ".pytest_cache"))
    first = content_tag(context, "predictor", "arm64", {})
    sent = set(context_files(context))
    for folder in ("__pycache__", ".mypy_cache", ".pytest_cache", "tests"):
        (context / "predictor" / folder).mkdir(exist_ok=True)
        (context / "predictor" / folder / "noise.py").write_text("changed")
    (context / "common" / "x.cpython-311.pyc").write_bytes(b"noise")
    assert set(context_files(context)) == sent, "nothing .dockerignore excludes is part of the context"
    assert content_tag(context, "predictor", "arm64", {}) == first


def test_the_content_tag_follows_dockerignore_not_a_list_of_its_own(tmp_path):
    context = tmp_path / "images"
    shutil.copytree("images", context, ignore=shutil.ignore_patterns("__pycache__"))
    (context / "predictor" / "notes.md").write_text("a developer's notes")
    with_notes = content_tag(context, "predictor", "arm64", {})
    (context / ".dockerignore").write_text((context / ".dockerignore").read_text() + "**/*.md\n")
    assert context / "predictor" / "notes.md" not in context_files(context)
    (context / "predictor" / "notes.md").write_text("other notes")
    ignoring_notes = content_tag(context, "predictor", "arm64", {})
    (context / "predictor" / "notes.md").write_text("yet other notes")
    assert content_tag(context, "predictor", "arm64", {}) == ignoring_notes != with_notes
    (context / ".dockerignore").write_text((context / ".dockerignore").read_text() + "!predictor/notes.md\n")
    assert context / "predictor" / "notes.md" in context_files(context), "a later `!` pattern re-includes, as Docker's does"


@pytest.mark.parametrize("pattern, path, excluded", [
    ("**/tests", "tests/test_x.py", True),
    ("**/tests", "predictor/tests/deep/test_x.py", True),
    ("**/*.pyc", "a/b/c.pyc", True),
    ("**/*.pyc", "a/b/c.py", False),
    ("*.md", "README.md", True),
    ("*.md", "predictor/README.md", False),
    ("predictor/*", "predictor/handler.py", True),
    ("predictor/*", "trainer/handler.py", False),
    ("/common", "common/storage.py", True),
    ("?ommon", "common/storage.py", True),
])
def test_dockerignore_patterns_match_as_dockers_do(tmp_path, pattern, path, excluded):
    """moby/patternmatcher: `**` spans folders, `*` and `?` stay within one, a folder's match covers what is in it."""
    (tmp_path / ".dockerignore").write_text(f"# comment\n{pattern}\n")
    assert ignored(path, dockerignore_rules(tmp_path / ".dockerignore")) is excluded


def test_the_provider_version_is_part_of_the_content_tag(monkeypatch):
    from importlib.metadata import version

    assert provider_version() == version("pulumi-docker-build")
    first = content_tag("images", "predictor", "arm64", {})
    monkeypatch.setattr("components.image.provider_version", lambda: "0.0.1")
    assert content_tag("images", "predictor", "arm64", {}) != first, "another provider version may build other bytes"
