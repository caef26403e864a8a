"""The service that runs every profile of a deployment: jobs, their queue, schedules and routing.

``deployment`` finds the profiles; ``scheduler`` turns their schedules into jobs; ``routing`` turns
webhooks and product events into jobs; a :class:`~engine.fleet.jobs.JobQueue` (``embedded`` in one
process, ``pgqueue`` on PostgreSQL with procrastinate) holds them; ``runner`` carries one out as one
call of the sync runtime. See docs/deployment.md.
"""
