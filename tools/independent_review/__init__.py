"""`python -m tools.independent_review`: a pull request someone asked a workflow to open needs an
approval from another person with write access.

New instance's pull request is pushed by the program's GitHub App, so the ruleset's "last push
approved by someone else" is met by any writer but the App, the one who dispatched it included:
alone, they could add a tenant. Its commit names who asked for it in a `Requested-by:` trailer
(`Requested-by: @<login> (<user id>)`); this check, a required status check of the ruleset, passes
only once a writer who is none of those has approved the pull request's head.

A trailer only ever takes reviewers away, so anyone may write one: the requester cannot drop the
App's commit without pushing, and then the ruleset wants someone else's approval of that push.
"""
