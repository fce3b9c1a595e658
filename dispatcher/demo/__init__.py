"""The offline demo of the Ping An Ding drive, and the sample data generators it, the tests
and the benchmarks use."""
