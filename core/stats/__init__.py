"""Statistics, each defined once: drift tests, PSI, intervals, disparity rules."""
