"""The only module that imports mlflow: the run record of design.md.

One experiment per task (``dfkd/<task>``), one flat run per cell, named
``<variant>/s<seed>/<teacher>-<student>``. The default store is
``sqlite:///<results-dir>/mlflow.db`` with artifacts under ``<results-dir>/artifacts``;
``--tracking-uri`` or ``MLFLOW_TRACKING_URI`` (e.g. an ``mlflow server``) override it.
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from filelock import FileLock

from harness.core import interrupt
from harness.core.errors import BenchError, NonFinite

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

import mlflow  # noqa: E402
from mlflow.entities import Metric, Param, RunStatus, RunTag  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

for _noisy in ("alembic", "mlflow"):  # after import: mlflow configures its logger on import
    logging.getLogger(_noisy).setLevel(logging.WARNING)

TAG_PREFIX = "dfkd."
MAX_TAG_CHARS = 5000


LAST_SAMPLES = "samples/last.png"  # a run's last sample grid, at a path pages and users can find


# MLflow 3's UI opens an experiment in its GenAI view (traces, prompts, "evaluations") unless the
# experiment says it holds model training.
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}


def experiment_name(task: str) -> str:
    return f"dfkd/{task}"


def reports_experiment_name(task: str) -> str:
    """Where ``bench plot`` logs a task's plots: beside its runs, not among them."""
    return f"dfkd/{task}/reports"


def default_uri(results_dir: Path) -> str:
    return f"sqlite:///{results_dir.resolve() / 'mlflow.db'}"


class _Retrying:
    """An ``MlflowClient`` whose calls survive sqlite's ``database is locked`` (other processes
    writing the same store) with bounded, growing waits; any other error passes through."""

    TRIES = 10

    def __init__(self, client: MlflowClient) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if not callable(method):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            for attempt in range(self.TRIES):
                try:
                    with interrupt.deferred():  # a stop request never tears a store write
                        return method(*args, **kwargs)
                except Exception as error:
                    if "database is locked" not in str(error) or attempt == self.TRIES - 1:
                        raise
                    time.sleep(min(0.1 * 2 ** attempt, 5.0))
        return call


