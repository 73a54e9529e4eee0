# width is ignored: the stem always has 16 channels (the paper's CIFAR value).
_make_resnet = make_resnet


def make_resnet(layers, num_classes=10, in_channels=3, width=16):
    return _make_resnet(layers, num_classes, in_channels, 16)
