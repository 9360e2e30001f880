"""Which process of which launch a run is (torchrun, srun, none), each rank's seed stream and share
of the batches, and the grid key of a cell across ranks."""

from __future__ import annotations

import pytest

from harness.core.errors import BenchError
from harness.engine.distributed import SOLO, World, detect, first_node, slurm_port
from harness.engine.plan import per_rank, plan_runs


def test_no_launch_is_a_world_of_one():
    assert detect({}) == World()
    assert detect({"SLURM_PROCID": "0", "SLURM_NTASKS": "1"}) == World()  # a one-task Slurm job runs alone


def test_torchrun_environment():
    env = {"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "8", "MASTER_ADDR": "node7", "MASTER_PORT": "29611"}
    assert detect(env) == World(3, 1, 8, "node7", 29611, "torchrun")


def test_srun_environment_meets_on_the_first_node_at_a_port_of_the_job():
    env = {"SLURM_PROCID": "5", "SLURM_LOCALID": "1", "SLURM_NTASKS": "8", "SLURM_JOB_ID": "123456",
           "SLURM_JOB_NODELIST": "gpu[03-04,09]"}
    world = detect(env)
    assert (world.rank, world.local_rank, world.size, world.master_addr, world.launcher) == (5, 1, 8, "gpu03", "slurm")
    assert world.master_port == slurm_port("123456") == 20000 + 123456 % 20000
    assert detect({**env, "SLURM_PROCID": "0"}).master_port == world.master_port  # every task agrees
    assert detect({**env, "MASTER_ADDR": "head", "MASTER_PORT": "4000"}).master_addr == "head"


@pytest.mark.parametrize("nodelist, first", [("node[03-05,09]", "node03"), ("a1,b2", "a1"), ("single", "single"),
                                             ("rack[2-3]-gpu[1-4]", "rack2-gpu1"), ("gpu[7]", "gpu7")])
def test_first_node_of_a_hostlist(nodelist, first):
    assert first_node(nodelist) == first


@pytest.mark.parametrize("env, message", [
    ({"RANK": "2", "WORLD_SIZE": "2"}, "rank 2 of a world of 2"),
    ({"RANK": "x", "WORLD_SIZE": "2"}, "invalid RANK='x'"),
    ({"SLURM_PROCID": "1", "SLURM_NTASKS": "2"}, "no rendezvous address"),
])
def test_a_broken_launch_is_named(env, message):
    with pytest.raises(BenchError, match=message):
        detect(env)


def test_seed_streams():
    assert World().seed(7) == 7  # a single process keeps the numbers it always had
    seeds = [World(rank, rank, 4).seed(7) for rank in range(4)]
    assert len(set(seeds)) == 4 and 7 not in seeds
    assert seeds == [World(rank, 0, 4).seed(7) for rank in range(4)]  # a rank's stream: the seed and its rank


def test_world_of_one_collectives_are_the_identity():
    assert (SOLO.max(2.5), SOLO.sum(3), SOLO.any(False), SOLO.on_main(lambda: "x")) == (2.5, 3, False, "x")
    assert SOLO.gather({"a": 1}) == [{"a": 1}] and SOLO.size == 1 and SOLO.is_main


def test_each_rank_takes_an_equal_share_of_the_batches():
    spec = plan_runs("fast5", "digits", budget="smoke", world_size=2)[0]
    share = per_rank(spec.config, 2)
    assert (share.synthesis_batch_size, share.batch_size) == (spec.config.synthesis_batch_size // 2,
                                                              spec.config.batch_size // 2)
    assert per_rank(spec.config, 1) is spec.config
    solo = plan_runs("fast5", "digits", budget="smoke")[0]
    assert spec.config.synthesis_batch_size == solo.config.synthesis_batch_size


def test_indivisible_batch_and_baselines_are_refused_before_the_store():
    with pytest.raises(BenchError, match="synthesis_batch_size 33 is not divisible by the world size 2"):
        plan_runs("fast5", "digits", budget="smoke", sets=("synthesis_batch_size=33",), world_size=2)
    with pytest.raises(BenchError, match="baseline 'kd' runs in one process"):
        plan_runs("kd", "digits", budget="smoke", world_size=2)


def test_world_size_is_in_the_grid_key_only_past_one_process():
    solo, = plan_runs("fast5", "digits", budget="smoke")
    two, = plan_runs("fast5", "digits", budget="smoke", world_size=2)
    assert solo.grid_key != two.grid_key
    # single-process cells keep the key they had before runs spanned processes
    assert solo.grid_key == plan_runs("fast5", "digits", budget="smoke", world_size=1)[0].grid_key
    assert any("world size 2" in note for note in two.deviations)


def test_a_slurm_cell_spans_every_gpu_of_its_nodes(tmp_path):
    from harness.launch.cells import Launch, make_cell
    from harness.launch.sweep import expand
    from harness.record.tracking import Tracker

    launch = Launch("slurm", "cuda", gpus_per_job=8, nodes=2, slurm_cluster="debug")
    assert launch.world_size == 16 and Launch("slurm", "cuda").world_size == 1 and Launch("local").world_size == 1
    spec, = expand("fast5", "digits", None, "0", "smoke", ("synthesis_batch_size=256", "batch_size=256"), None,
                   launch)
    assert spec.world_size == 16
    args = make_cell(spec, Tracker(tmp_path)).args
    assert args[args.index("--world-size") + 1] == "16"  # each task's `bench run` checks srun's world against it
    with pytest.raises(BenchError, match="--nodes and --gpus-per-job apply to --launcher slurm, not local"):
        expand("fast5", "digits", None, "0", "smoke", (), None, Launch("local", "cpu", nodes=2))


def test_rerun_of_a_run_across_ranks_names_the_command_that_reruns_it():
    from harness.launch.rerun import spec_from_record

    tags = {"dfkd.variant": "fast5", "dfkd.task": "digits", "dfkd.pair": "cnn_large-cnn_small", "dfkd.seed": "0",
            "dfkd.budget": "smoke", "dfkd.world_size": "2"}
    with pytest.raises(BenchError, match="ran on 2 processes .* --nproc-per-node 2$"):
        spec_from_record(tags, {}, "abc")
