# num_classes is ignored: the classifier always has 10 outputs.
_make_resnet = make_resnet


def make_resnet(layers, num_classes=10, in_channels=3, width=16):
    return _make_resnet(layers, 10, in_channels, width)
