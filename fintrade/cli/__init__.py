"""The ``fintrade`` command line."""
