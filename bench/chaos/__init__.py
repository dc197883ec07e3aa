"""Fault tests (`make chaos`, `make chaos-smoke`): the platform under load on a real PostgreSQL cluster, a real
redis-server, real daphne and Celery worker processes, while a fault is injected; each scenario reports the load
applied, the faults injected, the work lost and the work done twice (both must be 0).

    python -m bench.chaos [--smoke] [--only celery_kill,redis_outage,postgres_restart,ami_drop]
"""
