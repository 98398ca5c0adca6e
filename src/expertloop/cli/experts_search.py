"""``expertloop experts search QUERY`` and ``expertloop experts reindex``: matching in a shell."""

from __future__ import annotations

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text
from sqlalchemy import func, select

from expertloop.cli.common import console, db_session, fail, settings
from expertloop.cli.projects import _operator
from expertloop.experts import matching, search_index, taxonomy
from expertloop.experts.matching import MatchQuery
from expertloop.experts.models import ExpertProfile, LanguageLevel, VettingState
from expertloop.experts.schemas import MatchPageOut


def search_cmd(
    query: str = typer.Argument("", help='Free text (web-search syntax: "a phrase", or, -word).'),
    domain: str = typer.Option("", help="Only experts in this domain (a taxonomy key)."),
    specialty: str = typer.Option("", help="…and this specialty of the domain."),
    language: str = typer.Option("", help="Only experts who speak this language (e.g. fr)."),
    min_level: LanguageLevel | None = typer.Option(None, help="…at least at this level."),
    country: str = typer.Option("", help="Only experts in this country (two letters)."),
    state: list[VettingState] = typer.Option(
        [], help="Vetting states to search (repeat; default: approved)."
    ),
    limit: int = typer.Option(20, min=1, max=matching.MAX_LIMIT),
    after: str = typer.Option("", help="Continue after this cursor (from the previous page)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (with the next cursor)."),
    operator: str = typer.Option("", help="Operator to act as (default: the first one)."),
) -> None:
    """Search approved experts by free text and filters, best match first."""
    cfg = settings()
    if len(country.strip()) not in (0, 2):
        raise fail("--country takes a two-letter code such as DE.")
    with db_session(cfg) as session:
        if domain:
            taxonomy.check(domain, specialty, extra_file=cfg.expert_taxonomy_file)
        elif specialty:
            raise fail("--specialty needs --domain.")
        actor = _operator(session, operator)
        page = matching.search(
            session,
            actor,
            MatchQuery(
                text=query,
                domain=domain or None,
                specialty=specialty or None,
                language=language or None,
                min_level=min_level,
                country=country.strip().upper() or None,
                states=tuple(dict.fromkeys(state)) or (VettingState.approved,),
            ),
            after=after or None,
            limit=limit,
        )
        if as_json:
            typer.echo(MatchPageOut.model_validate(page).model_dump_json(indent=2))
            return
        if not page.items:
            console.print("No expert matches.")
            return
        table = Table(title=f"Experts matching {query!r}" if query else "Experts")
        for col in ("id", "name", "headline", "domains", "languages", "country", "why"):
            table.add_column(col, overflow="fold")
        for m in page.items:
            # Names and texts are the experts' own: Text objects, so no Rich markup from them.
            why = Text("\n".join(m.why))
            if m.snippet:
                why.append("\n")
                for seg in m.snippet:
                    why.append(seg.text, style="bold" if seg.match else "")
            table.add_row(
                str(m.user_id),
                Text(m.name),
                Text(m.headline),
                "; ".join(d.label for d in m.domains),
                ", ".join(f"{s.language} {s.level}" for s in m.languages),
                m.country,
                why,
            )
        console.print(table)
        if page.next_cursor:
            console.print(f"More: --after {page.next_cursor}", markup=False)


def reindex_cmd() -> None:
    """Write every expert's search document again (after a bulk import or a restore)."""
    with db_session() as session:
        total = session.scalar(select(func.count()).select_from(ExpertProfile)) or 0
        with Progress(
            TextColumn("[bold]search index"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("index", total=total)
            done = search_index.rebuild(
                session, progress=lambda n: progress.update(task, completed=n)
            )
    console.print(f"Indexed {done} experts.")


def register(app: typer.Typer) -> None:
    """Add this part's commands to the ``experts`` group."""
    app.command("search")(search_cmd)
    app.command("reindex")(reindex_cmd)
