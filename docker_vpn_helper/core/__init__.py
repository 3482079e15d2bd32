"""Pure logic: parsing, the docker-machine store, certificates, templates. No processes, no network."""
