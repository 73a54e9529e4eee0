# The stride sits on the last 1x1 convolution (the expansion) instead of on the 3x3.
class BottleneckBlock(BottleneckBlock):
    def __init__(self, in_channels, width, stride=1):
        super().__init__(in_channels, width, stride)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.conv3 = nn.Conv2d(width, width * 4, 1, stride=stride, bias=False)
