"""The local runner every task's Context uses."""

import time

import pytest
from invoke import Config, Context
from invoke.exceptions import Failure, WatcherError
from invoke.watchers import StreamWatcher

from docker_vpn_helper.adapters.runner import PromptLocal
from docker_vpn_helper.tasks import namespace


@pytest.fixture
def c() -> Context:
    config = Config()
    config.load_collection(namespace.configuration())
    return Context(config)


class RefusePrompt(StreamWatcher):
    """Fails on a password prompt, as invoke's sudo watcher does on a wrong password."""

    def submit(self, stream: str) -> list[str]:
        if "Password:" in stream:
            raise WatcherError("wrong password")
        return []


def test_tasks_run_local_commands_with_the_prompt_runner(c):
    assert c.config.runners.local is PromptLocal
    result = c.run("printf 'out'; printf 'err' >&2; exit 3", hide=True, warn=True, in_stream=False)
    assert (result.stdout, result.stderr, result.exited) == ("out", "err", 3)


def test_a_failed_watcher_still_ends_the_command(c):
    # invoke gives up on a command whose watcher failed; a runner blocking until the process
    # ends would sit out the whole sleep. A hang check, not a timing (the sleep then ends alone).
    started = time.monotonic()
    with pytest.raises(Failure) as failed:
        c.run("echo Password:; sleep 15", watchers=[RefusePrompt()], hide=True, in_stream=False)
    assert isinstance(failed.value.reason, WatcherError)
    assert time.monotonic() - started < 8
