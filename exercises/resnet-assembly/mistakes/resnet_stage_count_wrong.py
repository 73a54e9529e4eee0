# The stage loop starts at 1: layers[0] is skipped, so no blocks run at the stem's resolution.
_make_resnet = make_resnet


def make_resnet(layers, num_classes=10, in_channels=3, width=16):
    return _make_resnet([0] + list(layers[1:]), num_classes, in_channels, width)
