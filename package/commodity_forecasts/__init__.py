"""commodity-forecasts' Pulumi components for use from another program: `commodity_forecasts.components`
(a container-image Lambda function behind a gated `live` alias, its ECR repository and image build,
schedules, the data plane, alarms). How to install and use them: docs/using-the-components.md."""
