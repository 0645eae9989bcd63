"""edgeemo.export: ONNX export, INT8 quantization, parity checks and TensorRT (needs edgeemo[export])."""
