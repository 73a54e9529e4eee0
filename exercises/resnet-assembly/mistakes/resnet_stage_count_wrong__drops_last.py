# The stage loop stops one early (range(len(layers) - 1)): the last stage is missing.
_make_resnet = make_resnet


def make_resnet(layers, num_classes=10, in_channels=3, width=16):
    return _make_resnet(list(layers[:-1]), num_classes, in_channels, width)
