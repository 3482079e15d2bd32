"""Keep Docker usable when a VPN hijacks the route to the docker-machine VM."""

__version__ = "0.1.0"
