# The projection is only used when the stride changes, not when only the channel count does.
class PreActBlock(PreActBlock):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__(in_channels, out_channels, stride)
        if stride == 1:
            self.shortcut = None
