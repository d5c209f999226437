"""Gates a version must pass before promotion: specs (names, defaults), checks, thresholds."""
