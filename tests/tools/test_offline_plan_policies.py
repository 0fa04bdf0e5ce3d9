"""The adapter that hands an offline plan to pulumi-policy policies, as the CLI's analyzer would."""

import pulumi
from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Secret,
    StackValidationArgs,
    StackValidationPolicy,
)

from tools.offline_plan import ComposedConfig, Plan, PlannedResource, Violation, check_policies
from tools.offline_plan.policy_render import render_violations

PROVIDER_URN = "urn:pulumi:dev::shop::pulumi:providers:aws::main"
PARENT_URN = "urn:pulumi:dev::shop::shop:index:Service::api"
TABLE_URN = "urn:pulumi:dev::shop::shop:index:Service$aws:dynamodb/table:Table::orders"
CONFIG = ComposedConfig(values={"shop:tier": "gold"}, secret_keys=frozenset())


def planned(
    urn: str,
    type_: str,
    inputs: dict[str, object],
    *,
    parent: str | None = None,
    provider: str | None = None,
    dependencies: tuple[str, ...] = (),
    protect: bool = False,
) -> PlannedResource:
    return PlannedResource(
        urn=urn,
        type=type_,
        name=urn.rsplit("::", 1)[1],
        parent=parent,
        custom=True,
        protect=protect,
        retain_on_delete=protect,
        delete_before_replace=False,
        provider=provider,
        dependencies=dependencies,
        inputs=inputs,
    )


PLAN = Plan(
    project="shop",
    stack="dev",
    stack_urn="urn:pulumi:dev::shop::pulumi:pulumi:Stack::shop-dev",
    resources=(
        planned(PROVIDER_URN, "pulumi:providers:aws", {"region": "eu-west-1"}),
        planned(PARENT_URN, "shop:index:Service", {}),
        planned(
            TABLE_URN,
            "aws:dynamodb/table:Table",
            {"name": "orders", "streamArn": "[unknown]", "tags": {"token": "[secret]"}},
            parent=PARENT_URN,
            provider=f"{PROVIDER_URN}::provider-id",
            dependencies=(PARENT_URN,),
            protect=True,
        ),
    ),
    outputs={},
)


def test_resource_policies_see_what_the_analyzer_would_show_them() -> None:
    seen: list[tuple[object, ...]] = []

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type == "aws:dynamodb/table:Table":
            provider = args.provider
            seen.append((args.name, args.opts.protect, args.opts.parent, provider and provider.props["region"]))
            seen.append((isinstance(args.props["tags"]["token"], Secret), args.props["name"]))
            report("orders is wrong", "urn:ignored")

    policy = ResourceValidationPolicy("look", "looks", validate, EnforcementLevel.ADVISORY)
    found = check_policies(PLAN, CONFIG, [policy])
    assert seen == [("orders", True, PARENT_URN, "eu-west-1"), (True, "orders")]
    assert found == [Violation("look", EnforcementLevel.ADVISORY, "orders is wrong", TABLE_URN)]


def test_an_unknown_value_is_reported_as_a_policy_that_could_not_run() -> None:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type == "aws:dynamodb/table:Table":
            report(f"stream {args.props['streamArn']}", None)

    found = check_policies(PLAN, CONFIG, [ResourceValidationPolicy("stream", "streams", validate)])
    assert [(v.enforcement_level, v.message, v.urn) for v in found] == [
        (
            EnforcementLevel.ADVISORY,
            "could not run: string value at .streamArn can't be known during preview",
            TABLE_URN,
        )
    ]


def test_stack_policies_get_linked_resources_the_configuration_and_may_be_async() -> None:
    async def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        table = next(r for r in args.resources if r.resource_type == "aws:dynamodb/table:Table")
        assert table.parent is not None and table.parent.urn == PARENT_URN
        assert [d.urn for d in table.dependencies] == [PARENT_URN]
        report(f"tier {pulumi.Config().get('tier')}", table.urn)
        report("the stack as a whole", None)

    found = check_policies(PLAN, CONFIG, [StackValidationPolicy("tier", "tiers", validate)])
    assert [(v.message, v.urn, v.mandatory) for v in found] == [
        ("tier gold", TABLE_URN, True),
        ("the stack as a whole", None, True),
    ]


def test_disabled_policies_do_not_run() -> None:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        report("ran", None)

    assert (
        check_policies(PLAN, CONFIG, [StackValidationPolicy("off", "off", validate, EnforcementLevel.DISABLED)]) == []
    )


def test_violations_render_mandatory_first_with_the_resource_they_concern() -> None:
    violations = [
        Violation("logs", EnforcementLevel.ADVISORY, "kept forever", None),
        Violation("protect", EnforcementLevel.MANDATORY, "unprotected", TABLE_URN),
    ]
    assert render_violations(PLAN, violations) == (
        "Policies: 1 mandatory, 1 advisory violations\n"
        "  [mandatory] protect: orders (aws:dynamodb/table:Table): unprotected\n"
        "  [advisory] logs: kept forever\n"
    )
    assert render_violations(PLAN, []) == "Policies: no violations\n"
