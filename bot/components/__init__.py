"""Custom Rasa NLU components and helpers that run inside the Rasa environment (.venv-rasa).

Only Rasa imports this package (config.yml names its components by module path; Rasa puts the
project root on `sys.path`). It must not import anything from the main environment: the
Rasa env has numpy 1.23, scikit-learn 1.1, onnxruntime and tokenizers, but no torch.
"""
