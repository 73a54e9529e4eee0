# The shortcut's batch norm has another momentum: its running statistics drift at the wrong speed.
class ConvBlock(ConvBlock):
    def __init__(self, in_channels, out_channels, stride=2):
        super().__init__(in_channels, out_channels, stride)
        self.shortcut_bn.momentum = 0.01
