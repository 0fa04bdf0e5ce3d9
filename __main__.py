"""The platform stack of one environment: load the validated configuration, build the systems,
export what people and the tenant stacks (`tenants/`, one per instance file) need. It declares no
tenant: each tenant is a stack of its own, which reads this one's exports (systems/tenants/platform.py)."""

from pathlib import Path

import pulumi

from components.aws.deploy_access import AccountScope
from components.cloudflare.account import CloudflareAccount, CloudflareAccountArgs
from components.cloudflare.worker import WorkerRolloutSettings
from stack_config import load_stack_config, secret_output, setting_key
from stack_config.stacks import stack_names
from systems.ai_worker.system import AiWorker, AiWorkerArgs
from systems.delivery.sources import delivery_args, program_sources
from systems.delivery.spec import load_delivery_spec
from systems.delivery.system import Delivery
from systems.orchestrator.access_file import NO_ACCESS, load_access_file
from systems.orchestrator.system import Orchestrator, OrchestratorArgs
from systems.tenants import platform as tenant_reads
from systems.tenants.instances import load_instances
from systems.tenants.system import Tenants, TenantsArgs
from systems.worker_common import ErrorTracking

PROJECT = Path(__file__).parent

config = load_stack_config()
stacks = stack_names(PROJECT)
orchestrator_access = (
    load_access_file(PROJECT / config.orchestrator_access_file) if config.orchestrator_access_file else NO_ACCESS
)
delivery_spec = (
    load_delivery_spec(
        PROJECT / config.delivery_file,
        # Each tenant stack sets the secrets naming its keys; the file may name only keys that exist.
        tenant_keys={
            (instance.instance_id, key)
            for instance in load_instances(PROJECT / "instances")
            for key in instance.api_keys
        },
        stacks=stacks,
        guarded_stacks=config.guarded_stacks,
    )
    if config.delivery_file
    else None
)

# Unhandled errors of the functions and the workers go to the stack's Sentry project, when it names one.
error_tracking_dsn = secret_output(config.error_tracking_dsn) if config.error_tracking_dsn.get_secret_value() else None

orchestrator = Orchestrator(
    "orchestrator",
    OrchestratorArgs(
        discord_application_id=config.discord_application_id,
        discord_public_key=secret_output(config.discord_public_key),
        discord_bot_token=secret_output(config.discord_bot_token),
        discord_bot_token_setting=setting_key("discord_bot_token"),
        protect_stateful_resources=config.protect_stateful_resources,
        secret_store=config.secret_store,
        log_retention_days=config.log_retention_days,
        memory_mb=config.lambda_memory_mb,
        timeout_seconds=config.lambda_timeout_seconds,
        architecture=config.lambda_architecture,
        run_ttl_days=config.run_ttl_days,
        api_rate_limit=config.api_rate_limit,
        api_burst_limit=config.api_burst_limit,
        alarm_lambda_errors=config.alarm_lambda_errors,
        alarm_api_5xx=config.alarm_api_5xx,
        alarm_email=config.alarm_email,
        access=orchestrator_access,
        github_auth=config.github_auth,
        github_app_id=config.github_app_id,
        github_credential=secret_output(config.github_credential),
        worker_timeout_seconds=config.worker_timeout_seconds,
        queue_max_receive_count=config.queue_max_receive_count,
        alarm_queue_age_seconds=config.alarm_queue_age_seconds,
        canary_percent=config.lambda_canary_percent,
        canary_minutes=config.lambda_canary_minutes,
        # Created by the bootstrap project; the deploy role may create roles only with it.
        functions_boundary=AccountScope.current().function_boundary_arn(pulumi.get_project(), pulumi.get_stack()),
        error_tracking_dsn=error_tracking_dsn,
    ),
)

cloudflare = CloudflareAccount(
    "cloudflare",
    CloudflareAccountArgs(
        account_id=config.cloudflare_account_id,
        api_token=secret_output(config.cloudflare_api_token),
        api_token_setting=setting_key("cloudflare_api_token"),
        workers_dev_subdomain=config.cloudflare_workers_subdomain or None,
    ),
)

# Every worker's new version, here and in the tenant stacks, goes through this canary.
worker_rollout = WorkerRolloutSettings(
    canary_percent=config.worker_canary_percent, canary_minutes=config.worker_canary_minutes
)

# The share of their invocations every worker's logs keep, here and in the tenant stacks.
worker_log_sampling_rate = config.worker_log_sampling_percent / 100

error_tracking = ErrorTracking(environment=pulumi.get_stack(), dsn=error_tracking_dsn)

