# The shortcut always projects p, also when the shape does not change and x could be added as it is.
class PreActBlock(PreActBlock):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__(in_channels, out_channels, stride)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)
