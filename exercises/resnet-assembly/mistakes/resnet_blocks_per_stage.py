# Each stage gets an extra transition block in front of its layers[i] blocks (layers[i] + 1 in all).
_make_resnet = make_resnet


def make_resnet(layers, num_classes=10, in_channels=3, width=16):
    return _make_resnet([n + 1 for n in layers], num_classes, in_channels, width)
