# The shortcut's 1x1 convolution has stride 1: W_s x keeps H x W while the main path downsamples.
class ConvBlock(ConvBlock):
    def __init__(self, in_channels, out_channels, stride=2):
        super().__init__(in_channels, out_channels, stride)
        self.shortcut_conv.stride = (1, 1)
