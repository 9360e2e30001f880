"""`bench serve`: the MLflow UI and tracking server on the project's store."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from harness.cli.options import RESULTS_HELP
from harness.core.errors import BenchError


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--backend-store-uri", default=None,
              help="Store to serve (default: the sqlite store under --results-dir), e.g. postgresql://...")
@click.option("--results-dir", default="results", show_default=True, type=click.Path(file_okay=False),
              help=RESULTS_HELP)
def serve(host, port, backend_store_uri, results_dir) -> None:
    """Start the MLflow UI and tracking server on the project's store."""
    import os

    from harness.record.tracking import default_uri

    if (backend_store_uri or "").startswith("postgresql"):
        from sqlalchemy.engine import make_url
        try:  # the driver SQLAlchemy picks (psycopg2 up to 2.0, psycopg 3 from 2.1)
            make_url(backend_store_uri).get_dialect().import_dbapi()
        except ImportError as missing:
            raise BenchError(f"--backend-store-uri postgresql://... needs the PostgreSQL driver {missing.name}: "
                             f"pip install 'dfkd-bench[server]'") from None
    results = Path(results_dir)
    results.mkdir(parents=True, exist_ok=True)
    # This interpreter's mlflow, found without PATH (e.g. `.venv/bin/bench serve`, not activated).
    command = [sys.executable, "-m", "mlflow", "server", "--host", host, "--port", str(port),
               "--backend-store-uri", backend_store_uri or default_uri(results),
               "--artifacts-destination", str((results / "artifacts").resolve())]
    click.echo(f"MLflow at http://{host}:{port} (compare runs: open an experiment dfkd/<task>, "
               f"group by tag dfkd.method)", err=True)
    os.execv(sys.executable, command)
