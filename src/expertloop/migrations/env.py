"""Alembic environment: migrates the engine handed over by ``expertloop.db.upgrade``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from expertloop.accounts import models as _accounts  # noqa: F401 - register tables
from expertloop.datasets import models as _datasets  # noqa: F401 - register tables
from expertloop.db import Base
from expertloop.events import AuditLog as _AuditLog  # noqa: F401 - register the table
from expertloop.experts import models as _experts  # noqa: F401 - register tables
from expertloop.experts import search_index
from expertloop.jobs import models as _jobs  # noqa: F401 - register tables
from expertloop.llm import models as _llm  # noqa: F401 - register tables
from expertloop.payments import models as _payments  # noqa: F401 - register tables
from expertloop.projects import models as _projects  # noqa: F401 - register tables
from expertloop.review import models as _review  # noqa: F401 - register tables
from expertloop.webhooks import models as _webhooks  # noqa: F401 - register tables
from expertloop.workbench import models as _workbench  # noqa: F401 - register tables

config = context.config
target_metadata = Base.metadata


def run() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        url = config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("Run migrations with `expertloop db upgrade`.")
        engine = create_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            # The search index's dialect-specific objects (migration 0011) are not models.
            include_name=search_index.include_name,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run()
