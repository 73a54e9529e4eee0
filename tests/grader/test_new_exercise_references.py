"""The references of bottleneck-block, preact-block and resnet-assembly against independent
re-implementations in torchvision's layout (and kuangliu/pytorch-cifar's for the pre-activation block),
in plain torch, no sandbox: the contract's shapes, registration order, parameter count (ResNet-20's
0.27M), outputs in both modes, running statistics and every gradient, on copied weights."""

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

EX = Path(__file__).resolve().parents[2] / "exercises"


def load(slug: str) -> dict:
    """The namespace of the exercise's solution.py (trusted code of our own)."""
    ns: dict = {"__name__": f"solution_{slug.replace('-', '_')}"}
    exec(compile((EX / slug / "solution.py").read_text(), slug, "exec"), ns)  # noqa: S102
    return ns


# ---- torchvision-style, written from the paper / torchvision's layout -----------------------
def conv3x3(i, o, stride=1):
    return nn.Conv2d(i, o, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(i, o, stride=1):
    return nn.Conv2d(i, o, kernel_size=1, stride=stride, bias=False)


class TVBottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = conv1x1(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * 4)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or inplanes != planes * 4:
            self.downsample = nn.Sequential(conv1x1(inplanes, planes * 4, stride), nn.BatchNorm2d(planes * 4))

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class KLPreAct(nn.Module):  # kuangliu/pytorch-cifar style
    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride, bias=False))

    def forward(self, x):
        out = F.relu(self.bn1(x))
        shortcut = self.shortcut(out) if hasattr(self, "shortcut") else x
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        out += shortcut
        return out


class TVBasic(nn.Module):
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class TVCifarResNet(nn.Module):
    def __init__(self, layers, num_classes=10, in_channels=3, width=16):
        super().__init__()
        self.inplanes = width
        self.conv1 = conv3x3(in_channels, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.layers = nn.ModuleList()
        for i, n in enumerate(layers):
            self.layers.append(self._make_layer(width * 2**i, n, 1 if i == 0 else 2))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(width * 2 ** (len(layers) - 1), num_classes)

    def _make_layer(self, planes, blocks, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes, stride), nn.BatchNorm2d(planes))
        mods = [TVBasic(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        mods += [TVBasic(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*mods)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        for layer in self.layers:
            x = layer(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


# ---- helpers -------------------------------------------------------------------------------
def randomize(m, g):
    with torch.no_grad():
        for n, p in m.named_parameters():
            p.copy_(
                torch.randn(p.shape, generator=g) * (0.5 if p.dim() > 1 else 0.3)
                + (1.0 if n.endswith("weight") and p.dim() == 1 else 0)
            )
        for n, b in m.named_buffers():
            if n.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=g) * 0.2)
            elif n.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=g) + 0.5)


def copy_into(src, dst):
    sp, dp = list(src.parameters()), list(dst.parameters())
    assert [p.shape for p in sp] == [p.shape for p in dp]
    sb, db = list(src.buffers()), list(dst.buffers())
    assert [b.shape for b in sb] == [b.shape for b in db]
    with torch.no_grad():
        for a, b in zip(sp + sb, dp + db):
            b.copy_(a)


def compare(ref, other, x, atol=1e-4):
    for train in (True, False):
        ref.train(train)
        other.train(train)
        for m in (ref, other):
            m.zero_grad(set_to_none=True)
        xa = x.clone().requires_grad_(True)
        xb = x.clone().requires_grad_(True)
        ya, yb = ref(xa), other(xb)
        torch.testing.assert_close(yb, ya, atol=atol, rtol=1e-4)
        g = torch.randn_like(ya)
        ya.backward(g)
        yb.backward(g)
        torch.testing.assert_close(xb.grad, xa.grad, atol=atol, rtol=1e-4)
        for pa, pb in zip(ref.parameters(), other.parameters()):
            assert pa.grad is not None and pb.grad is not None
            torch.testing.assert_close(pb.grad, pa.grad, atol=atol, rtol=1e-4)
        for ba, bb in zip(ref.buffers(), other.buffers()):
            torch.testing.assert_close(bb, ba, atol=atol, rtol=1e-4)


