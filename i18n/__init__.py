"""Languages the assistant speaks (English, Simplified Chinese): detection, texts, formatting."""