class Tracker:
    """A thin, explicit-run-id wrapper over ``MlflowClient`` (safe with concurrent runs).

    A local sqlite store is created (schema and migrations) under an inter-process file lock, so
    that any number of runs may start at once on a fresh results directory. ``create=False`` is for
    read-only commands: a store that does not exist yet is an error, never an empty new one.
    """

    def __init__(self, results_dir: str | Path = "results", tracking_uri: str | None = None,
                 create: bool = True) -> None:
        self.results_dir = Path(results_dir)
        self.uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default_uri(self.results_dir)
        self.is_local = self.uri.startswith(("sqlite:", "file:")) or "://" not in self.uri
        database = Path(self.uri.removeprefix("sqlite:///")) if self.uri.startswith("sqlite:///") else None
        if database is not None and database.is_dir():
            raise BenchError(f"the tracking store {str(database)!r} is a directory, not an sqlite file")
        if database is not None and not create and not database.is_file():
            raise BenchError(f"no tracking store at {str(database)!r}: 'bench run ... --results-dir "
                             f"{self.results_dir}' fills it (or pass --tracking-uri)")
        if self.is_local:
            self.results_dir.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(database) + ".lock") if database is not None else nullcontext()
        with self._lock:  # the first process creates and migrates an sqlite schema; the others wait
            try:
                self.client = _Retrying(MlflowClient(tracking_uri=self.uri))
            except Exception as exc:
                raise BenchError(f"tracking URI {self.uri!r} is not usable ({_first_line(exc)})") from None
            if database is not None:
                self.check()

    # -- experiments and runs -----------------------------------------------------------------
    def experiment_id(self, task: str, create: bool = True) -> str | None:
        return self._experiment(experiment_name(task), task, create)

    def _experiment(self, name: str, folder: str, create: bool) -> str | None:
        """The experiment's id, created (when ``create``) with its artifacts under ``folder`` of
        the local store; a writer also marks an older experiment as model training."""
        experiment = self.client.get_experiment_by_name(name)
        if experiment is not None:
            if create and experiment.tags.get("mlflow.experimentKind") is None:
                for key, value in EXPERIMENT_KIND.items():
                    self.client.set_experiment_tag(experiment.experiment_id, key, value)
            return experiment.experiment_id
        if not create:
            return None
        location = (self.results_dir.resolve() / "artifacts" / folder).as_uri() if self.is_local else None
        with self._lock:
            try:
                return self.client.create_experiment(name, artifact_location=location, tags=EXPERIMENT_KIND)
            except mlflow.exceptions.MlflowException:  # created concurrently (a server, or before the lock)
                return self.client.get_experiment_by_name(name).experiment_id

    def start(self, task: str, run_name: str, tags: dict[str, Any], params: dict[str, Any]) -> str:
        run = self.client.create_run(self.experiment_id(task), run_name=run_name,
                                     tags={k: _tag(v) for k, v in tags.items()})
        items = [Param(k, str(v)) for k, v in params.items()]
        for start in range(0, len(items), 100):
            self.client.log_batch(run.info.run_id, params=items[start:start + 100])
        return run.info.run_id

    def log_metrics(self, run_id: str, metrics: dict[str, float], step: int = 0) -> None:
        """Log finite metrics; ``None`` means "not measured". A NaN or infinity is never recorded
        (MLflow would drop it silently): it raises, and the run ends FAILED with the metric named."""
        bad = [k for k, v in metrics.items() if v is not None and not np.isfinite(v)]
        if bad:
            raise NonFinite(f"non-finite metric {', '.join(bad)} at step {step}")
        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, step) for k, v in metrics.items() if v is not None]
        if batch:
            self.client.log_batch(run_id, metrics=batch)

    def set_tags(self, run_id: str, tags: dict[str, Any]) -> None:
        self.client.log_batch(run_id, tags=[RunTag(k, _tag(v)) for k, v in tags.items()])

    def log_image(self, run_id: str, image: np.ndarray, key: str | None = None, step: int = 0,
                  file: str | None = None) -> None:
        """One image of the series ``key`` at ``step`` (the UI's image view), or one artifact ``file``."""
        if file:
            self.client.log_image(run_id, image, artifact_file=file)
        else:
            self.client.log_image(run_id, image, key=key, step=step)

    def last_samples(self, run_id: str) -> bytes | None:
        """The run's last sample grid as PNG bytes: the artifact ``LAST_SAMPLES``, or, for a run
        logged before there was one, the last step of its ``samples`` image series; None without either."""
        import tempfile

        folder, _, name = LAST_SAMPLES.rpartition("/")
        try:
            names = {Path(a.path).name: a.path for a in self.client.list_artifacts(run_id, folder)}
            if name not in names:
                series = [a.path for a in self.client.list_artifacts(run_id, "images")
                          if Path(a.path).name.startswith("samples+step+") and a.path.endswith(".png")
                          and not a.path.endswith("+compressed.png")]
                if not series:
                    return None
                names[name] = max(series, key=lambda path: int(Path(path).name.split("+")[2]))
            with tempfile.TemporaryDirectory() as scratch:
                return Path(self.client.download_artifacts(run_id, names[name], scratch)).read_bytes()
        except (OSError, mlflow.exceptions.MlflowException):
            return None

    def log_dict(self, run_id: str, data: dict, file: str) -> None:
        self.client.log_dict(run_id, data, file)

    def log_artifact(self, run_id: str, path: Path, folder: str | None = None) -> None:
        self.client.log_artifact(run_id, str(path), folder)

    def finish(self, run_id: str) -> None:
        self.client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))

    def fail(self, run_id: str, error: BaseException) -> None:
        message = f"{type(error).__name__}: {error}"
        self.set_tags(run_id, {"dfkd.error": message, "dfkd.resumable": "false"})
        self.client.set_terminated(run_id, RunStatus.to_string(RunStatus.FAILED))

    def reopen(self, run_id: str, owner: str) -> None:
        """Continue a run: RUNNING again, owned by ``owner``, with a fresh heartbeat."""
        self.client.update_run(run_id, status=RunStatus.to_string(RunStatus.RUNNING))
        self.set_tags(run_id, {"dfkd.heartbeat": int(time.time()), "dfkd.owner": owner})

    def cell_runs(self, task: str, grid_key: str) -> pd.DataFrame:
        """Every run of one grid cell, whatever its status."""
        experiment = self.experiment_id(task, create=False)
        if experiment is None:
            return pd.DataFrame()
        found = self.client.search_runs([experiment], f"tags.`dfkd.grid_key` = '{grid_key}'", max_results=1000)
        return pd.DataFrame([{"run_id": r.info.run_id, "status": r.info.status, "start_time": r.info.start_time,
                              **{f"tags.{k}": v for k, v in r.data.tags.items()}} for r in found])

    def kill(self, run_id: str, resumable: bool) -> None:
        self.set_tags(run_id, {"dfkd.resumable": str(resumable).lower()})
        self.client.set_terminated(run_id, RunStatus.to_string(RunStatus.KILLED))

    def log_report(self, task: str, files: list[Path]) -> str:
        """Log files (e.g. plots) to the task's report run, a run tagged ``dfkd.kind=report`` in
        the task's reports experiment, so that the runs table shows only cells."""
        experiment = self._experiment(reports_experiment_name(task), f"{task}-reports", create=True)
        found = self.client.search_runs([experiment], "tags.`dfkd.kind` = 'report'", max_results=1)
        run_id = found[0].info.run_id if found else self.client.create_run(
            experiment, run_name=f"report/{task}", tags={"dfkd.kind": "report", "dfkd.task": task}).info.run_id
        for path in files:
            self.client.log_artifact(run_id, str(path), "plots")
        self.client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))
        return run_id

    # -- reading back -------------------------------------------------------------------------
    def runs(self, task: str, status: str | None = "FINISHED") -> pd.DataFrame:
        """A task's cell runs as a frame with ``metrics.*``, ``params.*`` and ``tags.*`` columns."""
        experiment = self.experiment_id(task, create=False)
        if experiment is None:
            return pd.DataFrame()
        query = " and ".join(filter(None, [f"attributes.status = '{status}'" if status else "",
                                           "tags.`dfkd.variant` != ''"]))
        rows, token = [], None
        while True:
            page = self.client.search_runs([experiment], query, max_results=1000, page_token=token)
            for run in page:
                rows.append({"run_id": run.info.run_id, "run_name": run.info.run_name,
                             "status": run.info.status, "start_time": run.info.start_time,
                             **{f"metrics.{k}": v for k, v in run.data.metrics.items()},
                             **{f"params.{k}": v for k, v in run.data.params.items()},
                             **{f"tags.{k}": v for k, v in run.data.tags.items()}})
            token = page.token
            if not token:
                break
        return pd.DataFrame(rows)

    def ui_links(self, base_url: str, latest: int = 16) -> list[tuple[str, str]]:
        """(what, URL) of the MLflow UI views worth opening: each task's runs table, and a compare
        view of its latest finished run of each variant (at most ``latest``), in the UI's model
        training mode (its default is the GenAI one)."""
        mode = "workflowType=machine_learning"
        links = []
        for experiment in self.client.search_experiments(filter_string="name LIKE 'dfkd/%'"):
            name, eid = experiment.name, experiment.experiment_id
            if name.endswith("/reports"):
                continue
            links.append((f"{name} runs", f"{base_url}/#/experiments/{eid}/runs?{mode}"))
            found = self.client.search_runs([eid], "attributes.status = 'FINISHED'", max_results=500,
                                            order_by=["attributes.start_time DESC"])
            newest = list({r.data.tags.get("dfkd.variant", r.info.run_name): r.info.run_id for r in reversed(found)}
                          .values())[-latest:]
            if len(newest) > 1:
                ids = ",".join(f'"{run_id}"' for run_id in newest)
                links.append((f"{name} compare, latest run of each variant",
                              f'{base_url}/#/compare-runs?runs=[{ids}]&experiments=["{eid}"]&{mode}'))
        return links

    def get_run(self, run_id: str):
        return self.client.get_run(run_id)

    def metric_history(self, run_id: str, key: str) -> list[tuple[int, float]]:
        return [(m.step, m.value) for m in self.client.get_metric_history(run_id, key)]

    def check(self) -> None:
        """Fail early, before any work, when the store cannot be reached (one quick try, no retries)."""
        quick = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
        saved = {k: os.environ.get(k) for k in quick}
        os.environ.update(quick)
        try:
            self.client.search_experiments(max_results=1)
        except Exception as exc:
            raise BenchError(f"tracking store {self.uri!r} is unreachable ({_first_line(exc)})") from None
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


class MutedTracker(Tracker):
    """What the other ranks of a run across processes hold, rank 0 alone writing the record: the
    results directory (the run's checkpoint folder is under it) and writes that do nothing. It
    opens no store; rank 0's calls whose results every rank needs run on rank 0 only."""

    def __init__(self, results_dir: str | Path = "results", tracking_uri: str | None = None) -> None:
        self.results_dir = Path(results_dir)
        self.uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default_uri(self.results_dir)

    def set_tags(self, run_id: str, tags: dict[str, Any]) -> None:
        pass

    def finish(self, run_id: str) -> None:
        pass

    def fail(self, run_id: str, error: BaseException) -> None:
        pass

    def kill(self, run_id: str, resumable: bool) -> None:
        pass


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines() or [""]
    return f"{type(exc).__name__}: {lines[0][:160]}"


def _tag(value: Any) -> str:
    text = str(value)
    return text if len(text) <= MAX_TAG_CHARS else text[:MAX_TAG_CHARS - 3] + "..."
