"""The Docker backend: the engine (images, runtimes, recovery), hardened containers, builds and cleanup."""
