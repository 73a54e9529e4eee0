# The projection is only used when the channel count changes, not when the stride does.
class BottleneckBlock(BottleneckBlock):
    def __init__(self, in_channels, width, stride=1):
        super().__init__(in_channels, width, stride)
        if in_channels == width * 4:
            self.shortcut = None