@pytest.mark.parametrize(
    "cin,w,s,hw", [(16, 4, 1, 7), (8, 4, 1, 5), (8, 4, 2, 7), (16, 4, 2, 8), (3, 2, 2, 1), (5, 3, 1, 4)]
)
def test_bottleneck(cin, w, s, hw):
    ns = load("bottleneck-block")
    g = torch.Generator().manual_seed(0)
    ref = ns["BottleneckBlock"](cin, w, s)
    assert ref.expansion == 4
    tv = TVBottleneck(cin, w, s)
    randomize(ref, g)
    copy_into(ref, tv)
    # registration order: conv1 bn1 conv2 bn2 conv3 bn3 [sc conv, sc bn]
    shapes = [tuple(p.shape) for p in ref.parameters()]
    exp = [(w, cin, 1, 1), (w,), (w,), (w, w, 3, 3), (w,), (w,), (4 * w, w, 1, 1), (4 * w,), (4 * w,)]
    if s != 1 or cin != 4 * w:
        exp += [(4 * w, cin, 1, 1), (4 * w,), (4 * w,)]
    assert shapes == exp
    x = torch.randn(2, cin, hw, hw, generator=g) * 3
    compare(ref, tv, x)
    out = ref(x)
    assert out.shape == (2, 4 * w, -(-hw // s), -(-hw // s))


@pytest.mark.parametrize("cin,cout,s,hw", [(4, 4, 1, 6), (4, 8, 2, 7), (4, 8, 1, 5), (6, 6, 2, 5), (3, 5, 2, 1)])
def test_preact(cin, cout, s, hw):
    ns = load("preact-block")
    g = torch.Generator().manual_seed(1)
    ref = ns["PreActBlock"](cin, cout, s)
    kl = KLPreAct(cin, cout, s)
    randomize(ref, g)
    copy_into(ref, kl)
    shapes = [tuple(p.shape) for p in ref.parameters()]
    exp = [(cin,), (cin,), (cout, cin, 3, 3), (cout,), (cout,), (cout, cout, 3, 3)]
    if s != 1 or cin != cout:
        exp += [(cout, cin, 1, 1)]
    assert shapes == exp
    x = torch.randn(3, cin, hw, hw, generator=g) * 5 - 1
    compare(ref, kl, x)
    assert ref(x).shape == (3, cout, -(-hw // s), -(-hw // s))
    # nothing after the addition: outputs can be negative
    ref.eval()
    assert (ref(x) < 0).any()


@pytest.mark.parametrize(
    "layers,nc,cin,width,hw",
    [([1], 10, 3, 16, 8), ([2, 2, 2], 10, 3, 16, 32), ([1, 2], 7, 1, 4, 9), ([3, 1, 1, 2], 5, 2, 8, 5)],
)
def test_resnet(layers, nc, cin, width, hw):
    ns = load("resnet-assembly")
    g = torch.Generator().manual_seed(2)
    ref = ns["make_resnet"](layers, nc, cin, width)
    tv = TVCifarResNet(layers, nc, cin, width)
    randomize(ref, g)
    copy_into(ref, tv)
    n_params = sum(p.numel() for p in ref.parameters())
    assert n_params == sum(p.numel() for p in tv.parameters())
    x = torch.randn(2, cin, hw, hw, generator=g) * 2
    compare(ref, tv, x, atol=2e-4)
    assert ref(x).shape == (2, nc)


def test_resnet20_param_count():
    # ResNet-20 for CIFAR-10 has 0.27M parameters (He et al. 2016a, table 6).
    ns = load("resnet-assembly")
    n = sum(p.numel() for p in ns["make_resnet"]([3, 3, 3]).parameters())
    assert 0.26e6 < n < 0.28e6, n


def test_defaults():
    ns = load("resnet-assembly")
    m = ns["make_resnet"]([1, 1])
    assert m(torch.randn(2, 3, 32, 32)).shape == (2, 10)
