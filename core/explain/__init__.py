"""Explanations: SHAP attributions computed from a version's registered ONNX artifact."""
