"""The runner's fixed training recipe: its written-out SGD is torch.optim.SGD's update exactly."""

from __future__ import annotations

import copy

import torch

from grader.inside.runner import _SGD


def test_sgd_with_momentum_matches_torch_optim_bit_for_bit():
    torch.manual_seed(0)
    a = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, bias=False),
        torch.nn.BatchNorm2d(4),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 6 * 6, 10),
    )
    b = copy.deepcopy(a)
    ours, theirs = _SGD(list(b.parameters()), 0.05, 0.9), torch.optim.SGD(a.parameters(), lr=0.05, momentum=0.9)
    for step in range(25):
        x, y = torch.randn(16, 1, 8, 8), torch.randint(0, 10, (16,))
        for net, opt in ((a, theirs), (b, ours)):
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
