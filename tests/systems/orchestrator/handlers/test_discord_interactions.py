import base64
import os
from collections.abc import Callable, Mapping
from typing import Any

import boto3
import pytest
from nacl.signing import SigningKey

from systems.orchestrator.handlers.run import Task, run_id_for
from systems.orchestrator.handlers.run_store import Outcome, RunStore
from tests.systems.orchestrator.handlers.conftest import WorkQueue
from tests.systems.orchestrator.handlers.support import (
    APPROVER_ROLE,
    INTERACTION_ID,
    INTERACTION_TOKEN,
    OTHER_GUILD,
    REGION,
    REPOSITORY,
    SECOND_REPOSITORY,
    START,
    FrozenClock,
    interaction,
)

Build = Callable[..., dict[str, Any]]
Call = Callable[[Mapping[str, Any]], tuple[int, Any]]

PING = {"type": 1, "id": "1", "application_id": "2"}
PLAN = interaction("plan", {"repository": REPOSITORY})
RUN_ID = run_id_for(f"discord:{INTERACTION_ID}")
TASK = Task(7, "Add a widget", f"https://github.com/{REPOSITORY}/issues/7")


def content(reply: Any, *, ephemeral: bool = False) -> str:
    assert reply["type"] == 4
    assert reply["data"]["allowed_mentions"] == {"parse": []}
    assert reply["data"].get("flags") == (64 if ephemeral else None)
    return reply["data"]["content"]


def proposed_run(repository: str = REPOSITORY, *, tasks: tuple[Task, ...] = (TASK,), run_id: str = RUN_ID) -> str:
    outcome = RunStore.from_environment().propose(
        run_id=run_id, repository=repository, source="github", requested_by="hubot", now=START, tasks=tasks
    )
    assert outcome is Outcome.DONE
    return run_id


def test_ping_is_answered_with_pong(
    discord_request: Build, call_discord: Call, count_runs: Callable[[], int], work: WorkQueue
) -> None:
    assert call_discord(discord_request(PING)) == (200, {"type": 1})
    assert (count_runs(), work.count()) == (0, 0)


def test_base64_encoded_body_is_verified_as_sent(discord_request: Build, call_discord: Call) -> None:
    event = discord_request(PING)
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True
    assert call_discord(event) == (200, {"type": 1})


def test_plan_defers_records_a_proposed_run_and_queues_the_work(
    discord_request: Build, call_discord: Call, runs_table: Any, work: WorkQueue
) -> None:
    assert call_discord(discord_request(PLAN)) == (200, {"type": 5})

    assert runs_table.get_item(Key={"run_id": RUN_ID})["Item"] == {
        "run_id": RUN_ID,
        "run_month": "2026-11",
        "created_at": "2026-11-03T12:00:00.000000Z",
        "expires_at": int(START.timestamp()) + 90 * 86400,
        "status": "proposed",
        "source": "discord",
        "repository": REPOSITORY,
        "requested_by": "nelly",
        "tasks": {},
        "history": [{"at": "2026-11-03T12:00:00.000000Z", "by": "nelly", "action": "proposed"}],
        "effects": {},
        "claims": {},
    }
    assert runs_table.get_item(Key={"run_id": f"open#{REPOSITORY}"})["Item"]["open_run_id"] == RUN_ID
    assert work.bodies() == [
        {"type": "plan", "run_id": RUN_ID, "reply": INTERACTION_TOKEN, "by": "nelly", "interaction": INTERACTION_ID}
    ]


def test_plan_without_a_repository_uses_the_guilds_default(
    discord_request: Build, call_discord: Call, work: WorkQueue
) -> None:
    assert call_discord(discord_request(interaction("plan")))[0] == 200
    assert RunStore.from_environment().get_run(RUN_ID).repository == REPOSITORY  # type: ignore[union-attr]


