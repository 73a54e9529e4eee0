# W_s is a 3x3 convolution (padding 1) instead of a 1x1 projection.
class ConvBlock(ConvBlock):
    def __init__(self, in_channels, out_channels, stride=2):
        super().__init__(in_channels, out_channels, stride)
        self.shortcut_conv = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.shortcut_bn = nn.BatchNorm2d(out_channels)
