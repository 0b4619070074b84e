"""Load tests: a black-box HTTP client with open-loop workloads from MovieLens, reports and plots."""
