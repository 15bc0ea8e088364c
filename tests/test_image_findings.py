"""Inspector findings on the stack's images reach the alarm topic: an EventBridge rule on `Inspector2
Finding` events for the stack's repositories at or above its severity, a target whose input transformer
names repository, digest, package and CVE, and a topic (and key) EventBridge may publish to for that rule
only. The pattern and the transformer run on moto's EventBridge over AWS's documented sample event
(tests/data/inspector2-finding-event.json)."""

from __future__ import annotations

import copy
import json

import boto3
import pytest
from moto import mock_aws

from components.monitoring import FINDING_INPUT_PATHS, FINDING_TEMPLATE, ImageFindings, Monitoring, MonitoringArgs, findings_pattern
from tests.conftest import ROOT, run_program

SAMPLE = json.loads((ROOT / "tests" / "data" / "inspector2-finding-event.json").read_text())
ARN = "arn:aws:ecr:us-east-2:123456789012:repository/"
REPOSITORIES = (f"{ARN}commodity-forecasts/dev/predictor", f"{ARN}commodity-forecasts/dev/trainer")
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"


def finding(repository: str = "commodity-forecasts/dev/predictor", severity: str = "CRITICAL", status: str = "ACTIVE",
            cve: str = "CVE-2019-17498") -> dict:
    """AWS's sample finding, moved onto one of our repositories."""
    event = copy.deepcopy(SAMPLE)
    image = event["detail"]["resources"][0]["details"]["awsEcrContainerImage"]
    image["repositoryName"] = repository
    event["resources"] = [f"{ARN}{repository}/{image['imageHash']}"]
    event["detail"].update(severity=severity, status=status)
    event["detail"]["packageVulnerabilityDetails"]["vulnerabilityId"] = cve
    return event


@pytest.fixture(params=["dev", "prod"])
def graph(request):
    return request.getfixturevalue(f"{request.param}_graph")


def test_one_rule_and_one_target_per_stack_to_the_alarm_topic(graph):
    [rule] = graph.of_type(RULE)
    [target] = graph.of_type(TARGET)
    [topic] = graph.of_type("aws:sns/topic:Topic")
    environment = graph.outputs["dashboard"].rsplit("-", 1)[1]
    assert rule.inputs["name"] == f"commodity-forecasts-{environment}-image-findings"
    pattern = json.loads(rule.inputs["eventPattern"])
    repositories = f"arn:aws:ecr:us-east-1:123456789012:repository/commodity-forecasts/{environment}"
    assert pattern["resources"] == [{"prefix": f"{repositories}/predictor/sha256:"}, {"prefix": f"{repositories}/trainer/sha256:"}], (
        "only this stack's repositories")
    assert pattern["detail"]["severity"] == ["CRITICAL"], "the stack's scan_severity_threshold and above"
    assert target.inputs["rule"] == rule.inputs["name"] and target.inputs["arn"] == topic.state["arn"]
    assert target.inputs["inputTransformer"] == {"inputPaths": dict(FINDING_INPUT_PATHS), "inputTemplate": FINDING_TEMPLATE}


