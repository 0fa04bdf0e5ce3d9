import pytest
import yaml

from components.github.files import (
    HEADER,
    CodeOwnersRule,
    DependabotUpdate,
    RepositoryFiles,
    RepositoryFilesArgs,
    codeowners_content,
    dependabot_content,
)
from components.github.ruleset import BypassActor, Ruleset, RulesetArgs
from tools.offline_plan import evaluate

CODEOWNERS = [CodeOwnersRule("*", ["@acme/platform"]), CodeOwnersRule("/infra/", ["@alice", "ops@acme.example"])]
DEPENDABOT = [DependabotUpdate("pip"), DependabotUpdate("github-actions", interval="monthly")]


def test_each_file_is_committed_to_the_branch_and_takes_over_an_existing_one() -> None:
    args = RepositoryFilesArgs(repository="image-gen", branch="main", codeowners=CODEOWNERS, dependabot=DEPENDABOT)
    plan = evaluate(lambda: RepositoryFiles("image-gen-files", args))
    component = plan.one("orchestra:github:RepositoryFiles", "image-gen-files")
    files = {r.name: r.inputs for r in plan.children_of(component.urn)}
    assert files == {
        "image-gen-files-codeowners": {
            "repository": "image-gen",
            "branch": "main",
            "file": ".github/CODEOWNERS",
            "content": codeowners_content(CODEOWNERS),
            "commitMessage": "Update .github/CODEOWNERS (managed by Pulumi)",
            "overwriteOnCreate": True,
        },
        "image-gen-files-dependabot": {
            "repository": "image-gen",
            "branch": "main",
            "file": ".github/dependabot.yml",
            "content": dependabot_content(DEPENDABOT),
            "commitMessage": "Update .github/dependabot.yml (managed by Pulumi)",
            "overwriteOnCreate": True,
        },
    }


def test_only_the_configured_files_are_written() -> None:
    args = RepositoryFilesArgs(repository="image-gen", branch="main", dependabot=DEPENDABOT)
    plan = evaluate(lambda: RepositoryFiles("image-gen-files", args))
    assert [r.inputs["file"] for r in plan.of_type("github:index/repositoryFile:RepositoryFile")] == [
        ".github/dependabot.yml"
    ]
    with pytest.raises(ValueError, match="neither"):
        evaluate(lambda: RepositoryFiles("image-gen-files", RepositoryFilesArgs(repository="r", branch="main")))


def test_codeowners_content() -> None:
    assert codeowners_content(CODEOWNERS) == HEADER + "* @acme/platform\n/infra/ @alice ops@acme.example\n"


def test_dependabot_content_is_the_schema_dependabot_reads() -> None:
    content = dependabot_content(DEPENDABOT)
    assert content.startswith(HEADER)
    assert yaml.safe_load(content) == {
        "version": 2,
        "updates": [
            {"package-ecosystem": "pip", "directory": "/", "schedule": {"interval": "weekly"}},
            {"package-ecosystem": "github-actions", "directory": "/", "schedule": {"interval": "monthly"}},
        ],
    }


@pytest.mark.parametrize(
    "rule",
    [CodeOwnersRule("*", []), CodeOwnersRule("*", ["acme/platform"]), CodeOwnersRule("docs dir/", ["@alice"])],
)
def test_codeowners_rules_github_would_ignore_are_refused(rule: CodeOwnersRule) -> None:
    with pytest.raises(ValueError, match="CODEOWNERS"):
        codeowners_content([rule])


@pytest.mark.parametrize(
    "updates",
    [[DependabotUpdate("pip"), DependabotUpdate("pip")], [DependabotUpdate("Pip!")]],
)
def test_dependabot_updates_dependabot_would_reject_are_refused(updates: list[DependabotUpdate]) -> None:
    with pytest.raises(ValueError, match="dependabot"):
        dependabot_content(updates)


def test_the_files_wait_for_what_they_are_committed_after() -> None:
    def program() -> None:
        ruleset = Ruleset("image-gen-ruleset", RulesetArgs(repository="image-gen", bypass=[BypassActor.admins()]))
        args = RepositoryFilesArgs(
            repository="image-gen", branch="main", codeowners=CODEOWNERS, after=[ruleset.ruleset]
        )
        RepositoryFiles("image-gen-files", args)

    plan = evaluate(program)
    ruleset = plan.one("github:index/repositoryRuleset:RepositoryRuleset", "image-gen-ruleset")
    [codeowners] = plan.of_type("github:index/repositoryFile:RepositoryFile")
    assert ruleset.urn in codeowners.dependencies
