"""Export a bent model: a new nn~ TorchScript file with the bends baked into its tensors."""

from performer.export.bake import ExportReport, describe_export, export_bent, export_rig
from performer.model.export_info import EXPORT_INFO_FILE, read_export_info

__all__ = ["EXPORT_INFO_FILE", "ExportReport", "describe_export", "export_bent", "export_rig", "read_export_info"]
