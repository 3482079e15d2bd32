"""What the tests (and the lab, lab/) build their fixtures with: a docker-machine store (store.py)."""
