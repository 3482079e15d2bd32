"""`invoke <task>` from a clone: the `docker-vpn-helper` command's task tree, plus the lab.

When `invoke` loads this file to run a command line, the line is run by the tool's own Program
over this tree (program.serve_clone), so `invoke fix` and `docker-vpn-helper fix` give the same
stdout, stderr and exit status: `--quiet`, the failing statement for eval, one-line errors. The
lab (`invoke lab.demo`, lab/) is a development rig that exists only in a clone: the installed
command does not list it.
"""

from pathlib import Path

from invoke import Collection

from docker_vpn_helper import tasks as product
from docker_vpn_helper.cli import leave_objects_to_the_os
from docker_vpn_helper.program import serve_clone
from lab.tasks import lab

leave_objects_to_the_os()
# invoke's own copy of a module's namespace (its tasks, sub-collections, default and
# configuration): adding the lab to it leaves the installed command's tree as it is.
ns = Collection.from_module(product)
ns.add_collection(lab)
serve_clone(ns, str(Path(__file__).resolve().parent))