def test_plan_of_a_repository_with_an_open_run_plans_that_run(
    discord_request: Build, call_discord: Call, count_runs: Callable[[], int], work: WorkQueue
) -> None:
    existing = proposed_run(run_id="run-00000000000000aa")
    before = count_runs()

    assert call_discord(discord_request(PLAN)) == (200, {"type": 5})

    assert count_runs() == before
    assert [body["run_id"] for body in work.bodies()] == [existing]


def test_a_replayed_plan_writes_nothing_new(
    discord_request: Build, call_discord: Call, runs_table: Any, work: WorkQueue
) -> None:
    event = discord_request(PLAN)
    call_discord(event)
    items = runs_table.scan()["Items"]

    assert call_discord(event) == (200, {"type": 5})

    assert runs_table.scan()["Items"] == items


def test_plan_takes_a_repository_in_any_case_as_the_one_the_access_file_spells(
    discord_request: Build, call_discord: Call, runs_table: Any, work: WorkQueue
) -> None:
    assert call_discord(discord_request(interaction("plan", {"repository": "Octo-Org/WIDGETS"})))[0] == 200
    other_spelling = interaction("plan", {"repository": "OCTO-ORG/widgets"}, interaction_id="2" * 19)
    assert call_discord(discord_request(other_spelling))[0] == 200

    assert RunStore.from_environment().get_run(RUN_ID).repository == REPOSITORY  # type: ignore[union-attr]
    assert runs_table.get_item(Key={"run_id": f"open#{REPOSITORY}"})["Item"]["open_run_id"] == RUN_ID
    # One repository, one open run: the second spelling plans the run the first one opened.
    assert [body["run_id"] for body in work.bodies()] == [RUN_ID, RUN_ID]


