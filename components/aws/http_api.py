"""An HTTP API (API Gateway v2) routing requests to functions, with access logs and a `$default` stage."""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..naming import HTTP_API, fragment, physical_name
from ..providers.lambda_rollout import PreTrafficCheck
from .function import Function
from .metric import CloudWatchMetric

_STAGE = "$default"

# One JSON line per request: what operators filter on when an alarm fires.
_ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "integrationError": "$context.integrationErrorMessage",
        "integrationLatency": "$context.integrationLatency",
    },
    sort_keys=True,
)


@dataclass(frozen=True)
class Route:
    method: str
    """An HTTP method, or `ANY` for every method (the function then answers the ones it refuses)."""
    path: str
    function: Function

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def slug(self) -> str:
        """The route as a logical-name fragment: `POST /github/webhook` → `post-github-webhook`."""
        return fragment(self.key)


@dataclass(frozen=True)
class HttpApiArgs:
    routes: Sequence[Route]
    access_log_retention_days: int = 14
    rate_limit: int = 50
    """Steady requests per second across the stage."""
    burst_limit: int = 100


def request_check(
    name: str,
    method: str,
    path: str,
    expect_status: int,
    *,
    headers: Mapping[str, str] | None = None,
    body: str = "",
    expect_body: Mapping[str, object] | None = None,
) -> PreTrafficCheck:
    """A pre-traffic check sending the function the event this API would for `method path`
    (payload format 2.0), expecting `expect_status` and, when given, these keys in the JSON body."""
    event = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {key.lower(): value for key, value in (headers or {}).items()},
        "body": body,
        "isBase64Encoded": False,
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "requestId": f"pre-traffic-{name}",
            "routeKey": f"{method} {path}",
            "stage": _STAGE,
        },
    }
    return PreTrafficCheck(name, json.dumps(event), {"statusCode": expect_status}, expect_body)


class HttpApi(pulumi.ComponentResource):
    api: aws.apigatewayv2.Api
    url: pulumi.Output[str]

    def __init__(self, name: str, args: HttpApiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:aws:HttpApi", name, None, opts)
        self._label = name
        child = pulumi.ResourceOptions(parent=self)
        if len({route.key for route in args.routes}) != len(args.routes):
            raise ValueError(f"HTTP API {name}: a route is declared twice")

        api_name = physical_name(name, HTTP_API)
        self.api = aws.apigatewayv2.Api(name, name=api_name, protocol_type="HTTP", opts=child)
        access_logs = aws.cloudwatch.LogGroup(
            f"{name}-access-logs",
            name=f"/aws/apigateway/{api_name}",
            retention_in_days=args.access_log_retention_days,
            opts=child,
        )
        routes = [self._route(name, route, child) for route in args.routes]
        aws.apigatewayv2.Stage(
            f"{name}-stage",
            api_id=self.api.id,
            name=_STAGE,
            auto_deploy=True,
            access_log_settings=aws.apigatewayv2.StageAccessLogSettingsArgs(
                destination_arn=access_logs.arn, format=_ACCESS_LOG_FORMAT
            ),
            default_route_settings=aws.apigatewayv2.StageDefaultRouteSettingsArgs(
                throttling_rate_limit=args.rate_limit, throttling_burst_limit=args.burst_limit
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=routes),
        )
        self.url = self.api.api_endpoint
        self.register_outputs({"url": self.url})

    def url_of(self, route: Route) -> pulumi.Output[str]:
        return pulumi.Output.concat(self.url, route.path)

    def metric_5xx(self) -> CloudWatchMetric:
        return CloudWatchMetric(
            "AWS/ApiGateway", "5xx", {"ApiId": self.api.id, "Stage": _STAGE}, f"{self._label} 5xx responses"
        )

    def metric_latency(self) -> CloudWatchMetric:
        """From request received to response sent, the 99th percentile: what the slowest users wait."""
        return CloudWatchMetric(
            "AWS/ApiGateway",
            "Latency",
            {"ApiId": self.api.id, "Stage": _STAGE},
            f"{self._label} p99 latency (ms)",
            "p99",
        )

    def metric_integration_latency(self) -> CloudWatchMetric:
        """The functions' share of the latency, the 99th percentile."""
        return CloudWatchMetric(
            "AWS/ApiGateway",
            "IntegrationLatency",
            {"ApiId": self.api.id, "Stage": _STAGE},
            f"{self._label} p99 integration latency (ms)",
            "p99",
        )

    def metric_requests(self) -> CloudWatchMetric:
        return CloudWatchMetric(
            "AWS/ApiGateway", "Count", {"ApiId": self.api.id, "Stage": _STAGE}, f"{self._label} requests"
        )

    def _route(self, name: str, route: Route, child: pulumi.ResourceOptions) -> aws.apigatewayv2.Route:
        logical = f"{name}-{route.slug}"
        integration = aws.apigatewayv2.Integration(
            logical,
            api_id=self.api.id,
            integration_type="AWS_PROXY",
            # HTTP APIs take a Lambda ARN as the URI: the alias's, so requests reach `live`, never `$LATEST`.
            integration_uri=route.function.alias_arn,
            payload_format_version="2.0",
            opts=child,
        )
        # Invocation is allowed for this API, this method and this path only, from any stage;
        # a request's ARN names the method it was sent with, so `ANY` matches every method.
        method = "*" if route.method == "ANY" else route.method
        aws.lambda_.Permission(
            f"{logical}-invoke",
            action="lambda:InvokeFunction",
            function=route.function.name,
            qualifier=route.function.alias_name,
            principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.concat(self.api.execution_arn, "/*/", method, route.path),
            # The alias exists only once its rollout has created it.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[route.function.rollout]),
        )
        return aws.apigatewayv2.Route(
            logical,
            api_id=self.api.id,
            route_key=route.key,
            target=pulumi.Output.concat("integrations/", integration.id),
            opts=child,
        )
