"""The narrow effects (VBoxManage, docker-machine, sudo, routes, SSH, TLS) that tests stand in for."""
