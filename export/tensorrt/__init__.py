"""edgeemo's TensorRT tools (``edgeemo export tensorrt …``; the ``[tensorrt]`` extra at run time).

Import what you need from its modules; this package itself imports nothing, and no module imports
``tensorrt``, ``onnx`` or a CUDA library before a function needs it:

* :mod:`.check` — the static compatibility check against ``trt_support.json`` (needs only ``onnx``),
  with :mod:`.report` (the report types), :mod:`.support` (the operator table) and :mod:`.graph`
  (the ONNX graph view it walks);
* :mod:`.build` — :func:`~.build.build_engine`: ONNX -> bare plan + JSON sidecar, on the target GPU;
* :mod:`.sidecar` — the engine sidecar (``<engine>.json``): read, write, its cache key;
* :mod:`.runner` — :class:`~.runner.TensorRTEngineRunner`, the bare-engine runner, over the CUDA
  buffers of :mod:`.cuda`; :mod:`.session` adapts it to the model contract (``run`` command);
* :mod:`.jetson` — the Jetson deploy bundle;
* :mod:`.cli` — the click group mounted as ``edgeemo export tensorrt`` (and ``python -m
  edgeemo.export.tensorrt``);
* :mod:`.options`, :mod:`.gpuinfo`, :mod:`.trtlib` — build options, GPU queries, importing TensorRT.

The SDK's own GPU path is ONNX Runtime's CUDA/TensorRT providers (``edgeemo.providers``); nothing
here is imported by ``import edgeemo``. None of this has run on a GPU yet (docs/deployment.md).
"""