def test_the_topic_takes_the_rules_findings_and_the_stacks_alarms_only(graph):
    [rule] = graph.of_type(RULE)
    [policy] = graph.of_type("aws:sns/topicPolicy:TopicPolicy")
    [topic] = graph.of_type("aws:sns/topic:Topic")
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    assert policy.inputs["arn"] == topic.state["arn"]
    events = statements["InspectorFindingsRulePublishes"]
    assert events["Principal"] == {"Service": "events.amazonaws.com"} and events["Action"] == "sns:Publish"
    assert events["Condition"] == {"ArnEquals": {"aws:SourceArn": rule.state["arn"]}}, "only this rule may publish through EventBridge"
    alarms = statements["CloudWatchAlarmsPublish"]
    environment = graph.outputs["dashboard"].rsplit("-", 1)[1]
    assert alarms["Condition"]["ArnLike"] == {"aws:SourceArn": f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:commodity-forecasts-{environment}-*"}
    assert set(statements) == {"InspectorFindingsRulePublishes", "CloudWatchAlarmsPublish"}


def test_eventbridge_may_use_the_topics_key(graph):
    """The stack's topic uses the bootstrap's alarm key (the stack writes no key policy): that key's policy."""
    from tools.identities.bootstrap import ACCOUNT
    from components.monitoring import alarm_topic_key_policy

    [topic] = graph.of_type("aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"].startswith("alias/commodity-forecasts-") and not graph.of_type("aws:kms/key:Key")
    statements = {s["Sid"]: s for s in alarm_topic_key_policy(ACCOUNT, findings=True)["Statement"]}
    events = statements["EventBridgeFindingsPublish"]
    assert events["Principal"] == {"Service": "events.amazonaws.com"}
    assert events["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert "Condition" not in events, "EventBridge's KMS requests carry no source keys: a condition would drop every finding"


@pytest.fixture
def eventbridge():
    with mock_aws():
        events = boto3.client("events", region_name="us-east-2")
        sqs = boto3.client("sqs", region_name="us-east-2")
        yield events, sqs


def delivered(eventbridge, findings: ImageFindings, event: dict) -> list[str]:
    """Every message the rule delivers for `event`, through the same pattern and input transformer (to an SQS
    queue: moto's EventBridge does not deliver to SNS; the transformation is the target's, whatever it is)."""
    events, sqs = eventbridge
    queue = sqs.create_queue(QueueName="findings")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="image-findings", EventPattern=json.dumps(findings_pattern(findings, findings.repository_arns)))
    events.put_targets(Rule="image-findings", Targets=[{"Id": "topic", "Arn": arn, "InputTransformer": {
        "InputPathsMap": dict(FINDING_INPUT_PATHS), "InputTemplate": FINDING_TEMPLATE}}])
    events.put_events(Entries=[{"Source": event["source"], "DetailType": event["detail-type"], "Resources": event["resources"],
                                "Detail": json.dumps(event["detail"])}])
    return [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])]


def test_the_page_names_repository_digest_package_and_cve(eventbridge):
    [message] = delivered(eventbridge, ImageFindings(REPOSITORIES), finding())
    digest = SAMPLE["detail"]["resources"][0]["details"]["awsEcrContainerImage"]["imageHash"]
    assert message == (
        f"Image vulnerability CRITICAL CVE-2019-17498 in libssh2 1.4.3 (CVE-2019-17498 - libssh2) on "
        f"commodity-forecasts/dev/predictor@{digest}. Runbook: image-finding. "
        "Fix: rebuild on a patched base or package, or allow-list it with a reason."
    )


@pytest.mark.parametrize("event", [
    finding(repository="amazon/amazon-ecs-sample"),
    finding(repository="commodity-forecasts/prod/predictor"),
    finding(severity="HIGH"),
    finding(status="CLOSED"),
    finding(cve="CVE-2026-0001"),
], ids=["another repository", "another stack's repository", "below the threshold", "a closed finding", "allow-listed"])
def test_what_does_not_page(eventbridge, event):
    findings = ImageFindings(REPOSITORIES, min_severity="CRITICAL", accepted_ids=("CVE-2026-0001",))
    assert delivered(eventbridge, findings, event) == []


@pytest.mark.parametrize("severity, pages", [("MEDIUM", False), ("HIGH", True), ("CRITICAL", True)])
def test_a_lower_threshold_pages_on_more_severe_findings_too(eventbridge, severity, pages):
    assert bool(delivered(eventbridge, ImageFindings(REPOSITORIES, min_severity="HIGH"), finding(severity=severity))) is pages


def test_the_sample_event_itself_is_what_aws_documents():
    """Guard against editing the recorded sample: its shape is what the input paths read."""
    assert (SAMPLE["source"], SAMPLE["detail-type"]) == ("aws.inspector2", "Inspector2 Finding")
    assert SAMPLE["detail"]["resources"][0]["type"] == "AWS_ECR_CONTAINER_IMAGE"


def test_refuses_an_unknown_severity_and_no_repositories():
    with pytest.raises(ValueError, match=r"image_findings.min_severity must be one of .*got 'SEVERE'"):
        run_program(lambda: Monitoring("m", MonitoringArgs(name_prefix="p", region="us-east-1", functions=(),
                                                           image_findings=ImageFindings(REPOSITORIES, min_severity="SEVERE"))))
    with pytest.raises(ValueError, match=r"image_findings.repository_arns must name at least one repository"):
        Monitoring("m", MonitoringArgs(name_prefix="p", region="us-east-1", functions=(), image_findings=ImageFindings(())))
