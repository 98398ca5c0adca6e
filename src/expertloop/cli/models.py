"""``expertloop models``: connect, list, test and remove model endpoints."""

from __future__ import annotations

import asyncio
import json
import os

import typer
from rich.live import Live
from rich.table import Table
from rich.text import Text

from expertloop.accounts.users import find_organisation
from expertloop.cli.common import console, db_session, fail, settings
from expertloop.errors import ConfigurationError
from expertloop.llm import endpoints as endpoints_uc
from expertloop.llm.hub import ModelHub
from expertloop.llm.interface import (
    ChatMessage,
    Completion,
    GenerationParams,
    ModelRequest,
    TextDelta,
)
from expertloop.llm.registry import PROVIDERS
from expertloop.settings import Settings


def checked(cfg: Settings) -> None:
    """Refuse to encrypt or decrypt keys under unsafe settings (the placeholder secret)."""
    try:
        cfg.check_startable()
    except ConfigurationError as exc:
        raise fail(exc.message) from None


app = typer.Typer(help="Model endpoints (operators).", no_args_is_help=True)


@app.command("add")
def add(
    name: str = typer.Option(..., help="A unique name, e.g. 'GPT-4o (prod)'."),
    provider: str = typer.Option("openai_compatible", help=f"One of: {', '.join(PROVIDERS)}."),
    model_id: str = typer.Option(..., "--model-id", help="The model name the endpoint expects."),
    base_url: str = typer.Option("", help="OpenAI-compatible base URL, e.g. https://host/v1."),
    api_key_env: str = typer.Option(
        "", help="Read the API key from this environment variable (keeps it out of shell history)."
    ),
    ask_key: bool = typer.Option(False, "--ask-key", help="Prompt for the API key (hidden)."),
    temperature: float | None = typer.Option(None, min=0, max=2),
    max_tokens: int | None = typer.Option(None, min=1),
    seed: int | None = typer.Option(None),
    system_prompt: str | None = typer.Option(None),
    rate_limit: float | None = typer.Option(None, help="Calls per second for batch work."),
    organisation: str = typer.Option(
        "", help="Client organisation (slug or name) whose own model this is; default: shared."
    ),
) -> None:
    """Connect a model endpoint (its URL must pass the address policy)."""
    api_key = None
    if api_key_env:
        api_key = os.environ.get(api_key_env)
        if not api_key:
            raise fail(f"Environment variable {api_key_env} is empty or unset.")
    elif ask_key:
        api_key = typer.prompt("API key", hide_input=True)
    cfg = settings()
    checked(cfg)
    hub = ModelHub.from_settings(cfg)
    with db_session(cfg) as session:
        org_id = None
        if organisation:
            org = find_organisation(session=session, slug_or_name=organisation)
            if org is None:
                raise fail(f"No organisation {organisation!r}.")
            org_id = org.id
        endpoint = endpoints_uc.add_endpoint(
            session=session,
            actor=None,
            box=hub.box,
            policy=hub.runtime.policy,
            name=name,
            provider=provider,
            model_id=model_id,
            base_url=base_url,
            api_key=api_key,
            defaults={
                "temperature": temperature,
                "max_tokens": max_tokens,
                "seed": seed,
                "system_prompt": system_prompt,
            },
            rate_limit_per_second=rate_limit,
            organisation_id=org_id,
        )
        console.print(f"[green]Added[/] model endpoint #{endpoint.id} {endpoint.name}.")


@app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List model endpoints (keys are never shown)."""
    with db_session() as session:
        rows = endpoints_uc.list_endpoints(session=session)
        items = [
            {
                "id": e.id,
                "name": e.name,
                "provider": e.provider,
                "model_id": e.model_id,
                "base_url": e.base_url,
                "has_api_key": e.has_api_key,
                "defaults": e.defaults,
            }
            for e in rows
        ]
    if as_json:
        typer.echo(json.dumps(items, indent=2))
        return
    table = Table(title=f"Model endpoints ({len(items)})")
    for col in ("id", "name", "provider", "model id", "base URL", "key"):
        table.add_column(col)
    for e in items:
        table.add_row(
            str(e["id"]),
            str(e["name"]),
            str(e["provider"]),
            str(e["model_id"]),
            str(e["base_url"]) or "—",
            "yes" if e["has_api_key"] else "no",
        )
    console.print(table)


@app.command("test")
def test(
    endpoint: str = typer.Argument(..., help="Endpoint name or id."),
    prompt: str = typer.Option("Reply with the single word: ready", help="What to send."),
    max_tokens: int = typer.Option(64, min=1),
) -> None:
    """Send a prompt and stream the answer, with timings."""
    cfg = settings()
    checked(cfg)
    hub = ModelHub.from_settings(cfg)
    with db_session(cfg) as session:
        row = endpoints_uc.find_endpoint(session=session, name_or_id=endpoint)
    request = ModelRequest((ChatMessage("user", prompt),), GenerationParams(max_tokens=max_tokens))

    async def run() -> Completion:
        text = Text()
        final: Completion | None = None
        with Live(text, console=console, refresh_per_second=12):
            async for event in hub.stream(row, request):
                if isinstance(event, TextDelta):
                    text.append(event.text)
                else:
                    final = event
        await hub.aclose()
        assert final is not None
        return final

    result = asyncio.run(run())
    ttft = f"{result.ttft_ms:.0f} ms" if result.ttft_ms is not None else "—"
    latency = f"{result.latency_ms:.0f} ms" if result.latency_ms is not None else "—"
    console.print(
        f"\nstatus: [bold]{result.status.value}[/]  first token: {ttft}  total: {latency}"
    )
    if result.status.value != "ok":
        detail = f" ({result.upstream_error[:300]})" if result.upstream_error else ""
        raise fail(f"{result.error}{detail}")


@app.command("remove")
def remove(endpoint: str = typer.Argument(..., help="Endpoint name or id.")) -> None:
    """Retire an endpoint (its runs are kept)."""
    with db_session() as session:
        row = endpoints_uc.find_endpoint(session=session, name_or_id=endpoint)
        name = row.name
        endpoints_uc.remove_endpoint(session=session, actor=None, endpoint=row)
    console.print(f"[green]Removed[/] {name}.")
