"""Everything that turns an outside input into snapshots for the intake (MQTT topics, HTTP).

Sources never import publishers: data flows one way, sources → intake → recognizer → publishers.
"""
