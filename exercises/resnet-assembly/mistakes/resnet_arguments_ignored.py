# in_channels is ignored: the stem always expects 3-channel (RGB) images.
_make_resnet = make_resnet


def make_resnet(layers, num_classes=10, in_channels=3, width=16):
    return _make_resnet(layers, num_classes, 3, width)
