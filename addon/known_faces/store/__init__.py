"""What the service keeps: the SQLite gallery (schema and migrations), its archives, the rules
for names and for which stored crops and vectors can be trusted.

Every write is one transaction; nothing here runs a model, and crops are decoded only to check
them.
"""
