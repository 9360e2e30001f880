"""Bad input: a one-line error naming the bad value (and the valid choices), exit code 2, and
nothing written to the tracking store."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from harness.cli import cli

CASES = [
    (["--methods", "fast6"], "unknown method 'fast6'. Did you mean 'fast5'? Valid:"),
    (["--methods", "fast5", "--task", "digitz"], "unknown task 'digitz'. Did you mean 'digits'? Valid: cifar10"),
    (["--methods", "fast5", "--pairs", "resnet34-resnet18"], "unknown pair for task digits 'resnet34-resnet18'"),
    (["--methods", "fast5", "--budget", "huge"],
     "Invalid value for '--budget': 'huge' is not one of 'paper', 'quick', 'smoke'"),
    (["--methods", "fast5", "--set", "nope=1"], "unknown config field 'nope' in --set"),
    (["--methods", "fast5:nope=1"], "unknown config field 'nope' for FastMetaConfig (from variant)"),
    (["--methods", "fast5", "--set", "lr"], "malformed --set 'lr': expected field=value"),
    (["--methods", "fast5:g_steps"], "malformed variant field in 'fast5:g_steps'"),
    (["--methods", "fast5,,deepinv"], "malformed method list 'fast5,,deepinv'"),
    (["--methods", "fast5", "--set", "g_steps=abc"], "invalid value 'abc' for g_steps: expected int"),
    (["--methods", "fast5", "--set", "g_steps=-3"], "invalid value -3 for g_steps: must be >= 1"),
    (["--methods", "fast5", "--set", "batch_size=0"], "invalid value 0 for batch_size: must be >= 1"),
    (["--methods", "deepinv", "--set", "select=worst"], "invalid value 'worst' for select. Valid: last, best"),
    (["--methods", "fast5", "--seeds", "a,b"], "malformed seed list 'a,b'"),
    (["--methods", "fast5", "--seeds", "-1"], "invalid seed -1 in '-1': seeds are integers from 0 to 4294967295"),
    (["--methods", "fast5", "--seeds", "0,99999999999"], "invalid seed 99999999999 in '0,99999999999'"),
    (["--methods", "fast5", "--set", "lr_g=nan"], "invalid value 'nan' for lr_g: must be a finite number"),
    (["--methods", "fast5", "--set", "oh=inf"], "invalid value 'inf' for oh: must be a finite number"),
    (["--methods", "fast5", "--tracking-uri", "foo://bar"], "tracking URI 'foo://bar' is not usable"),
    (["--methods", "fast5", "--device", "gpu"], "invalid device 'gpu'. Valid: auto, cpu, cuda, cuda:N"),
    (["--methods", "fast5", "--precision", "fp8"],
     "Invalid value for '--precision': 'fp8' is not one of 'fp32', 'bf16', 'fp16'"),
    (["--methods", "fast5", "--epochs", "3"], "No such option '--epochs'"),
]
if not torch.cuda.is_available():
    CASES.append((["--methods", "fast5", "--device", "cuda:1"], "device 'cuda:1' is not available"))


@pytest.mark.parametrize("args,message", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_input_is_one_line_exit_2_and_logs_nothing(args, message, tmp_path):
    results = tmp_path / "results"
    outcome = CliRunner().invoke(cli, ["run", *args, "--results-dir", str(results), "--quiet"])
    assert outcome.exit_code == 2, outcome.output
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1, outcome.stderr
    assert lines[0].startswith("Error: ")
    assert message in lines[0]
    assert not (results / "mlflow.db").exists()


def test_pretrained_backbone_on_a_task_without_one_is_one_line():
    outcome = CliRunner().invoke(cli, ["teacher", "train", "--task", "digits", "--pretrained-backbone"])
    assert outcome.exit_code == 2
    assert outcome.stderr == ("Error: task digits has no ImageNet-pretrained backbones: "
                              "train without --pretrained-backbone\n")


def test_config_show_names_the_source_of_every_field():
    outcome = CliRunner().invoke(cli, ["config", "show", "--method", "deepinv:g_steps=5", "--set", "lr=0.05"])
    assert outcome.exit_code == 0, outcome.output
    rows = {line.split("|")[1].strip(): line.split("|")[3].strip()
            for line in outcome.stdout.splitlines() if line.startswith("| ") and "field" not in line}
    assert rows["g_steps"] == "variant"
    assert rows["lr"] == "--set"
    assert rows["epochs"] == "budget"
    assert rows["bn"] == "method default"


def test_list_pairs_and_tasks():
    assert CliRunner().invoke(cli, ["list", "tasks"]).stdout.split() == [
        "digits", "cifar10", "cifar100", "digits-seg", "nyuv2", "fashion-mnist", "imagenet"]
    pairs = CliRunner().invoke(cli, ["list", "pairs", "--task", "digits"]).stdout
    assert "cnn_large-cnn_small" in pairs


# -- bad input against a store that already holds a run: nothing is added or changed ---------------

@pytest.fixture(scope="module")
def populated(tmp_path_factory, digits_teacher):
    from harness.engine.plan import plan_runs
    from harness.engine.runner import execute
    from harness.record.tracking import Tracker

    results = tmp_path_factory.mktemp("populated") / "results"
    execute(plan_runs("fast2", "digits", budget="smoke")[0], Tracker(results), "cpu", show_progress=False)
    return results


def store_snapshot(results):
    from harness.record.tracking import Tracker

    tracker = Tracker(results)
    runs = tracker.runs("digits", status=None)
    return sorted((r.run_id, r.status, len(tracker.metric_history(r.run_id, "eval/acc"))) for r in runs.itertuples())


def corrupt_teacher(home):
    path = home / "teachers" / "digits" / "cnn_large.pt"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a checkpoint")


def wrong_arch_teacher(home):
    from tasks.digits import Digits
    path = home / "teachers" / "digits" / "cnn_large.pt"
    path.parent.mkdir(parents=True)
    torch.save({"state_dict": Digits().build_model("cnn_small").state_dict()}, path)


STORE_CASES = [
    ("unreachable tracking URI", ["--tracking-uri", "http://127.0.0.1:9"], None,
     "tracking store 'http://127.0.0.1:9' is unreachable"),
    ("--resume with nothing to resume", ["--seeds", "7", "--resume"], None, "--resume: nothing to resume"),
    ("corrupt teacher", [], corrupt_teacher, "is not a readable PyTorch checkpoint"),
    ("teacher of another architecture", [], wrong_arch_teacher, "does not fit the architecture (missing keys:"),
    ("--force without --resume", ["--force"], None, "--force only applies with --resume"),
]


@pytest.mark.parametrize("name,extra,prepare,message", STORE_CASES, ids=[c[0] for c in STORE_CASES])
def test_bad_input_leaves_the_store_unchanged(name, extra, prepare, message, populated, tmp_path, monkeypatch):
    if prepare is not None:
        home = tmp_path / "home"
        prepare(home)
        monkeypatch.setenv("DFKD_HOME", str(home))
    before = store_snapshot(populated)
    outcome = CliRunner().invoke(cli, ["run", "--methods", "fast2", "--budget", "smoke", "--device", "cpu",
                                       "--quiet", "--results-dir", str(populated), *extra])
    assert outcome.exit_code == 2, outcome.output
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], outcome.stderr
    assert store_snapshot(populated) == before


def test_a_results_dir_that_cannot_be_written(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    outcome = CliRunner().invoke(cli, ["run", "--methods", "fast2", "--quiet", "--results-dir", str(blocker / "x")])
    assert outcome.exit_code == 2
    assert outcome.stderr.strip().startswith(f"Error: results directory '{blocker / 'x'}' cannot be written")


def test_a_store_path_that_is_a_directory(tmp_path):
    results = tmp_path / "results"
    (results / "mlflow.db").mkdir(parents=True)
    outcome = CliRunner().invoke(cli, ["run", "--methods", "fast2", "--quiet", "--results-dir", str(results)])
    assert outcome.exit_code == 2
    assert outcome.stderr == f"Error: the tracking store '{results / 'mlflow.db'}' is a directory, not an sqlite file\n"


READ_ONLY = [["leaderboard", "--task", "digits"], ["export", "--task", "digits", "--output", "{tmp}/x.csv"],
             ["plot", "--task", "digits"]]


@pytest.mark.parametrize("command", READ_ONLY, ids=[c[0] for c in READ_ONLY])
def test_read_only_commands_never_create_a_store(command, tmp_path):
    mistyped = tmp_path / "resutls"
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    outcome = CliRunner().invoke(cli, [*args, "--results-dir", str(mistyped)])
    assert outcome.exit_code == 2, outcome.output
    assert outcome.stderr == (f"Error: no tracking store at '{mistyped.resolve() / 'mlflow.db'}': 'bench run ... "
                              f"--results-dir {mistyped}' fills it (or pass --tracking-uri)\n")
    assert not mistyped.exists()
    assert not (tmp_path / "x.csv").exists()


def under_a_file(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    return blocker / "table.md"


OUTPUTS = [("missing folder", lambda tmp: tmp / "no" / "such" / "table.md", "does not exist: create"),
           ("folder is a file", under_a_file, "does not exist: create"),
           ("a directory", lambda tmp: tmp, "is a directory")]


@pytest.mark.parametrize("command", ["leaderboard", "export"])
@pytest.mark.parametrize("name,target,message", OUTPUTS, ids=[o[0] for o in OUTPUTS])
def test_an_output_that_cannot_be_written_is_one_line(command, name, target, message, populated, tmp_path):
    before = store_snapshot(populated)
    output = target(tmp_path)
    suffix = ".csv" if command == "export" and output.suffix else ""
    outcome = CliRunner().invoke(cli, [command, "--task", "digits", "--results-dir", str(populated),
                                       "--output", str(output.with_suffix(suffix) if suffix else output)])
    assert outcome.exit_code == 2, outcome.output
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], outcome.stderr
    assert store_snapshot(populated) == before


def test_a_missing_dataset_is_one_line_before_anything_is_created(tmp_path):
    results = tmp_path / "results"
    outcome = CliRunner().invoke(cli, ["run", "--methods", "fast5", "--task", "cifar100", "--budget", "smoke",
                                       "--data-root", str(tmp_path / "data"), "--results-dir", str(results)])
    assert outcome.exit_code == 2, outcome.output
    assert outcome.stderr.startswith(f"Error: cifar100 not found: expected torchvision's 'cifar-100-python' folder "
                                     f"under {tmp_path / 'data'}")
    assert len(outcome.stderr.strip().splitlines()) == 1
    assert not results.exists()
