# The stride sits on the first 1x1 convolution (the original ResNet v1) instead of on the 3x3.
class BottleneckBlock(BottleneckBlock):
    def __init__(self, in_channels, width, stride=1):
        super().__init__(in_channels, width, stride)
        self.conv1 = nn.Conv2d(in_channels, width, 1, stride=stride, bias=False)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
