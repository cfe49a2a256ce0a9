"""Benchmarks of the engine, the Sentinel-2 preparation and training (`make bench`)."""
