"""Providers by name, imported only when first used (vendor libraries stay unloaded)."""

from __future__ import annotations

import importlib

from expertloop.errors import ValidationFailed
from expertloop.llm.config import EndpointConfig, Runtime
from expertloop.llm.interface import ModelClient

PROVIDERS: dict[str, str] = {
    "openai_compatible": "expertloop.llm.providers.openai_compatible:OpenAICompatibleClient",
    "local": "expertloop.llm.providers.local:LocalLlamaClient",
    "scripted": "expertloop.llm.providers.scripted:ScriptedClient",
}

# Providers that talk to a URL (and so go through the SSRF checks).
NEEDS_URL = frozenset({"openai_compatible"})


def check_provider(name: str) -> None:
    """Refuse an unknown provider name with the list of known ones."""
    if name not in PROVIDERS:
        raise ValidationFailed(f"Unknown provider {name!r}; use one of: {', '.join(PROVIDERS)}.")


def build_client(config: EndpointConfig, runtime: Runtime) -> ModelClient:
    """Return a client for ``config`` (importing its provider module on first use)."""
    check_provider(config.provider)
    module_name, _, class_name = PROVIDERS[config.provider].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    client: ModelClient = cls(config, runtime)
    return client
