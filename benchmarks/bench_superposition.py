"""Toy models of superposition: our vectorised numpy Adam against a plain torch Adam loop.

Targets (issue 7): one 5 -> 2 model in under 1 s, the 20 x 20 phase diagram in under
60 s on this 2-core machine; the reference is a textbook torch loop (autograd +
``torch.optim.Adam``), 5,000 steps of batch 1024 for one model, with our optimiser settings
(peak learning rate 2e-2, cosine decay to 0, Adam's default betas and eps).

Both sides run on one thread (``torch.set_num_threads(1)`` and ``threadpool_limits(1)`` for
numpy's BLAS) and the same number of repeats. Each row gives the median wall
time and the median CPU time of this process: on a shared machine wall time inflates with
other people's load, CPU time much less, so compare both (and rerun if they disagree a lot).

Run: ``.venv/bin/python benchmarks/bench_superposition.py [--repeats 3] [--skip-phase] [--quick]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.record import record  # noqa: E402
from probing.superposition import feature_dimensionality, train_toy_model  # noqa: E402
from probing.superposition.sweeps import phase_diagram, sparsity_sweep  # noqa: E402


def torch_reference(n=5, m=2, sparsity=0.9, importance=0.9, steps=5000, batch_size=1024, lr=2e-2, seed=0):
    """The textbook loop: autograd, torch.optim.Adam with cosine decay, fresh sparse batch every step."""
    gen = torch.Generator().manual_seed(seed)
    W = torch.nn.Parameter(torch.nn.init.xavier_normal_(torch.empty(m, n), generator=gen))
    b = torch.nn.Parameter(torch.zeros(n))
    weights = importance ** torch.arange(n, dtype=torch.float32)
    opt = torch.optim.Adam([W, b], lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=0.0)
    for _ in range(steps):
        x = torch.rand(batch_size, n, generator=gen)
        x = x * (torch.rand(batch_size, n, generator=gen) >= sparsity)
        out = torch.relu(x @ W.T @ W + b)
        loss = (weights * (out - x) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()
    return W.detach().numpy()


def timed(fn, repeats):
    walls, cpus, result = [], [], None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return float(np.median(walls)), float(np.median(cpus)), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-phase", action="store_true", help="skip the 20 x 20 phase diagram (slowest row)")
    parser.add_argument("--quick", action="store_true", help="2 repeats, no phase diagram")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.skip_phase = 2, True
    torch.set_num_threads(1)  # tiny matrices: extra threads only add synchronisation
    threadpool_limits(1)  # the same for numpy's BLAS
    rows = []

    def row(name, fn, repeats, check):
        wall, cpu, result = timed(fn, repeats)
        rows.append((name, wall, cpu, check(result)))
        print(f"{name:58s} {wall:8.2f} s {cpu:8.2f} s   {rows[-1][3]}", flush=True)

    def pentagon(W):
        return f"D = {np.array2string(feature_dimensionality(W), precision=2)}"

    print(f"{'':58s} {'wall':>10s} {'cpu':>10s}   result")
    row("torch Adam reference, 5->2, 5,000 steps x 1024, 1 model", lambda: torch_reference(), args.repeats, pentagon)
    row("ours, 5->2, 5,000 steps x 1024, 1 model", lambda: train_toy_model(
        sparsity=0.9, importance=0.9, steps=5000, n_restarts=1).W, args.repeats, pentagon)
    row("ours, defaults: 5->2, 2,000 steps x 1024, best of 4 restarts", lambda: train_toy_model(
        sparsity=0.9, importance=0.9).W, args.repeats, pentagon)
    row("ours, paper sweep n=20 m=5, 6 sparsities, one run", lambda: sparsity_sweep(), 1,
        lambda sweep: f"represented {sweep.summary().n_represented.tolist()}")
    if not args.skip_phase:
        row("ours, 20 x 20 phase diagram (400 models x 4 restarts)", lambda: phase_diagram(20), 1,
            lambda diagram: f"cells per phase {np.bincount(diagram.phase.ravel(), minlength=3).tolist()}")
    record("bench_superposition", "toy model 5->2, 5,000 Adam steps x 1024, 1 model, 1 thread, "
           f"median of {args.repeats} (wall)", rows[1][1], "torch autograd + Adam loop, same settings", rows[0][1],
           "one model < 1 s", f"CPU s: ours {rows[1][2]:.2f}, torch {rows[0][2]:.2f}")


if __name__ == "__main__":
    main()
