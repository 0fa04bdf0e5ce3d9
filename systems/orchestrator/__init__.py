"""The orchestrator on AWS: Discord and GitHub webhooks → Lambda → a DynamoDB table of runs."""
