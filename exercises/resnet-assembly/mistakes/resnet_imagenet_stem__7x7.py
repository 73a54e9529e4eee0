# The whole ImageNet stem: a 7x7 stride-2 convolution and a 3x3 stride-2 max pooling.
class ResNet(ResNet):
    def __init__(self, layers, num_classes=10, in_channels=3, width=16):
        super().__init__(layers, num_classes, in_channels, width)
        self.stem[0] = nn.Conv2d(in_channels, width, 7, stride=2, padding=3, bias=False)
        self.stem.append(nn.MaxPool2d(3, stride=2, padding=1))