def test_a_run_is_found_in_its_server_however_the_access_file_now_spells_its_repository(
    discord_request: Build, call_discord: Call, work: WorkQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    proposed_run()
    respelt = os.environ["ORCHESTRATOR_ACCESS"].replace(f'"{REPOSITORY}"', '"Octo-Org/Widgets"')
    monkeypatch.setenv("ORCHESTRATOR_ACCESS", respelt)

    one = content(call_discord(discord_request(interaction("status", {"run_id": RUN_ID})))[1])
    recent = content(call_discord(discord_request(interaction("status")))[1])
    approved = call_discord(discord_request(interaction("approve", {"run_id": RUN_ID})))

    assert one.startswith(f"`{RUN_ID}` proposed: {REPOSITORY}")
    assert recent.splitlines()[1].startswith(f"`{RUN_ID}` proposed")
    assert approved == (200, {"type": 5})
    assert RunStore.from_environment().get_run(RUN_ID).status == "approved"  # type: ignore[union-attr]


def test_approve_moves_a_proposed_run_on_and_queues_the_dispatch(
    discord_request: Build, call_discord: Call, runs_table: Any, work: WorkQueue, frozen_clock: FrozenClock
) -> None:
    proposed_run()
    frozen_clock.advance(60)

    assert call_discord(discord_request(interaction("approve", {"run_id": RUN_ID}))) == (200, {"type": 5})

    run = RunStore.from_environment().get_run(RUN_ID)
    assert run is not None and run.status == "approved"
    assert [(entry.by, entry.action) for entry in run.history] == [("hubot", "proposed"), ("nelly", "approved")]
    assert "open_run_id" not in runs_table.get_item(Key={"run_id": f"open#{REPOSITORY}"})["Item"]
    assert work.bodies() == [{"type": "approve", "run_id": RUN_ID, "reply": INTERACTION_TOKEN, "by": "nelly"}]


def test_approving_an_approved_run_again_queues_its_dispatch_and_writes_nothing(
    discord_request: Build, call_discord: Call, runs_table: Any, work: WorkQueue
) -> None:
    proposed_run()
    call_discord(discord_request(interaction("approve", {"run_id": RUN_ID})))
    items = runs_table.scan()["Items"]

    assert call_discord(discord_request(interaction("approve", {"run_id": RUN_ID}, interaction_id="2" * 19)))[0] == 200

    assert runs_table.scan()["Items"] == items
    assert [body["type"] for body in work.bodies()] == ["approve", "approve"]


def test_cancel_closes_a_proposed_run_at_once(
    discord_request: Build, call_discord: Call, runs_table: Any, work: WorkQueue
) -> None:
    proposed_run()
    status_code, reply = call_discord(discord_request(interaction("cancel", {"run_id": RUN_ID})))
    assert status_code == 200
    assert content(reply) == f"Run `{RUN_ID}` cancelled by nelly."
    assert RunStore.from_environment().get_run(RUN_ID).status == "cancelled"  # type: ignore[union-attr]
    assert "open_run_id" not in runs_table.get_item(Key={"run_id": f"open#{REPOSITORY}"})["Item"]
    assert work.count() == 0


def test_ship_queues_the_checks_of_a_finished_run(discord_request: Build, call_discord: Call, work: WorkQueue) -> None:
    store = RunStore.from_environment()
    proposed_run()
    store.approve(RUN_ID, REPOSITORY, by="nelly", now=START)
    store.record_result(RUN_ID, 7, succeeded=True, result_url="https://github.com/x", now=START)
    assert store.finish(RUN_ID, now=START) is Outcome.DONE

    assert call_discord(discord_request(interaction("ship", {"run_id": RUN_ID}))) == (200, {"type": 5})
    assert work.bodies() == [{"type": "ship", "run_id": RUN_ID, "reply": INTERACTION_TOKEN, "by": "nelly"}]


def test_status_shows_one_run_with_its_tasks_and_history(discord_request: Build, call_discord: Call) -> None:
    proposed_run()
    status_code, reply = call_discord(discord_request(interaction("status", {"run_id": RUN_ID})))
    assert status_code == 200
    assert content(reply).splitlines() == [
        f"`{RUN_ID}` proposed: {REPOSITORY}, 1 issue(s), requested by hubot via github at 2026-11-03T12:00:00.000000Z",
        "- #7 Add a widget: pending",
        "2026-11-03T12:00:00.000000Z hubot: proposed",
    ]


def test_status_of_a_run_too_long_for_one_message_is_cut_to_what_discord_accepts(
    discord_request: Build, call_discord: Call
) -> None:
    titles = [f"{issue} " + "x" * 250 for issue in range(1, 51)]
    proposed_run(tasks=tuple(Task(issue, title, f"https://x/{issue}") for issue, title in enumerate(titles, 1)))

    status_code, reply = call_discord(discord_request(interaction("status", {"run_id": RUN_ID})))

    assert status_code == 200
    shown = content(reply)
    assert len(shown) == 2000 and shown.endswith("…")
    assert shown.startswith(f"`{RUN_ID}` proposed: {REPOSITORY}, 50 issue(s)")


def test_status_lists_the_guilds_recent_runs_newest_first(
    discord_request: Build, call_discord: Call, frozen_clock: FrozenClock
) -> None:
    store = RunStore.from_environment()
    for index, repository in enumerate([REPOSITORY, SECOND_REPOSITORY, "other-org/secret"]):
        store.propose(
            run_id=f"run-{index:016x}",
            repository=repository,
            source="github",
            requested_by="hubot",
            now=frozen_clock.now,
        )
        frozen_clock.advance(60)

    lines = content(call_discord(discord_request(interaction("status")))[1]).splitlines()

    assert lines[0] == "Recent runs:"
    assert [line.split()[0] for line in lines[1:]] == [f"`run-{1:016x}`", f"`run-{0:016x}`"]


def test_status_with_no_runs(discord_request: Build, call_discord: Call) -> None:
    assert content(call_discord(discord_request(interaction("status")))[1]) == "No runs this month or last."


def _other_guilds_run() -> None:
    proposed_run("other-org/secret")


def _running_run() -> None:
    proposed_run()
    RunStore.from_environment().approve(RUN_ID, REPOSITORY, by="nelly", now=START)
    RunStore.from_environment().start(RUN_ID, now=START)


def _empty_run() -> None:
    proposed_run(tasks=())


REFUSED = [
    ("direct message", lambda: None, interaction("plan", guild=None), "servers only"),
    ("unserved guild", lambda: None, interaction("plan", guild="1300000000000000555"), "not one Orchestra serves"),
    ("unlisted repository", lambda: None, interaction("plan", {"repository": "octo-org/other"}), "not a repository"),
    (
        "another guild's repository",
        lambda: None,
        interaction("plan", {"repository": "other-org/secret"}),
        "not a repository this server may run",
    ),
    ("no default repository", lambda: None, interaction("plan", guild=OTHER_GUILD), "no default one"),
    ("approve without the role", proposed_run, interaction("approve", {"run_id": RUN_ID}, roles=()), "approver role"),
    (
        "approve with another role",
        proposed_run,
        interaction("approve", {"run_id": RUN_ID}, roles=("1300000000000000777",)),
        "approver role",
    ),
    ("ship without the role", proposed_run, interaction("ship", {"run_id": RUN_ID}, roles=()), "approver role"),
    ("cancel without the role", proposed_run, interaction("cancel", {"run_id": RUN_ID}, roles=()), "approver role"),
    ("approve a missing run", lambda: None, interaction("approve", {"run_id": RUN_ID}), "No run"),
    (
        "approve another guild's run",
        _other_guilds_run,
        interaction("approve", {"run_id": RUN_ID}),
        "No run",
    ),
    ("status of another guild's run", _other_guilds_run, interaction("status", {"run_id": RUN_ID}), "No run"),
    ("approve a running run", _running_run, interaction("approve", {"run_id": RUN_ID}), "is running"),
    ("approve a run without issues", _empty_run, interaction("approve", {"run_id": RUN_ID}), "has no issues"),
    ("ship a running run", _running_run, interaction("ship", {"run_id": RUN_ID}), "once every task has finished"),
    ("cancel a running run", _running_run, interaction("cancel", {"run_id": RUN_ID}), "only a proposed run"),
]


@pytest.mark.parametrize(
    ("arrange", "sent", "expected"), [case[1:] for case in REFUSED], ids=[case[0] for case in REFUSED]
)
def test_refusals_are_ephemeral_and_write_and_queue_nothing(
    discord_request: Build,
    call_discord: Call,
    runs_table: Any,
    work: WorkQueue,
    arrange: Callable[[], None],
    sent: dict[str, Any],
    expected: str,
) -> None:
    arrange()
    items = runs_table.scan()["Items"]

    status_code, reply = call_discord(discord_request(sent))

    assert status_code == 200
    assert expected in content(reply, ephemeral=True)
    assert runs_table.scan()["Items"] == items
    assert work.count() == 0


def test_header_names_in_any_case_are_read(discord_request: Build, call_discord: Call) -> None:
    event = discord_request(PING)
    event["headers"] = {name.upper(): value for name, value in event["headers"].items()}
    assert call_discord(event) == (200, {"type": 1})


def test_a_timestamp_exactly_five_minutes_old_is_accepted(
    discord_request: Build, call_discord: Call, frozen_clock: FrozenClock
) -> None:
    signed_at = int(frozen_clock.now.timestamp()) - 300
    assert call_discord(discord_request(PING, timestamp=signed_at))[0] == 200


def _without_header(name: str) -> Callable[[Build, FrozenClock], dict[str, Any]]:
    def mutate(build: Build, clock: FrozenClock) -> dict[str, Any]:
        event = build(PLAN)
        del event["headers"][name]
        return event

    return mutate


def _with_header(name: str, value: str) -> Callable[[Build, FrozenClock], dict[str, Any]]:
    def mutate(build: Build, clock: FrozenClock) -> dict[str, Any]:
        event = build(PLAN)
        event["headers"][name] = value
        return event

    return mutate


def _shortened_signature(build: Build, clock: FrozenClock) -> dict[str, Any]:
    event = build(PLAN)
    event["headers"]["x-signature-ed25519"] = event["headers"]["x-signature-ed25519"][:-2]
    return event


def _tampered_body(build: Build, clock: FrozenClock) -> dict[str, Any]:
    event = build(PLAN)
    event["body"] = event["body"].replace(REPOSITORY, SECOND_REPOSITORY)
    return event


def _tampered_timestamp(build: Build, clock: FrozenClock) -> dict[str, Any]:
    event = build(PLAN)
    event["headers"]["x-signature-timestamp"] = str(int(clock.now.timestamp()) + 1)
    return event


def _invalid_base64(build: Build, clock: FrozenClock) -> dict[str, Any]:
    event = build(PLAN)
    event["isBase64Encoded"] = True
    return event


def _signature_given_twice(build: Build, clock: FrozenClock) -> dict[str, Any]:
    # API Gateway joins a header sent twice with a comma.
    event = build(PLAN)
    signature = event["headers"]["x-signature-ed25519"]
    event["headers"]["x-signature-ed25519"] = f"{signature},{signature}"
    return event


def _base64_claimed_but_not_applied(build: Build, clock: FrozenClock) -> dict[str, Any]:
    event = build(PLAN)
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    return event


def _base64_outside_ascii(build: Build, clock: FrozenClock) -> dict[str, Any]:
    event = build(PLAN)
    event["body"] = "é" + event["body"]
    event["isBase64Encoded"] = True
    return event


def _signed(payload: Any, **options: Any) -> Callable[[Build, FrozenClock], dict[str, Any]]:
    return lambda build, clock: build(payload, **options)


def _signed_at(offset_seconds: int) -> Callable[[Build, FrozenClock], dict[str, Any]]:
    return lambda build, clock: build(PLAN, timestamp=int(clock.now.timestamp()) + offset_seconds)


def _changed(**changes: Any) -> dict[str, Any]:
    sent = interaction("plan", {"repository": REPOSITORY})
    for key, value in changes.items():
        if value is None:
            sent.pop(key)
        else:
            sent[key] = value
    return sent


def _options(name: str, *options: dict[str, Any]) -> dict[str, Any]:
    sent = interaction(name)
    sent["data"] = {"type": 1, "name": name, "options": list(options)}
    return sent


REJECTED = [
    ("no signature", _without_header("x-signature-ed25519"), 401, "missing x-signature"),
    ("no timestamp", _without_header("x-signature-timestamp"), 401, "missing x-signature"),
    ("signature not hex", _with_header("x-signature-ed25519", "zz" * 64), 401, "128 hex"),
    ("signature too short", _shortened_signature, 401, "128 hex"),
    ("timestamp not a number", _with_header("x-signature-timestamp", "yesterday"), 401, "unix seconds"),
    ("signed by another key", _signed(PLAN, key=SigningKey.generate()), 401, "invalid request signature"),
    ("tampered body", _tampered_body, 401, "invalid request signature"),
    ("tampered timestamp", _tampered_timestamp, 401, "invalid request signature"),
    ("stale timestamp", _signed_at(-301), 401, "more than 5 minutes"),
    ("future timestamp", _signed_at(301), 401, "more than 5 minutes"),
    ("body not base64", _invalid_base64, 400, "not valid base64"),
    ("base64 body outside ASCII", _base64_outside_ascii, 400, "not valid base64"),
    ("base64 body not flagged as such", _base64_claimed_but_not_applied, 401, "invalid request signature"),
    ("signature given twice", _signature_given_twice, 401, "128 hex"),
    ("timestamp given twice", _with_header("x-signature-timestamp", "1793707200,1793707200"), 401, "unix seconds"),
    ("body not JSON", _signed(b"plan octo-org/widgets"), 400, "not valid JSON"),
    ("body not an object", _signed(b"[1, 2]"), 400, "must be a JSON object"),
    ("unknown interaction type", _signed(_changed(type=3)), 400, "unsupported interaction type"),
    ("no command data", _signed(_changed(data=None)), 400, "unknown command: None"),
    ("unknown command", _signed(_options("deploy")), 400, "unknown command: 'deploy'"),
    ("missing run id", _signed(_options("approve")), 400, "missing required option(s): run_id"),
    (
        "malformed run id",
        _signed(_options("approve", {"name": "run_id", "type": 3, "value": "run-ZZZZZZZZZZZZZZZZ"})),
        400,
        "run_id must look like run-",
    ),
    (
        "run id as a number",
        _signed(_options("status", {"name": "run_id", "type": 4, "value": 12345678901234567890})),
        400,
        "must be a string",
    ),
    (
        "repository without owner",
        _signed(_options("plan", {"name": "repository", "type": 3, "value": "widgets"})),
        400,
        "repository must be owner/name",
    ),
    (
        "repository named ..",
        _signed(_options("plan", {"name": "repository", "type": 3, "value": "octo-org/.."})),
        400,
        "repository must be owner/name",
    ),
    (
        "unknown option",
        _signed(_options("plan", {"name": "priority", "type": 4, "value": 1})),
        400,
        "no option 'priority'",
    ),
    (
        "option given twice",
        _signed(
            _options(
                "plan",
                {"name": "repository", "type": 3, "value": REPOSITORY},
                {"name": "repository", "type": 3, "value": REPOSITORY},
            )
        ),
        400,
        "option repository was given twice",
    ),
    ("no interaction id", _signed(_changed(id=None)), 400, "id must be a snowflake"),
    ("no interaction token", _signed(_changed(token=None)), 400, "token must be an interaction token"),
    ("token with a slash", _signed(_changed(token="abc/../x")), 400, "token must be an interaction token"),
    ("no user", _signed(_changed(member={"roles": [APPROVER_ROLE]})), 400, "username must be a non-empty string"),
    ("guild id not a snowflake", _signed(_changed(guild_id={"id": 1})), 400, "guild_id must be a snowflake"),
]


@pytest.mark.parametrize(
    ("make_event", "expected_status", "expected_error"),
    [case[1:] for case in REJECTED],
    ids=[case[0] for case in REJECTED],
)
def test_rejected_requests_write_and_queue_nothing(
    discord_request: Build,
    call_discord: Call,
    frozen_clock: FrozenClock,
    count_runs: Callable[[], int],
    work: WorkQueue,
    make_event: Callable[[Build, FrozenClock], dict[str, Any]],
    expected_status: int,
    expected_error: str,
) -> None:
    status_code, reply = call_discord(make_event(discord_request, frozen_clock))

    assert status_code == expected_status
    assert expected_error in reply["error"]
    assert (count_runs(), work.count()) == (0, 0)


def test_public_key_is_cached_for_five_minutes_then_reread(
    discord_request: Build,
    call_discord: Call,
    frozen_clock: FrozenClock,
    signing_key: SigningKey,
    discord_public_key_secret: str,
) -> None:
    rotated = SigningKey.generate()
    assert call_discord(discord_request(PING))[0] == 200
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId=discord_public_key_secret, SecretString=rotated.verify_key.encode().hex()
    )

    frozen_clock.advance(299)
    assert call_discord(discord_request(PING))[0] == 200
    assert call_discord(discord_request(PING, key=rotated))[0] == 401

    frozen_clock.advance(1)
    assert call_discord(discord_request(PING, key=rotated))[0] == 200
    assert call_discord(discord_request(PING, key=signing_key))[0] == 401
