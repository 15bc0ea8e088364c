"""ECR lifecycle-policy evaluation, for testing a policy without AWS. The rules, as the ECR user guide
states them (LifecyclePolicies.md, "Lifecycle policy evaluation rules"):

- all rules are evaluated at the same time, then applied by priority (lowest number first);
- an image is expired by exactly one rule or by none;
- an image that matches the tagging requirements of a rule cannot be expired by a lower-priority rule;
- a rule never marks images a higher-priority rule matched, but still counts them as if not expired;
- `tagPatternList` / `tagPrefixList`: an image matches when every pattern matches one of its tags;
- `imageCountMoreThan`: images sorted youngest to oldest by push time, those beyond the count expire;
- `sinceImagePushed`: images pushed more than `countNumber` days before now expire.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field


@dataclass(frozen=True)
class StoredImage:
    digest: str
    pushed_day: int
    """Days since some origin; `now` is given in the same unit."""
    tags: frozenset[str] = field(default_factory=frozenset)


def selects(rule: dict, image: StoredImage) -> bool:
    """Whether the rule's tag selection matches the image (before counting)."""
    selection = rule["selection"]
    status = selection["tagStatus"]
    if status == "untagged":
        return not image.tags
    if status == "any":
        return True
    patterns = selection.get("tagPatternList")
    if patterns is not None:
        return bool(image.tags) and all(any(fnmatch.fnmatchcase(tag, p) for tag in image.tags) for p in patterns)
    prefixes = selection.get("tagPrefixList", [])
    return bool(image.tags) and all(any(tag.startswith(p) for tag in image.tags) for p in prefixes)


def expired(policy: dict, images: list[StoredImage], now: int) -> set[str]:
    """The digests the policy expires."""
    matched_by_higher: set[str] = set()
    gone: set[str] = set()
    for rule in sorted(policy["rules"], key=lambda r: r["rulePriority"]):
        matching = [image for image in images if selects(rule, image)]
        selection = rule["selection"]
        if selection["countType"] == "imageCountMoreThan":
            candidates = sorted(matching, key=lambda image: image.pushed_day, reverse=True)[selection["countNumber"]:]
        else:
            candidates = [image for image in matching if now - image.pushed_day > selection["countNumber"]]
        for image in candidates:
            if image.digest not in gone and image.digest not in matched_by_higher:
                gone.add(image.digest)
        matched_by_higher.update(image.digest for image in matching)
    return gone
