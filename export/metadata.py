"""The ONNX metadata of an edgeemo model (docs/model_contract.md), written and read as plain strings."""

from __future__ import annotations

from collections.abc import Mapping

FORMAT_VERSION = "1"
FRONTEND_NODE_PREFIX = "frontend/"
NONCOMMERCIAL_LICENSE = (
    "CC BY-NC-SA 4.0 (non-commercial; model trained on RAVDESS, Livingstone & Russo 2018)"
)

REQUIRED_KEYS = (
    "edgeemo_format", "labels", "sample_rate", "window_samples", "hop_samples", "min_samples",
    "heads", "model_name", "model_version", "training_data", "license",
)


def student_metadata(
    model_cfg: Mapping[str, object],
    *,
    model_name: str,
    model_version: str,
    training_data: str,
    license: str = NONCOMMERCIAL_LICENSE,
    quantization: str = "fp32",
    metrics: Mapping[str, float] | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Metadata for a student exported from its checkpoint's model config."""
    frontend = dict(model_cfg["frontend"])  # type: ignore[arg-type]
    heads = ["categories"] + (["valence_arousal"] if model_cfg.get("valence_arousal") else [])
    meta = {
        "edgeemo_format": FORMAT_VERSION,
        "labels": ",".join(model_cfg["labels"]),  # type: ignore[arg-type]
        "sample_rate": str(frontend["sample_rate"]),
        "window_samples": str(model_cfg["window_samples"]),
        "hop_samples": str(model_cfg["hop_samples"]),
        "min_samples": str(model_cfg["min_samples"]),
        "heads": ",".join(heads),
        "model_name": model_name,
        "model_version": model_version,
        "training_data": training_data,
        "license": license,
        "frontend": (
            f"logmel n_fft={frontend['n_fft']} hop={frontend['hop_length']} n_mels={frontend['n_mels']} "
            f"fmin={frontend['f_min']:g} fmax={frontend['f_max']:g} conv-stft"
        ),
        "frontend_node_prefix": FRONTEND_NODE_PREFIX,
        "quantization": quantization,
    }
    if metrics:
        meta["metrics"] = ",".join(f"{k}={v:.4f}" for k, v in metrics.items())
    meta.update(extra or {})
    return meta


def set_metadata(model: "onnx.ModelProto", meta: Mapping[str, str]) -> None:  # type: ignore[name-defined] # noqa: F821
    """Replace the model's ``metadata_props`` entries for the keys in ``meta``."""
    existing = {p.key: p for p in model.metadata_props}
    for key, value in meta.items():
        if key in existing:
            existing[key].value = str(value)
        else:
            prop = model.metadata_props.add()
            prop.key, prop.value = key, str(value)


def get_metadata(model: "onnx.ModelProto") -> dict[str, str]:  # type: ignore[name-defined] # noqa: F821
    return {p.key: p.value for p in model.metadata_props}
