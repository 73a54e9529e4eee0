# The projection is only used when the stride changes, not when only the channel count does.
class BottleneckBlock(BottleneckBlock):
    def __init__(self, in_channels, width, stride=1):
        super().__init__(in_channels, width, stride)
        if stride == 1:
            self.shortcut = None
