"""`bench serve`: the MLflow UI and tracking server on the project's store."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from harness.cli.options import RESULTS_HELP
from harness.core.errors import BenchError


@click.command(epilog="""\b
Examples:
  bench serve                      # http://127.0.0.1:5000
  bench serve --host 0.0.0.0 --allowed-hosts tracking-host,tracking-host:5000 \\
      --backend-store-uri postgresql://user@db/mlflow""")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--backend-store-uri", default=None,
              help="Store to serve (default: the sqlite store under --results-dir), e.g. postgresql://...")
@click.option("--results-dir", default="results", show_default=True, type=click.Path(file_okay=False),
              help=RESULTS_HELP)
@click.option("--allowed-hosts", default=None,
              help="Host headers the server answers, comma-separated (MLflow's default: localhost and private IPs); "
                   "a server others reach by name needs it, e.g. tracking-host,tracking-host:5000.")
@click.option("--cors-allowed-origins", default=None,
              help="Origins whose pages may call the server, comma-separated (MLflow's default: localhost).")
def serve(host, port, backend_store_uri, results_dir, allowed_hosts, cors_allowed_origins) -> None:
    """Start the MLflow UI and tracking server on the project's store, and print the views to open."""
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
               "--artifacts-destination", str((results / "artifacts").resolve()),
               *(["--allowed-hosts", allowed_hosts] if allowed_hosts else []),
               *(["--cors-allowed-origins", cors_allowed_origins] if cors_allowed_origins else [])]
    base = f"http://{host}:{port}"
    click.echo(f"MLflow at {base}", err=True)
    if backend_store_uri or (results / "mlflow.db").exists():
        from harness.record.tracking import Tracker

        for what, url in Tracker(results, backend_store_uri, create=False).ui_links(base):
            click.echo(f"  {what}: {url}", err=True)
    os.execv(sys.executable, command)
