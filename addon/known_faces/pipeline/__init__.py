"""The recognition pipeline: decode → detect → align → quality → embed → match.

Pure functions and small classes over numpy arrays and ONNX Runtime sessions. Nothing here
touches SQLite, the network or the service, so the pipeline can be used and tested on its own.
"""
