"""The dispatch worker: drains the escalation outbox and delivers each escalation to its destination.

Network calls happen outside any transaction; the database holds all state (claims, leases, fence
tokens, attempts, error history), so any number of workers can run and any of them can die.
"""
