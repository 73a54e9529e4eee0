# The shortcut's layers are created first, so weights copied in registration order land elsewhere.
class ConvBlock(ConvBlock):
    def __init__(self, in_channels, out_channels, stride=2):
        nn.Module.__init__(self)
        self.shortcut_conv = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)
        self.shortcut_bn = nn.BatchNorm2d(out_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
