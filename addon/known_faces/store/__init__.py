"""What the service keeps: the SQLite gallery, its archives and the rules for names.

Every write is one transaction; nothing here decodes snapshots or runs a model.
"""
