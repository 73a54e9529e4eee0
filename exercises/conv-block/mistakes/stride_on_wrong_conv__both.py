# Both 3x3 convolutions are strided: the main path downsamples twice.
class ConvBlock(ConvBlock):
    def __init__(self, in_channels, out_channels, stride=2):
        super().__init__(in_channels, out_channels, stride)
        self.conv2.stride = (stride, stride)
