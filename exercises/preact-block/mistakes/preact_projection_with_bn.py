# The projection shortcut gets its own batch norm, as in the conv block, although p is already normalised.
class PreActBlock(PreActBlock):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__(in_channels, out_channels, stride)
        if self.shortcut is not None:
            self.shortcut = nn.Sequential(self.shortcut, nn.BatchNorm2d(out_channels))
