# The projection's 1x1 convolution has no stride, so the shortcut keeps H x W.
class PreActBlock(PreActBlock):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__(in_channels, out_channels, stride)
        if self.shortcut is not None:
            self.shortcut = nn.Conv2d(in_channels, out_channels, 1, bias=False)
