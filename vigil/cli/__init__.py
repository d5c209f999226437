"""The `vigil` command line: parsing, printing and exit codes over vigil.core."""
