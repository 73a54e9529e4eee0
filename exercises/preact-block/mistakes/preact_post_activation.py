# The original (post-activation) order conv -> BN -> ReLU kept: each batch norm follows its convolution.
class PreActBlock(PreActBlock):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__(in_channels, out_channels, stride)
        self.bn1 = nn.BatchNorm2d(out_channels)  # now normalises conv1's output

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return out + (x if self.shortcut is None else self.shortcut(x))
