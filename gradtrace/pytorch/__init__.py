"""Optional: torch calls recorded onto the same tape. Imported only when torch is; nothing
here is loaded by ``import gradtrace``."""
