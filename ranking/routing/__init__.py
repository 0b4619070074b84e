"""Replica routing for remote engines: member affinity (rendezvous hashing, bounded load), health, failover."""
