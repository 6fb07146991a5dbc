"""Loading nn~-compatible TorchScript exports and describing their tensors."""

from performer.model.loader import DEFAULT_MODEL, MethodSpec, NNModel, load_model, model_names, resolve_model
from performer.model.tensors import TensorInfo, describe_tensors

__all__ = ["DEFAULT_MODEL", "MethodSpec", "NNModel", "TensorInfo", "describe_tensors", "load_model", "model_names",
           "resolve_model"]