ai_worker = AiWorker(
    "ai-worker",
    AiWorkerArgs(
        account=cloudflare,
        protect_stateful_resources=config.protect_stateful_resources,
        allowed_origins=config.ai_allowed_origins,
        login_link_url=config.ai_login_link_url,
        email_from=config.ai_email_from,
        email_api_url=config.email_api_url,
        email_api_key=secret_output(config.email_api_key),
        chat_requests_per_minute=config.ai_chat_requests_per_minute,
        login_requests_per_minute=config.ai_login_requests_per_minute,
        login_client_requests_per_minute=config.ai_login_client_requests_per_minute,
        rate_limit_namespace_base=config.rate_limit_namespace_base,
        error_tracking=error_tracking,
        rollout=worker_rollout,
        log_sampling_rate=worker_log_sampling_rate,
    ),
)

image_api_key = secret_output(config.image_api_key)
tenants = Tenants(
    "tenants",
    TenantsArgs(
        account=cloudflare,
        protect_stateful_resources=config.protect_stateful_resources,
        error_tracking=error_tracking,
        rollout=worker_rollout,
        log_sampling_rate=worker_log_sampling_rate,
    ),
)

if delivery_spec is not None:
    delivery = Delivery(
        "delivery",
        delivery_args(
            delivery_spec,
            program_sources(
                delivery_spec,
                account=cloudflare,
                image_api_key=image_api_key,
                ai_worker_url=ai_worker.url,
                tenant_registry_database=tenants.registry_database,
            ),
            orchestrator_webhook_url=orchestrator.github_webhook_url,
            orchestrator_webhook_secret=orchestrator.github_webhook_secret,
            stacks=stacks,
            guarded_stacks=config.guarded_stacks,
        ),
    )
    pulumi.export("awsRoleArns", delivery.role_arns)

pulumi.export("discordInteractionsUrl", orchestrator.discord_interactions_url)
pulumi.export("githubWebhookUrl", orchestrator.github_webhook_url)
pulumi.export("orchestratorHealthUrl", orchestrator.health_url)
pulumi.export("githubWebhookSecret", orchestrator.github_webhook_secret)
pulumi.export("runsTableName", orchestrator.runs_table_name)
pulumi.export("alarmTopicArn", orchestrator.alarm_topic_arn)
pulumi.export("aiWorkerUrl", ai_worker.url)
pulumi.export("aiWorkerAdminToken", ai_worker.admin_token)

# What every tenant stack reads through its StackReference to this one.
pulumi.export(tenant_reads.REGISTRY_DATABASE, tenants.registry_database)
pulumi.export(tenant_reads.REGISTRY_DATABASE_ID, tenants.registry_database_id)
pulumi.export(tenant_reads.SHARED_RATE_LIMITER, tenants.shared_rate_limiter)
pulumi.export(tenant_reads.SHARED_IMAGES_BUCKET, tenants.shared_images_bucket)
pulumi.export(tenant_reads.ACCOUNT_ID, config.cloudflare_account_id)
pulumi.export(tenant_reads.WORKERS_SUBDOMAIN, config.cloudflare_workers_subdomain)
pulumi.export(tenant_reads.API_TOKEN, cloudflare.api_token)
pulumi.export(tenant_reads.IMAGE_API_URL, config.image_api_url)
pulumi.export(tenant_reads.IMAGE_API_KEY, image_api_key)
pulumi.export(tenant_reads.IMAGE_MODEL, config.image_model)
if error_tracking_dsn is not None:
    pulumi.export(tenant_reads.ERROR_TRACKING_DSN, error_tracking_dsn)
pulumi.export(tenant_reads.PROTECT_STATEFUL_RESOURCES, config.protect_stateful_resources)
pulumi.export(tenant_reads.ENVIRONMENT, config.environment)
pulumi.export(tenant_reads.WORKER_CANARY_PERCENT, config.worker_canary_percent)
pulumi.export(tenant_reads.WORKER_CANARY_MINUTES, config.worker_canary_minutes)
pulumi.export(tenant_reads.WORKER_LOG_SAMPLING_PERCENT, config.worker_log_sampling_percent)

# `GET /healthz` of every service with a URL, and the version this deploy gives it, for
# `python -m tools.smoke` after each deploy: a service still reporting another version is stale.
services = {
    "orchestrator": (orchestrator.api_url, orchestrator.health_version),
    "ai-worker": (ai_worker.url, ai_worker.version),
}
served = {service: url_and_version for service, url_and_version in services.items() if url_and_version[0] is not None}
pulumi.export("healthUrls", {service: pulumi.Output.concat(url, "/healthz") for service, (url, _) in served.items()})
pulumi.export("serviceVersions", {service: version for service, (_, version) in served.items()})
