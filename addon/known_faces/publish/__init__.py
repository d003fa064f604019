"""Everything that tells the outside: MQTT events and retained states.

``payloads`` holds every MQTT and HTTP payload shape (DESIGN §5), so the contract lives in one
module that DOCS.md is checked against.
"""
