"""`invoke <task>` from a clone: the same task tree as the `docker-vpn-helper` command.

invoke.yaml beside this file selects the MachineExecutor, which hands a task's --machine to
its prerequisite stages.
"""

from docker_vpn_helper.tasks import namespace

ns = namespace
