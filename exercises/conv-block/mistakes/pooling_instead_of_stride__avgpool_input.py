# The input is average-pooled (ceil_mode) before both paths instead of striding the convolutions.
class ConvBlock(ConvBlock):
    def __init__(self, in_channels, out_channels, stride=2):
        super().__init__(in_channels, out_channels, 1)
        self.stride = stride

    def forward(self, x):
        return super().forward(F.avg_pool2d(x, self.stride, ceil_mode=True) if self.stride > 1 else x)
