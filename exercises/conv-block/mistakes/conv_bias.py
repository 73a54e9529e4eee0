# Every convolution keeps its bias (bias=True), which batch norm makes redundant.
class ConvBlock(ConvBlock):
    def __init__(self, in_channels, out_channels, stride=2):
        super().__init__(in_channels, out_channels, stride)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut_conv = nn.Conv2d(in_channels, out_channels, 1, stride=stride)
        self.shortcut_bn = nn.BatchNorm2d(out_channels)
