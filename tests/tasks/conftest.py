from .standins import dockerd, guest, store, store_template  # noqa: F401  (fixtures)
