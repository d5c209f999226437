"""Responsible AI beyond monitoring: reasons in words for one decision, bias-mitigation
what-ifs on labelled traffic, and robustness checks a gate can call."""
