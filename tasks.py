"""`invoke <task>` from a clone: the `docker-vpn-helper` command's task tree, plus the lab.

invoke.yaml beside this file selects the MachineExecutor, which hands a task's --machine to
its prerequisite stages. The lab (`invoke lab.demo`, lab/) is a development rig that exists
only in a clone: the installed command does not list it.
"""

from invoke import Collection

from docker_vpn_helper import tasks as product
from docker_vpn_helper.cli import leave_objects_to_the_os
from lab.tasks import lab

leave_objects_to_the_os()
# invoke's own copy of a module's namespace (its tasks, sub-collections, default and
# configuration): adding the lab to it leaves the installed command's tree as it is.
ns = Collection.from_module(product)
ns.add_collection(lab)
