# The projection is only used when the channel count changes, not when the stride does.
class PreActBlock(PreActBlock):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__(in_channels, out_channels, stride)
        if in_channels == out_channels:
            self.shortcut = None
