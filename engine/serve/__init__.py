"""``passerelle serve``: webhooks in, one-record syncs out.

Notifications (QBO and product) are checked, persisted first, acknowledged at once, then processed by a
background worker; a change-data-capture sweep catches what a lost notification would have carried.
See docs/serve.md.
"""
