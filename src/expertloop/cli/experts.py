"""``expertloop experts …``: invitations, the vetting pipeline and matching.

The commands live in one module per part (``experts_invite``, ``experts_pipeline``,
``experts_search``); each registers its commands on the group here.
"""

from __future__ import annotations

import typer

from expertloop.cli import experts_banks, experts_invite, experts_pipeline, experts_search

app = typer.Typer(help="The expert network: invite, vet and find experts.", no_args_is_help=True)

for part in (experts_invite, experts_pipeline, experts_search, experts_banks):
    part.register(app)
