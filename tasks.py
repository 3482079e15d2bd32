"""`invoke <task>` from a clone: the same task tree as the `docker-vpn-helper` command.

invoke.yaml beside this file selects the MachineExecutor, which hands a task's --machine to
its prerequisite stages.
"""

from docker_vpn_helper.cli import leave_objects_to_the_os
from docker_vpn_helper.tasks import namespace

leave_objects_to_the_os()
ns = namespace
