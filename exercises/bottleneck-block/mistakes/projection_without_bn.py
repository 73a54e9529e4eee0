# The projection shortcut is a bare 1x1 convolution, without its batch norm.
class BottleneckBlock(BottleneckBlock):
    def __init__(self, in_channels, width, stride=1):
        super().__init__(in_channels, width, stride)
        if self.shortcut is not None:
            self.shortcut = nn.Conv2d(in_channels, width * 4, 1, stride=stride, bias=False)
