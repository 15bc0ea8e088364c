"""Composition root: settings → repositories → images → stack outputs.

Functions, schedules and monitoring hang off the `images` mapping built here; components never read
config, so everything they need is passed in from the validated settings.
"""

import pulumi

from components.image import LambdaImage, LambdaImageArgs
from components.registry import EcrRepository, EcrRepositoryArgs
from components.settings import load_settings

IMAGES_DIR = "images"
"""Build context of every image (relative to the project, so state holds no machine paths)."""

settings = load_settings()

repositories = {
    image.name: EcrRepository(
        image.name,
        EcrRepositoryArgs(
            repository_name=f"{settings.project}/{settings.environment}/{image.name}",
            untagged_expire_days=settings.ecr.untagged_expire_days,
            keep_release_images=settings.ecr.keep_release_images,
            force_delete=not settings.protect,
        ),
    )
    for image in settings.images
}

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

pulumi.export("repositories", {name: repository.url for name, repository in repositories.items()})
pulumi.export("images", {f"{name}-{arch}": image.image_uri for (name, arch), image in images.items()})
