"""rasa-sdk action server: one module per business area, thin over the typed functions of erp/."""
