"""The demo: a credit-risk model on the German credit data, with simulated production traffic."""
