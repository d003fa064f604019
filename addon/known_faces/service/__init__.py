"""The long-running service: MQTT in and out, the HTTP API and the Supervisor glue (DESIGN §5–§7).

Everything CPU-heavy stays in the engine; this package only moves snapshots to it and results
away from it, so it can be read (and tested) without knowing how a face is found.
"""
