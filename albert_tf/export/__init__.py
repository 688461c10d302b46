"""SavedModels for TF Serving: raw-string and token-id signatures, assets, warmup requests."""

from albert_tf.export.serving import ExportConfig, export_saved_model
