"""Pre-tasks must act on the caller's machine: invoke alone would call them without arguments."""

from invoke import Collection, Config, task

from docker_vpn_helper.executor import MachineExecutor

seen = []


@task
def base(c, machine=None, dry_run=False):
    seen.append(("base", machine, dry_run))


@task
def unrelated(c):
    seen.append(("unrelated",))


@task(pre=[base, unrelated])
def middle(c, machine=None, storage_path=None, dry_run=False):
    seen.append(("middle", machine, dry_run))


@task(pre=[middle, base])
def top(c, machine=None, dry_run=False, shell=None):
    seen.append(("top", machine, shell))


def run(*calls):
    seen.clear()
    ns = Collection(base, middle, top, unrelated)
    MachineExecutor(ns, Config()).execute(*calls)
    return list(seen)


def test_pre_tasks_get_the_callers_machine_and_dry_run_once_each():
    assert run(("top", {"machine": "dev", "dry_run": True, "shell": "fish"})) == [
        ("base", "dev", True),
        ("unrelated",),
        ("middle", "dev", True),
        ("top", "dev", "fish"),
    ]


def test_two_machines_in_one_command_each_get_their_own_prerequisites():
    assert run(("middle", {"machine": "a"}), ("middle", {"machine": "b"})) == [
        ("base", "a", False),
        ("unrelated",),
        ("middle", "a", False),
        ("base", "b", False),
        ("middle", "b", False),
    ]


def test_without_flags_prerequisites_use_their_defaults():
    assert run("top") == [
        ("base", None, False),
        ("unrelated",),
        ("middle", None, False),
        ("top", None, None),
    ]


def test_a_list_of_machines_runs_once_per_machine_only_for_tasks_with_all():
    @task(iterable=["machine"])
    def each(c, machine=None, all_=False):
        seen.append(("each", machine))

    @task(iterable=["machine"])
    def together(c, machine=None):
        seen.append(("together", machine))

    seen.clear()
    ns = Collection(each, together)
    MachineExecutor(ns, Config()).execute(
        ("each", {"machine": ["a", "b"]}), ("together", {"machine": ["a", "b"]})
    )
    assert seen == [("each", "a"), ("each", "b"), ("together", ["a", "b"])]


def test_unexpected_exceptions_become_one_line_errors(monkeypatch):
    import pytest
    from invoke.exceptions import Exit

    @task
    def boom(c):
        raise RuntimeError("disk on fire")

    monkeypatch.delenv("DVH_DEBUG", raising=False)
    with pytest.raises(Exit) as caught:
        MachineExecutor(Collection(boom), Config()).execute("boom")
    assert (
        caught.value.message
        == "docker-vpn-helper: unexpected RuntimeError: disk on fire (set DVH_DEBUG=1 to see where)"
    )
    assert caught.value.code == 1


def test_invokes_settings_from_the_environment_are_refused_like_its_flags(monkeypatch):
    """INVOKE_RUN_ECHO=1 would print each command on stdout, as -e does: refused before any
    task runs."""
    import pytest
    from invoke.exceptions import Exit

    monkeypatch.setenv("INVOKE_RUN_ECHO", "1")
    seen.clear()
    with pytest.raises(Exit) as caught:
        MachineExecutor(Collection(base), Config()).execute("base")
    assert caught.value.message.startswith("docker-vpn-helper: -e/--echo (run.echo) would print")
    assert seen == []


def test_dry_is_the_dry_run_of_the_task_and_its_prerequisites():
    """-R/--dry: invoke's own dry run would skip the commands a dry run reads the machine with;
    here it is every task's --dry-run, and invoke's runner runs for real."""
    config = Config(overrides={"run": {"dry": True}})
    seen.clear()
    MachineExecutor(Collection(base, middle), config).execute("middle")
    assert seen == [("base", None, True), ("unrelated",), ("middle", None, True)]
    assert config.run.dry is False
