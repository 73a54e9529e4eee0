# The 3x3 convolutions have no padding: the main path shrinks and cannot be added to W_s x.
class ConvBlock(ConvBlock):
    def __init__(self, in_channels, out_channels, stride=2):
        super().__init__(in_channels, out_channels, stride)
        self.conv1.padding = self.conv2.padding = (0, 0)
