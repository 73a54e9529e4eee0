# The ImageNet stem's stride 2 on the first convolution: too much downsampling for small images.
class ResNet(ResNet):
    def __init__(self, layers, num_classes=10, in_channels=3, width=16):
        super().__init__(layers, num_classes, in_channels, width)
        self.stem[0] = nn.Conv2d(in_channels, width, 3, stride=2, padding=1, bias=False)
