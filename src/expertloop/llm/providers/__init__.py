"""Model providers; imported lazily through ``expertloop.llm.registry``."""
