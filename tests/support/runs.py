"""One run of the tool in tests that call stages directly: the Sessions an executor owns for a
run (docker_vpn_helper.session.Sessions). conftest ends the run after every test; a test ends it
itself (`close_all`) to start another run, as a second command would."""

from __future__ import annotations

from invoke import MockContext

from docker_vpn_helper.executor import Printing, RunContext
from docker_vpn_helper.session import Session, Sessions, settings_for

RUN = Sessions()


def session_for(
    c, machine=None, storage_path=None, port: int = 0, dry_run: bool = False
) -> Session:
    """The run's Session for these flags, locked unless dry, as a stage task gets it."""
    settings = settings_for(c, machine, storage_path, port, dry_run)
    return RUN.get(c, settings, lock=not dry_run)


def close_all() -> None:
    RUN.close()


class RunMock(MockContext):
    """invoke's MockContext (answers for the commands a task runs) with what the executor gives
    a task: the run's Sessions (RUN) and what it prints."""

    session = RunContext.session

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._set(sessions=RUN, printing=Printing())
