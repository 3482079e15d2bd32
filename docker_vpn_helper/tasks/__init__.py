"""The task tree: one sub-collection per stage, `fix` on top."""

from __future__ import annotations

from invoke import Collection

from ..settings import CONFIG_KEY, DEFAULTS
from . import agent, cert, corp, daemon, dns, env, kexts, kube, machine, nat, ports, routes
from .doctor import doctor
from .fix import fix
from .restore import restore

namespace = Collection(fix, doctor, restore)
for module in (kexts, machine, nat, cert, daemon, corp, ports, dns, kube, env, routes, agent):
    namespace.add_collection(Collection.from_module(module))
namespace.configure({CONFIG_KEY: dict(DEFAULTS)})
