# The shortcut always projects, also when the shape does not change and x could be added as it is.
class BottleneckBlock(BottleneckBlock):
    def __init__(self, in_channels, width, stride=1):
        super().__init__(in_channels, width, stride)
        self.shortcut = nn.Sequential(nn.Conv2d(in_channels, width * 4, 1, stride=stride, bias=False),
                                      nn.BatchNorm2d(width * 4))
