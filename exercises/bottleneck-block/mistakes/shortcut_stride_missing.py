# The projection's 1x1 convolution has no stride, so the shortcut keeps H x W.
class BottleneckBlock(BottleneckBlock):
    def __init__(self, in_channels, width, stride=1):
        super().__init__(in_channels, width, stride)
        if self.shortcut is not None:
            self.shortcut[0] = nn.Conv2d(in_channels, width * 4, 1, bias=False)
