# The main path downsamples in conv2 instead of conv1.
class ConvBlock(ConvBlock):
    def __init__(self, in_channels, out_channels, stride=2):
        super().__init__(in_channels, out_channels, stride)
        self.conv1.stride, self.conv2.stride = (1, 1), (stride, stride)
